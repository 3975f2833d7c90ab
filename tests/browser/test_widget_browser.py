"""The widget in real Chromium, in JupyterLab and Notebook 7, with a real kernel and comm.

One JupyterLab page carries a conversation through the module's tests, in order (each test
also sets up what it needs, connecting or adding items, so that it runs alone): connect,
a text reply played to the end, HTML shown as text, a tool call card, then the microphone:
speech detected by the server's voice activity detection, an answer, and a barge-in by the
looping fake microphone that stops playback and truncates the answer where it stopped
(checked against the page's rendered output, tapped by :data:`AUDIO_TAP_SCRIPT`, but for the
frames the player reports as underrun fill, which a busy machine causes), a kernel
blocked for two seconds while the mic streams, push-to-talk, reloads (after and during an
answer), hundreds of items more, and the widget's cell run again. Then other pages: a
denied microphone, ``examples.ipynb`` run in JupyterLab, and Notebook 7. (The screenshots of
the view are taken in test_view_controls.py.)
"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from jupyter_harness import (
    EXAMPLES,
    KERNEL_ADD_NOTES,
    KERNEL_EXEC,
    SECRET,
    WAIT_NOTEBOOK_IDLE,
    Jupyter,
    notebook_of,
    open_notebook,
    open_tapped_notebook,
    wait_until,
)

from realtime_widget.server import LocalRealtimeServer

STATS = """
import json as _json
_items = [i for i in w.client.get_conversation_items()
          if i.get("type") == "message" and i.get("role") == "assistant"]
