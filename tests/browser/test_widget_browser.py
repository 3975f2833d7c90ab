"""The widget in real Chromium, in JupyterLab and Notebook 7, with a real kernel and comm.

One JupyterLab page carries a conversation through the module's tests, in order: connect,
a text reply played to the end, HTML shown as text, a tool call card, then the microphone:
speech detected by the server's voice activity detection, an answer, and a barge-in by the
looping fake microphone that stops playback and truncates the answer where it stopped.
Screenshots of the widget in the light and dark themes go to a temporary folder, or to docs/
when ``UPDATE_SCREENSHOTS=1`` is set.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_harness import (
    KERNEL_EXEC,
    SECRET,
    WAIT_NOTEBOOK_IDLE,
    Jupyter,
    open_notebook,
    wait_until,
)

from realtime_widget.server import LocalRealtimeServer

DOCS = Path(__file__).resolve().parents[2] / "docs"

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


@pytest.fixture(scope="module")
def lab(jupyter_factory: Callable[[str], Jupyter]) -> Jupyter:
    return jupyter_factory("lab")


@pytest.fixture(scope="module")
def page(browser: Any, lab: Jupyter) -> Iterator[Any]:
    page = open_notebook(browser, lab, f"/lab/tree/{lab.notebook}", permissions=["microphone"])
    yield page
    page.context.close()


def test_the_widget_renders_and_connects(page: Any) -> None:
    root = page.locator(".rtw")
    assert root.get_attribute("data-connection") == "disconnected"
    page.wait_for_selector(".rtw-chip:text('get_weather')")
    page.click(".rtw-connect")
    page.wait_for_selector('.rtw[data-connection="connected"]', timeout=15_000)
    assert page.locator(".rtw-state-text").inner_text() == "Connected"
    assert page.locator(".rtw-error").is_hidden()


def test_a_reply_is_played_to_the_end(page: Any) -> None:
    send_text(page, "hello")
    page.wait_for_selector('.rtw-msg[data-role="assistant"][data-status="completed"]')
    assert assistant_items(page).last.locator(".rtw-content").inner_text() == "You said: hello."

    def played_all() -> dict[str, Any] | None:
        stats = kernel_stats(page)
        (item_id,) = stats["received"]
        played = stats["played"].get(item_id, 0)
        return stats if played and abs(played - stats["received"][item_id]) <= 24 else None

    stats = wait_until(played_all, 10, "the browser to report the reply played")
    (item_id,) = stats["received"]
    assert stats["received"][item_id] > 24_000  # over a second of audio
    assert stats["interruptions"] == []


def test_html_from_the_model_is_shown_as_text(page: Any) -> None:
    payload = "<img src=x onerror=alert(1)><b>bold</b>"
    send_text(page, payload)
    done = '.rtw-msg[data-role="assistant"][data-status="completed"]'
    page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel).length >= n", arg=[done, 2]
    )
    answer = assistant_items(page).last.locator(".rtw-content").inner_text()
    assert answer == f"You said: {payload}."
    user = page.locator('.rtw-msg[data-role="user"]').last.locator(".rtw-content").inner_text()
    assert user == payload
    assert page.locator(".rtw img, .rtw b, .rtw script").count() == 0
    page.wait_for_timeout(300)
    assert page.dialogs == []


def test_a_tool_call_shows_as_a_card(page: Any) -> None:
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
    city = "<img src=x onerror=window.__rtwPwned=1><b>Lyon</b>"
    send_text(page, "please call get_weather " + json.dumps({"city": city}))
    card = page.locator('.rtw-tool[data-tool-state="done"]').last
    card.locator(".rtw-args").filter(has_text="onerror").wait_for(timeout=15_000)
    assert json.loads(card.locator(".rtw-args").inner_text()) == {"city": city}
    assert city in card.locator(".rtw-output").inner_text()
    assert card.locator("img, b").count() == 0
    assert page.locator(".rtw img, .rtw b, .rtw script").count() == 0
    assert page.evaluate("() => window.__rtwPwned") is None


def test_speech_is_answered_and_a_barge_in_truncates_the_answer(
    page: Any, realtime_server: LocalRealtimeServer
) -> None:
    before = kernel_stats(page)
    page.click(".rtw-mic")
    page.wait_for_selector('.rtw[data-mic="on"]', timeout=10_000)
    # The server's VAD hears the fake mic's speech: a user audio item appears.
    page.wait_for_selector(
        '.rtw-msg[data-role="user"] .rtw-notes:text-matches("audio [0-9.]+ s")', timeout=15_000
    )
    # Its answer plays until the looping speech comes back: a barge-in.
    stats = wait_until(
        lambda: (
            (s := kernel_stats(page))["interruptions"]
            and any(
                i
                for i, _ in s["interruptions"]
                if i in s["received"] and i not in before["received"]
            )
            and s
        ),
        20,
        "a barge-in during the spoken answer",
    )
    page.click(".rtw-mic")
    page.wait_for_selector('.rtw[data-mic="off"]')
    item_id, played = next(
        (i, p) for i, p in stats["interruptions"] if i is not None and i not in before["received"]
    )
    # The player names an item only while it is queued or playing: this one was cut short.
    assert played > 0

    def truncates() -> list[dict[str, Any]]:
        async def read() -> list[dict[str, Any]]:
            return [
                e
                for c in realtime_server.connections
                for e in c.received
                if e.get("type") == "conversation.item.truncate" and e.get("item_id") == item_id
            ]

        return realtime_server.call_in_thread(read())

    (truncate,) = wait_until(truncates, 5, "the truncate event at the server")
    assert abs(truncate["audio_end_ms"] - played * 1000 / 24000) <= 50
    # The kernel's copy of the answer is cut where the user stopped hearing it.
    wait_until(
        lambda: kernel_stats(page)["received"][item_id] == truncate["audio_end_ms"] * 24,
        5,
        "the truncated answer in the kernel",
    )
    # Playback stopped at once: nothing more was played for that item.
    time.sleep(0.5)
    assert kernel_stats(page)["played"].get(item_id, 0) <= played
    card = page.locator(f'.rtw-msg[data-item-id="{item_id}"] .rtw-notes')
    card.filter(has_text="interrupted at").wait_for(timeout=5_000)
    assert kernel_stats(page)["error"] == ""


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
    answer.filter(has_text="seconds of audio").wait_for(timeout=10_000)
    page.click(".rtw-mic")
    page.wait_for_selector('.rtw[data-mic="off"]')
    page.select_option(".rtw-turn", "server_vad")
    page.wait_for_selector('.rtw[data-turn="server_vad"]')


def test_screenshots_in_light_and_dark_themes(page: Any, tmp_path: Path) -> None:
    folder = DOCS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(exist_ok=True)
    widget = page.locator(".rtw")
    widget.scroll_into_view_if_needed()
    page.mouse.move(1, 1)  # no hover or focus styles in the pictures
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.wait_for_timeout(300)
    widget.screenshot(path=str(folder / "widget-light.png"))
    page.evaluate(
        "() => window.jupyterapp.commands.execute('apputils:change-theme',"
        " {theme: 'JupyterLab Dark'})"
    )
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=15_000)
    page.wait_for_timeout(500)
    widget.screenshot(path=str(folder / "widget-dark.png"))
    # the widget follows the theme: the dark picture is clearly darker than the light one
    import numpy as np
    from PIL import Image

    light = np.asarray(Image.open(folder / "widget-light.png").convert("L"), dtype=float)
    dark = np.asarray(Image.open(folder / "widget-dark.png").convert("L"), dtype=float)
    assert light.shape == dark.shape
    light_mean, dark_mean = light.mean(), dark.mean()
    assert dark_mean < light_mean - 80, (light_mean, dark_mean)


def test_a_reloaded_page_rebuilds_the_conversation(page: Any) -> None:
    shown = page.locator(".rtw-item:visible").all_inner_texts()
    assert len(shown) >= 8
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function(
        "() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=10_000
    )
    page.reload()
    page.wait_for_function(WAIT_NOTEBOOK_IDLE, timeout=60_000, polling=200)
    page.wait_for_selector('.rtw[data-connection="connected"]', timeout=30_000)
    page.wait_for_function("(n) => document.querySelectorAll('.rtw-item').length >= n", arg=8)
    assert page.locator(".rtw-item:visible").all_inner_texts() == shown
    assert page.locator(".rtw").get_attribute("data-mic") == "off"


def test_the_key_never_reached_the_page(page: Any) -> None:
    assert page.evaluate(KERNEL_EXEC, "import os; print(os.environ['OPENAI_API_KEY'][:7])") == (
        "sk-test\n"
    ), "the kernel holds the key"
    assert page.key_seen == [], "a websocket frame carried the key"
    assert SECRET not in page.content()
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


def test_notebook_7_renders_and_connects(
    browser: Any, jupyter_factory: Callable[[str], Jupyter]
) -> None:
    notebook = jupyter_factory("notebook")
    page = open_notebook(browser, notebook, f"/notebooks/{notebook.notebook}")
    try:
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
