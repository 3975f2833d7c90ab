"""``RealtimeWidget(transport="webrtc")`` in real Chromium through JupyterLab: the page calls the
local server over WebRTC (its microphone and the model's voice on the peer connection), the
kernel joins the call's sideband and keeps the conversation and the tools.

ICE stays on loopback: Chromium gets ``--allow-loopback-in-peer-connection`` and the server's
aiortc (in this process) gathers 127.0.0.1 alone (:func:`loopback_ice`). An init script keeps
every ``RTCPeerConnection`` the page makes (``window.__rtwPeers``) and samples the audio
inbound-rtp statistics of the newest one (``window.__rtwInbound``), from the outside of the
widget.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_harness import (
    AUDIO_TAP_SCRIPT,
    ESPEAK,
    KERNEL_EXEC,
    SECRET,
    SPEECH_TEXT,
    Jupyter,
    launch_chromium,
    make_speech_wav,
    notebook_of,
    open_notebook,
    wait_until,
)

from realtime_widget.server import LocalRealtimeServer

pytest.importorskip("aiortc", reason="the webrtc extra (aiortc)")

import aioice.ice

LOOPBACK_FLAG = "--allow-loopback-in-peer-connection"
LONG_ASK = (
    "please tell me a very long story about the sea, the ships, the wind, the harbour and "
    "the sailors who came home"
)
# Keeps each peer connection, and samples the newest one's audio inbound-rtp statistics
# every 100 ms: {t (epoch ms), bytes, samples, energy}.
PEERS_SCRIPT = """(() => {
  window.__rtwPeers = [];
  window.__rtwInbound = [];
  const Base = window.RTCPeerConnection;
  if (typeof Base !== "function") return;
  window.RTCPeerConnection = class extends Base {
    constructor(...args) { super(...args); window.__rtwPeers.push(this); }
  };
  setInterval(async () => {
    const pc = window.__rtwPeers[window.__rtwPeers.length - 1];
    if (!pc || pc.connectionState === "closed") return;
    const report = await pc.getStats();
    report.forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "audio") window.__rtwInbound.push({
        t: Date.now(), bytes: s.bytesReceived, samples: s.totalSamplesReceived,
        energy: s.totalAudioEnergy || 0});
    });
  }, 100);
})();"""
NO_PEERS_SCRIPT = "(() => { delete window.RTCPeerConnection; })();"
ITEMS = """
import json as _json
print(_json.dumps([{"type": i["type"], "role": i.get("role"), "name": i.get("name"),
    "status": i.get("status"), "transcript": i["formatted"].get("transcript"),
    "output": i.get("output")} for i in w.client.get_conversation_items()]))
"""


@pytest.fixture(scope="module")
def loopback_ice() -> Iterator[None]:
    """The server's aiortc gathers 127.0.0.1 alone while the module runs."""
    original = aioice.ice.get_host_addresses
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
    yield
    aioice.ice.get_host_addresses = original


def cells(url: str) -> list[str]:
    return [
        "import os, time\n"
        "from realtime_widget.widget.widget import RealtimeWidget\n"
        f"w = RealtimeWidget(url={url!r}, api_key=os.environ['OPENAI_API_KEY'], voice='tones',"
        " transport='webrtc')\n"
        "w",
        "@w.tool\n"
        "def get_weather(city: str) -> dict:\n"
        '    """The weather forecast for a city."""\n'
        '    return {"city": city, "forecast": "sunny", "celsius": 21}',
        f"v = RealtimeWidget(url={url!r}, api_key=os.environ['OPENAI_API_KEY'], voice='tones')\nv",
    ]


@pytest.fixture(scope="module")
def lab(jupyter_factory: Callable[[str], Jupyter], realtime_server: LocalRealtimeServer) -> Jupyter:
    jupyter = jupyter_factory("lab")
    folder = Path(jupyter.log).parent / "nb"
    (folder / "webrtc.ipynb").write_text(json.dumps(notebook_of(cells(realtime_server.url))))
    return jupyter