print(_json.dumps({
    "played": w.played_samples,
    "received": {i["id"]: len(i["formatted"]["audio"]) for i in _items},
    "status": {i["id"]: i.get("status") for i in _items},
    "interruptions": [[x.item_id, x.played_samples] for x in w.interruptions],
    "error": w.error,
}))
"""


def kernel_stats(page: Any) -> dict[str, Any]:
    out = page.evaluate(KERNEL_EXEC, STATS)
    assert "ERROR" not in out, out
    return json.loads(out.strip().splitlines()[-1])


def assistant_items(page: Any) -> Any:
    return page.locator('.rtw-msg[data-role="assistant"]')


def send_text(page: Any, text: str) -> None:
    page.fill(".rtw-text", text)
    page.press(".rtw-text", "Enter")


def connected(page: Any) -> Any:
    """The page with its widget connected: each test sets up what it needs, so that it also
    runs alone (``-k``), not only after the tests before it."""
    if page.locator(".rtw").get_attribute("data-connection") != "connected":
        page.click(".rtw-connect")
        page.wait_for_selector('.rtw[data-connection="connected"]', timeout=15_000)
    return page


def quiet(page: Any, still: float = 1.5, timeout: float = 60) -> list[str]:
    """The items' texts once they have held for ``still`` seconds: a spoken turn committed
    before the mic went off is recognized and answered after it, streaming meanwhile."""
    deadline = time.monotonic() + timeout
    last: list[str] | None = None
    since = time.monotonic()
    while time.monotonic() < deadline:
        shown: list[str] = page.locator(".rtw-item:visible").all_inner_texts()
        if shown != last:
            last, since = shown, time.monotonic()
        elif time.monotonic() - since >= still:
            return shown
        time.sleep(0.2)
    raise AssertionError(f"the conversation did not settle: {last}")


def completed_answers(page: Any) -> int:
    return page.locator('.rtw-msg[data-role="assistant"][data-status="completed"]').count()


def wait_for_completed_answers(page: Any, count: int) -> None:
    page.wait_for_function(
        "(n) => document.querySelectorAll("
        '\'.rtw-msg[data-role="assistant"][data-status="completed"]\').length >= n',
        arg=count,
        timeout=15_000,
    )


@pytest.fixture(scope="module")
def lab(jupyter_factory: Callable[[str], Jupyter]) -> Jupyter:
    return jupyter_factory("lab")


@pytest.fixture(scope="module")
def page(browser: Any, lab: Jupyter) -> Iterator[Any]:
    page = open_tapped_notebook(browser, lab)
    yield page
    page.context.close()


def server_received(server: LocalRealtimeServer, kind: str) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        return [e for c in server.connections for e in c.received if e.get("type") == kind]

    return server.call_in_thread(read())


def appended_samples(server: LocalRealtimeServer) -> int:
    """Samples of microphone audio the server received, over every connection."""
    events = server_received(server, "input_audio_buffer.append")
    return sum(len(base64.b64decode(e["audio"])) // 2 for e in events)


# Where the page's rendered output says an interrupted answer stopped. The recorder tapped
# the playback node's output (AUDIO_TAP_SCRIPT); the answer's audio is what the page pushed
# to the player. The answer starts at the frame the player says it started it; from there,
# each rendered frame moves the position in the answer on by 24000/rate samples, except the
# frames the player reported as underrun fill (from an "underrun" to the next "recovered",
# in the context's frames), which must be silent. The mark is the first frame rendered after
# the interrupt reached the player. Returns the position reached at the mark, how many
# frames matched the answer there, and how long the output still had sound after the mark.
ANALYZE_CUT = """async (itemId) => {
  const tap = window.__rtwTap;
  const {samples: y, first, marks, rate} = await tap.dump();
  const chunks = tap.pushed.get(itemId) || [];
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const x = new Float32Array(total);
  let at = 0;
  for (const c of chunks) {
    for (let i = 0; i < c.length; i++) x[at + i] = c[i] / 32768;
    at += c.length;
  }
  const step = 24000 / rate;
  const source = (p) => {
    const i = Math.floor(p), f = p - i;
    if (i + 1 >= x.length) return i < x.length ? x[i] : 0;
    return x[i] * (1 - f) + x[i + 1] * f;
  };
  const events = tap.events.filter((e) => e.itemId === itemId);
  const started = events.find((e) => e.type === "started");
  if (started === undefined) return {error: "the player did not start the item", events};
  const onset = started.frame - first;
  const fills = [];  // [from, to) in recorded frames
  for (const e of events) {
    if (e.type === "underrun") fills.push([e.frame - first, Infinity]);
    else if (e.type === "recovered" && fills.length > 0 && fills.at(-1)[1] === Infinity) {
      fills.at(-1)[1] = e.frame - first;
    }
  }
  const inFill = (f) => fills.some(([from, to]) => f >= from && f < to);
  const mark = marks.find((m) => m > onset);
  if (onset < 0 || mark === undefined) return {error: "no interrupt mark after it", marks, onset};
  let p = 0, compared = 0, mismatched = 0, fillFrames = 0, fillSound = 0;
  for (let f = onset; f < mark; f++) {
    if (inFill(f)) {
      fillFrames += 1;
      if (y[f] !== 0) fillSound += 1;
      continue;
    }
    compared += 1;
    if (Math.abs(y[f] - source(p)) > 0.05) mismatched += 1;
    p += step;
  }
  let lastSound = -1;
  const end = Math.min(y.length, mark + Math.round(0.4 * rate));
  for (let f = mark; f < end; f++) if (y[f] !== 0) lastSound = f;
  return {
    rate, onset, frames: mark - onset, compared, mismatched,
    underruns: fills.filter(([from]) => from < mark).length, fillFrames, fillSound,
    playedMs: p * 1000 / 24000,
    soundAfterMs: lastSound < 0 ? 0 : (lastSound + 1 - mark) * 1000 / rate,
    recordedAfterMs: (y.length - mark) * 1000 / rate,
    pushedMs: x.length * 1000 / 24000,
  };
}"""


def test_the_widget_renders_and_connects(page: Any) -> None:
    root = page.locator(".rtw")
    assert root.get_attribute("data-connection") == "disconnected"
    page.wait_for_selector(".rtw-chip:text('get_weather')")
    page.click(".rtw-connect")
    page.wait_for_selector('.rtw[data-connection="connected"]', timeout=15_000)
    assert page.locator(".rtw-state-text").inner_text() == "Connected"
    assert page.locator(".rtw-error").is_hidden()


def test_a_reply_is_played_to_the_end(page: Any) -> None:
    connected(page)
    before = kernel_stats(page)
    answers = completed_answers(page)
    send_text(page, "hello")
    wait_for_completed_answers(page, answers + 1)
    assert assistant_items(page).last.locator(".rtw-content").inner_text() == "You said: hello."

    def played_all() -> dict[str, Any] | None:
        stats = kernel_stats(page)
        (item_id,) = set(stats["received"]) - set(before["received"])
        played = stats["played"].get(item_id, 0)
        return stats if played and abs(played - stats["received"][item_id]) <= 24 else None

    stats = wait_until(played_all, 10, "the browser to report the reply played")
    (item_id,) = set(stats["received"]) - set(before["received"])
    assert stats["received"][item_id] > 24_000  # over a second of audio
    assert stats["interruptions"] == before["interruptions"]


def test_html_from_the_model_is_shown_as_text(page: Any) -> None:
    connected(page)
    payload = "<img src=x onerror=alert(1)><b>bold</b>"
    answers = completed_answers(page)
    send_text(page, payload)
    wait_for_completed_answers(page, answers + 1)
    answer = assistant_items(page).last.locator(".rtw-content").inner_text()
    assert answer == f"You said: {payload}."
    user = page.locator('.rtw-msg[data-role="user"]').last.locator(".rtw-content").inner_text()
    assert user == payload
    assert page.locator(".rtw img, .rtw b, .rtw script").count() == 0
    page.wait_for_timeout(300)
    assert page.dialogs == []


def test_a_tool_call_shows_as_a_card(page: Any) -> None:
    connected(page)
    send_text(page, "please call get_weather for Paris")
    card = page.locator('.rtw-tool[data-tool-state="done"]')
    card.wait_for(timeout=15_000)
    assert card.locator(".rtw-who").inner_text() == "get_weather"
    assert json.loads(card.locator(".rtw-args").inner_text()) == {"city": "Paris"}
    output = card.locator(".rtw-output").inner_text()
    assert json.loads(output) == {"city": "Paris", "forecast": "sunny", "celsius": 21}
    notes = card.locator(".rtw-notes").inner_text()
    assert notes.startswith("done · ") and notes.endswith("ms")
    answer = assistant_items(page).last
    answer.locator(".rtw-content").filter(has_text="get_weather returned").wait_for()
    page.wait_for_selector(
        '.rtw-msg[data-role="assistant"][data-status="completed"]:last-child', timeout=10_000
    )


def test_script_bearing_tool_arguments_and_outputs_show_as_text(page: Any) -> None:
    connected(page)
    city = "<img src=x onerror=window.__rtwPwned=1><b>Lyon</b>"
    send_text(page, "please call get_weather " + json.dumps({"city": city}))
    card = page.locator('.rtw-tool[data-tool-state="done"]').last
    card.locator(".rtw-args").filter(has_text="onerror").wait_for(timeout=15_000)
    assert json.loads(card.locator(".rtw-args").inner_text()) == {"city": city}
    assert city in card.locator(".rtw-output").inner_text()
    assert card.locator("img, b").count() == 0
    assert page.locator(".rtw img, .rtw b, .rtw script").count() == 0
    assert page.evaluate("() => window.__rtwPwned") is None


def test_a_script_bearing_tool_name_from_the_server_shows_as_text(
    page: Any, realtime_server: LocalRealtimeServer
) -> None:
    """The client refuses such names for its own tools; a server may still send one."""
    connected(page)
    name = "<img src=x onerror=window.__rtwPwned=2><script>window.__rtwPwned=3</script>"
    item = {
        "id": "item_injected_call",
        "object": "realtime.item",
        "type": "function_call",
        "status": "in_progress",
        "name": name,
        "call_id": "call_injected",
        "arguments": "",
    }
    event = {"type": "conversation.item.added", "event_id": "event_injected", "item": item}
    realtime_server.call_in_thread(realtime_server.send_raw(json.dumps(event)))
    card = page.locator('.rtw-tool[data-item-id="item_injected_call"]')
    card.wait_for(timeout=5_000)
    assert card.locator(".rtw-who").inner_text() == name
    assert page.locator(".rtw img, .rtw b, .rtw script").count() == 0
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.__rtwPwned") is None
    assert page.dialogs == []


def test_an_mcp_approval_request_is_answered_by_its_approve_button(
    page: Any, realtime_server: LocalRealtimeServer
) -> None:
    connected(page)
    name = "<img src=x onerror=window.__rtwPwned=4>lookup"
    item = {
        "id": "item_injected_approval",
        "type": "mcp_approval_request",
        "server_label": "docs",
        "name": name,
        "arguments": '{"q": "<b>rain</b>"}',
    }
    for kind in ("conversation.item.added", "conversation.item.done"):
        event = {"type": kind, "event_id": f"event_{kind}", "previous_item_id": None, "item": item}
        realtime_server.call_in_thread(realtime_server.send_raw(json.dumps(event)))
    card = page.locator('.rtw-tool[data-item-id="item_injected_approval"]')
    card.locator(".rtw-notes").filter(has_text="waiting for approval").wait_for(timeout=10_000)
    assert card.locator(".rtw-who").inner_text() == f"docs · {name}"
    assert card.locator(".rtw-args").inner_text() == '{"q": "<b>rain</b>"}'
    assert page.locator(".rtw img, .rtw b, .rtw script").count() == 0
    card.get_by_role("button", name="Approve").click()
    card.locator(".rtw-notes").filter(has_text="approved").wait_for(timeout=10_000)
    assert card.locator(".rtw-approval").is_hidden()
    answers: list[dict[str, Any]] = []
    for _ in range(50):  # the kernel sent it before the card said so; the server reads it
        answers = [
            e["item"]
            for e in server_received(realtime_server, "conversation.item.create")
            if e["item"].get("type") == "mcp_approval_response"
        ]
        if answers:
            break
        page.wait_for_timeout(100)
    assert [(a["approval_request_id"], a["approve"]) for a in answers] == [
        ("item_injected_approval", True)
    ]
    assert page.evaluate("() => window.__rtwPwned") is None


STARTED_ITEMS = (
    "() => window.__rtwTap.events.filter((e) => e.type === 'started').map((e) => e.itemId)"
)


def test_speech_is_answered_and_a_barge_in_truncates_the_answer(
    page: Any, realtime_server: LocalRealtimeServer
) -> None:
    connected(page)
    before = kernel_stats(page)
    page.click(".rtw-mic")
    page.wait_for_selector('.rtw[data-mic="on"]', timeout=10_000)
    # the playback node (and the tap's recorder beside it) exists once the audio started
    page.wait_for_function("() => window.__rtwTap.recorder !== null", timeout=10_000)
    page.evaluate("() => window.__rtwTap.start()")
    # The server's VAD hears the fake mic's speech: a user audio item appears.
    page.wait_for_selector(
        '.rtw-msg[data-role="user"] .rtw-notes:text-matches("audio [0-9.]+ s")', timeout=15_000
    )

    # Its answer plays until the looping speech comes back: a barge-in. The cut is judged on
    # an answer the tap saw start (one begun before the recording, say the end of an earlier
    # test's answer on a slow machine, cannot be compared from its start).
    def barged_in() -> str | None:
        stats = kernel_stats(page)
        started = set(page.evaluate(STARTED_ITEMS))
        fresh = [
            i
            for i, _ in stats["interruptions"]
            if i in stats["received"] and i not in before["received"] and i in started
        ]
        return fresh[0] if fresh else None

    item_id = wait_until(barged_in, 40, "a barge-in during a spoken answer")
    page.wait_for_timeout(500)  # the output after the cut, recorded
    cut = page.evaluate(ANALYZE_CUT, item_id)
    page.click(".rtw-mic")
    page.wait_for_selector('.rtw[data-mic="off"]')
    assert "error" not in cut, cut
    assert cut["recordedAfterMs"] >= 400, cut
    # the output rendered exactly this answer's audio from where the player started it up to
    # the cut, but for the frames it reported as underrun fill (a busy machine starves it),
    # silent
    assert cut["fillSound"] == 0, cut
    assert cut["compared"] >= 0.2 * cut["rate"], cut  # at least 200 ms of it compared
    assert cut["mismatched"] <= cut["compared"] // 100, cut
    # silent within 50 ms of the interrupt reaching the page (and for 400 ms after)
    assert cut["soundAfterMs"] <= 50, cut

    (truncate,) = wait_until(
        lambda: [
            e
            for e in server_received(realtime_server, "conversation.item.truncate")
            if e.get("item_id") == item_id
        ],
        5,
        "the truncate event at the server",
    )
    # truncated where the output stopped playing it, as counted at the output
    assert abs(truncate["audio_end_ms"] - cut["playedMs"]) <= 20, (truncate, cut)
    # The kernel's copy of the answer is cut where the user stopped hearing it.
    wait_until(
        lambda: kernel_stats(page)["received"][item_id] == truncate["audio_end_ms"] * 24,
        5,
        "the truncated answer in the kernel",
    )
    card = page.locator(f'.rtw-msg[data-item-id="{item_id}"] .rtw-notes')
    card.filter(has_text="interrupted after").wait_for(timeout=5_000)
    assert kernel_stats(page)["error"] == ""


def test_a_kernel_blocked_for_two_seconds_loses_no_microphone_audio(
    page: Any, realtime_server: LocalRealtimeServer
) -> None:
    """Comm messages wait while a cell blocks (time.sleep); then every chunk arrives."""
    connected(page)

    def settled() -> list[int] | None:
        first = appended_samples(realtime_server)
        time.sleep(0.3)
        return [first] if appended_samples(realtime_server) == first else None

    (start,) = wait_until(settled, 5, "no microphone audio in flight")
    mark = page.evaluate("() => window.__rtwTrace.length")
    page.click(".rtw-mic")
    page.wait_for_selector('.rtw[data-mic="on"]', timeout=10_000)
    page.wait_for_timeout(300)
    blocked = time.monotonic()
    out = page.evaluate(KERNEL_EXEC, "import time; time.sleep(2); print('slept')")
    assert out == "slept\n" and time.monotonic() - blocked >= 2
    after_sleep = appended_samples(realtime_server)
    page.wait_for_timeout(1_000)
    # audio flows again after the block
    assert appended_samples(realtime_server) - after_sleep > 0.7 * 24_000
    page.click(".rtw-mic")
    page.wait_for_selector('.rtw[data-mic="off"]')
    (end,) = wait_until(settled, 5, "the last chunks at the server")
    sent = page.evaluate(
        "(mark) => window.__rtwTrace.slice(mark).filter((r) => r.event === 'mic')"
        ".reduce((n, r) => n + r.samples, 0)",
        mark,
    )
    assert sent > 3 * 24_000  # over three seconds captured and sent, two of them blocked
    assert end - start == sent, "every sample the page sent reached the server, once"
    assert kernel_stats(page)["error"] == ""


# Counts the changes of the page's favicon, which JupyterLab swaps with the kernel's
# busy/idle status.
FAVICON_WATCH = """() => {
  window.__rtwIcons = 0;
  const watch = new MutationObserver((changes) => { window.__rtwIcons += changes.length; });
  for (const link of document.querySelectorAll('link[rel~="icon"]')) {
    watch.observe(link, { attributes: true, attributeFilter: ["href"] });
  }
  watch.observe(document.head, { childList: true });
  window.__rtwIconWatch = watch;
}"""
SOCKET_STATS = (
    "print(w._page_socket.pages, w._page_socket.messages, "
    "sorted(w._page_socket._switched), flush=True)"
)


def test_the_microphone_goes_over_the_page_socket_and_the_kernel_never_looks_busy(
    page: Any, realtime_server: LocalRealtimeServer
) -> None:
    """A page on localhost sends its chunks over the page socket: no comm message, so no
    busy/idle status for JupyterLab to show (its favicon stays as it is)."""
    connected(page)
    pages, before, switched = page.evaluate(KERNEL_EXEC, SOCKET_STATS).split(maxsplit=2)
    assert pages == "1" and switched.strip() != "[]", "the page switched to its socket"
    page.wait_for_timeout(500)  # the status of the cell just run settles
    page.evaluate(FAVICON_WATCH)
    heard = appended_samples(realtime_server)
    page.click(".rtw-mic")
    page.wait_for_selector('.rtw[data-mic="on"]', timeout=10_000)
    page.wait_for_timeout(2_000)
    page.click(".rtw-mic")
    page.wait_for_selector('.rtw[data-mic="off"]')
    changes = page.evaluate(
        "() => { window.__rtwIconWatch.disconnect(); return window.__rtwIcons; }"
    )
    assert appended_samples(realtime_server) - heard > 1.5 * 24_000, "the mic was heard"
    _, after, _ = page.evaluate(KERNEL_EXEC, SOCKET_STATS).split(maxsplit=2)
    assert int(after) - int(before) >= 20, "its chunks came over the socket"
    # by the comm, its chunks swapped the favicon about 120 times in such a run (busy, idle,
    # twice a chunk); the mic's own trait changes and the cells run still swap it ~12 times
    assert changes <= 30, changes


def test_push_to_talk(page: Any, realtime_server: LocalRealtimeServer) -> None:
    def commits() -> int:
        async def count() -> int:
            return sum(
                1
                for c in realtime_server.connections
                for e in c.received
                if e.get("type") == "input_audio_buffer.commit"
            )

        return realtime_server.call_in_thread(count())

    connected(page)
    page.select_option(".rtw-turn", "manual")
    page.wait_for_selector('.rtw[data-turn="manual"] .rtw-ptt:visible')
    wait_until(
        lambda: page.evaluate(KERNEL_EXEC, "print(w.client.get_turn_detection_type())") == "None\n",
        5,
        "manual turns in the kernel",
    )
    page.click(".rtw-mic")
    page.wait_for_selector('.rtw[data-mic="on"] .rtw-ptt:enabled', timeout=10_000)
    answers = assistant_items(page).count()
    before = commits()
    page.wait_for_timeout(1_500)
    assert commits() == before, "nothing is committed while the button is up"
    page.hover(".rtw-ptt")
    page.mouse.down()
    page.wait_for_timeout(2_500)
    page.mouse.up()
    wait_until(lambda: commits() == before + 1, 5, "the commit on release")
    page.wait_for_function(
        "(n) => document.querySelectorAll('.rtw-msg[data-role=\"assistant\"]').length > n",
        arg=answers,
        timeout=10_000,
    )
    answer = assistant_items(page).last.locator(".rtw-content")
    # what the server recognized is echoed (or not caught); never a placeholder
    answer.filter(has_text=re.compile("You said: |did not catch that")).wait_for(timeout=10_000)
    page.click(".rtw-mic")
    page.wait_for_selector('.rtw[data-mic="off"]')
    page.select_option(".rtw-turn", "server_vad")
    page.wait_for_selector('.rtw[data-turn="server_vad"]')


def save_notebook(page: Any) -> None:
    """Save, so that a reload asks no "leave the page?" question."""
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function(
        "() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=10_000
    )


def test_a_reloaded_page_rebuilds_the_conversation(page: Any) -> None:
    connected(page)
    quiet(page)
    while page.locator(".rtw-item").count() < 8:  # a conversation worth rebuilding
        answers = completed_answers(page)
        send_text(page, f"note {answers}")
        wait_for_completed_answers(page, answers + 1)
    shown = quiet(page)
    assert len(shown) >= 8
    save_notebook(page)
    page.reload()
    page.wait_for_function(WAIT_NOTEBOOK_IDLE, timeout=60_000, polling=200)
    page.wait_for_selector('.rtw[data-connection="connected"]', timeout=30_000)
    page.wait_for_function("(n) => document.querySelectorAll('.rtw-item').length >= n", arg=8)
    assert page.locator(".rtw-item:visible").all_inner_texts() == shown
    assert page.locator(".rtw").get_attribute("data-mic") == "off"


def test_a_page_reloaded_mid_answer_rebuilds_it_and_the_answer_plays_on(page: Any) -> None:
    connected(page)
    # about 18 s of speech: longer than a reload takes on a busy machine, so the answer is
    # still streaming when the page comes back (audio sent while no page listens is lost)
    ones = "one two three four five six seven eight nine"
    teens = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen"
    twenties = " ".join(f"twenty-{n}" for n in ones.split(" "))
    words = f"{ones} {teens} twenty {twenties} thirty"
    send_text(page, words)
    flying = '.rtw-msg[data-role="assistant"][data-status="in_progress"]'
    page.wait_for_selector(flying, timeout=10_000)
    item_id = page.locator(flying).last.get_attribute("data-item-id")
    wait_until(
        lambda: kernel_stats(page)["played"].get(item_id, 0) > 12_000, 10, "half a second heard"
    )
    save_notebook(page)
    page.reload()
    page.wait_for_function(WAIT_NOTEBOOK_IDLE, timeout=60_000, polling=200)
    page.wait_for_selector('.rtw[data-connection="connected"]', timeout=30_000)
    answer = page.locator(f'.rtw-msg[data-item-id="{item_id}"]')
    answer.wait_for(timeout=10_000)
    # the answer is shown and completes in the reloaded page, transcript whole
    page.wait_for_selector(
        f'.rtw-msg[data-item-id="{item_id}"][data-status="completed"]', timeout=40_000
    )
    assert answer.locator(".rtw-content").inner_text() == f"You said: {words}."
    assert page.locator(f'.rtw-msg[data-item-id="{item_id}"]').count() == 1

    # its rest is played there, and counted as positions in the whole answer
    last: dict[str, Any] = {}

    def played_to_the_end() -> bool:
        last.update(kernel_stats(page))
        return abs(last["played"].get(item_id, 0) - last["received"][item_id]) <= 24

    try:
        wait_until(played_to_the_end, 40, "the rest of the answer played after the reload")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {item_id}, {last}") from None
    assert kernel_stats(page)["error"] == ""


def test_the_key_never_reached_the_page(page: Any) -> None:
    connected(page)  # the page saw the connection's traffic
    assert page.evaluate(KERNEL_EXEC, "import os; print(os.environ['OPENAI_API_KEY'][:7])") == (
        "sk-test\n"
    ), "the kernel holds the key"
    assert page.key_seen == [], "a websocket frame carried the key"
    assert SECRET not in page.content()
    assert not [e for e in page.console_errors if "realtime_widget" in e]


def test_a_long_conversation_renders_item_by_item(page: Any) -> None:
    """Hundreds of items more: each arrives alone and is rendered alone, a deleted one goes at
    once, and the page ends up showing exactly the kernel's items, in order."""
    connected(page)
    count = 300
    before = page.locator(".rtw-item").count()
    out = page.evaluate(KERNEL_EXEC, f"{KERNEL_ADD_NOTES}\nprint(await _rtw_add_notes({count}))")
    assert "ERROR" not in out, out
    page.wait_for_function(
        "(n) => document.querySelectorAll('.rtw-item').length >= n", arg=before + count
    )
    last = page.locator('.rtw-msg[data-role="user"]').last.locator(".rtw-content")
    assert last.inner_text() == f"note number {count - 1}: nothing to answer"
    doomed = page.locator('.rtw-msg[data-role="user"]').nth(-3).get_attribute("data-item-id")
    code = f"w.client.realtime.send('conversation.item.delete', {{'item_id': {doomed!r}}})"
    page.evaluate(KERNEL_EXEC, code)
    page.wait_for_selector(f'[data-item-id="{doomed}"]', state="detached", timeout=5_000)
    ids = "import json; print(json.dumps([s['id'] for s in w.items]))"
    kernel_ids = json.loads(page.evaluate(KERNEL_EXEC, ids))
    assert doomed not in kernel_ids and len(kernel_ids) == before + count - 1
    shown = "() => [...document.querySelectorAll('.rtw-item')].map((e) => e.dataset.itemId)"
    assert page.evaluate(shown) == kernel_ids
    page.wait_for_timeout(1_000)  # the whole list, once quiet, changes nothing
    assert page.evaluate(shown) == kernel_ids
    assert not [e for e in page.console_errors if "realtime_widget" in e]


