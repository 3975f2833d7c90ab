"""``make demo`` converses: what it starts, spoken to through the real examples.ipynb.

``python -m realtime_widget.demo`` (the local server, and JupyterLab pointed at it through
``$REALTIME_WIDGET_URL``) runs on a copy of examples.ipynb as shipped; Chromium's fake
microphone loops the two things the notebook tells the user to say, made by espeak-ng, each
followed by silence long enough for its answer to play out. Every cell runs (its text turns
first), then the mic is switched on: the knowledge question is heard and answered in spoken
words, and the tool named aloud runs in the kernel with the spoken numbers, its result spoken.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from jupyter_harness import (
    AUDIO_TAP_SCRIPT,
    ESPEAK,
    EXAMPLES,
    KERNEL_EXEC,
    Jupyter,
    free_port,
    launch_chromium,
    open_notebook,
    wait_until,
)
from test_demo import read_until, start_demo
from test_voice_browser import (
    HOURS,
    PUSHED,
    QUESTION,
    conversation,
    recognized_back,
    spoken,
    summary,
    turns,
)

from realtime_widget.server.recognizer import recognizer_available

REQUEST = "Calculate two plus three"  # as examples.ipynb words it
SECOND = 24_000  # samples of the page's audio


def pushed(page: Any, item: dict[str, Any]) -> np.ndarray[Any, Any]:
    """The audio of ``item`` the page got to play."""
    return np.array(page.evaluate(PUSHED, item["id"]), dtype=np.int16)


def answered(
    items: list[dict[str, Any]], sentence: str, wanted: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]] | None:
    """The first turn heard as ``sentence`` whose items satisfy ``wanted`` and end in a
    completed assistant item."""
    for turn in turns(items, sentence):
        said = [i for i in turn if i["role"] == "assistant" and i["status"] == "completed"]
        if said and wanted(turn):
            return turn
    return None


@pytest.mark.timeout(240)  # JupyterLab, every cell of the notebook, two spoken turns
def test_make_demo_answers_the_notebooks_spoken_question_and_tool_aloud(
    chromium: Path, demo_env: dict[str, str], tmp_path: Path
) -> None:
    if ESPEAK is None or not recognizer_available():
        pytest.skip("needs espeak-ng and the voice extra (pocketsphinx)")
    from playwright.sync_api import sync_playwright

    notebook = tmp_path / EXAMPLES.name
    shutil.copy(EXAMPLES, notebook)
    env = {name: value for name, value in demo_env.items() if name != "OPENAI_API_KEY"}
    # window.jupyterapp, through which the test reads the kernel's conversation
    config = Path(env["JUPYTER_CONFIG_DIR"]) / "jupyter_lab_config.py"
    config.write_text("c.LabApp.expose_app_in_browser = True\n")
    wav = spoken(tmp_path, [QUESTION, REQUEST], 5.0)
    port = free_port()
    log = tmp_path / "demo.log"
    with log.open("w") as sink:
        demo = start_demo(notebook, env, port, stderr=sink)
    try:
        read_until(demo, "local realtime server: ", 30)
        token = re.search(r"token=(\w+)", read_until(demo, "open: ", 90))
        assert token is not None
        lab = Jupyter(f"http://127.0.0.1:{port}", token[1], notebook.name, demo, log)  # type: ignore[arg-type]
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright, wav)
            try:
                page = open_notebook(
                    browser,
                    lab,
                    f"/lab/tree/{notebook.name}",
                    init_script=AUDIO_TAP_SCRIPT,
                    permissions=["microphone"],
                )
                # queued behind the notebook's cells, so it runs once they have; the helpers
                # of test_voice_browser read the conversation of a widget named ``w``
                ready = page.evaluate(KERNEL_EXEC, "w = widget\nprint('ready')")
                assert ready.strip().endswith("ready"), ready
                if page.locator('.rtw[data-connection="connected"]').count() == 0:
                    page.click(".rtw-connect")
                page.wait_for_selector('.rtw[data-connection="connected"]', timeout=30_000)
                typed = len(conversation(page))  # the notebook's text turns: not spoken
                page.click(".rtw-mic")
                page.wait_for_selector('.rtw[data-mic="on"]', timeout=15_000)

                def both() -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
                    items = conversation(page)[typed:]
                    hours = answered(items, QUESTION, lambda turn: True)
                    sums = answered(
                        items,
                        REQUEST,
                        lambda turn: any(i["type"] == "function_call_output" for i in turn),
                    )
                    return (hours, sums) if hours and sums else None

                try:
                    hours, sums = wait_until(both, 120, "both spoken turns answered")
                except AssertionError:
                    raise AssertionError(summary(conversation(page)[typed:])) from None
                story = summary(conversation(page)[typed:])

                hours_answer = next(i for i in hours if i["role"] == "assistant")
                assert hours_answer["transcript"] == HOURS, story
                audio = pushed(page, hours_answer)
                assert audio.size > SECOND, "the answer was spoken"
                assert recognized_back(audio, HOURS) >= 0.7, "in words"

                call = next(i for i in sums if i["type"] == "function_call")
                output = next(i for i in sums if i["type"] == "function_call_output")
                assert call["name"] == "calculate", story
                expression = json.loads(call["arguments"])["expression"]
                assert expression.replace(" ", "") == "2+3", story
                assert json.loads(output["output"]) == 5, "run in the kernel"
                result = next(i for i in sums if i["role"] == "assistant")
                assert result["transcript"] == "calculate returned 5.", story
                assert pushed(page, result).size > SECOND // 2, "the result was spoken"
            finally:
                browser.close()
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=30)
