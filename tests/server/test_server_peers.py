"""Real clients nobody here wrote talk to the local server: the official SDK's
``AsyncOpenAI().realtime.connect()`` and ``openai-agents``' ``RealtimeRunner``.

A text turn, a tool call, a voice-activity audio turn (espeak-ng speaks, the server hears
with pocketsphinx) and a response cancelled and truncated, each with no validation error:
every frame is judged by the SDK's types (the suite's ``wire_judge``), the server refuses
nothing the clients send, the SDK hands back its own model for every event, and
``openai-agents`` (which validates each event it receives) reports no error, neither as a
session event nor in its log. No network: the server listens on 127.0.0.1, the key is a
dummy and the agents' trace export is off.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import numpy as np
import pytest
from agents import function_tool, set_tracing_disabled
from agents.realtime import (
    RealtimeAgent,
    RealtimeRunConfig,
    RealtimeRunner,
    RealtimeSession,
    RealtimeSessionModelSettings,
)
from openai import AsyncOpenAI
from openai.resources.realtime.realtime import AsyncRealtimeConnection
from openai.types.realtime import RealtimeFunctionToolParam, RealtimeSessionCreateRequestParam
from reliability import eventually
from sdk_judge import WireJudge, event_model

from realtime_widget.server import LocalRealtimeServer
from realtime_widget.server.recognizer import recognizer_available, word_error_rate
from realtime_widget.server.speech import espeak_program, espeak_samples

ESPEAK = espeak_program()
needs_voice = pytest.mark.skipif(
    ESPEAK is None or not recognizer_available(),
    reason="needs espeak-ng and the voice extra (pocketsphinx)",
)
HOURS = "We are open from nine to five."
KNOWLEDGE = {
    "scripts": [
        {
            "dialogues": [
                {
                    "prompts": ["when are you open"],
                    "responses": [{"type": "message", "message": HOURS}],
                }
            ]
        }
    ]
}
ADD: RealtimeFunctionToolParam = {
    "type": "function",
    "name": "add",
    "description": "Add two numbers.",
    "parameters": {
        "type": "object",
        "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
        "required": ["a", "b"],
    },
}


def said(text: str) -> np.ndarray[Any, Any]:
    """``text`` spoken by espeak-ng, with the silences around it a microphone would have."""
    assert ESPEAK is not None
    quiet = np.zeros(7_200, np.int16)  # 300 ms
    return np.concatenate([quiet, espeak_samples(ESPEAK, text, "en-us"), quiet, quiet])


@pytest.fixture
async def server(wire_judge: WireJudge) -> AsyncIterator[LocalRealtimeServer]:
    async with LocalRealtimeServer(pace="fast", knowledge=KNOWLEDGE) as started:
        yield started
    # the clients' frames were all taken: the server refused none of them
    assert wire_judge.excused == 0


# -- the official SDK's realtime client --------------------------------------------------------


@contextlib.asynccontextmanager
async def sdk_connection(server: LocalRealtimeServer) -> AsyncIterator[AsyncRealtimeConnection]:
    client = AsyncOpenAI(api_key="sk-dummy", websocket_base_url=server.url.rsplit("/", 1)[0])
    async with client.realtime.connect(model="gpt-realtime") as connection:
        yield connection


async def events_until(
    connection: AsyncRealtimeConnection, *event_types: str, timeout: float = 10.0
) -> list[Any]:
    """Every event up to the first time each of ``event_types`` has come; each one the
    SDK's model for its type, and none an ``error``."""
    events: list[Any] = []
    async with asyncio.timeout(timeout):
        while not set(event_types) <= {e.type for e in events}:
            event = await connection.recv()
            model = event_model("ga", "server", event.type)
            assert model is not None and isinstance(event, model), event
            assert event.type != "error", event
            events.append(event)
    return events


async def sdk_turn(connection: AsyncRealtimeConnection, text: str) -> list[Any]:
    await connection.conversation.item.create(
        item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    )
    await connection.response.create()
    return await events_until(connection, "response.done")


async def test_the_sdk_takes_a_text_turn(server: LocalRealtimeServer) -> None:
    async with sdk_connection(server) as connection:
        created = await events_until(connection, "session.created")
        assert created[-1].session.type == "realtime"
        await connection.session.update(session={"type": "realtime", "output_modalities": ["text"]})
        await events_until(connection, "session.updated")
        events = await sdk_turn(connection, "hello there")
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == "You said: hello there."
    parts = [e.part for e in events if e.type.startswith("response.content_part.")]
    assert [p.type for p in parts] == ["text", "text"]
    (item,) = events[-1].response.output
    assert (item.content[0].type, item.content[0].text) == ("output_text", "You said: hello there.")


