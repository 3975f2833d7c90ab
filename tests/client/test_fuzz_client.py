"""Fuzzing the client: random interleavings of client actions and server misbehaviour.

A hypothesis state machine drives a :class:`RealtimeClient` (reconnecting, with short delays)
connected to the local server over loopback: sending text and audio, asking for and cancelling
responses, (un)registering tools, updating the session, disconnecting and connecting again;
and server-side faults: responses that hang until cancelled, events injected into the socket
(whole recorded turns with fresh ids, reordered, duplicated or cut short, and malformed frames
and events), connections closed with every close code that matters (1000, 1001, 1011, 1012,
1013) or dropped without a close frame (1006), at any moment, also while a reconnect is under
way, and slow sessions (a relay, :mod:`relay`, holds a new session's ``session.created``, so
the machine acts on a socket that is open but not set up yet). After every step:

- a call that misuses the API raised :class:`UsageError`, one that needs a connection while
  there is none raised :class:`UsageError` (never connected, or disconnected) or
  :class:`ConnectionClosedError` (the server or the transport ended it), and every other
  call raised nothing, whatever the server sent before;
- every ``error`` event carries a :class:`RealtimeError`; no event handler of the package
  failed (those failures are only logged) and the loop saw no stray exception;
- every item that completed is still in ``get_conversation_items()`` (unless the server
  deleted it);
- the client is connected, or reconnecting, or down for a reason: a manual disconnect (after
  which it never reconnects), a normal close, or a reconnect that ended in
  ``reconnect_failed``;
- a connection lost and waited for ends, within seconds, connected again (every item as it
  was, in the same order, the replay's echoes changing nothing, no id colliding with the
  replay) or in ``reconnect_failed``;
- the first event every session of the client gets is its ``session.update``;

and at the end of each case a text turn still gets its answer (after a ``connect()`` if the
client is down).

One server (and one relay in front of it) serves every case of a test; each case gets its own
client and connection. The machine is synchronous, so it drives one dedicated event loop with
``run_until_complete``; what depends on the state of the connection is decided inside it.
The fast run (``make test``) makes a few dozen cases; the ``soak`` run makes
``settings.default.max_examples`` cases (10,000 under ``HYPOTHESIS_PROFILE=nightly``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, TypeVar

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from relay import FaultRelay
from reliability import FAST_RECONNECT, collect, snapshot, speech, talk
from websockets.protocol import State

from realtime_widget.client.client import RealtimeClient
from realtime_widget.core.errors import ConnectionClosedError, RealtimeError, UsageError
from realtime_widget.server import LocalRealtimeServer
from realtime_widget.server.connection import Connection

T = TypeVar("T")

FAST_EXAMPLES = 25
STEPS = 12
_ID = re.compile(r"\b((?:item|resp|call|event|conv)_[A-Za-z0-9]{8,})")
_TEXTS = (
    "hello",
    "what time is it",
    "use add with 2 and 3",
    "lookup whales",
    "call broken",
    "add 1 and 2 then lookup cats",
)
# a long run of speech and silence, appended a few 100 ms chunks at a time, so server VAD
# finds turns at random points of the machine's run
_TALK = np.concatenate([speech("hello there"), speech("one more thing", tail_s=1.2)])
_CHUNK = 2400
_CLOSE_CODES = (1000, 1001, 1006, 1011, 1012, 1013)


async def _lookup(term: str) -> str:
    await asyncio.sleep(0.01)
    return f"found {term}"


def _add(a: float, b: float) -> float:
    return a + b


def _broken() -> str:
    raise RuntimeError("tool failure")


_TOOLS: dict[str, Callable[..., Any]] = {"add": _add, "lookup": _lookup, "broken": _broken}

_MALFORMED: tuple[str | bytes, ...] = (
    b"\x00\xff binary",
    "{truncated json",
    "[]",
    "null",
    '"just a string"',
    '{"no_type": true}',
    '{"type": null}',
    '{"type": ""}',
    '{"type": "response.output_audio.delta", "item_id": 5, "delta": "AAAA"}',
    '{"type": "response.done", "response": "not an object"}',
    '{"type": "response.done", "response": {"id": 7}}',
    '{"type": "response.created", "response": {"id": "resp_fake", "output": "x"}}',
    '{"type": "conversation.item.added", "item": {"type": "message"}}',
    '{"type": "conversation.item.added", "item": {"id": "item_new", "content": "x"}}',
    '{"type": "conversation.item.deleted", "item_id": "item_nobody"}',
    '{"type": "input_audio_buffer.speech_stopped", "item_id": "item_v", "audio_end_ms": -5}',
    '{"type": "response.function_call_arguments.delta", "item_id": "item_nobody", "delta": 1}',
    '{"type": "error", "error": "not an object"}',
    '{"type": "error"}',
    '{"type": "rate_limits.updated", "rate_limits": []}',
    '{"type": "some.future.event", "payload": {"x": 1}}',
)
_WRONG_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 10**6),
    st.text(max_size=4),
    st.lists(st.integers(), max_size=2),
    st.just({"x": 1}),
    st.just("@@not base64@@"),
    st.just("AAAA"),
)


def _fresh_ids(events: list[dict[str, Any]], suffix: str) -> list[str]:
    """The events as JSON frames, every id renamed consistently (a new item, response...)."""
    return [_ID.sub(lambda m: f"{m.group(1)}{suffix}", json.dumps(e)) for e in events]


async def _record_turns(server: LocalRealtimeServer) -> list[list[dict[str, Any]]]:
    """The server events of real turns: a spoken answer, a tool call and its answer."""
    client = RealtimeClient(url=server.url)
    seen = collect(client.realtime, "server.*")
    await client.connect()
    client.tool(_add)
    turns = []
    for text in ("record this answer", "use add with 2 and 3"):
        start = len(seen)
        client.send_user_message_content(text)
        while True:  # the tool turn has two answers: wait for the final one
            answer = await client.wait_for_answer(10)
            assert answer is not None
            if "returned" in answer["formatted"]["transcript"] or "add" not in text:
                break
        await asyncio.sleep(0.02)
        turns.append([e for e in seen[start:] if not e["type"].startswith("session.")])
    await client.disconnect()
    return turns


class ClientMachine(RuleBasedStateMachine):
    """One client session under random use and random server misbehaviour."""

    loop: ClassVar[asyncio.AbstractEventLoop]
    server: ClassVar[LocalRealtimeServer]
    relay: ClassVar[FaultRelay]
    turns: ClassVar[list[list[dict[str, Any]]]]
    loop_errors: ClassVar[list[dict[str, Any]]]
    cases: ClassVar[int] = 0
    steps: ClassVar[int] = 0
    injected: ClassVar[int] = 0
    error_events: ClassVar[int] = 0
    forced_cancels: ClassVar[int] = 0
    closes: ClassVar[int] = 0
    reconnects: ClassVar[int] = 0
    _serial = itertools.count()

    def __init__(self) -> None:
        super().__init__()
        type(self).cases += 1
        self.case = next(self._serial)
        self.loop_errors.clear()  # each case answers for its own failures
        self.relay.hold_created = None
        self.client = RealtimeClient(
            url=self.relay.url,
            reconnect=True,
            reconnect_delays=FAST_RECONNECT,
            connect_timeout=2.0,
        )
        self.errors = collect(self.client, "error")
        self.reconnecting = collect(self.client, "reconnecting")
        self.reconnected = collect(self.client, "reconnected")
        self.completed: dict[str, dict[str, Any]] = {}
        self.deleted: set[str] = set()
        self.cursor = 0
        self.injections = 0
        self.down: str | None = None  # why the client may be disconnected
        self.failures = 0  # reconnect_failed errors before the last manual connect
        self.at_close: list[tuple[str, str, str, int, str]] = []
        self.client.on("conversation.item.completed", self._on_completed)
        self.client.on("close", self._on_close)
        self.client.realtime.on("server.conversation.item.deleted", self._on_deleted)
        self.run(self.client.connect())

    # -- plumbing -------------------------------------------------------------------------

    def run(self, awaitable: Awaitable[T]) -> T:
        async def main() -> T:
            return await awaitable

        return self.loop.run_until_complete(main())

    def pump(self, seconds: float = 0.0) -> None:
        """Let the client and the server run for a moment."""
        self.run(asyncio.sleep(seconds))

    def act(
        self, action: Callable[[], Any], *, misuse: bool = False, needs_socket: bool = False
    ) -> None:
        """Run a client call. One that needs a socket while there is none must raise
        UsageError or ConnectionClosedError (the connection is checked first), one that
        misuses the API UsageError; any other must raise nothing, whatever the server did
        before."""
        type(self).steps += 1
        if needs_socket and not self.client.is_connected():
            with pytest.raises((UsageError, ConnectionClosedError)):
                action()
        elif misuse:
            with pytest.raises(UsageError):
                action()
        else:
            action()
        self.pump()

    def _on_completed(self, event: dict[str, Any]) -> None:
        item = event["item"]
        self.completed[str(item["id"])] = item

    def _on_deleted(self, event: dict[str, Any]) -> None:
        if isinstance(event.get("item_id"), str):
            self.deleted.add(event["item_id"])

    def _on_close(self, event: dict[str, Any]) -> None:
        self.at_close = snapshot(self.client)
        if not event["reconnecting"]:
            self.down = f"closed with {event['code']} and no reconnect"

    @property
    def connection(self) -> Connection | None:
        """The server's side of the client's socket, when it is open."""
        if not self.client.is_connected() or not self.server.connections:
            return None
        newest = self.server.connections[-1]
        return newest if newest.websocket.state is State.OPEN else None

    def failed(self) -> bool:
        """Whether a reconnect failed since the last manual connect."""
        return sum(e["type"] == "reconnect_failed" for e in self.errors) > self.failures

    def release_sessions(self) -> None:
        """New sessions start at once again (see :meth:`hold_sessions`)."""
        hold, self.relay.hold_created = self.relay.hold_created, None
        if hold is not None:
            hold.set()

    def settle(self, timeout: float = 10.0) -> None:
        """Let a reconnect under way end."""
        self.release_sessions()
        deadline = time.monotonic() + timeout
        while self.client.reconnecting:
            assert time.monotonic() < deadline, "a reconnect never ended"
            self.pump(0.005)

    def inject(self, frames: list[str | bytes]) -> None:
        type(self).steps += 1
        connection = self.connection
        if connection is None:
            return
        type(self).injected += len(frames)
        for frame in frames:
            self.run(connection.send_raw(frame))
        self.pump()

    def item_id(self, index: int, *, role: str | None = None) -> str | None:
        items = [
            i for i in self.client.get_conversation_items() if role is None or i.get("role") == role
        ]
        return str(items[index % len(items)]["id"]) if items else None

    # -- client actions ---------------------------------------------------------------------

    @rule(text=st.sampled_from(_TEXTS))
    def send_text(self, text: str) -> None:
        self.act(lambda: self.client.send_user_message_content(text), needs_socket=True)

    @rule(chunks=st.integers(1, 12))
    def append_audio(self, chunks: int) -> None:
        def append() -> None:
            for _ in range(chunks):
                start = self.cursor % _TALK.size
                self.client.append_input_audio(_TALK[start : start + _CHUNK])
                self.cursor += _CHUNK

        self.act(append, needs_socket=True)

    @rule()
    def create_response(self) -> None:
        self.act(self.client.create_response, needs_socket=True)

    @rule(
        which=st.sampled_from(["none", "assistant", "any", "unknown"]),
        index=st.integers(0, 50),
        samples=st.one_of(st.integers(-5, 200_000), st.sampled_from([0, 1, 2400])),
    )
    def cancel_response(self, which: str, index: int, samples: int) -> None:
        if which == "none":
            item_id = None
        elif which == "unknown":
            item_id = "item_unknown"
        else:
            item_id = self.item_id(index, role="assistant" if which == "assistant" else None)
        item = self.client.conversation.get_item(item_id) if item_id is not None else None
        truncatable = item is not None and (item.get("type"), item.get("role")) == (
            "message",
            "assistant",
        )
        misuse = samples < 0 or (item_id is not None and not truncatable)
        self.act(
            lambda: self.client.cancel_response(item_id, samples), misuse=misuse, needs_socket=True
        )

    @rule(name=st.sampled_from(sorted(_TOOLS)))
    def register_tool(self, name: str) -> None:
        self.act(lambda: self.client.tool(timeout=1.0)(_TOOLS[name]))

    @rule(name=st.sampled_from([*sorted(_TOOLS), "never_registered"]))
    def unregister_tool(self, name: str) -> None:
        misuse = self.client.tools.get(name) is None
        self.act(lambda: self.client.unregister_tool(name), misuse=misuse)

    @rule(
        fields=st.fixed_dictionaries(
            {},
            optional={
                "instructions": st.text(max_size=20),
                "turn_detection": st.sampled_from([None, {"type": "server_vad"}]),
                "tool_choice": st.sampled_from(["auto", "none", "required"]),
                "temperature": st.sampled_from([0.6, 0.8, 5.0, "hot"]),
                "not_a_field": st.just(1),
            },
        )
    )
    def update_session(self, fields: dict[str, Any]) -> None:
        # 5.0 is the server's to refuse (an error event); a string is the caller's mistake
        misuse = "not_a_field" in fields or fields.get("temperature") == "hot"
        self.act(lambda: self.client.update_session(**fields), misuse=misuse)

    @rule(seconds=st.sampled_from([0.0, 0.005, 0.02, 0.05]))
    def wait(self, seconds: float) -> None:
        self.pump(seconds)

    @rule()
    def disconnect(self) -> None:
        """A manual disconnect: never followed by a reconnect, even one under way."""
        type(self).steps += 1

        async def disconnect() -> int:
            tries = len(self.reconnecting)  # a try may start before this task runs
            await self.client.disconnect()
            return tries

        tries = self.run(disconnect())
        self.down = "disconnect()"
        self.pump(sum(FAST_RECONNECT[:2]) + 0.02)
        assert len(self.reconnecting) == tries, "reconnected after disconnect()"
        assert not self.client.is_connected() and not self.client.reconnecting

    @rule()
    def connect(self) -> None:
        """A manual connect: refused when connected, else it connects (taking over a reconnect
        under way)."""
        type(self).steps += 1
        self.release_sessions()  # a session held back would make connect() time out

        async def connect() -> bool:
            # decided here: the loss of the connection may reach the client just before
            if self.client.is_connected() and not self.client.reconnecting:
                with pytest.raises(UsageError):
                    await self.client.connect()
                return False
            await self.client.connect()
            return True

        if not self.run(connect()):
            return
        self.down = None
        self.failures = sum(e["type"] == "reconnect_failed" for e in self.errors)
        assert self.client.is_connected() and not self.client.reconnecting

    # -- server misbehaviour ----------------------------------------------------------------

    # Draws never depend on the recorded turns' lengths (which may differ from one run to
    # the next): indices are drawn from fixed ranges and wrapped, orders come from a seed.
    @rule(
        turn=st.integers(0, 1),
        mode=st.sampled_from(["valid", "duplicated", "reordered", "cut short", "replayed"]),
        picks=st.lists(st.integers(0, 10_000), min_size=1, max_size=8),
        seed=st.integers(0, 2**32 - 1),
    )
    def inject_turn(self, turn: int, mode: str, picks: list[int], seed: int) -> None:
        events = self.turns[turn]
        self.injections += 1
        # "replayed" keeps the recorded ids, so a second injection collides with the first
        suffix = "" if mode == "replayed" else f"x{self.case}n{self.injections}"
        frames: list[str | bytes] = list(_fresh_ids(events, suffix))
        if mode == "duplicated":
            for pick in sorted((p % len(frames) for p in picks), reverse=True):
                frames.insert(pick, frames[pick])
        elif mode == "reordered":
            random.Random(seed).shuffle(frames)
        elif mode == "cut short":
            frames = frames[: picks[0] % len(frames)]
        self.inject(frames)

    @rule(on=st.booleans())
    def stall_responses(self, on: bool) -> None:
        """Responses started while this is on send one chunk, then hang until cancelled."""
        type(self).steps += 1
        self.server.stall_responses = on
        self.pump()

    @rule(
        code=st.sampled_from(_CLOSE_CODES),
        then=st.sampled_from(["settle", "socket open", "go on"]),
        slow=st.booleans(),
    )
    def lose_connection(self, code: int, then: str, slow: bool) -> None:
        """The server closes the client's connection with ``code`` (1006: drops it).

        ``slow``: the next sessions' ``session.created`` waits (a slow service) until the
        machine releases it. ``then``: "settle" waits for the reconnect to end, which must
        leave a session resumed with every item as it was, or a reported failure; "socket
        open" waits for the next try's socket to open (calls made then, on an open socket,
        must wait for the session's setup); "go on" goes on while the client reconnects.
        """
        type(self).steps += 1
        connection = self.connection
        if connection is None:
            return
        type(self).closes += 1
        was_ready = not self.client.reconnecting
        reconnected = len(self.reconnected)
        errors = len(self.errors)
        if slow and self.relay.hold_created is None:
            self.relay.hold_created = asyncio.Event()
        if code == 1006:
            self.run(connection.break_transport())
        else:
            self.run(connection.websocket.close(code, "fuzz"))
        if then == "go on":
            self.pump()
            return
        deadline = time.monotonic() + 5
        while self.client.is_connected() and not self.client.reconnecting:
            assert time.monotonic() < deadline, "the close never reached the client"
            self.pump(0.002)
        if then == "socket open":
            self.wait_for_a_socket()
            return
        before = self.at_close
        self.settle()
        if self.client.is_connected():
            type(self).reconnects += 1
            assert len(self.reconnected) > reconnected
            self.pump(0.05)  # the replay's echoes come back
            held = {row[0] for row in before}
            now = [row for row in snapshot(self.client) if row[0] in held]
            assert now == [row for row in before if row[0] not in self.deleted], (
                "a reconnect changed the items"
            )
            # nothing reached the new session before its history: no id collides with it
            collisions = [e for e in self.errors[errors:] if "id not in use" in str(e["error"])]
            assert not collisions, collisions
        else:
            # ready when the close reached it: before, or once the reconnect it interrupted
            # had set its session up (the close may cross the end of that reconnect)
            ready = was_ready or len(self.reconnected) > reconnected
            assert self.failed() or (code == 1000 and ready), "lost without a reason"

    @rule()
    def release_held_sessions(self) -> None:
        type(self).steps += 1
        self.release_sessions()
        self.pump()

    @rule()
    def wait_for_a_socket(self) -> None:
        """While reconnecting, wait for the next try's socket to open."""
        type(self).steps += 1
        deadline = time.monotonic() + 1.0
        while (
            self.client.reconnecting
            and not self.client.is_connected()
            and time.monotonic() < deadline
        ):
            self.pump(0.002)

    @rule(frame=st.sampled_from(_MALFORMED))
    def inject_malformed(self, frame: str | bytes) -> None:
        self.inject([frame])

    @rule(
        turn=st.integers(0, 1),
        which=st.integers(0, 10_000),
        key=st.integers(0, 100),
        drop=st.booleans(),
        value=_WRONG_VALUES,
        held=st.one_of(st.none(), st.integers(0, 50)),
    )
    def inject_mutated(
        self, turn: int, which: int, key: int, drop: bool, value: Any, held: int | None
    ) -> None:
        """A recorded event with one field dropped or given a wrong value; its item may be one
        the client holds."""
        events = self.turns[turn]
        event = dict(events[which % len(events)])
        name = sorted(event)[key % len(event)]
        if drop:
            del event[name]
        else:
            event[name] = value
        if "item_id" in event and held is not None:
            event["item_id"] = self.item_id(held) or "item_none"
        self.inject([json.dumps(event)])

    @rule(index=st.integers(0, 50), delta=st.sampled_from(["AAAA", "AAA", "!!", "AQACAA==", ""]))
    def inject_audio_for_held_item(self, index: int, delta: str) -> None:
        item_id = self.item_id(index)
        if item_id is None:
            return
        frame = {
            "type": "response.output_audio.delta",
            "item_id": item_id,
            "content_index": 0,
            "delta": delta,
        }
        self.inject([json.dumps(frame)])

    @rule(index=st.integers(0, 50))
    def inject_delete(self, index: int) -> None:
        item_id = self.item_id(index)
        if item_id is not None:
            self.inject([json.dumps({"type": "conversation.item.deleted", "item_id": item_id})])

    # -- invariants -------------------------------------------------------------------------

    @invariant()
    def errors_carry_realtime_errors(self) -> None:
        bad = [e for e in self.errors if not isinstance(e.get("error"), RealtimeError)]
        assert not bad, bad
        assert not self.loop_errors, self.loop_errors

    @invariant()
    def completed_items_stay(self) -> None:
        held = {str(i["id"]) for i in self.client.get_conversation_items()}
        lost = set(self.completed) - held - self.deleted
        assert not lost, f"completed items lost: {sorted(lost)}"

    @invariant()
    def sessions_start_with_their_configuration(self) -> None:
        """The first thing every session of the client hears is its ``session.update``."""
        connection = self.connection
        if connection is not None and connection.received:
            first = [e["type"] for e in connection.received[:3]]
            assert first[0] == "session.update", f"a session began with {first}"

    @invariant()
    def connected_or_down_for_a_reason(self) -> None:
        if self.client.is_connected() or self.client.reconnecting:
            return
        assert self.down is not None or self.failed(), "disconnected for no reason"

    def teardown(self) -> None:
        self.release_sessions()
        try:
            type(self).error_events += len(self.errors)
            self._final_turn()
        finally:
            self.run(self.client.aclose())

    def _final_turn(self) -> None:
        """The session is still usable: a plain text turn gets its answer."""
        deadline = time.monotonic() + 10
        while True:
            self.settle()
            if not self.client.is_connected():
                self.run(self.client.connect())
            connection = self.connection
            if connection is not None:
                break
            # the server's side is gone and the loss is still on its way to the client
            assert time.monotonic() < deadline, "the client never saw its connection lost"
            self.pump(0.005)
        self.server.stall_responses = False

        def responding() -> bool:
            return connection.response is not None and not connection.response.done

        async def settle(seconds: float) -> bool:
            deadline = time.monotonic() + seconds
            while responding() and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            return not responding()

        self.pump(0.01)  # events in flight reach the client
        if responding():
            self.client.cancel_response()  # a stalled response only ends when cancelled
            if not self.run(settle(1.0)):
                # an injected response.created/done pair made the client forget the real one
                type(self).forced_cancels += 1
                self.client.realtime.send("response.cancel")
        assert self.run(settle(10.0)), "a server response never ended"
        # a tool finishing late asks for one more response: wait for a quiet moment, as a
        # user would, since a message sent while a response runs gets no answer of its own
        # (the server refuses its response.create: an error event, not a dead session)
        quiet_since = time.monotonic()
        deadline = quiet_since + 10
        while time.monotonic() - quiet_since < 0.05:
            assert time.monotonic() < deadline, "responses never stopped"
            self.pump(0.005)
            if responding():
                assert self.run(settle(10.0)), "a server response never ended"
                quiet_since = time.monotonic()
        self.client.update_session(turn_detection={"type": "server_vad"}, tool_choice="auto")
        self.run(talk(self.client, f"final check {self.case}"))
        self.completed_items_stay()
        self.errors_carry_realtime_errors()


