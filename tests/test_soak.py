"""Soak: a long spoken conversation at accelerated pace, with tools, interruptions and a
reconnect, checking that nothing is lost and nothing grows without bound.

The user speaks (synthesised speech between silences, appended in 100 ms chunks, turns found
by server VAD) and the local model answers, the server sending as fast as the socket takes
it. Every ninth turn calls a tool, every eleventh is interrupted mid-answer (the answer hangs
after its first chunk and the client cancels it, truncating where playback stopped), and
halfway through the server drops the connection (1011) mid-answer; the client reconnects.
The server runs in a process of its own (:mod:`soak_server`), so the resident memory read
from ``/proc/self/status`` is the client's.

``test_soak_hour`` (``make soak``) talks for a simulated hour, over half of it user audio;
``test_soak_short`` covers the same path in three simulated minutes for ``make test``.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from reliability import SAMPLE_RATE, speech
from soak_server import ServerProcess

from realtime_widget.client.client import RealtimeClient

CHUNK = SAMPLE_RATE // 10  # 100 ms
MAX_AUDIO_SECONDS = 120.0
_WORDS = (
    "the",
    "ship",
    "sails",
    "north",
    "over",
    "quiet",
    "water",
    "while",
    "seven",
    "gulls",
    "circle",
    "above",
    "a",
    "small",
    "harbour",
    "town",
    "where",
    "bakers",
    "open",
    "early",
    "and",
    "children",
    "walk",
    "to",
    "school",
    "past",
    "old",
    "stone",
    "walls",
)


def _rss_mb() -> float:
    status = Path("/proc/self/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    assert match, "no VmRSS in /proc/self/status"
    return int(match.group(1)) / 1024


@dataclass
class SoakReport:
    turns: int = 0
    tool_turns: int = 0
    interrupted: int = 0
    reconnects: int = 0
    user_seconds: float = 0.0
    answer_seconds: float = 0.0
    expected_items: int = 0
    expected_completed: int = 0
    max_input_kept: int = 0
    rss_before_mb: float = 0.0
    rss_after_mb: float = 0.0
    wall_seconds: float = 0.0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> str:
        simulated = (self.user_seconds + self.answer_seconds) / 60
        return (
            f"soak: {simulated:.1f} simulated minutes ({self.user_seconds / 60:.1f} of user "
            f"audio, {self.answer_seconds / 60:.1f} of answers) in {self.wall_seconds:.1f} s; "
            f"{self.turns} turns, {self.tool_turns} with tools, {self.interrupted} interrupted, "
            f"{self.reconnects} reconnect; {self.expected_items} items; input buffer kept at "
            f"most {self.max_input_kept / SAMPLE_RATE:.2f} s; RSS {self.rss_before_mb:.1f} -> "
            f"{self.rss_after_mb:.1f} MB"
        )


class Conversation:
    """The client side of the soak: speaks turns and keeps the tallies."""

    def __init__(self, server: ServerProcess, seed: int) -> None:
        self.server = server
        self.rng = random.Random(seed)
        self.client = RealtimeClient(
            url=server.url,
            reconnect=True,
            reconnect_delays=(0.05, 0.2, 0.5, 1.0, 2.0),
            max_audio_seconds=MAX_AUDIO_SECONDS,
        )
        self.client.update_session(input_audio_transcription={"model": "gpt-4o-mini-transcribe"})
        self.report = SoakReport()
        self.completed: set[str] = set()
        self.first_audio: asyncio.Future[str] | None = None
        self.client.on("conversation.item.completed", self._on_completed)
        self.client.on("conversation.updated", self._on_updated)
        self.client.on("error", self.report.errors.append)

        @self.client.tool
        def add(a: int, b: int) -> int:
            """Add two numbers.

            Args:
                a: the first number
                b: the second number
            """
            return a + b

    def _on_completed(self, event: dict[str, Any]) -> None:
        self.completed.add(str(event["item"]["id"]))

    def _on_updated(self, event: dict[str, Any]) -> None:
        delta, item = event["delta"], event["item"]
        if not delta or "audio" not in delta or item.get("role") != "assistant":
            return
        self.report.answer_seconds += delta["audio"].size / SAMPLE_RATE
        if self.first_audio is not None and not self.first_audio.done():
            self.first_audio.set_result(str(item["id"]))

    def sentence(self) -> str:
        return " ".join(self.rng.choice(_WORDS) for _ in range(self.rng.randint(4, 9)))

    def speak(self, text: str) -> None:
        audio = speech(text, lead_s=0.3, tail_s=0.8)
        for start in range(0, audio.size, CHUNK):
            self.client.append_input_audio(audio[start : start + CHUNK])
            buffer = self.client.input_audio_buffer
            self.report.max_input_kept = max(self.report.max_input_kept, len(buffer))
        self.report.user_seconds += audio.size / SAMPLE_RATE
        self.report.turns += 1

    async def answer(self, timeout: float = 20.0) -> dict[str, Any]:
        answer = await self.client.wait_for_answer(timeout)
        assert answer is not None, f"no answer in turn {self.report.turns}"
        return answer

    async def plain_turn(self) -> None:
        text = self.sentence()
        answering = asyncio.ensure_future(self.answer())
        self.speak(text)
        answer = await answering
        assert answer["formatted"]["transcript"] == f"You said: {text}.", answer["formatted"]
        self.report.expected_items += 2
        self.report.expected_completed += 2

    async def tool_turn(self) -> None:
        a, b = self.rng.randint(1, 99), self.rng.randint(1, 99)
        answering = asyncio.ensure_future(self.answer())
        self.speak(f"please use add with {a} and {b}")
        answer = await answering
        assert answer["formatted"]["transcript"] == f"add returned {a + b}.", answer["formatted"]
        self.report.tool_turns += 1
        self.report.expected_items += 4  # user, call, output, answer
        self.report.expected_completed += 4

    async def _hung_answer(self) -> str:
        """Speak a turn whose answer hangs after its first chunk; returns the answer's id."""
        await asyncio.to_thread(self.server.command, "stall 1")
        self.first_audio = asyncio.get_running_loop().create_future()
        self.speak(self.sentence())
        item_id = await asyncio.wait_for(self.first_audio, 20)
        self.first_audio = None
        await asyncio.to_thread(self.server.command, "stall 0")
        return item_id

    async def interrupted_turn(self) -> None:
        item_id = await self._hung_answer()
        item = self.client.conversation.get_item(item_id)
        assert item is not None
        played = len(item["formatted"]["audio"]) // 2
        finished = asyncio.ensure_future(self.client.wait_for_next_completed_item(20))
        truncated = asyncio.ensure_future(
            self.client.realtime.wait_for_next("server.conversation.item.truncated", 20)
        )
        self.client.cancel_response(item_id, played)
        done = (await finished)["item"]
        assert done is item and item["status"] == "incomplete", item["status"]
        assert await truncated is not None, "no truncation"
        assert len(item["formatted"]["audio"]) == played * 1000 // SAMPLE_RATE * 24
        self.report.interrupted += 1
        self.report.expected_items += 2
        self.report.expected_completed += 2

    async def reconnect_turn(self) -> None:
        item_id = await self._hung_answer()
        reconnected = asyncio.ensure_future(self.client.wait_for_next("reconnected", 30))
        await asyncio.to_thread(self.server.command, "close 1011")
        assert await reconnected is not None, "no reconnect"
        # the cut answer is kept, closed as incomplete, last in the conversation
        items = self.client.get_conversation_items()
        assert items[-1]["id"] == item_id and items[-1]["status"] == "incomplete"
        self.report.reconnects += 1
        self.report.expected_items += 2
        self.report.expected_completed += 2

    def check_items(self) -> None:
        items = self.client.get_conversation_items()
        held = {str(i["id"]) for i in items}
        assert len(items) == self.report.expected_items
        assert self.completed <= held, f"lost items: {sorted(self.completed - held)[:5]}"
        assert len(self.completed) == self.report.expected_completed
        kept = sum(len(i["formatted"]["audio"]) for i in items)
        longest = max(len(i["formatted"]["audio"]) for i in items)
        assert kept <= MAX_AUDIO_SECONDS * SAMPLE_RATE + longest


