"""Fuzzing the local server's protocol with a raw WebSocket client.

A hypothesis state machine sends random sequences of client events, valid and invalid (wrong
types, unknown fields, bad base64, commits of too little audio, truncates of unknown items,
cancels without a response, garbage frames), over one connection per case. After each event it
sends a probe (a retrieve of an item that does not exist) and reads up to the probe's error, so
it knows every reply the event caused. It checks:

- an event that is invalid whatever the state gets exactly one ``error`` echoing its
  ``event_id`` (a frame that is not a JSON object: an ``error`` without one); an event valid in
  the state the machine tracks gets none; only events whose outcome depends on timing (a
  response that may just have ended) may go either way;
- the server never answers ``internal_error``, logs no failure, and never closes the socket;
- at the end of each case a plain text turn still completes with the model's echo.

The fast run (``make test``) makes a few dozen cases; the ``soak`` run makes
``settings.default.max_examples`` cases (10,000 under ``HYPOTHESIS_PROFILE=nightly``).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Literal, TypeVar

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from reliability import pcm_b64, speech
from websockets.asyncio.client import ClientConnection, connect
from websockets.protocol import State

from realtime_widget.server import LocalRealtimeServer

T = TypeVar("T")
Expect = Literal["error", "ok", "either"]

FAST_EXAMPLES = 30
STEPS = 15
_MIN_COMMIT = 2400  # 100 ms at 24 kHz: the server refuses shorter commits
_SPEECH = speech("fuzzing the server", lead_s=0.1, tail_s=0.7)
_NOISE = np.random.default_rng(7).integers(-3000, 3000, 24_000).astype(np.int16)
_MANUAL = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
_VAD = {"type": "realtime", "audio": {"input": {"turn_detection": {"type": "server_vad"}}}}
_WRONG = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.just([1]), st.just({"x": 1}), st.just("?")
)


class ServerMachine(RuleBasedStateMachine):
    """One raw connection to the local server under random client events."""

    loop: ClassVar[asyncio.AbstractEventLoop]
    server: ClassVar[LocalRealtimeServer]
    failures: ClassVar[list[str]]
    cases: ClassVar[int] = 0
    events_sent: ClassVar[int] = 0
    errors_seen: ClassVar[int] = 0
    _serial = itertools.count()

    def __init__(self) -> None:
        super().__init__()
        type(self).cases += 1
        self.failures.clear()
        self.case = next(self._serial)
        self.ids = itertools.count()
        self.items: dict[str, str] = {}  # id -> role (or type) of the items the server holds
        self.active: set[str] = set()  # responses created and not yet done
        self.audio_items: set[str] = set()  # assistant items that streamed audio
        self.uncommitted: int | None = 0  # samples since the last commit; None: unknown
        self.manual = True
        self.replies: list[dict[str, Any]] = []
        self.ws: ClientConnection = self.run(connect(self.server.url, max_size=None))
        first = self.run(self.read())
        assert first["type"] == "session.created"
        self.exchange({"type": "session.update", "session": _MANUAL}, "ok")

    # -- plumbing -------------------------------------------------------------------------

    def run(self, awaitable: Awaitable[T]) -> T:
        async def main() -> T:
            return await awaitable

        return self.loop.run_until_complete(main())

    def next_id(self, prefix: str) -> str:
        return f"{prefix}_fz{self.case}n{next(self.ids)}"

    async def read(self, timeout: float = 10.0) -> dict[str, Any]:
        event = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        assert isinstance(event, dict) and isinstance(event.get("type"), str)
        assert event["event_id"].startswith("event_")
        kind = event["type"]
        if kind == "response.created":
            self.active.add(event["response"]["id"])
        elif kind == "response.done":
            self.active.discard(event["response"]["id"])
        elif kind == "conversation.item.added":
            item = event["item"]
            self.items[item["id"]] = item.get("role") or item["type"]
        elif kind == "conversation.item.deleted":
            self.items.pop(event["item_id"], None)
        elif kind == "response.output_audio.delta":
            self.audio_items.add(event["item_id"])
        elif kind == "error":
            type(self).errors_seen += 1
            error = event["error"]
            assert error["code"] != "internal_error", error
            assert error["type"] != "server_error", error
        return event

    async def read_until(self, done: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        events = []
        while True:
            event = await self.read()
            events.append(event)
            if done(event):
                return events

    def exchange(self, event: dict[str, Any] | str | bytes, expect: Expect) -> list[dict[str, Any]]:
        """Send one frame, then a probe; check the errors that echo the frame's event_id."""
        type(self).events_sent += 1
        if isinstance(event, dict):
            event.setdefault("event_id", self.next_id("evt"))
            event_id = event["event_id"]
            frame: str | bytes = json.dumps(event)
        else:
            event_id, frame = None, event
        probe = self.next_id("probe")

        async def send() -> list[dict[str, Any]]:
            await self.ws.send(frame)
            await self.ws.send(
                json.dumps(
                    {"type": "conversation.item.retrieve", "item_id": "absent", "event_id": probe}
                )
            )
            return await self.read_until(
                lambda e: e["type"] == "error" and e["error"].get("event_id") == probe
            )

        replies = self.replies = self.run(send())
        echoed = [
            e for e in replies if e["type"] == "error" and e["error"].get("event_id") == event_id
        ]
        if expect == "error":
            assert len(echoed) == 1, f"no single error for {frame!r}: {replies}"
        elif expect == "ok":
            assert echoed == [], f"{frame!r} was refused: {echoed}"
        return echoed

    def known(self, index: int, role: str | None = None) -> str | None:
        ids = [i for i, r in self.items.items() if role is None or r == role]
        return ids[index % len(ids)] if ids else None

    # -- input audio ------------------------------------------------------------------------

    @rule(source=st.sampled_from(["speech", "silence", "noise"]), size=st.integers(1, 9600))
    def append(self, source: str, size: int) -> None:
        if source == "speech":
            start = (self.case * 997) % (_SPEECH.size - 1)
            samples = np.resize(np.roll(_SPEECH, -start), size)
        elif source == "noise":
            samples = _NOISE[:size]
        else:
            samples = np.zeros(size, dtype=np.int16)
        self.exchange({"type": "input_audio_buffer.append", "audio": pcm_b64(samples)}, "ok")
        if self.uncommitted is not None and self.manual:
            self.uncommitted += size
        else:
            self.uncommitted = None

    @rule(
        fault=st.sampled_from(
            ["bad base64", "odd bytes", "not a string", "missing", "extra field", "empty ok"]
        ),
        value=_WRONG,
    )
    def append_bad(self, fault: str, value: Any) -> None:
        event: dict[str, Any] = {"type": "input_audio_buffer.append"}
        if fault == "bad base64":
            event["audio"] = "this is not base64!"
        elif fault == "odd bytes":
            event["audio"] = base64.b64encode(b"\x01\x02\x03").decode()
        elif fault == "not a string":
            event["audio"] = value if not isinstance(value, str) else 7
        elif fault == "extra field":
            event.update(audio="AAAA", sample_rate=24_000)
        elif fault == "empty ok":
            event["audio"] = ""  # zero samples: valid, and changes nothing
            self.exchange(event, "ok")
            return
        self.exchange(event, "error")

    @rule(extra=st.booleans())
    def commit(self, extra: bool) -> None:
        event: dict[str, Any] = {"type": "input_audio_buffer.commit"}
        if extra:
            event["item_id"] = "item_mine"
            self.exchange(event, "error")
            return
        if self.uncommitted is None or not self.manual:
            echoed = self.exchange(event, "either")
            self.uncommitted = 0 if not echoed and self.manual else None
            return
        enough = self.uncommitted >= _MIN_COMMIT
        self.exchange(event, "ok" if enough else "error")
        if enough:
            self.uncommitted = 0

    @rule()
    def clear(self) -> None:
        self.exchange({"type": "input_audio_buffer.clear"}, "ok")
        self.uncommitted = 0 if self.manual else None

    # -- items ------------------------------------------------------------------------------

    @rule(
        shape=st.sampled_from(
            [
                "text",
                "text with id",
                "duplicate id",
                "after a known item",
                "at the root",
                "after an unknown item",
                "bad role",
                "bad part type",
                "no content",
                "empty content",
                "not an object",
                "unknown field",
                "id too long",
                "function call",
                "function call output",
                "system text",
                "user audio",
                "bad audio",
            ]
        ),
        index=st.integers(0, 50),
        text=st.text(max_size=12),
    )
    def create_item(self, shape: str, index: int, text: str) -> None:
        part = {"type": "input_text", "text": text}
        item: Any = {"type": "message", "role": "user", "content": [part]}
        event: dict[str, Any] = {"type": "conversation.item.create", "item": item}
        expect: Expect = "ok"
        if shape == "text with id":
            item["id"] = self.next_id("item")
        elif shape == "duplicate id":
            known = self.known(index)
            item["id"] = known or self.next_id("item")
            expect = "error" if known else "ok"
        elif shape == "after a known item":
            known = self.known(index)
            event["previous_item_id"] = known or "root"
        elif shape == "at the root":
            event["previous_item_id"] = "root"
        elif shape == "after an unknown item":
            event["previous_item_id"] = "item_unknown"
            expect = "error"
        elif shape == "bad role":
            item["role"] = "narrator"
            expect = "error"
        elif shape == "bad part type":
            part["type"] = "output_text"  # an assistant part in a user message
            expect = "error"
        elif shape == "no content":
            del item["content"]
            expect = "error"
        elif shape == "empty content":
            item["content"] = []
            expect = "error"
        elif shape == "not an object":
            event["item"] = text
            expect = "error"
        elif shape == "unknown field":
            item["colour"] = "blue"
            expect = "error"
        elif shape == "id too long":
            item["id"] = "item_" + "x" * 40
            expect = "error"
        elif shape == "function call":
            event["item"] = {"type": "function_call", "name": "add", "arguments": "{}"}
        elif shape == "function call output":
            event["item"] = {"type": "function_call_output", "call_id": "call_x", "output": "5"}
        elif shape == "system text":
            item["role"] = "system"
        elif shape == "user audio":
            item["content"] = [{"type": "input_audio", "audio": pcm_b64(_SPEECH[:4800])}]
        elif shape == "bad audio":
            item["content"] = [{"type": "input_audio", "audio": "@@@"}]
            expect = "error"
        self.exchange(event, expect)

    @rule(
        target_kind=st.sampled_from(["unknown", "user", "assistant", "any"]),
        index=st.integers(0, 50),
        ms=st.one_of(st.integers(-10, 100_000), _WRONG),
        content_index=st.one_of(st.just(0), st.integers(-1, 3), _WRONG),
        missing=st.sampled_from([None, "item_id", "content_index", "audio_end_ms"]),
    )
    def truncate(
        self, target_kind: str, index: int, ms: Any, content_index: Any, missing: str | None
    ) -> None:
        if target_kind == "unknown":
            item_id: str | None = "item_unknown"
        else:
            item_id = self.known(index, None if target_kind == "any" else target_kind)
        if item_id is None:
            item_id = "item_unknown"
        event: dict[str, Any] = {
            "type": "conversation.item.truncate",
            "item_id": item_id,
            "content_index": content_index,
            "audio_end_ms": ms,
        }
        expect: Expect = "either"
        if missing is not None:
            del event[missing]
            expect = "error"
        # only assistant audio can be truncated, at a non-negative ms of its audio part
        truncatable = (
            self.items.get(item_id) == "assistant"
            and item_id in self.audio_items
            and type(ms) is int
            and ms >= 0
            and content_index == 0
            and type(content_index) is int
        )
        if not truncatable:
            expect = "error"
        self.exchange(event, expect)

    @rule(
        action=st.sampled_from(["delete", "retrieve"]),
        known=st.booleans(),
        index=st.integers(0, 50),
    )
    def delete_or_retrieve(self, action: str, known: bool, index: int) -> None:
        item_id = self.known(index) if known else None
        event = {"type": f"conversation.item.{action}", "item_id": item_id or "item_unknown"}
        self.exchange(event, "ok" if item_id else "error")
        if action == "delete" and item_id:
            assert item_id not in self.items

    # -- responses --------------------------------------------------------------------------

    @rule(
        params=st.sampled_from(
            [
                None,
                {"output_modalities": ["text"]},
                {"output_modalities": ["audio"], "instructions": "be brief"},
                {"conversation": "none", "output_modalities": ["text"]},
                {"output_modalities": ["text", "audio"]},
                {"modalities": ["text"]},
                {"conversation": "maybe"},
                {"input": [{"type": "item_reference", "id": "item_unknown"}]},
                {"max_output_tokens": 0},
                {"tools": "none"},
            ]
        )
    )
    def create_response(self, params: dict[str, Any] | None) -> None:
        event: dict[str, Any] = {"type": "response.create"}
        valid = params is None or params in (
            {"output_modalities": ["text"]},
            {"output_modalities": ["audio"], "instructions": "be brief"},
            {"conversation": "none", "output_modalities": ["text"]},
        )
        if params is not None:
            event["response"] = dict(params)
        if not valid:
            self.exchange(event, "error")
        else:
            self.exchange(event, "either" if self.active else "ok")

    @rule(which=st.sampled_from([None, "wrong", "current"]))
    def cancel_response(self, which: str | None) -> None:
        event: dict[str, Any] = {"type": "response.cancel"}
        if which == "wrong":
            event["response_id"] = "resp_unknown"
            self.exchange(event, "error")
            return
        if which == "current" and self.active:
            event["response_id"] = next(iter(self.active))
        self.exchange(event, "either" if self.active else "error")

    # -- session and garbage ----------------------------------------------------------------

    @rule(
        change=st.sampled_from(
            [
                "manual",
                "server vad",
                "instructions",
                "unknown field",
                "bad type",
                "no session",
                "not realtime",
                "bad turn detection",
            ]
        ),
        value=_WRONG,
    )
    def update_session(self, change: str, value: Any) -> None:
        session: dict[str, Any] = {"type": "realtime"}
        event: dict[str, Any] = {"type": "session.update", "session": session}
        expect: Expect = "error"
        if change == "manual":
            event["session"], expect = dict(_MANUAL), "ok"
        elif change == "server vad":
            event["session"], expect = dict(_VAD), "ok"
        elif change == "instructions":
            session["instructions"], expect = "Be helpful.", "ok"
        elif change == "unknown field":
            session["mood"] = "calm"
        elif change == "bad type":
            session["instructions"] = value if not isinstance(value, str) else 5
        elif change == "no session":
            del event["session"]
        elif change == "not realtime":
            session["type"] = "transcription-ish"
        elif change == "bad turn detection":
            session["audio"] = {"input": {"turn_detection": {"type": "psychic"}}}
        self.exchange(event, expect)
        if expect == "ok" and change != "instructions":
            self.manual = change == "manual"
            self.uncommitted = None  # what the detector committed is not known

    @rule(
        shape=st.sampled_from(
            ["unknown type", "no type", "type not a string", "webrtc only", "unknown field"]
        ),
        value=_WRONG,
    )
    def bad_event(self, shape: str, value: Any) -> None:
        event: dict[str, Any] = {"type": "response.dance"}
        if shape == "no type":
            del event["type"]
        elif shape == "type not a string":
            event["type"] = value if not isinstance(value, str) else 5
        elif shape == "webrtc only":
            event["type"] = "output_audio_buffer.clear"
        elif shape == "unknown field":
            event = {"type": "input_audio_buffer.clear", "volume": value}
        self.exchange(event, "error")

    @rule(
        frame=st.sampled_from(
            [b"\x00\x01binary", "{not json", "[1, 2]", "42", '"text"', "null", "[" * 5000]
        )
    )
    def garbage(self, frame: str | bytes) -> None:
        self.exchange(frame, "error")

    @rule(seconds=st.sampled_from([0.0, 0.01, 0.03]))
    def wait(self, seconds: float) -> None:
        async def drain() -> None:
            deadline = time.monotonic() + seconds
            while (left := deadline - time.monotonic()) > 0:
                try:
                    await self.read(left)
                except TimeoutError:
                    return

        self.run(drain())

    # -- invariants -------------------------------------------------------------------------

    @invariant()
    def open_and_healthy(self) -> None:
        assert self.ws.state is State.OPEN
        assert not self.failures, self.failures

    def teardown(self) -> None:
        try:
            self._final_turn()
        finally:
            self.run(self.ws.close())

    def _final_turn(self) -> None:
        """Back to manual turns, every response ended, then a plain text turn completes."""
        self.exchange({"type": "session.update", "session": _MANUAL}, "ok")
        if self.active:
            self.run(self.read_until(lambda e: not self.active))
        text = f"final check {self.case}"
        self.exchange(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": text}],
                },
            },
            "ok",
        )
        self.exchange({"type": "response.create"}, "ok")
        done = next((e for e in self.replies if e["type"] == "response.done"), None)
        if done is None:  # the probe's reply usually comes first
            done = self.run(self.read_until(lambda e: e["type"] == "response.done"))[-1]
        response = done["response"]
        assert response["status"] == "completed", response
        said = [
            part.get("transcript") or part.get("text")
            for item in response["output"]
            for part in item.get("content", [])
        ]
        assert said == [f"You said: {text}."]
        self.open_and_healthy()


