"""A tool that raises KeyboardInterrupt or SystemExit in a real ipykernel: the kernel lives on.

The kernel is a real ipykernel started with jupyter_client; the client and the local server
run on its event loop as they would in a notebook. The calls run in a background task while
the kernel is idle (the case of a user pressing Interrupt while an async tool runs), then
later cells check the answers and that the kernel still executes code.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

pytestmark = pytest.mark.kernel

SETUP = """
import asyncio, json
from realtime_widget import testing
from realtime_widget.client.client import RealtimeClient
from realtime_widget.server import LocalRealtimeServer

async def interrupted(args):
    await asyncio.sleep(0)
    raise KeyboardInterrupt

def interrupted_in_thread(args):
    raise KeyboardInterrupt

def leaves(args):
    raise SystemExit(4)

async def leaves_async(args):
    raise SystemExit(5)

NAMES = ["interrupted", "interrupted_in_thread", "leaves", "leaves_async"]
server = await LocalRealtimeServer(pace="fast").start()
client = RealtimeClient(url=server.url)
for handler in (interrupted, interrupted_in_thread, leaves, leaves_async):
    client.register_tool({"name": handler.__name__}, handler)
await client.connect()
session = testing.ToolSession(server, client, 20.0)

async def run_calls():
    return [await session.call(name) for name in NAMES]

calls = asyncio.ensure_future(run_calls())  # the cell ends: the calls run while idle
print("started")
"""

COLLECT = """
results = await asyncio.wait_for(calls, 25)
outputs = [
    e["item"] for e in server.connections[-1].received
    if e.get("type") == "conversation.item.create"
    and e["item"].get("type") == "function_call_output"
]
print(json.dumps({
    "results": [{"name": r.name, "call_id": r.call_id, "error": r.error} for r in results],
    "outputs": [{"call_id": o["call_id"], "output": o["output"]} for o in outputs],
    "connected": client.is_connected(),
}))
"""


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    specs = tmp_path / "kernels"
    (specs / "tools-test").mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "tools test",
        "language": "python",
    }
    (specs / "tools-test" / "kernel.json").write_text(json.dumps(spec))
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env["IPYTHONDIR"] = str(tmp_path / "ipython")
    env.pop("OPENAI_API_KEY", None)
    manager = KernelManager(
        kernel_name="tools-test", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(specs)])
    )
    manager.start_kernel(env=env, cwd=str(tmp_path))
    client = manager.blocking_client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        yield manager, client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def _run(client: BlockingKernelClient, code: str, timeout: float = 30) -> str:
    """The cell's printed text; fails with the kernel's error when the cell fails."""
    printed: list[str] = []
    errors: list[str] = []

    def hook(message: dict[str, Any]) -> None:
        content = message["content"]
        if message["msg_type"] == "stream":
            printed.append(content["text"])
        elif message["msg_type"] == "error":
            errors.append(f"{content['ename']}: {content['evalue']}")

    reply = client.execute_interactive(textwrap.dedent(code), timeout=timeout, output_hook=hook)
    assert reply["content"]["status"] == "ok", errors
    return "".join(printed)


def test_a_tool_raising_keyboardinterrupt_or_systemexit_leaves_the_kernel_alive(
    kernel: tuple[KernelManager, BlockingKernelClient],
) -> None:
    manager, client = kernel
    assert _run(client, SETUP).strip() == "started"
    try:
        report = json.loads(_run(client, COLLECT))
    except TimeoutError:
        pytest.fail(f"no answer from the kernel (alive: {manager.is_alive()})")
    assert manager.is_alive()
    names = ["interrupted", "interrupted_in_thread", "leaves", "leaves_async"]
    assert [r["name"] for r in report["results"]] == names
    for result in report["results"]:
        assert result["error"] is not None and f"tool {result['name']!r}" in result["error"]
        sent = [o for o in report["outputs"] if o["call_id"] == result["call_id"]]
        assert len(sent) == 1, (result, report["outputs"])
    assert len(report["outputs"]) == len(names)
    assert report["connected"]
    assert _run(client, "print(6 * 7)").strip() == "42"
    assert manager.is_alive()
    _run(client, "await client.aclose(); await server.stop()")
