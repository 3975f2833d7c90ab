"""Turns over a real socket: text turns, manual commits and server VAD."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
from server_peer import Peer, PeerFactory, structure

from realtime_widget.audio.utils import mulaw_encode
from realtime_widget.server import LocalRealtimeServer, decode, synthesize

GA_AUDIO_ORDER = [
    "response.created",
    "response.output_item.added",
    "conversation.item.added",
    "response.content_part.added",
    "response.output_audio.done",
    "response.output_audio_transcript.done",
    "response.content_part.done",
    "response.output_item.done",
    "conversation.item.done",
    "response.done",
]


def silence(ms: int) -> np.ndarray:
    return np.zeros(ms * 24, dtype=np.int16)


def check_audio_stream(events: list[dict[str, Any]], text: str) -> bytes:
    """Deltas lie between content_part.added and output_audio.done; returns the audio."""
    types = [e["type"] for e in events]
    first, last = (
        types.index("response.content_part.added"),
        types.index("response.output_audio.done"),
    )
    deltas = [e for e in events if e["type"] == "response.output_audio.delta"]
    words = [e for e in events if e["type"] == "response.output_audio_transcript.delta"]
    assert deltas and words
    assert all(first < events.index(e) < last for e in deltas + words)
    assert "".join(e["delta"] for e in words) == text
    transcript_done = next(
        e for e in events if e["type"] == "response.output_audio_transcript.done"
    )
    assert transcript_done["transcript"] == text
    audio = b"".join(base64.b64decode(e["delta"]) for e in deltas)
    assert all(len(base64.b64decode(e["delta"])) <= 4800 for e in deltas)  # 100 ms chunks
    return audio


async def test_text_turn_in_ga_order(peer: Peer) -> None:
    await peer.say("hello there")
    added = await peer.until("conversation.item.done")
    assert structure(added) == ["conversation.item.added", "conversation.item.done"]
    user_id = added[0]["item"]["id"]
    assert added[0]["previous_item_id"] is None
    # the tone voice: audio that is the same, sample for sample, on every machine
    await peer.send(type="response.create", response={"audio": {"output": {"voice": "tones"}}})
    events = await peer.until("response.done")
    assert structure(events) == GA_AUDIO_ORDER
    audio = check_audio_stream(events, "You said: hello there.")
    samples = np.frombuffer(audio, dtype="<i2")
    assert np.array_equal(samples, synthesize("You said: hello there.", voice="tones").samples)
    response = events[-1]["response"]
    assert response["status"] == "completed" and response["status_details"] is None
    assert response["id"] == events[0]["response"]["id"]
    assert events[0]["response"]["status"] == "in_progress"
    assert events[2]["previous_item_id"] == user_id
    (item,) = response["output"]
    assert item["role"] == "assistant" and item["status"] == "completed"
    assert item["content"] == [{"type": "output_audio", "transcript": "You said: hello there."}]
    parts = [e["part"] for e in events if e["type"].startswith("response.content_part.")]
    assert parts == [
        {"type": "audio", "transcript": ""},
        {"type": "audio", "transcript": "You said: hello there."},
    ]
    usage = response["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > 0
    assert usage["output_token_details"]["audio_tokens"] > 0
    assert usage["input_token_details"]["image_tokens"] == 0
    assert len({e["event_id"] for e in peer.seen}) == len(peer.seen)


async def test_text_modality_turn(peer: Peer) -> None:
    await peer.say("just text")
    await peer.until("conversation.item.done")
    await peer.send(type="response.create", response={"output_modalities": ["text"]})
    events = await peer.until("response.done")
    assert structure(events) == [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
    ]
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == "You said: just text."
    done = next(e for e in events if e["type"] == "response.output_text.done")
    assert done["text"] == text
    # the content_part events say "text" (the service's spelling); the item says output_text
    part = next(e for e in events if e["type"] == "response.content_part.added")["part"]
    assert part == {"type": "text", "text": ""}
    assert events[-1]["response"]["output_modalities"] == ["text"]
    assert events[-1]["response"]["output"][0]["content"] == [{"type": "output_text", "text": text}]


async def test_beta_turn_uses_beta_names(
    server: LocalRealtimeServer, open_peer: PeerFactory
) -> None:
    peer = await open_peer(server, beta=True, manual=True)
    await peer.say("old names")
    created = await peer.next("conversation.item.created")
    assert created["item"]["content"][0]["type"] == "input_text"
    await peer.send(type="response.create")
    events = await peer.until("response.done")
    assert structure(events) == [
        "response.created",
        "response.output_item.added",
        "conversation.item.created",
        "response.content_part.added",
        "response.audio.done",
        "response.audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
    ]
    types = {e["type"] for e in events}
    assert {"response.audio.delta", "response.audio_transcript.delta"} <= types
    part = next(e for e in events if e["type"] == "response.content_part.done")["part"]
    assert part == {"type": "audio", "transcript": "You said: old names."}
    response = events[-1]["response"]
    assert response["modalities"] == ["audio", "text"] and response["voice"] == "alloy"
    assert set(response["usage"]["input_token_details"]) == {
        "text_tokens",
        "audio_tokens",
        "cached_tokens",
    }  # beta names no image tokens
    assert response["output"][0]["content"][0]["type"] == "audio"
    await peer.send(type="response.create", response={"modalities": ["text"]})
    events = await peer.until("response.done")
    assert "response.text.done" in structure(events)
    assert any(e["type"] == "response.text.delta" for e in events)


async def test_manual_commit_turn_with_transcription(peer: Peer) -> None:
    await peer.send(
        type="session.update",
        session={
            "type": "realtime",
            "audio": {"input": {"transcription": {"model": "gpt-4o-mini-transcribe"}}},
        },
    )
    await peer.next("session.updated")
    speech = synthesize("what time is it").samples
    await peer.append(np.concatenate([silence(200), speech, silence(200)]))
    await peer.send(type="input_audio_buffer.commit", event_id="evt_c")
    events = await peer.until("conversation.item.done")
    assert structure(events) == [
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.input_audio_transcription.completed",
        "conversation.item.done",
    ]
    committed, added = events[0], events[1]
    item_id = committed["item_id"]
    assert committed["previous_item_id"] is None
    assert added["item"]["id"] == item_id
    assert added["item"]["content"] == [{"type": "input_audio", "transcript": None}]
    deltas = [e["delta"] for e in events if e["type"].endswith("transcription.delta")]
    assert "".join(deltas) == "what time is it"
    assert events[-1]["item"]["content"][0]["transcript"] == "what time is it"
    await peer.send(type="response.create")
    done = await peer.next("response.done")
    assert done["response"]["output"][0]["content"][0]["transcript"] == "You said: what time is it."
    # the committed audio is kept and can be retrieved
    await peer.send(type="conversation.item.retrieve", item_id=item_id)
    retrieved = await peer.next("conversation.item.retrieved")
    audio = np.frombuffer(base64.b64decode(retrieved["item"]["content"][0]["audio"]), "<i2")
    assert audio.size == speech.size + 400 * 24


async def test_commit_empty_or_too_short_is_an_error(peer: Peer) -> None:
    await peer.send(type="input_audio_buffer.commit", event_id="evt_empty")
    error = await peer.next("error")
    assert error["error"]["code"] == "input_audio_buffer_commit_empty"
    assert error["error"]["event_id"] == "evt_empty"
    await peer.append(silence(50))
    await peer.send(type="input_audio_buffer.commit")
    assert (await peer.next("error"))["error"]["code"] == "input_audio_buffer_commit_empty"
    await peer.append(silence(60))
    await peer.send(type="input_audio_buffer.commit")
    assert (await peer.next("input_audio_buffer.committed"))["item_id"].startswith("item_")
    # after a commit the buffer is empty again; clear empties it too
    await peer.append(silence(200))
    await peer.send(type="input_audio_buffer.clear")
    await peer.next("input_audio_buffer.cleared")
    await peer.send(type="input_audio_buffer.commit")
    assert (await peer.next("error"))["error"]["code"] == "input_audio_buffer_commit_empty"


async def test_bad_audio_appends(peer: Peer) -> None:
    await peer.send(type="input_audio_buffer.append", audio="not base64!")
    error = await peer.next("error")
    assert (error["error"]["code"], error["error"]["param"]) == ("invalid_value", "audio")
    await peer.send(type="input_audio_buffer.append", audio=base64.b64encode(b"abc").decode())
    assert "even number" in (await peer.next("error"))["error"]["message"]
    await peer.send(type="input_audio_buffer.append")
    assert (await peer.next("error"))["error"]["code"] == "missing_required_parameter"
    await peer.send(type="input_audio_buffer.append", audio="", extra=1)
    assert (await peer.next("error"))["error"]["param"] == "extra"


async def test_server_vad_turns_with_session_absolute_times(
    server: LocalRealtimeServer, open_peer: PeerFactory
) -> None:
    peer = await open_peer(server)
    speech = synthesize("hello there").samples
    speech_ms = speech.size * 1000 // 24_000
    await peer.append(np.concatenate([silence(1000), speech, silence(1000)]), chunk=480)
    events = await peer.until("response.done")
    assert structure(events)[:5] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    started, stopped, committed = events[0], events[1], events[2]
    assert started["audio_start_ms"] == 1000 - 300
    assert stopped["audio_end_ms"] == 1000 + speech_ms + 500
    assert started["item_id"] == stopped["item_id"] == committed["item_id"]
    assert structure(events)[5:] == GA_AUDIO_ORDER
    assert events[-1]["response"]["output"][0]["content"][0]["transcript"] == (
        "You said: hello there."
    )
    # a second utterance later in the session: times keep counting from the session start
    second = synthesize("and again").samples
    offset = 1000 + speech_ms + 1000
    await peer.append(np.concatenate([silence(2000), second, silence(700)]), chunk=960)
    events = await peer.until("response.done")
    started = next(e for e in events if e["type"] == "input_audio_buffer.speech_started")
    stopped = next(e for e in events if e["type"] == "input_audio_buffer.speech_stopped")
    assert started["audio_start_ms"] == offset + 2000 - 300
    assert stopped["audio_end_ms"] == offset + 2000 + second.size * 1000 // 24_000 + 500
    committed = next(e for e in events if e["type"] == "input_audio_buffer.committed")
    assert committed["previous_item_id"] is not None
    assert events[-1]["response"]["output"][0]["content"][0]["transcript"] == (
        "You said: and again."
    )


async def test_vad_without_create_response_and_g711_input(
    server: LocalRealtimeServer, open_peer: PeerFactory
) -> None:
    peer = await open_peer(server)
    await peer.send(
        type="session.update",
        session={
            "type": "realtime",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcmu"},
                    "turn_detection": {"type": "server_vad", "create_response": False},
                }
            },
        },
    )
    await peer.next("session.updated")
    audio = np.concatenate([silence(600), synthesize("phone call").samples, silence(900)])
    narrow = audio[::3]
    for start in range(0, narrow.size, 800):
        data = mulaw_encode(narrow[start : start + 800])
        await peer.send(type="input_audio_buffer.append", audio=base64.b64encode(data).decode())
    events = await peer.until("conversation.item.done")
    started = events[0]
    assert started["type"] == "input_audio_buffer.speech_started"
    assert started["audio_start_ms"] == 300
    assert await peer.quiet(0.2) == []  # no response without create_response
    await peer.send(type="response.create")
    done = await peer.next("response.done")
    assert done["response"]["output"][0]["content"][0]["transcript"] == "You said: phone call."


async def test_semantic_vad_and_noise(server: LocalRealtimeServer, open_peer: PeerFactory) -> None:
    peer = await open_peer(server)
    await peer.send(
        type="session.update",
        session={
            "type": "realtime",
            "output_modalities": ["text"],
            "audio": {"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "high"}}},
        },
    )
    await peer.next("session.updated")
    rng = np.random.default_rng(5)
    noise = rng.normal(0, 40, 24_000).astype(np.int16)
    await peer.append(noise)
    assert await peer.quiet(0.2) == []  # noise does not trigger the detector
    await peer.append(np.concatenate([synthesize("quick").samples, silence(400)]))
    events = await peer.until("response.done")
    stopped = next(e for e in events if e["type"] == "input_audio_buffer.speech_stopped")
    started = next(e for e in events if e["type"] == "input_audio_buffer.speech_started")
    assert started["audio_start_ms"] == 1000 - 300
    assert stopped["audio_end_ms"] == 1000 + 350 + 250  # eagerness high: 250 ms of silence


async def test_two_utterances_in_one_append_are_committed_apart(
    server: LocalRealtimeServer, open_peer: PeerFactory
) -> None:
    peer = await open_peer(server)
    await peer.send(
        type="session.update",
        session={
            "type": "realtime",
            "audio": {
                "input": {"turn_detection": {"type": "server_vad", "create_response": False}}
            },
        },
    )
    await peer.next("session.updated")
    audio = np.concatenate(
        [
            silence(400),
            synthesize("first words").samples,
            silence(800),
            synthesize("second words").samples,
            silence(800),
        ]
    )
    await peer.append(audio, chunk=audio.size)
    events = await peer.until("conversation.item.done")
    events += await peer.until("conversation.item.done")
    committed = [e["item_id"] for e in events if e["type"] == "input_audio_buffer.committed"]
    assert len(committed) == 2
    heard = []
    for item_id in committed:
        await peer.send(type="conversation.item.retrieve", item_id=item_id)
        item = (await peer.next("conversation.item.retrieved"))["item"]
        samples = np.frombuffer(base64.b64decode(item["content"][0]["audio"]), "<i2")
        heard.append(decode(samples))
    assert heard == ["first words", "second words"]


async def test_vad_enabled_later_counts_from_the_session_start(peer: Peer) -> None:
    await peer.append(silence(1500))  # manual turns: no detection yet
    await peer.send(
        type="session.update",
        session={
            "type": "realtime",
            "audio": {"input": {"turn_detection": {"type": "server_vad"}}},
        },
    )
    await peer.next("session.updated")
    await peer.append(np.concatenate([silence(500), synthesize("now").samples, silence(600)]))
    started = await peer.next("input_audio_buffer.speech_started")
    assert started["audio_start_ms"] == 1500 + 500 - 300
    stopped = await peer.next("input_audio_buffer.speech_stopped")
    assert stopped["audio_end_ms"] == 1500 + 500 + 210 + 500