async def converse(minutes: float, seed: int = 1) -> SoakReport:
    """Talk until the user's audio and the answers last ``minutes``; returns the tallies."""
    server = ServerProcess()
    conversation = Conversation(server, seed)
    client, report = conversation.client, conversation.report
    started = time.perf_counter()
    try:
        await client.connect()
        for _ in range(3):  # warm up before the first memory reading
            await conversation.plain_turn()
        report.rss_before_mb = _rss_mb()

        def simulated() -> float:
            return report.user_seconds + report.answer_seconds

        while simulated() < minutes * 60:
            turn = report.turns + 1
            if report.reconnects == 0 and simulated() >= minutes * 30:
                await conversation.reconnect_turn()
            elif turn % 11 == 0:
                await conversation.interrupted_turn()
            elif turn % 9 == 0:
                await conversation.tool_turn()
            else:
                await conversation.plain_turn()
            if turn % 50 == 0:
                conversation.check_items()
        conversation.check_items()
        report.rss_after_mb = _rss_mb()
    finally:
        report.wall_seconds = time.perf_counter() - started
        await client.aclose()
        await asyncio.to_thread(server.stop)
    return report


def _check(report: SoakReport, minutes: float) -> None:
    print("\n" + report.summary())
    assert report.user_seconds + report.answer_seconds >= minutes * 60
    # about half of it is the user's: answers repeat the words, without the pauses
    assert report.user_seconds >= minutes * 60 / 2
    assert report.answer_seconds >= 0.6 * report.user_seconds
    assert report.reconnects == 1 and report.interrupted >= 1 and report.tool_turns >= 1
    # no error at all: cancels went out only while a response ran, tools answered, the
    # reconnect replayed cleanly
    assert report.errors == [], [str(e["error"]) for e in report.errors]
    # the input buffer keeps an utterance or so, never the session's audio
    assert report.max_input_kept <= 12 * SAMPLE_RATE
    # audio is capped at MAX_AUDIO_SECONDS of the conversation's items: 60 minutes of it
    # would be 165 MB; what grows is the items' text and the Python heap around them
    assert report.rss_after_mb - report.rss_before_mb < 64, report.summary()


async def test_soak_short() -> None:
    """Three simulated minutes: the soak's path, in make test."""
    report = await converse(minutes=3)
    _check(report, 3)


@pytest.mark.soak
@pytest.mark.timeout(3 * 3600)
async def test_soak_hour() -> None:
    """A simulated hour: over 30 minutes of user audio and the answers to it."""
    report = await converse(minutes=60)
    _check(report, 60)