def test_running_the_widget_cell_again_stops_the_old_conversation(page: Any) -> None:
    connected(page)
    page.click(".rtw-mic")
    page.wait_for_selector('.rtw[data-mic="on"]', timeout=10_000)
    out = page.evaluate(KERNEL_EXEC, "_old = w; print(_old.mic, _old.client.is_connected())")
    assert out == "on True\n"
    wait_until(
        lambda: page.evaluate(KERNEL_EXEC, "print(_old.client.input_audio_buffer.end)") != "0\n",
        5,
        "microphone audio in the kernel",
    )
    # the user runs the widget's cell again (say, to change a setting)
    page.evaluate(
        """() => {
          const notebook = window.jupyterapp.shell.currentWidget.content;
          notebook.activeCellIndex = 0;
          return window.jupyterapp.commands.execute('notebook:run-cell');
        }"""
    )
    page.wait_for_selector('.rtw[data-connection="disconnected"]', timeout=15_000)
    assert page.locator(".rtw").count() == 1, "the old view is gone"
    wait_until(
        lambda: page.evaluate(KERNEL_EXEC, "print(_old.mic)") == "off\n",
        5,
        "the old widget's mic off in the kernel",
    )
    # the page's microphone is released, and no more audio reaches the old conversation
    live = (
        "() => window.__rtwStreams.flatMap((s) => s.getTracks())"
        ".filter((t) => t.readyState === 'live').length"
    )
    wait_until(lambda: page.evaluate(live) == 0, 5, "every microphone track ended")
    probe = "print(_old.client.input_audio_buffer.end, _old.played_samples)"
    first = page.evaluate(KERNEL_EXEC, probe)
    page.wait_for_timeout(1_000)
    assert page.evaluate(KERNEL_EXEC, probe) == first, "the old conversation went quiet"
    # the kernel keeps the old client: a view shown again would carry on
    assert page.evaluate(KERNEL_EXEC, "print(_old.client.is_connected())") == "True\n"
    page.evaluate(KERNEL_EXEC, "_old.disconnect(); del _old")
    assert not [e for e in page.console_errors if "realtime_widget" in e]