async def test_the_sdk_runs_a_tool_call(server: LocalRealtimeServer) -> None:
    async with sdk_connection(server) as connection:
        session: RealtimeSessionCreateRequestParam = {
            "type": "realtime",
            "output_modalities": ["text"],
            "tools": [ADD],
        }
        await connection.session.update(session=session)
        await events_until(connection, "session.updated")
        events = await sdk_turn(connection, "please add 2 and 40")
        done = next(e for e in events if e.type == "response.function_call_arguments.done")
        assert done.name == "add" and json.loads(done.arguments) == {"a": 2, "b": 40}
        await connection.conversation.item.create(
            item={"type": "function_call_output", "call_id": done.call_id, "output": "42"}
        )
        await connection.response.create()
        answer = await events_until(connection, "response.done")
    assert answer[-1].response.output[0].content[0].text == "add returned 42."


@needs_voice
async def test_the_sdk_takes_a_voice_activity_audio_turn(server: LocalRealtimeServer) -> None:
    async with sdk_connection(server) as connection:
        await connection.session.update(
            session={
                "type": "realtime",
                "audio": {"input": {"transcription": {"model": "gpt-4o-mini-transcribe"}}},
            }
        )
        await events_until(connection, "session.updated")
        speech = said("When are you open?")
        for start in range(0, speech.size, 2_400):
            chunk = speech[start : start + 2_400].astype("<i2").tobytes()
            await connection.input_audio_buffer.append(audio=_b64(chunk))
        events = await events_until(connection, "response.done", timeout=30)
    kinds = [e.type for e in events]
    assert kinds.index("input_audio_buffer.speech_started") < kinds.index(
        "input_audio_buffer.speech_stopped"
    )
    assert "input_audio_buffer.committed" in kinds
    heard = next(e for e in events if e.type.endswith("input_audio_transcription.completed"))
    assert word_error_rate("when are you open", heard.transcript) <= 0.25
    (item,) = events[-1].response.output
    assert item.content[0].type == "output_audio" and item.content[0].transcript == HOURS
    audio = [e for e in events if e.type == "response.output_audio.delta"]
    assert audio and [p.type for p in _parts(events)] == ["audio", "audio"]


async def test_the_sdk_cancels_and_truncates_an_answer(server: LocalRealtimeServer) -> None:
    server.stall_responses = True  # the answer sends its first chunk, then waits
    async with sdk_connection(server) as connection:
        await connection.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "tell me a long story"}],
            }
        )
        await connection.response.create()
        first = (await events_until(connection, "response.output_audio.delta"))[-1]
        await connection.response.cancel()
        await connection.conversation.item.truncate(
            item_id=first.item_id, content_index=0, audio_end_ms=50
        )
        events = await events_until(connection, "conversation.item.truncated", "response.done")
    truncated = next(e for e in events if e.type == "conversation.item.truncated")
    assert (truncated.item_id, truncated.audio_end_ms) == (first.item_id, 50)
    response = next(e for e in events if e.type == "response.done").response
    assert response.status == "cancelled" and response.status_details.reason == "client_cancelled"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _parts(events: list[Any]) -> list[Any]:
    return [e.part for e in events if e.type.startswith("response.content_part.")]


# -- openai-agents' realtime runner ------------------------------------------------------------


@pytest.fixture(autouse=True, scope="module")
def _no_trace_export() -> None:
    """The agents' trace export would reach for the network."""
    set_tracing_disabled(True)


@function_tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


class AgentRun:
    """An ``openai-agents`` realtime session on the local server and what it gave: session
    events, the raw server events among them, and its errors."""

    def __init__(self, session: RealtimeSession) -> None:
        self.session = session
        self.events: list[Any] = []
        self.server_events: list[dict[str, Any]] = []
        self.errors: list[Any] = []

    async def read(self) -> None:
        async for event in self.session:
            self.events.append(event)
            if event.type == "error":
                self.errors.append(event.error)
            if event.type == "raw_model_event" and event.data.type == "raw_server_event":
                self.server_events.append(event.data.data)
            if event.type == "raw_model_event" and event.data.type in ("error", "exception"):
                self.errors.append(event.data)

    def server_types(self) -> list[str]:
        return [e.get("type", "") for e in self.server_events]

    async def until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        await eventually(condition, timeout)


