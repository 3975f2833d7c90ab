"""``python -m realtime_widget talk`` run as a program against the local server: typed turns
with tools from a module, Ctrl+C, and the one-line errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from realtime_widget.server import LocalRealtimeServer, serve_in_thread

TOOLS = '''
from realtime_widget import Tool, tool


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def _shout(arguments: dict) -> str:
    return str(arguments["word"]).upper()


shout = Tool(
    {
        "name": "shout",
        "description": "Say a word loudly.",
        "parameters": {
            "type": "object",
            "properties": {"word": {"type": "string"}},
            "required": ["word"],
        },
    },
    _shout,
)


def helper(x: int) -> int:  # not a tool
    return x
'''


@pytest.fixture
def tools_folder(tmp_path: Path) -> Path:
    (tmp_path / "talk_tools.py").write_text(TOOLS)
    (tmp_path / "broken_tools.py").write_text("raise ValueError('the tools are broken')\n")
    (tmp_path / "no_tools.py").write_text("def helper() -> None: ...\n")
    return tmp_path


@pytest.fixture
def server() -> Iterator[LocalRealtimeServer]:
    running = serve_in_thread(pace="fast")
    yield running
    running.stop_thread()


def talk(*args: str, cwd: Path, stdin: int | None = subprocess.PIPE) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    return subprocess.Popen(
        [sys.executable, "-m", "realtime_widget", "talk", *args],
        cwd=cwd,
        env=env,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_typed_turn_calls_a_tool_from_a_module(
    server: LocalRealtimeServer, tools_folder: Path
) -> None:
    process = talk("--url", server.url, "--text", "--tools", "talk_tools", cwd=tools_folder)
    out, err = process.communicate("Please use add with 4 and 5.\n", timeout=60)
    assert process.returncode == 0, err
    lines = out.splitlines()
    assert "* tools: add, shout" in lines
    assert "* connected" in lines
    assert "you: Please use add with 4 and 5." in lines
    assert 'tool call: add({"a": 4, "b": 5})' in lines
    assert "tool output: add -> 9" in lines
    assert "assistant: add returned 9." in lines
    assert lines.index("tool output: add -> 9") < lines.index("assistant: add returned 9.")
    assert lines[-1] == "* ended" and err == ""


def test_typed_turns_are_answered_one_after_another(
    server: LocalRealtimeServer, tools_folder: Path
) -> None:
    process = talk("--url", server.url, "--text", "--tools", "talk_tools", cwd=tools_folder)
    out, err = process.communicate(
        "Please use shout with hello.\n\nPlease use add with 1 and 2.\n", timeout=60
    )
    assert process.returncode == 0, err
    lines = out.splitlines()
    assert "tool output: shout -> HELLO" in lines
    assert "assistant: add returned 3." in lines
    assert lines.index("tool output: shout -> HELLO") < lines.index(
        "you: Please use add with 1 and 2."
    )


def test_ctrl_c_ends_with_status_0_and_no_traceback(tools_folder: Path) -> None:
    process = talk("--local", "--text", cwd=tools_folder)  # stdin stays open
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    seen: list[str] = []
    while "* connected" not in seen and time.monotonic() < deadline:
        seen.append(process.stdout.readline().rstrip("\n"))
    assert "* connected" in seen, seen
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert out.splitlines()[-1] == "* ended"


def test_a_bad_tools_module_is_named(tools_folder: Path) -> None:
    for module, says in [
        ("no_such_tools_module", "cannot import tools module 'no_such_tools_module'"),
        ("broken_tools", "tools module 'broken_tools' failed to import: ValueError: the tools"),
        ("no_tools", "tools module 'no_tools' has no tools"),
    ]:
        process = talk("--local", "--text", "--tools", module, cwd=tools_folder)
        _out, err = process.communicate("", timeout=30)
        assert process.returncode == 2, (module, err)
        assert err.startswith(f"error: {says}") and err.count("\n") == 1, err


def test_no_key_for_the_service_is_one_line(tmp_path: Path) -> None:
    process = talk("--text", cwd=tmp_path)
    _out, err = process.communicate("", timeout=30)
    assert process.returncode == 2
    assert err == (
        "error: no API key: set OPENAI_API_KEY, or talk to a local server (--local or --url)\n"
    )


def test_a_server_that_is_not_there_is_one_line(tmp_path: Path) -> None:
    process = talk("--url", "ws://127.0.0.1:9/v1/realtime", "--text", cwd=tmp_path)
    _out, err = process.communicate("", timeout=60)
    assert process.returncode == 1
    assert err.startswith("error: cannot connect: ") and err.count("\n") == 1, err


def test_the_console_script_is_declared() -> None:
    import tomllib

    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    scripts = tomllib.loads(pyproject.read_text())["project"]["scripts"]
    assert scripts["realtime-talk"] == "realtime_widget.talk:main"
