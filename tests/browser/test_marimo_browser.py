"""The widget in marimo: ``examples_marimo.py`` as shipped, served by ``marimo run``, in
Chromium with the fake microphone. With no key, the notebook starts its own local server (in
marimo's process); the widget connects, a typed question calls the notebook's tool and is
answered, the answer plays (the page's player reports it started), and the fake microphone's
speech becomes user items with audio, its binary buffers carried by marimo both ways."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_harness import AUDIO_TAP_SCRIPT, BIN, free_port, wait_until

EXAMPLE = Path(__file__).resolve().parents[2] / "examples_marimo.py"


@pytest.fixture(scope="module")
def marimo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``marimo run examples_marimo.py`` on a free port, with no key and its own home."""
    if not (BIN / "marimo").exists():
        pytest.skip("marimo is not installed (the dev extra brings it)")
    home = tmp_path_factory.mktemp("marimo-home")
    env = {
        k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "REALTIME_WIDGET_URL")
    }
    env.update({"HOME": str(home), "XDG_CONFIG_HOME": str(home / "config")})
    port = free_port()
    log = home / "marimo.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(BIN / "marimo"), "run", "--headless", "--no-token", "-p", str(port), str(EXAMPLE)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"marimo did not start:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.2)
    yield url
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def test_the_widget_talks_in_marimo(browser: Any, marimo_url: str) -> None:
    context = browser.new_context(permissions=["microphone"])
    context.add_init_script(AUDIO_TAP_SCRIPT)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    try:
        page.goto(marimo_url)
        page.wait_for_selector(".rtw", timeout=60_000)
        root = page.locator(".rtw")
        assert root.get_attribute("data-host") == "marimo"
        assert root.get_attribute("data-audio") == "browser"
        # the binary-buffer probe: marimo carries buffers both ways, so audio keeps to them
        both = '.rtw[data-wire-out="binary"][data-wire-in="binary"]'
        page.wait_for_selector(both, timeout=15_000)
        page.click(".rtw-connect")
        page.wait_for_selector('.rtw[data-connection="connected"]', timeout=20_000)

        page.fill(".rtw-text", "Please calculate two plus three.")
        page.press(".rtw-text", "Enter")
        card = page.locator('.rtw-tool[data-tool-state="done"]')
        card.wait_for(timeout=30_000)
        assert card.locator(".rtw-who").inner_text() == "calculate"
        assert card.locator(".rtw-output").inner_text().strip() == "5"
        answer = page.locator('.rtw-msg[data-role="assistant"][data-status="completed"]').last
        answer.wait_for(timeout=30_000)
        assert answer.locator(".rtw-content").inner_text() == "calculate returned 5."
        answer_id = answer.get_attribute("data-item-id")

        def started() -> list[Any]:
            events = page.evaluate("() => window.__rtwTap.events")
            return [e for e in events if e["type"] == "started" and e["itemId"] == answer_id]

        wait_until(started, 15, "the page's player to start the answer")

        page.click(".rtw-mic")
        page.wait_for_selector('.rtw[data-mic="on"]', timeout=10_000)
        page.wait_for_selector(
            '.rtw-msg[data-role="user"] .rtw-notes:text-matches("audio [0-9.]+ s")',
            timeout=30_000,
        )
        heard = page.locator('.rtw-msg[data-role="user"] .rtw-content').all_inner_texts()
        assert any(text.strip() for text in heard[1:]), heard  # a transcript of the speech
        assert not [e for e in errors if "rtw" in e.lower() or "realtime" in e.lower()], errors
    finally:
        context.close()
