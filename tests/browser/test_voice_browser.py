"""Spoken turns through the whole path: fake microphone -> worklet -> kernel -> local server.

The fake microphone loops two sentences of the session's vocabulary, made by espeak-ng,
each followed by silence long enough for its answer to play out: a knowledge question
("When are you open?") and a tool named with spoken numbers ("Please calculate two plus
three"). The local server must hear them (word error rate at most 25%), act on them (the
knowledge answer; a ``calculate`` call with ``2 + 3``, run in the kernel) and speak the
answers in words: an answer's audio as the page got it, recognized back with a recognizer
biased to its transcript's words, matches that transcript, and tone audio does not.
"""

from __future__ import annotations

import json
import subprocess
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from jupyter_harness import (
    ESPEAK,
    KERNEL_EXEC,
    Jupyter,
    launch_chromium,
    open_tapped_notebook,
    wait_until,
)

from realtime_widget.server import LocalRealtimeServer
from realtime_widget.server.recognizer import Recognizer, recognizer_available, word_error_rate
from realtime_widget.server.synth import synthesize
from realtime_widget.server.vocabulary import Vocabulary, words_of

QUESTION = "When are you open?"
REQUEST = "Please calculate two plus three."
HOURS = "We are open from nine to five, Monday to Friday."
SETUP = """
w.client.update_session(voice="marin")  # words: the notebook's widget speaks in tones
w.client.update_config({"knowledge": {"scripts": [{"id": "hours", "dialogues": [{
    "id": "open", "prompts": ["when are you open"],
    "responses": [{"id": "a", "type": "message", "message": HOURS_TEXT}]}]}]}})

@w.tool
def calculate(expression: str) -> float:
    \"\"\"Evaluate an arithmetic expression such as "2 * (3 + 4)".\"\"\"
    left, operator, right = expression.split()
    assert operator == "+", expression
    return float(left) + float(right)
print("ready")
""".replace("HOURS_TEXT", repr(HOURS))
ITEMS = """
import json as _json
print(_json.dumps([
    {"id": i["id"], "type": i["type"], "role": i.get("role"), "name": i.get("name"),
     "arguments": i.get("arguments"), "status": i.get("status"),
     "transcript": i["formatted"].get("transcript"), "output": i.get("output")}
    for i in w.client.get_conversation_items()
]))
"""
PUSHED = """(itemId) => {
  const chunks = window.__rtwTap.pushed.get(itemId) || [];
  return chunks.flatMap((c) => Array.from(c));
}"""


def conversation(page: Any) -> list[dict[str, Any]]:
    out = page.evaluate(KERNEL_EXEC, ITEMS)
    assert "ERROR" not in out, out
    return list(json.loads(out.strip().splitlines()[-1]))


def spoken(folder: Path, texts: list[str], silence_seconds: float) -> Path:
    """``texts`` said by espeak-ng, each followed by ``silence_seconds`` of silence."""
    assert ESPEAK is not None
    parts: list[np.ndarray[Any, Any]] = []
    rate = 22_050
    for index, text in enumerate(texts):
        raw = folder / f"part-{index}.wav"
        subprocess.run([ESPEAK, "-w", str(raw), text], check=True, capture_output=True)
        with wave.open(str(raw)) as source:
            rate = source.getframerate()
            parts.append(np.frombuffer(source.readframes(source.getnframes()), "<i2"))
        parts.append(np.zeros(int(rate * silence_seconds), dtype=np.int16))
    path = folder / "turns.wav"
    with wave.open(str(path), "wb") as target:
        target.setnchannels(1)
        target.setsampwidth(2)
        target.setframerate(rate)
        target.writeframes(np.concatenate(parts).astype("<i2").tobytes())
    return path


