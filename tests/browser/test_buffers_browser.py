"""The binary-buffer probe in real Chromium through JupyterLab's kernel and comm.

In plain JupyterLab the probe finds that buffers survive both ways, and the audio keeps to
them. Then a host that drops buffers is simulated in the page (``window.__rtwDropBuffers =
true`` before the widget starts: the page strips the buffers of what it sends and ignores
those it receives; the probe itself is the real code): the probe finds out, the view says
so, the fake microphone's speech still reaches the server as text and becomes a user item,
and the answer, sent as text, is played (the playback worklet counts the samples it
renders and the kernel gets those counts).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from jupyter_harness import AUDIO_TAP_SCRIPT, KERNEL_EXEC, Jupyter, open_notebook, wait_until

from realtime_widget.server import LocalRealtimeServer

DROP_BUFFERS = "window.__rtwDropBuffers = true;"
STATE = """
import json as _json
_items = w.client.get_conversation_items()
print(_json.dumps({
    "fallback": w._wire.fallback,
    "binary": w._wire.binary,
    "played": w.played_samples,
    "received": {i["id"]: len(i["formatted"]["audio"]) for i in _items
                 if i.get("role") == "assistant"},
    "user_audio": [i["id"] for i in _items if i.get("role") == "user"
                   and any(p.get("type") == "input_audio" for p in i.get("content", []))],
}))
"""


def kernel_state(page: Any) -> dict[str, Any]:
    out = page.evaluate(KERNEL_EXEC, STATE)
    assert "ERROR" not in out, out
    return dict(json.loads(out.strip().splitlines()[-1]))


def appended_bytes(server: LocalRealtimeServer) -> int:
    async def count() -> int:
        return sum(
            len(e.get("audio", "")) * 3 // 4
            for c in server.connections
            for e in c.received
            if e.get("type") == "input_audio_buffer.append"
        )

    return server.call_in_thread(count())


@pytest.fixture(scope="module")
def lab(jupyter_factory: Callable[[str], Jupyter]) -> Jupyter:
    return jupyter_factory("lab")


def test_the_probe_finds_that_jupyterlab_keeps_buffers(browser: Any, lab: Jupyter) -> None:
    page = open_notebook(browser, lab, f"/lab/tree/{lab.notebook}", permissions=["microphone"])
    try:
        both = '.rtw[data-wire-out="binary"][data-wire-in="binary"]'
        page.wait_for_selector(both, timeout=15_000)
        state = wait_until(
            lambda: (s := kernel_state(page))["binary"] and s, 10, "the probe's result"
        )
        assert state["fallback"] is False
        assert "as text" not in page.locator(".rtw-notice").inner_text()
    finally:
        page.context.close()


@pytest.mark.timeout(240)
def test_a_host_that_drops_buffers_still_hears_and_plays(
    browser: Any, lab: Jupyter, realtime_server: LocalRealtimeServer
) -> None:
    page = open_notebook(
        browser,
        lab,
        f"/lab/tree/{lab.notebook}",
        init_script=DROP_BUFFERS + AUDIO_TAP_SCRIPT,
        permissions=["microphone"],
    )
    try:
        root = page.locator(".rtw")
        page.wait_for_selector('.rtw[data-wire-out="text"][data-wire-in="text"]', timeout=15_000)
        notice = page.locator(".rtw-notice")
        assert "drops binary messages both ways: audio travels as text" in notice.inner_text()
        wait_until(lambda: kernel_state(page)["fallback"], 10, "the kernel to send text")
        if root.get_attribute("data-connection") != "connected":
            page.click(".rtw-connect")
            page.wait_for_selector('.rtw[data-connection="connected"]', timeout=15_000)
        before = kernel_state(page)
        sent_before = appended_bytes(realtime_server)
        page.click(".rtw-mic")
        page.wait_for_selector('.rtw[data-mic="on"]', timeout=10_000)
        # the fake microphone's speech, sent as text, is heard: a user audio item
        page.wait_for_selector(
            '.rtw-msg[data-role="user"] .rtw-notes:text-matches("audio [0-9.]+ s")',
            timeout=30_000,
        )
        assert appended_bytes(realtime_server) > sent_before

        def played() -> dict[str, int] | None:
            state = kernel_state(page)
            new = {
                item_id: state["played"].get(item_id, 0)
                for item_id in state["received"]
                if item_id not in before["received"]
            }
            # over 100 ms rendered by the playback worklet: the count is reported as
            # playback goes, so the first report may be of a few milliseconds only
            return new if max(new.values(), default=0) > 2_400 else None

        counts = wait_until(played, 60, "an answer, sent as text, to be played")
        state = kernel_state(page)
        assert state["user_audio"] and state["fallback"]
        item_id, samples = max(counts.items(), key=lambda pair: pair[1])
        pushed = page.evaluate(
            "(id) => (window.__rtwTap.pushed.get(id) || []).reduce((n, c) => n + c.length, 0)",
            item_id,
        )
        assert pushed >= samples  # the player got the kernel's text audio as samples
        page.click(".rtw-mic")
        page.wait_for_selector('.rtw[data-mic="off"]', timeout=10_000)
        assert not page.key_seen
    finally:
        page.context.close()
