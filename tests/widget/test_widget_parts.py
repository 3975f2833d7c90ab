"""Parts the widget is made of, on their own: the model's audio and what the browser played
(``Playback``) and the client's loop (``HomeLoop``). What the parts do together is tested
through the widget, at the message level (``test_widget*.py``); that they import no notebook
library, in ``test_layers.py``."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import numpy as np
import pytest

from realtime_widget.core.errors import UsageError
from realtime_widget.widget.loop import HomeLoop
from realtime_widget.widget.playback import (
    MAX_INTERRUPTIONS,
    MAX_MUTED_ITEMS,
    MAX_PLAYED_ITEMS,
    Playback,
    Underruns,
)


class Sent:
    """A ``SendMessage`` that keeps what it is given."""

    def __init__(self) -> None:
        self.messages: list[tuple[dict[str, Any], list[bytes] | None]] = []

    def __call__(self, message: Any, buffers: list[bytes] | None = None) -> None:
        self.messages.append((dict(message), buffers))

    def types(self) -> list[tuple[str, str | None]]:
        return [(m["type"], m.get("item_id")) for m, _ in self.messages]


def test_playback_sends_open_items_and_closes_them() -> None:
    sent = Sent()
    playback = Playback(sent, lambda item_id: True)
    playback.send("b", np.array([1, -2], dtype=np.int16))
    playback.send("b", np.zeros(0, dtype=np.int16))  # nothing to send
    playback.send("a", np.array([3], dtype=np.int16))
    assert sent.messages[0] == ({"type": "audio", "item_id": "b"}, [b"\x01\x00\xfe\xff"])
    assert playback.open_items() == {"b": 2, "a": 1}
    playback.done("a")
    playback.done("a")  # closed once
    playback.send("c", np.array([4], dtype=np.int16))
    playback.close_all()
    assert sent.types() == [
        ("audio", "b"),
        ("audio", "a"),
        ("audio_done", "a"),
        ("audio", "c"),
        ("audio_done", "b"),
        ("audio_done", "c"),
    ]
    assert playback.open_items() == {}


def test_playback_mutes_an_interrupted_item_and_keeps_what_was_played() -> None:
    sent = Sent()
    playback = Playback(sent, lambda item_id: True)
    playback.send("a", np.array([1, 2, 3], dtype=np.int16))
    playback.played("a", 2)
    playback.played("a", 1)  # a late, lower report
    playback.interrupted("a", 2)
    playback.send("a", np.array([4], dtype=np.int16))  # late audio of a cut answer
    playback.close_all()
    assert sent.types() == [("audio", "a")]  # neither late audio nor audio_done
    playback.interrupted(None, 0)
    assert playback.played_samples == {"a": 2}
    assert [(i.item_id, i.played_samples) for i in playback.interruptions] == [("a", 2), (None, 0)]
    playback.interruptions.clear()  # a copy
    assert len(playback.interruptions) == 2


def test_playback_reports_are_bounded() -> None:
    playback = Playback(Sent(), lambda item_id: True)
    for n in range(MAX_INTERRUPTIONS + 1):
        playback.interrupted(None, n)
    kept = [i.played_samples for i in playback.interruptions]
    assert kept == list(range(MAX_INTERRUPTIONS // 2, MAX_INTERRUPTIONS + 1))
    for n in range(MAX_PLAYED_ITEMS + 1):
        playback.played(f"item_{n}", n)
    played = playback.played_samples
    assert len(played) == MAX_PLAYED_ITEMS
    assert "item_0" not in played and played[f"item_{MAX_PLAYED_ITEMS}"] == MAX_PLAYED_ITEMS


def test_playback_mutes_only_items_that_exist_and_forgets_them() -> None:
    sent = Sent()
    existing = {"a", "b"}
    playback = Playback(sent, existing.__contains__)
    playback.send("a", np.array([1], dtype=np.int16))
    playback.interrupted("a", 1)
    for n in range(3 * MAX_MUTED_ITEMS):  # reports of items the conversation does not hold
        playback.interrupted(f"gone_{n}", n)
    assert playback.muted_items() == {"a"}
    playback.send("a", np.array([2], dtype=np.int16))  # late audio of the cut answer
    assert sent.types() == [("audio", "a")]
    playback.interrupted("b", 0)
    existing.discard("b")  # deleted from the conversation
    playback.removed("b")
    assert playback.muted_items() == {"a"}


def test_playback_keeps_a_bounded_number_of_muted_items() -> None:
    sent = Sent()
    playback = Playback(sent, lambda item_id: True)  # every item exists
    for n in range(MAX_MUTED_ITEMS + 10):
        playback.interrupted(f"item_{n}", n)
    muted = playback.muted_items()
    assert len(muted) == MAX_MUTED_ITEMS
    assert "item_0" not in muted and f"item_{MAX_MUTED_ITEMS + 9}" in muted
    playback.send(f"item_{MAX_MUTED_ITEMS + 9}", np.array([1], dtype=np.int16))
    assert sent.messages == []


def test_playback_keeps_the_underruns_of_the_latest_items_only() -> None:
    playback = Playback(Sent(), lambda item_id: True)
    for n in range(MAX_PLAYED_ITEMS + 1):
        playback.underran(f"item_{n}", 1, n)
    underruns = playback.underruns
    assert len(underruns) == MAX_PLAYED_ITEMS
    assert "item_0" not in underruns
    assert underruns[f"item_{MAX_PLAYED_ITEMS}"] == Underruns(1, MAX_PLAYED_ITEMS)


async def test_the_home_loop_runs_requests_from_other_threads_in_its_own() -> None:
    reports: list[str] = []
    home = HomeLoop(reports.append, lambda text: text.replace("sk-x", "***"))
    ran: list[int] = []
    loop_thread = threading.get_ident()

    def from_another_thread() -> None:
        home.run(lambda: ran.append(threading.get_ident()), "recording")

        def refused() -> None:
            raise UsageError("not now")

        home.run(refused, "refusing")
        home.run(lambda: [][0], "indexing")

    worker = threading.Thread(target=from_another_thread)
    worker.start()
    worker.join()
    assert ran == []  # not yet: they wait for the loop
    await asyncio.sleep(0.01)
    assert ran == [loop_thread]
    assert reports == ["not now", "indexing failed: list index out of range"]


async def test_home_loop_tasks_report_what_they_did_not(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="realtime_widget.widget")
    reports: list[str] = []
    home = HomeLoop(reports.append, lambda text: text.replace("sk-x", "***"))

    async def refused() -> None:
        raise UsageError("refused sk-x")

    async def broken() -> None:
        raise RuntimeError("broken")

    home.spawn(refused(), "connect")
    home.spawn(broken(), "other")
    await asyncio.sleep(0.01)
    assert reports == ["other failed: broken"]  # a RealtimeError was reported by its coroutine
    assert "connect failed: refused ***" in caplog.text and "sk-x" not in caplog.text