@pytest.fixture(scope="module")
def chromium_rtc(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Chromium whose fake microphone says :data:`SPEECH_TEXT` every 10 s or so: the answer
    plays out before the next time (the loop would barge in on it)."""
    if ESPEAK is None:
        pytest.skip("no espeak-ng: apt-get install -y espeak-ng")
    from playwright.sync_api import sync_playwright

    wav = make_speech_wav(tmp_path_factory.mktemp("rtc-audio"), SPEECH_TEXT, 8.0)
    with sync_playwright() as playwright:
        launched = launch_chromium(playwright, wav, extra=[LOOPBACK_FLAG])
        yield launched
        launched.close()


def open_page(browser: Any, lab: Jupyter, *scripts: str) -> Any:
    """The notebook, its cells run, with the page's requests scanned for the key."""
    page = open_notebook(
        browser,
        lab,
        "/lab/tree/webrtc.ipynb",
        init_script="\n".join([AUDIO_TAP_SCRIPT, *scripts]),
        permissions=["microphone"],
    )
    page.requests_with_key = []
    page.call_credentials = []

    def scan(request: Any) -> None:
        headers = json.dumps(request.headers)
        body = request.post_data_buffer or b""
        if SECRET in headers or SECRET.encode() in body:
            page.requests_with_key.append(request.url)
        if request.url.endswith("/v1/realtime/calls") and request.method == "POST":
            page.call_credentials.append(request.headers.get("authorization", ""))

    page.on("request", scan)
    page.wait_for_selector(".rtw >> nth=1", timeout=60_000)
    return page


def kernel(page: Any, code: str) -> str:
    out = str(page.evaluate(KERNEL_EXEC, code))
    assert "ERROR" not in out, out
    return out


def conversation(page: Any) -> list[dict[str, Any]]:
    return list(json.loads(kernel(page, ITEMS).strip().splitlines()[-1]))


def connect_first(page: Any) -> Any:
    """Connects the first widget (the WebRTC one) with its button; returns its root."""
    root = page.locator(".rtw").first
    root.locator(".rtw-connect").click()
    page.wait_for_function(
        "() => document.querySelector('.rtw').dataset.connection === 'connected'",
        timeout=60_000,
    )
    return root


def inbound(page: Any) -> list[dict[str, float]]:
    return list(page.evaluate("() => window.__rtwInbound.slice()"))


@pytest.mark.timeout(300)
def test_speech_over_webrtc_is_heard_answered_and_plays_with_no_key_in_the_page(
    chromium_rtc: Any, lab: Jupyter, loopback_ice: None, realtime_server: LocalRealtimeServer
) -> None:
    page = open_page(chromium_rtc, lab, PEERS_SCRIPT)
    root = connect_first(page)
    assert root.get_attribute("data-transport") == "webrtc"
    assert len(realtime_server.calls) >= 1
    assert page.call_credentials and all(c.startswith("Bearer ek_") for c in page.call_credentials)
    before = wait_until(lambda: inbound(page)[-1:], 10, "the call's statistics")[0]
    root.locator(".rtw-mic").click()
    page.wait_for_selector('.rtw[data-mic="on"] >> nth=0', timeout=15_000)

    def answered() -> bool:
        items = conversation(page)
        users = [i for i in items if i["role"] == "user" and i["transcript"]]
        said = [i for i in items if i["role"] == "assistant" and i["status"] == "completed"]
        return bool(users and said)

    wait_until(answered, 120, "the fake microphone's speech heard and answered over WebRTC")
    after = inbound(page)[-1]
    assert after["bytes"] > before["bytes"] and after["samples"] > before["samples"]
    assert after["energy"] > before["energy"]  # not silence alone: the answer's voice
    # No relayed audio: the kernel sent the page none, and got none from it.
    assert page.evaluate("() => window.__rtwTrace.filter((r) => r.event === 'audio').length") == 0
    assert kernel(page, "print(w._browser.dropped_audio_chunks)").strip() == "0"
    log = json.loads(kernel(page, "import json; print(json.dumps(w.event_log))"))
    assert "output_audio_buffer.started" in {e["type"] for e in log}
    # The key stayed in the kernel: no frame, request, widget state or page text holds it.
    assert page.key_seen == [], "a websocket frame carried the key"
    assert page.requests_with_key == [], "a request carried the key"
    assert SECRET not in kernel(page, "print(json.dumps(w.get_state(), default=str))")
    assert SECRET not in page.content()
    page.context.close()


@pytest.mark.timeout(300)
def test_a_tool_defined_in_a_cell_runs_in_the_kernel_during_a_call(
    chromium_rtc: Any, lab: Jupyter, loopback_ice: None
) -> None:
    page = open_page(chromium_rtc, lab, PEERS_SCRIPT)
    root = connect_first(page)
    assert root.get_attribute("data-transport") == "webrtc"
    kernel(page, "w.send_text('please call get_weather for Paris')")

    def ran() -> list[dict[str, Any]] | None:
        items = conversation(page)
        outputs = [i for i in items if i["type"] == "function_call_output"]
        said = [
            i
            for i in items
            if i["role"] == "assistant" and "get_weather returned" in (i["transcript"] or "")
        ]
        return outputs + said if outputs and said else None

    output, *_ = wait_until(ran, 60, "the tool's output and the answer about it")
    assert json.loads(output["output"])["forecast"] == "sunny"
    card = root.locator('.rtw-tool[data-tool-state="done"]')
    card.wait_for(timeout=15_000)
    assert card.locator(".rtw-who").inner_text() == "get_weather"
    page.context.close()


@pytest.mark.timeout(300)
def test_without_rtcpeerconnection_the_widget_falls_back_to_the_websocket_and_says_so(
    chromium_rtc: Any, lab: Jupyter, loopback_ice: None
) -> None:
    page = open_page(chromium_rtc, lab, NO_PEERS_SCRIPT)
    root = connect_first(page)
    assert root.get_attribute("data-transport") == "websocket"
    notice = root.locator(".rtw-notice")
    assert "WebRTC unavailable" in notice.inner_text()
    assert "RTCPeerConnection" in notice.inner_text()
    log = json.loads(kernel(page, "import json; print(json.dumps(w.event_log))"))
    errors = [e for e in log if e["type"] == "error"]
    assert errors and "RTCPeerConnection" in errors[-1]["summary"], log
    kernel(page, "w.send_text('hello there')")  # the relay works
    wait_until(lambda: any(i["role"] == "assistant" for i in conversation(page)), 60, "an answer")
    wait_until(
        lambda: page.evaluate("() => window.__rtwTrace.some((r) => r.event === 'audio')"),
        30,
        "the answer's audio relayed to the page",
    )
    page.context.close()


@pytest.mark.timeout(300)
def test_a_calls_address_that_cannot_be_reached_makes_the_widget_fall_back(
    chromium_rtc: Any, lab: Jupyter, loopback_ice: None
) -> None:
    page = open_page(chromium_rtc, lab, PEERS_SCRIPT)
    page.route("**/v1/realtime/calls", lambda route: route.abort("connectionrefused"))
    root = connect_first(page)
    assert root.get_attribute("data-transport") == "websocket"
    notice = root.locator(".rtw-notice").inner_text()
    assert "WebRTC unavailable" in notice and "could not be reached" in notice, notice
    closed = "() => window.__rtwPeers.every((pc) => pc.connectionState === 'closed')"
    assert page.evaluate(closed)  # the page let its peer connection go
    page.context.close()


def longest_stall(times: list[float], start: float, end: float) -> float:
    """The longest time in ``[start, end]`` with no entry of ``times`` (epoch ms)."""
    inside = sorted(t for t in times if start <= t <= end)
    edges = [start, *inside, end]
    return max(b - a for a, b in itertools.pairwise(edges))


@pytest.mark.timeout(400)
def test_a_blocking_cell_leaves_no_gap_over_webrtc_and_a_gap_over_the_websocket(
    chromium_rtc: Any, lab: Jupyter, loopback_ice: None, realtime_server: LocalRealtimeServer
) -> None:
    page = open_page(chromium_rtc, lab, PEERS_SCRIPT)
    root = connect_first(page)
    assert root.get_attribute("data-transport") == "webrtc"
    # WebRTC: the answer plays while a cell blocks the kernel for 5 s.
    kernel(page, f"w.send_text({LONG_ASK!r})")
    wait_until(
        lambda: (
            len(inbound(page)) > 2 and inbound(page)[-1]["energy"] > inbound(page)[-3]["energy"]
        ),
        30,
        "the answer's voice on the peer connection",
    )
    start = page.evaluate("() => Date.now()")
    kernel(page, "time.sleep(5)")
    end = page.evaluate("() => Date.now()")
    assert end - start >= 5000
    stats = inbound(page)
    rising = [b["t"] for a, b in itertools.pairwise(stats) if b["energy"] > a["energy"]]
    rtc_stall = longest_stall(rising, start + 200, start + 4000)
    # The user's speech reaches the server while a cell blocks (the fake microphone speaks
    # once every 11 s or so: the cell blocks for 12).
    heard: list[float] = []

    def observe(connection: Any, direction: str, frame: str | bytes) -> None:
        if direction == "sent" and '"input_audio_buffer.speech_started"' in str(frame):
            heard.append(time.time() * 1000)

    realtime_server.frame_observers.append(observe)
    try:
        time.sleep(3.0)  # the answer plays out
        root.locator(".rtw-mic").click()
        page.wait_for_selector('.rtw[data-mic="on"] >> nth=0', timeout=15_000)
        start = page.evaluate("() => Date.now()")
        kernel(page, "time.sleep(12)")
        end = page.evaluate("() => Date.now()")
        root.locator(".rtw-mic").click()
    finally:
        realtime_server.frame_observers.remove(observe)
    assert [t for t in heard if start <= t <= end], "no speech reached the server meanwhile"
    # The websocket: the same with the second widget, whose audio the kernel relays.
    page.locator(".rtw").nth(1).locator(".rtw-connect").click()
    page.wait_for_selector('.rtw[data-connection="connected"] >> nth=1', timeout=30_000)
    kernel(page, f"v.send_text({LONG_ASK!r})")
    relayed = "() => window.__rtwTrace.filter((r) => r.event === 'audio').map((r) => r.t)"
    wait_until(lambda: len(page.evaluate(relayed)) > 3, 30, "the relayed answer's audio")
    start = page.evaluate("() => Date.now()")
    kernel(page, "time.sleep(5)")
    end = page.evaluate("() => Date.now()")
    ws_stall = longest_stall(page.evaluate(relayed), start + 200, start + 4000)
    assert rtc_stall < 500, f"WebRTC audio stalled {rtc_stall:.0f} ms while the cell blocked"
    assert ws_stall >= 3000, f"the relayed audio stalled only {ws_stall:.0f} ms"
    page.context.close()