def test_a_denied_microphone_says_so(browser: Any, lab: Jupyter) -> None:
    page = open_notebook(browser, lab, f"/lab/tree/{lab.notebook}")  # no mic permission
    try:
        page.click(".rtw-connect")
        page.wait_for_selector('.rtw[data-connection="connected"]', timeout=15_000)
        page.click(".rtw-mic")
        page.wait_for_selector('.rtw[data-mic="denied"]', timeout=10_000)
        notice = page.locator(".rtw-notice")
        assert notice.is_visible()
        assert "denied" in notice.inner_text()
    finally:
        page.context.close()


def test_a_transcription_session_shows_captions_of_the_speech(
    browser: Any, lab: Jupyter, realtime_server: LocalRealtimeServer
) -> None:
    notebook = notebook_of(
        [
            "from realtime_widget.widget.widget import RealtimeWidget\n"
            f"w = RealtimeWidget(url={realtime_server.url!r}, session_type='transcription')\n"
            "w",
            "w.session_type",
        ]
    )
    body = json.dumps({"type": "notebook", "format": "json", "content": notebook}).encode()
    request = urllib.request.Request(
        f"{lab.url}/api/contents/captions.ipynb?token={lab.token}", body, method="PUT"
    )
    with urllib.request.urlopen(request, timeout=10):
        pass
    page = open_notebook(browser, lab, "/lab/tree/captions.ipynb", permissions=["microphone"])
    try:
        assert page.locator(".rtw-heading").inner_text() == "Captions"
        for hidden in (".rtw-text", ".rtw-send", ".rtw-stop"):
            assert not page.locator(hidden).is_visible(), hidden
        connected(page)
        page.click(".rtw-mic")
        page.wait_for_selector('.rtw[data-mic="on"]', timeout=10_000)
        # the fake microphone's speech, transcribed by the server, shows as it streams
        caption = page.locator('.rtw-captions .rtw-msg[data-role="user"] .rtw-content')
        caption.first.wait_for(timeout=20_000)
        wait_until(lambda: caption.first.inner_text().strip(), 20, "a caption's text")
        page.click(".rtw-mic")
        page.wait_for_selector('.rtw[data-mic="off"]')
        quiet(page)
        assert assistant_items(page).count() == 0
        assert server_received(realtime_server, "response.create") == []
        assert page.console_errors == []
    finally:
        page.context.close()