class _Failures(logging.Handler):
    """Collects what the server logs as a failure (an exception it did not expect)."""

    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.ERROR)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record.getMessage())


def _run(max_examples: int) -> tuple[int, float]:
    """Run the machine for ``max_examples`` cases; returns (cases, seconds)."""
    loop = asyncio.new_event_loop()
    failures: list[str] = []
    loop.set_exception_handler(lambda _, context: failures.append(str(context)))
    handler = _Failures(failures)
    logging.getLogger("realtime_widget.server").addHandler(handler)
    server = LocalRealtimeServer(pace="fast")
    loop.run_until_complete(server.start())
    try:
        ServerMachine.loop = loop
        ServerMachine.server = server
        ServerMachine.failures = failures
        ServerMachine.cases = ServerMachine.events_sent = ServerMachine.errors_seen = 0
        started = time.perf_counter()
        run_state_machine_as_test(
            ServerMachine,
            settings=settings(
                settings.default,
                max_examples=max_examples,
                stateful_step_count=STEPS,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
        elapsed = time.perf_counter() - started
    finally:
        logging.getLogger("realtime_widget.server").removeHandler(handler)
        loop.run_until_complete(server.stop())
        loop.close()
    cases = ServerMachine.cases
    print(
        f"\nserver fuzz: {cases} cases, {ServerMachine.events_sent} events, "
        f"{ServerMachine.errors_seen} error events, {elapsed:.1f} s, "
        f"{1000 * elapsed / max(cases, 1):.1f} ms per case"
    )
    return cases, elapsed


def test_server_fuzz() -> None:
    wanted = min(FAST_EXAMPLES, settings.default.max_examples)
    cases, _ = _run(wanted)
    assert cases >= wanted


@pytest.mark.soak
@pytest.mark.timeout(6 * 3600)
def test_server_fuzz_nightly() -> None:
    wanted = max(settings.default.max_examples, 10_000)
    cases, _ = _run(wanted)
    assert cases >= wanted