@pytest.fixture(scope="module")
def voice_page(
    chromium: Path,
    tmp_path_factory: pytest.TempPathFactory,
    jupyter_factory: Callable[[str], Jupyter],
    realtime_server: LocalRealtimeServer,
) -> Iterator[Any]:
    if ESPEAK is None or not recognizer_available():
        pytest.skip("needs espeak-ng and the voice extra (pocketsphinx)")
    assert realtime_server.voice_fallback is None
    from playwright.sync_api import sync_playwright

    wav = spoken(tmp_path_factory.mktemp("voice"), [QUESTION, REQUEST], 5.0)
    lab = jupyter_factory("lab")
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, wav)
        page = open_tapped_notebook(browser, lab)
        page.click(".rtw-connect")
        page.wait_for_selector('.rtw[data-connection="connected"]', timeout=15_000)
        assert page.evaluate(KERNEL_EXEC, SETUP).strip().endswith("ready")
        page.evaluate("() => window.__rtwTap && window.__rtwTap.pushed.clear()")
        yield page
        page.context.close()
        browser.close()


def summary(items: list[dict[str, Any]]) -> str:
    """One line per item, for failure messages."""
    return "\n".join(
        f"{i['type']} {i['role']} {i['status']}: {i['transcript'] or i['arguments']!r}"
        for i in items
    )


def turns(items: list[dict[str, Any]], sentence: str) -> list[list[dict[str, Any]]]:
    """For each user item whose transcript is ``sentence`` (WER <= 25%), the items after it
    up to the next user item: what the turn brought."""
    found: list[list[dict[str, Any]]] = []
    for index, item in enumerate(items):
        heard = item["role"] == "user" and item["transcript"]
        if heard and word_error_rate(sentence, item["transcript"]) <= 0.25:
            rest = items[index + 1 :]
            users = [n for n, later in enumerate(rest) if later["role"] == "user"]
            found.append(rest[: users[0]] if users else rest)
    return found


def recognized_back(samples: np.ndarray[Any, Any], transcript: str) -> float:
    """The share of ``transcript``'s words heard in ``samples`` by a recognizer biased to them."""
    words = words_of(transcript)
    recognizer = Recognizer(Vocabulary(frozenset(words), (tuple(words),)), fallback=False)
    heard = recognizer.recognize(np.concatenate([samples, np.zeros(12_000, np.int16)]))
    return sum(1 for word in words if word in heard.text.split()) / len(words)


@pytest.mark.timeout(300)  # Jupyter, Chromium and a loop of the fake microphone's speech
def test_a_spoken_question_is_answered_aloud(voice_page: Any) -> None:
    page = voice_page
    page.click(".rtw-mic")
    page.wait_for_selector('.rtw[data-mic="on"]', timeout=10_000)

    def answered() -> dict[str, Any] | None:
        for turn in turns(conversation(page), QUESTION):
            done = [i for i in turn if i["role"] == "assistant" and i["status"] == "completed"]
            if done:
                return done[0]
        return None

    try:
        answer = wait_until(answered, 120, "the spoken question's answer")
    except AssertionError:
        raise AssertionError(summary(conversation(page))) from None
    assert answer["transcript"] == HOURS, summary(conversation(page))
    pushed = np.array(page.evaluate(PUSHED, answer["id"]), dtype=np.int16)
    assert pushed.size > 24_000  # the page got over a second of it
    assert recognized_back(pushed, HOURS) >= 0.7
    assert recognized_back(synthesize(HOURS, voice="tones").samples, HOURS) < 0.7


@pytest.mark.timeout(300)
def test_a_tool_named_aloud_runs_with_the_spoken_numbers(voice_page: Any) -> None:
    page = voice_page
    if page.locator('.rtw[data-mic="on"]').count() == 0:
        page.click(".rtw-mic")

    def called() -> list[dict[str, Any]] | None:
        for turn in turns(conversation(page), REQUEST):
            calls = [i for i in turn if i["type"] == "function_call"]
            said = [i for i in turn if i["role"] == "assistant" and i["status"] == "completed"]
            if calls and said:
                return calls + said
        return None

    try:
        call, *rest = wait_until(called, 120, "the spoken request's tool call and answer")
    except AssertionError:
        raise AssertionError(summary(conversation(page))) from None
    assert call["name"] == "calculate"
    assert json.loads(call["arguments"]) == {"expression": "2 + 3"}
    assert rest[0]["transcript"] == "calculate returned 5.0."