# The errors in the current notebook's outputs, as "name: value" strings.
CELL_ERRORS = """() => {
  const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
  const found = [];
  for (let i = 0; i < cells.length; i++) {
    const outputs = cells.get(i).outputs;
    for (let j = 0; outputs && j < outputs.length; j++) {
      const out = outputs.get(j).toJSON();
      if (out.output_type === "error") found.push(out.ename + ": " + out.evalue);
    }
  }
  return found;
}"""


def test_examples_notebook_runs_in_jupyterlab(browser: Any, lab: Jupyter) -> None:
    """examples.ipynb as shipped, in a kernel with no key: the embedded local server."""
    page = open_notebook(browser, lab, f"/lab/tree/{EXAMPLES.name}")
    try:
        widget = page.locator(".rtw")
        assert widget.count() == 1
        page.wait_for_selector('.rtw[data-connection="connected"]', timeout=30_000)
        page.wait_for_selector(".rtw-chip:text('calculate')", timeout=30_000)
        answer = assistant_items(page).filter(has_text="calculate returned 14")
        answer.first.wait_for(timeout=30_000)
        card = page.locator(".rtw-tool .rtw-who:text('calculate')")
        card.first.wait_for(timeout=10_000)
        # every code cell ran (or one failed), and the kernel is done
        page.wait_for_function(
            f"""() => {{
              const panel = window.jupyterapp.shell.currentWidget;
              const cells = panel.content.model.cells;
              let ran = true;
              for (let i = 0; i < cells.length; i++) {{
                const cell = cells.get(i);
                if (cell.type === "code" && !cell.executionCount) ran = false;
              }}
              const idle = panel.sessionContext.session.kernel.status === "idle";
              return idle && (ran || ({CELL_ERRORS})().length > 0);
            }}""",
            timeout=60_000,
            polling=200,
        )
        # text content: cells scrolled out of view are not rendered (JupyterLab's windowing)
        outputs = page.locator(".jp-OutputArea-output").all_text_contents()
        text = "\n".join(outputs)
        assert "talking to ws://127.0.0.1:" in text, "the embedded local server"
        assert "calculate returned 14" in text
        assert "nine to five" in text
        errors = page.evaluate(f"() => ({CELL_ERRORS})()")
        assert errors == []
        assert not [e for e in page.console_errors if "realtime_widget" in e]
    finally:
        page.context.close()


def test_notebook_7_renders_and_connects(
    browser: Any, jupyter_factory: Callable[[str], Jupyter]
) -> None:
    notebook = jupyter_factory("notebook")
    page = open_notebook(browser, notebook, f"/notebooks/{notebook.notebook}")
    try:
        assert page.locator(".rtw").get_attribute("data-host") == "notebook7"
        page.click(".rtw-connect")
        page.wait_for_selector('.rtw[data-connection="connected"]', timeout=15_000)
        send_text(page, "hello from notebook")
        page.wait_for_selector(
            '.rtw-msg[data-role="assistant"][data-status="completed"]', timeout=15_000
        )
        text = assistant_items(page).last.locator(".rtw-content").inner_text()
        assert text == "You said: hello from notebook."
    finally:
        page.context.close()