@pytest.fixture
def agents_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The agents' log: they report an event they cannot validate there, as an error."""
    caplog.set_level(logging.WARNING, logger="openai.agents")
    yield caplog
    problems = [r for r in caplog.records if r.name.startswith("openai.agents")]
    assert [r.getMessage() for r in problems if r.levelno >= logging.ERROR] == []


@contextlib.asynccontextmanager
async def agent_run(
    server: LocalRealtimeServer, settings: RealtimeSessionModelSettings
) -> AsyncIterator[AgentRun]:
    agent = RealtimeAgent(name="helper", instructions="Keep answers short.", tools=[add])
    config: RealtimeRunConfig = {"model_settings": {"model_name": "gpt-realtime", **settings}}
    runner = RealtimeRunner(agent, config=config)
    session = await runner.run(model_config={"url": server.url, "api_key": "sk-dummy"})
    async with session:
        run = AgentRun(session)
        reader = asyncio.ensure_future(run.read())
        try:
            yield run
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
    assert run.errors == []


def _said_by_the_assistant(run: AgentRun) -> list[str]:
    """What the assistant's messages say in the session's latest history."""
    history = [e.history for e in run.events if e.type == "history_updated"][-1]
    said: list[str | None] = []
    for item in history:
        if item.type == "message" and item.role == "assistant":
            said += [
                getattr(c, "text", None) or getattr(c, "transcript", None) for c in item.content
            ]
    return [text for text in said if text]


async def test_the_agents_runner_takes_a_text_turn(
    server: LocalRealtimeServer, agents_log: pytest.LogCaptureFixture
) -> None:
    async with agent_run(server, {"output_modalities": ["text"]}) as run:
        await run.session.send_message("hello there")
        await run.until(lambda: "response.done" in run.server_types())
        assert _said_by_the_assistant(run) == ["You said: hello there."]
    assert "response.content_part.added" in run.server_types()


async def test_the_agents_runner_runs_a_tool_call(
    server: LocalRealtimeServer, agents_log: pytest.LogCaptureFixture
) -> None:
    async with agent_run(server, {"output_modalities": ["text"]}) as run:
        await run.session.send_message("please add 2 and 40")
        await run.until(lambda: run.server_types().count("response.done") == 2)
        assert _said_by_the_assistant(run) == ["add returned 42."]
    ends = [e for e in run.events if e.type == "tool_end"]
    assert [(e.tool.name, e.output) for e in ends] == [("add", 42)]


@needs_voice
async def test_the_agents_runner_takes_a_voice_activity_audio_turn(
    server: LocalRealtimeServer, agents_log: pytest.LogCaptureFixture
) -> None:
    transcribed: RealtimeSessionModelSettings = {
        "input_audio_transcription": {"model": "gpt-4o-mini-transcribe"}
    }
    async with agent_run(server, transcribed) as run:
        speech = said("When are you open?")
        for start in range(0, speech.size, 2_400):
            await run.session.send_audio(speech[start : start + 2_400].astype("<i2").tobytes())
        await run.until(lambda: "response.done" in run.server_types(), timeout=30)
        assert _said_by_the_assistant(run) == [HOURS]
    kinds = run.server_types()
    assert "input_audio_buffer.speech_stopped" in kinds
    heard = next(e for e in run.server_events if e["type"].endswith("transcription.completed"))
    assert word_error_rate("when are you open", heard["transcript"]) <= 0.25
    assert any(e.type == "audio" for e in run.events)


async def test_the_agents_runner_interrupts_an_answer(
    server: LocalRealtimeServer, agents_log: pytest.LogCaptureFixture
) -> None:
    server.stall_responses = True  # the answer sends its first chunk, then waits
    # with the server not cancelling on speech, an interruption cancels the response itself
    cancels_itself: RealtimeSessionModelSettings = {
        "turn_detection": {"type": "server_vad", "interrupt_response": False}
    }
    async with agent_run(server, cancels_itself) as run:
        await run.session.send_message("tell me a long story")
        await run.until(lambda: any(e.type == "audio" for e in run.events))
        await run.session.interrupt()
        ends = {"conversation.item.truncated", "response.done"}
        await run.until(lambda: ends <= set(run.server_types()))
    truncated = next(e for e in run.server_events if e["type"] == "conversation.item.truncated")
    assert 0 <= truncated["audio_end_ms"] <= 100  # at most the one chunk it got
    done = next(e for e in run.server_events if e["type"] == "response.done")
    assert done["response"]["status"] == "cancelled"
    assert any(e.type == "audio_interrupted" for e in run.events)
