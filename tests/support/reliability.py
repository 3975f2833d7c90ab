"""Helpers shared by the reliability tests (faults, fuzzing, soak): waits without races,
item snapshots and a few canned server events."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from realtime_widget.client.client import RealtimeClient
from realtime_widget.core.events import RealtimeEventHandler
from realtime_widget.server import synthesize

FAST_RECONNECT = (0.01, 0.05, 0.1, 0.2)
SAMPLE_RATE = 24_000


def collect(emitter: RealtimeEventHandler, name: str) -> list[Any]:
    """Every event ``name`` from now on (register before the action that causes them)."""
    seen: list[Any] = []
    emitter.on(name, seen.append)
    return seen


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``condition()`` holds (state another task updates)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        await asyncio.sleep(0.005)


async def talk(client: RealtimeClient, text: str, timeout: float = 10.0) -> dict[str, Any]:
    """Say ``text`` and return the answer, checking it is the local model's echo of it.

    Answers to other turns (a late one, an injected one) are skipped, so the answer
    returned is the one to this turn.
    """
    expected = f"You said: {text}" + ("" if text.endswith((".", "!", "?")) else ".")
    answers: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def on_completed(event: dict[str, Any]) -> None:
        item = event["item"]
        if item.get("type") == "message" and item.get("role") == "assistant":
            answers.put_nowait(item)

    client.on("conversation.item.completed", on_completed)
    try:
        client.send_user_message_content(text)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no answer to {text!r}"
            try:
                item = await asyncio.wait_for(answers.get(), left)
            except TimeoutError:
                raise AssertionError(f"no answer to {text!r}") from None
            said = item["formatted"]["transcript"] or item["formatted"]["text"]
            if said == expected:
                return item
    finally:
        client.off("conversation.item.completed", on_completed)


def snapshot(client: RealtimeClient) -> list[tuple[str, str, str, int, str]]:
    """``(id, type, status, audio samples, text or transcript)`` of every item, in order."""
    rows = []
    for item in client.get_conversation_items():
        formatted = item["formatted"]
        said = formatted.get("transcript") or formatted.get("text") or ""
        rows.append((item["id"], item["type"], item["status"], len(formatted["audio"]), str(said)))
    return rows


def closed_by_loss(
    rows: list[tuple[str, str, str, int, str]],
) -> list[tuple[str, str, str, int, str]]:
    """``rows`` as they stand once the connection is lost: streaming items closed incomplete."""
    return [
        (row[0], row[1], "incomplete" if row[2] == "in_progress" else row[2], *row[3:])
        for row in rows
    ]


def item_ids(client: RealtimeClient) -> list[str]:
    return [item["id"] for item in client.get_conversation_items()]


def created_items(received: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items of the ``conversation.item.create`` events a server connection received."""
    return [e["item"] for e in received if e.get("type") == "conversation.item.create"]


def function_outputs(received: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``function_call_output`` items a server connection received."""
    return [i for i in created_items(received) if i.get("type") == "function_call_output"]


def pcm_b64(samples: np.ndarray[Any, Any]) -> str:
    return base64.b64encode(samples.astype("<i2").tobytes()).decode("ascii")


def speech(text: str, lead_s: float = 0.3, tail_s: float = 0.8) -> np.ndarray[Any, Any]:
    """Synthesised speech for ``text`` between silences (enough for server VAD to end it)."""
    voiced = np.asarray(synthesize(text).samples, dtype=np.int16)
    lead = np.zeros(int(SAMPLE_RATE * lead_s), dtype=np.int16)
    tail = np.zeros(int(SAMPLE_RATE * tail_s), dtype=np.int16)
    return np.concatenate([lead, voiced, tail])


def audio_delta(item_id: str, delta: str, *, content_index: int = 0) -> str:
    """A GA ``response.output_audio.delta`` frame for ``item_id``."""
    return json.dumps(
        {
            "event_id": "event_injected",
            "type": "response.output_audio.delta",
            "response_id": "resp_injected",
            "item_id": item_id,
            "output_index": 0,
            "content_index": content_index,
            "delta": delta,
        }
    )