class _HandlerFailures(logging.Handler):
    """Collects the failures of event handlers, which the event emitters only log."""

    def __init__(self, sink: list[dict[str, Any]]) -> None:
        super().__init__(logging.ERROR)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append({"message": record.getMessage(), "exception": record.exc_info})


def _run(max_examples: int) -> tuple[int, float]:
    """Run the machine for ``max_examples`` cases; returns (cases, seconds)."""
    loop = asyncio.new_event_loop()
    loop_errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: loop_errors.append(context))
    failures = _HandlerFailures(loop_errors)
    logging.getLogger("realtime_widget").addHandler(failures)
    server = LocalRealtimeServer(pace="fast")
    loop.run_until_complete(server.start())
    relay = FaultRelay(f"ws://127.0.0.1:{server.port}")
    loop.run_until_complete(relay.__aenter__())
    try:
        ClientMachine.loop = loop
        ClientMachine.server = server
        ClientMachine.relay = relay
        ClientMachine.turns = loop.run_until_complete(_record_turns(server))
        ClientMachine.loop_errors = loop_errors
        ClientMachine.cases = ClientMachine.steps = ClientMachine.injected = 0
        ClientMachine.error_events = ClientMachine.forced_cancels = 0
        ClientMachine.closes = ClientMachine.reconnects = 0
        started = time.perf_counter()
        run_state_machine_as_test(
            ClientMachine,
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
        logging.getLogger("realtime_widget").removeHandler(failures)
        loop.run_until_complete(relay.__aexit__(None, None, None))
        loop.run_until_complete(server.stop())
        loop.close()
    cases = ClientMachine.cases
    print(
        f"\nclient fuzz: {cases} cases, {ClientMachine.steps} steps, "
        f"{ClientMachine.injected} frames injected, {ClientMachine.error_events} error events, "
        f"{ClientMachine.forced_cancels} raw cancels, "
        f"{ClientMachine.closes} closes, {ClientMachine.reconnects} reconnects waited for, "
        f"{elapsed:.1f} s, {1000 * elapsed / max(cases, 1):.1f} ms per case"
    )
    return cases, elapsed


@pytest.mark.wire_faults
def test_client_fuzz() -> None:
    cases, _ = _run(min(FAST_EXAMPLES, settings.default.max_examples))
    assert cases >= min(FAST_EXAMPLES, settings.default.max_examples)


@pytest.mark.wire_faults
@pytest.mark.soak
@pytest.mark.timeout(6 * 3600)
def test_client_fuzz_nightly() -> None:
    wanted = max(settings.default.max_examples, 10_000)
    cases, _ = _run(wanted)
    assert cases >= wanted
