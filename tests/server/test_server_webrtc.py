"""WebRTC calls on the local server, with a real aiortc caller in the test process on loopback:
offer and answer, events on the data channel, speech on the microphone track, the answer
audio on the remote track, the output audio buffer events and the sideband websocket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import numpy as np
import pytest
from call_peer import RATE, Caller, loopback_only
from websockets.asyncio.client import connect

from realtime_widget.server import LocalRealtimeServer
from realtime_widget.server.synth import synthesize

pytestmark = pytest.mark.asyncio

KEY = "sk-local-call-key"
ADD = {
    "type": "function",
    "name": "add",
    "description": "add two numbers",
    "parameters": {
        "type": "object",
        "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
        "required": ["a", "b"],
    },
}
TEXT_ONLY = {"type": "realtime", "output_modalities": ["text"]}


def user_text(text: str) -> dict[str, Any]:
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }


@pytest.fixture
async def server() -> AsyncIterator[LocalRealtimeServer]:
    with loopback_only():
        async with LocalRealtimeServer(pace="realtime", api_key=KEY) as running:
            yield running


@pytest.fixture
async def caller() -> AsyncIterator[Caller]:
    with loopback_only():
        peer = Caller()
        yield peer
        await peer.close()


async def test_an_offer_is_answered_and_a_text_turn_runs_on_the_data_channel(
    server: LocalRealtimeServer, caller: Caller
) -> None:
    answer = await caller.call(server, token=KEY, session=TEXT_ONLY)
    assert answer.status_code == 201
    assert answer.headers["content-type"] == "application/sdp"
    assert answer.headers["location"] == f"/v1/realtime/calls/{caller.call_id}"
    assert caller.call_id.startswith("rtc_") and caller.call_id in server.calls
    created = await caller.next("session.created")
    assert created["session"]["output_modalities"] == ["text"]
    await caller.send(**user_text("hello there"))
    await caller.send(type="response.create")
    done = await caller.next("response.done")
    assert done["response"]["output"][0]["content"][0]["text"] == "You said: hello there."


async def test_the_answer_audio_plays_on_the_track_between_started_and_stopped(
    server: LocalRealtimeServer, caller: Caller
) -> None:
    assert (await caller.call(server, token=KEY)).status_code == 201
    await caller.next("session.created")
    await caller.send(**user_text("hello there"))
    before = caller.received
    await caller.send(type="response.create")
    started = await caller.next("output_audio_buffer.started")
    done = await caller.next("response.done")
    stopped = await caller.next("output_audio_buffer.stopped")
    assert started["response_id"] == stopped["response_id"] == done["response"]["id"]
    types = [e["type"] for e in caller.seen]
    assert "response.output_audio.delta" not in types  # the audio went on the track
    assert "response.output_audio_transcript.delta" in types
    assert types.index("response.done") < types.index("output_audio_buffer.stopped")
    seconds = done["response"]["usage"]["output_token_details"]["audio_tokens"] / 10
    await asyncio.sleep(0.5)  # the last frames are in flight
    heard = (caller.received - before) / RATE
    assert heard >= seconds  # silence plays too: at least the answer's length has arrived
    assert caller.loudest > 1000


async def test_speech_on_the_microphone_track_becomes_a_user_item(
    server: LocalRealtimeServer, caller: Caller
) -> None:
    session = {**TEXT_ONLY, "audio": {"input": {"transcription": {"model": "whisper-1"}}}}
    assert (await caller.call(server, token=KEY, session=session)).status_code == 201
    await caller.next("session.created")
    speech = synthesize("what time is it").samples
    quiet = np.zeros(12_000, dtype=np.int16)
    caller.microphone.speak(np.concatenate([quiet, speech, quiet, quiet, quiet]))
    await caller.next("input_audio_buffer.speech_started", timeout=15)
    await caller.next("input_audio_buffer.speech_stopped", timeout=15)
    added = await caller.next("conversation.item.added")
    assert added["item"]["role"] == "user"
    assert added["item"]["content"][0]["type"] == "input_audio"
    transcribed = await caller.next("conversation.item.input_audio_transcription.completed")
    assert transcribed["item_id"] == added["item"]["id"]
    assert transcribed["usage"]["seconds"] >= speech.size / 24_000 * 0.8
    await caller.next("response.done")  # server VAD answers the turn


async def test_output_audio_buffer_clear_cuts_the_answer_and_truncates_it(
    server: LocalRealtimeServer, caller: Caller
) -> None:
    assert (await caller.call(server, token=KEY)).status_code == 201
    await caller.next("session.created")
    await caller.send(**user_text("tell me a rather long story about the sea and the wind"))
    await caller.send(type="response.create")
    started = await caller.next("output_audio_buffer.started")
    await asyncio.sleep(0.4)
    await caller.send(type="response.cancel")
    await caller.send(type="output_audio_buffer.clear")
    cleared = await caller.next("output_audio_buffer.cleared")
    assert cleared["response_id"] == started["response_id"]
    truncated = await caller.next("conversation.item.truncated")
    assert 0 < truncated["audio_end_ms"] < 2000
    assert "output_audio_buffer.stopped" not in [e["type"] for e in caller.seen]


async def test_output_audio_buffer_clear_with_nothing_playing_clears_nothing(
    server: LocalRealtimeServer, caller: Caller
) -> None:
    assert (await caller.call(server, token=KEY)).status_code == 201
    await caller.next("session.created")
    await caller.send(type="output_audio_buffer.clear")
    await caller.send(**user_text("hello"))  # echoed: the clear was handled before it
    await caller.next("conversation.item.added")
    assert "output_audio_buffer.cleared" not in [e["type"] for e in caller.seen]


async def test_a_sideband_websocket_sees_the_call_and_runs_its_tool(
    server: LocalRealtimeServer, caller: Caller
) -> None:
    assert (await caller.call(server, token=KEY, session=TEXT_ONLY)).status_code == 201
    await caller.next("session.created")
    url = f"{server.url}?call_id={caller.call_id}"
    async with connect(url, additional_headers={"Authorization": f"Bearer {KEY}"}) as sideband:

        async def next_event(event_type: str) -> dict[str, Any]:
            async with asyncio.timeout(10):
                while True:
                    event = json.loads(await sideband.recv())
                    if event["type"] == event_type:
                        return dict(event)

        assert (await next_event("session.created"))["session"]["output_modalities"] == ["text"]
        await sideband.send(
            json.dumps({"type": "session.update", "session": {"type": "realtime", "tools": [ADD]}})
        )
        assert (await caller.next("session.updated"))["session"]["tools"][0]["name"] == "add"
        await caller.send(**user_text("please add 2 and 40"))
        await caller.send(type="response.create")
        done = await next_event("response.done")
        call = done["response"]["output"][0]
        assert call["type"] == "function_call" and json.loads(call["arguments"]) == {
            "a": 2,
            "b": 40,
        }
        output = {"type": "function_call_output", "call_id": call["call_id"], "output": "42"}
        await sideband.send(json.dumps({"type": "conversation.item.create", "item": output}))
        await sideband.send(json.dumps({"type": "response.create"}))
        answer = await next_event("response.done")
        assert answer["response"]["output"][0]["content"][0]["text"] == "add returned 42."
        assert (await caller.next("response.done"))["response"]["output"][0]["type"] == (
            "function_call"
        )
        assert (await caller.next("response.done"))["response"]["id"] == answer["response"]["id"]


async def test_a_client_secret_opens_a_call_and_wrong_credentials_are_refused(
    server: LocalRealtimeServer, caller: Caller
) -> None:
    url = f"http://127.0.0.1:{server.port}/v1/realtime"
    async with httpx.AsyncClient() as http:
        issued = await http.post(
            f"{url}/client_secrets",
            json={"session": {"type": "realtime", "instructions": "be brief"}},
            headers={"Authorization": f"Bearer {KEY}"},
        )
        secret = issued.json()["value"]
        offer = "v=0\r\n"
        for token, status in (("sk-wrong", 401), ("ek_unknown", 401), (None, 401)):
            headers = {"Content-Type": "application/sdp"}
            if token:
                headers["Authorization"] = f"Bearer {token}"
            assert (
                await http.post(f"{url}/calls", content=offer, headers=headers)
            ).status_code == (status)
        refused = await http.post(
            f"{url}/calls", content=b"hello", headers={"Authorization": f"Bearer {KEY}"}
        )
        assert refused.status_code == 400 and "content-type" in refused.text
    assert (await caller.call(server, token=secret)).status_code == 201
    assert (await caller.next("session.created"))["session"]["instructions"] == "be brief"
    for query, headers, status in (
        (f"?call_id={caller.call_id}", {"Authorization": f"Bearer {secret}"}, 401),
        ("?call_id=rtc_none", {"Authorization": f"Bearer {KEY}"}, 404),
    ):
        with pytest.raises(Exception, match=str(status)):
            async with connect(server.url + query, additional_headers=headers):
                pass


async def test_hanging_up_ends_the_call(server: LocalRealtimeServer, caller: Caller) -> None:
    assert (await caller.call(server, token=KEY)).status_code == 201
    await caller.next("session.created")
    assert len(server.connections) == 1
    await caller.pc.close()
    async with asyncio.timeout(10):
        while server.calls or server.connections:
            await asyncio.sleep(0.05)


async def test_the_calls_route_answers_cors_for_allowed_origins_only(
    server: LocalRealtimeServer, caller: Caller
) -> None:
    url = f"http://127.0.0.1:{server.port}/v1/realtime/calls"
    lab = "http://127.0.0.1:8888"
    async with httpx.AsyncClient() as http:
        asked = {
            "Origin": lab,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        }
        preflight = await http.request("OPTIONS", url, headers=asked)
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == lab
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert "authorization" in preflight.headers["access-control-allow-headers"]
        refused = await http.request("OPTIONS", url, headers={**asked, "Origin": "https://x.org"})
        assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
        unauthorized = await http.post(
            url, content="v=0\r\n", headers={"Origin": lab, "Content-Type": "application/sdp"}
        )
        assert unauthorized.status_code == 401  # the page can read why
        assert unauthorized.headers["access-control-allow-origin"] == lab
    answer = await caller.call(server, token=KEY, headers={"Origin": lab})
    assert answer.status_code == 201
    assert answer.headers["access-control-allow-origin"] == lab
    assert "location" in answer.headers["access-control-expose-headers"].lower()
