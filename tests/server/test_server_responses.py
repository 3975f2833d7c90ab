"""Responses over a real socket: tools, knowledge, cancellation, barge-in and items."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import numpy as np
from server_peer import Peer, PeerFactory, structure

from realtime_widget.server import (
    LocalRealtimeServer,
    render_knowledge_instructions,
    synthesize,
)

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
MULTIPLY = {**ADD, "name": "multiply", "description": "multiply two numbers"}
KNOWLEDGE = {
    "scripts": [
        {
            "id": "store",
            "name": "Store",
            "priority": 2,
            "dialogues": [
                {
                    "id": "hours",
                    "prompts": ["when are you open"],
                    "responses": [{"id": "m", "type": "message", "message": "From nine to five."}],
                },
                {
                    "id": "stock",
                    "prompts": ["do you have apples"],
                    "responses": [
                        {
                            "id": "f",
                            "type": "function",
                            "function": {"name": "check_stock", "arguments": {"item": "apple"}},
                        }
                    ],
                },
            ],
        }
    ]
}


async def set_session(peer: Peer, **session: Any) -> dict[str, Any]:
    await peer.send(type="session.update", session={"type": "realtime", **session})
    return await peer.next("session.updated")


async def turn(peer: Peer, text: str, **response: Any) -> list[dict[str, Any]]:
    await peer.say(text)
    if response:
        await peer.send(type="response.create", response=response)
    else:
        await peer.send(type="response.create")
    return await peer.until("response.done")


def transcript(done: dict[str, Any]) -> str:
    part = done["response"]["output"][0]["content"][0]
    return str(part.get("transcript") or part.get("text"))


async def test_function_call_round_trip(peer: Peer) -> None:
    await set_session(peer, tools=[ADD])
    events = await turn(peer, "please add 2 and 40")
    assert structure(events)[-7:] == [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
    ]
    deltas = [e for e in events if e["type"] == "response.function_call_arguments.delta"]
    done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert "".join(e["delta"] for e in deltas) == done["arguments"]
    assert json.loads(done["arguments"]) == {"a": 2, "b": 40}
    assert done["name"] == "add" and done["call_id"].startswith("call_")
    item = events[-1]["response"]["output"][0]
    assert item["type"] == "function_call" and item["status"] == "completed"
    assert item["call_id"] == done["call_id"] and item["arguments"] == done["arguments"]
    await peer.send(
        type="conversation.item.create",
        item={"type": "function_call_output", "call_id": done["call_id"], "output": "42"},
    )
    await peer.next("conversation.item.done")
    await peer.send(type="response.create")
    assert transcript(await peer.next("response.done")) == "add returned 42."


async def test_two_tools_in_one_response(peer: Peer) -> None:
    await set_session(peer, tools=[ADD, MULTIPLY])
    events = await turn(peer, "use add and multiply with 3 and 4")
    output = events[-1]["response"]["output"]
    assert [(o["type"], o["name"], json.loads(o["arguments"])) for o in output] == [
        ("function_call", "add", {"a": 3, "b": 4}),
        ("function_call", "multiply", {"a": 3, "b": 4}),
    ]
    added = [e for e in events if e["type"] == "response.output_item.added"]
    assert [e["output_index"] for e in added] == [0, 1]
    for call, result in zip(output, ("7", '{"result": 12}'), strict=True):
        await peer.send(
            type="conversation.item.create",
            item={"type": "function_call_output", "call_id": call["call_id"], "output": result},
        )
    await peer.send(type="response.create")
    assert transcript(await peer.next("response.done")) == "add returned 7. multiply returned 12."


async def test_knowledge_from_the_constructor_and_set_knowledge(open_peer: PeerFactory) -> None:
    async with LocalRealtimeServer(pace="fast", knowledge=KNOWLEDGE) as server:
        peer = await open_peer(server, manual=True)
        assert transcript((await turn(peer, "Hi! When are you open?"))[-1]) == "From nine to five."
        events = await turn(peer, "do you have apples")
        call = events[-1]["response"]["output"][0]
        assert call["name"] == "check_stock" and json.loads(call["arguments"]) == {"item": "apple"}
        server.set_knowledge(None)
        assert transcript((await turn(peer, "when are you open"))[-1]) == (
            "You said: when are you open."
        )


async def test_knowledge_from_the_instructions_block(peer: Peer) -> None:
    instructions = "You run a shop.\n\n" + render_knowledge_instructions(KNOWLEDGE)
    await set_session(peer, instructions=instructions)
    assert transcript((await turn(peer, "when are you open?"))[-1]) == "From nine to five."
    # response-level instructions replace the session's
    done = (await turn(peer, "when are you open?", instructions="No scripts."))[-1]
    assert transcript(done) == "You said: when are you open?"


async def test_cancel_mid_response(open_peer: PeerFactory) -> None:
    async with LocalRealtimeServer(pace=4.0) as server:
        peer = await open_peer(server, manual=True)
        await peer.say("this is a rather long sentence so that the answer takes a while to say")
        await peer.send(type="response.create")
        await peer.next("response.output_audio.delta")
        await peer.send(type="response.cancel", event_id="evt_cancel")
        events = await peer.until("response.done")
        assert structure(events)[-6:] == [
            "response.output_audio.done",
            "response.output_audio_transcript.done",
            "response.content_part.done",
            "response.output_item.done",
            "conversation.item.done",
            "response.done",
        ]
        response = events[-1]["response"]
        assert response["status"] == "cancelled"
        assert response["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
        item = response["output"][0]
        assert item["status"] == "incomplete"
        said = item["content"][0]["transcript"]
        full = "You said: this is a rather long sentence so that the answer takes a while to say."
        assert full.startswith(said) and len(said) < len(full)
        # nothing active any more: cancelling again is an error
        await peer.send(type="response.cancel", event_id="evt_again")
        error = await peer.next("error")
        assert error["error"]["code"] == "response_cancel_not_active"
        assert error["error"]["event_id"] == "evt_again"


async def test_second_response_create_while_active_is_refused(open_peer: PeerFactory) -> None:
    async with LocalRealtimeServer(pace=4.0) as server:
        peer = await open_peer(server, manual=True)
        await peer.say("a sentence long enough to keep the response busy for a moment")
        await peer.send(type="response.create")
        created = await peer.next("response.created")
        await peer.send(type="response.create", event_id="evt_2")
        events = await peer.until("error")
        error = events[-1]["error"]
        assert error["code"] == "conversation_already_has_active_response"
        assert created["response"]["id"] in error["message"]
        assert error["event_id"] == "evt_2"
        await peer.send(type="response.cancel", response_id="resp_unknown")
        assert (await peer.next("error"))["error"]["code"] == "response_cancel_not_active"
        await peer.send(type="response.cancel", response_id=created["response"]["id"])
        done = await peer.next("response.done")
        assert done["response"]["status"] == "cancelled"
        # once done, a new response is accepted
        await peer.send(type="response.create", response={"output_modalities": ["text"]})
        assert (await peer.next("response.done"))["response"]["status"] == "completed"


async def test_barge_in_via_vad_cancels_the_paced_response(open_peer: PeerFactory) -> None:
    async with LocalRealtimeServer(pace=2.0) as server:
        peer = await open_peer(server)
        await set_session(
            peer,
            audio={"input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 200}}},
        )
        await peer.say("tell me something long enough to be interrupted by the user")
        await peer.send(type="response.create")
        first = await peer.next("response.output_audio.delta")
        response_id = first["response_id"]
        speech = np.concatenate([synthesize("stop").samples, np.zeros(24 * 300, np.int16)])
        await peer.append(speech, chunk=480)
        events = await peer.until("response.done")
        types = [e["type"] for e in events]
        assert types.index("input_audio_buffer.speech_started") < types.index("response.done")
        cancelled = events[-1]["response"]
        assert cancelled["id"] == response_id
        assert cancelled["status"] == "cancelled"
        assert cancelled["status_details"]["reason"] == "turn_detected"
        # the user's utterance then gets its own answer
        later = await peer.until("response.done")
        assert "input_audio_buffer.speech_stopped" in [e["type"] for e in events + later]
        assert later[-1]["response"]["id"] != response_id
        assert transcript(later[-1]) == "You said: stop."


async def test_realtime_pacing(open_peer: PeerFactory) -> None:
    async with LocalRealtimeServer(pace="realtime") as server:
        peer = await open_peer(server, manual=True)
        await peer.say("hi")
        await peer.send(type="response.create")
        await peer.next("response.created")
        started = time.monotonic()
        events = await peer.until("response.done")
        elapsed = time.monotonic() - started
        audio_seconds = sum(
            len(e["delta"]) * 3 / 4 / 2 / 24_000
            for e in events
            if e["type"] == "response.output_audio.delta"
        )
        assert audio_seconds > 0.8
        # the last chunk goes out when due: total time ~ audio length minus one chunk
        assert audio_seconds - 0.2 <= elapsed <= audio_seconds + 1.0


async def test_truncate(peer: Peer) -> None:
    events = await turn(peer, "one two three four five six")
    item = events[-1]["response"]["output"][0]
    audio_ms = (
        sum(
            len(e["delta"]) * 3 // 4 // 2
            for e in events
            if e["type"] == "response.output_audio.delta"
        )
        * 1000
        // 24_000
    )
    await peer.send(
        type="conversation.item.truncate",
        event_id="evt_t",
        item_id=item["id"],
        content_index=0,
        audio_end_ms=audio_ms + 100,
    )
    error = await peer.next("error")
    assert error["error"]["message"] == (
        f"audio content of {audio_ms} ms is already shorter than {audio_ms + 100} ms"
    )
    assert error["error"]["event_id"] == "evt_t"
    await peer.send(
        type="conversation.item.truncate", item_id="nope", content_index=0, audio_end_ms=0
    )
    error = await peer.next("error")
    assert error["error"]["code"] == "item_not_found" and error["error"]["param"] == "item_id"
    await peer.send(
        type="conversation.item.truncate", item_id=item["id"], content_index=0, audio_end_ms=1500
    )
    truncated = await peer.next("conversation.item.truncated")
    assert (truncated["item_id"], truncated["content_index"], truncated["audio_end_ms"]) == (
        item["id"],
        0,
        1500,
    )
    await peer.send(type="conversation.item.retrieve", item_id=item["id"])
    kept = (await peer.next("conversation.item.retrieved"))["item"]["content"][0]["transcript"]
    full = "You said: one two three four five six."
    assert full.startswith(kept) and 0 < len(kept) < len(full)
    # after truncation, only what remains can be truncated further
    await peer.send(
        type="conversation.item.truncate", item_id=item["id"], content_index=0, audio_end_ms=1600
    )
    assert "already shorter than 1600 ms" in (await peer.next("error"))["error"]["message"]


async def test_truncate_refuses_user_items(peer: Peer) -> None:
    await peer.say("mine")
    user_item = (await peer.next("conversation.item.done"))["item"]
    await peer.send(
        type="conversation.item.truncate", item_id=user_item["id"], content_index=0, audio_end_ms=0
    )
    error = await peer.next("error")
    assert "only assistant messages" in error["error"]["message"]


async def test_items_create_retrieve_delete_and_positions(peer: Peer) -> None:
    await peer.say("first")
    first = (await peer.next("conversation.item.done"))["item"]
    await peer.send(
        type="conversation.item.create",
        previous_item_id="root",
        item={
            "id": "my_item",
            "type": "message",
            "role": "system",
            "content": [{"type": "input_text", "text": "sys"}],
        },
    )
    added = await peer.next("conversation.item.added")
    assert added["previous_item_id"] is None and added["item"]["id"] == "my_item"
    await peer.send(
        type="conversation.item.create",
        previous_item_id="my_item",
        item={
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "between"}],
        },
    )
    between = await peer.next("conversation.item.added")
    assert between["previous_item_id"] == "my_item"
    await peer.send(type="conversation.item.retrieve", item_id=first["id"])
    retrieved = await peer.next("conversation.item.retrieved")
    assert retrieved["item"] == first
    await peer.send(type="conversation.item.delete", item_id="my_item")
    assert (await peer.next("conversation.item.deleted"))["item_id"] == "my_item"
    for kind in ("conversation.item.delete", "conversation.item.retrieve"):
        await peer.send(type=kind, item_id="my_item")
        assert (await peer.next("error"))["error"]["code"] == "item_not_found"
    await peer.send(
        type="conversation.item.create",
        previous_item_id="missing",
        item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "x"}]},
    )
    assert (await peer.next("error"))["error"]["param"] == "previous_item_id"


async def test_item_validation(peer: Peer) -> None:
    cases = [
        ({"type": "message", "role": "robot", "content": []}, "invalid_value", "item.role"),
        ({"type": "message", "role": "user", "content": []}, "invalid_value", "item.content"),
        ({"type": "message", "role": "user"}, "invalid_type", "item.content"),
        (
            {"type": "message", "role": "user", "content": [{"type": "output_text", "text": "x"}]},
            "invalid_value",
            "item.content[0].type",
        ),
        (
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "input_text", "text": "x"}],
            },
            "invalid_value",
            "item.content[0].type",
        ),
        (
            {
                "type": "message",
                "role": "system",
                "content": [{"type": "input_image", "image_url": "data:image/png;base64,"}],
            },
            "invalid_value",
            "item.content[0].type",
        ),
        (
            {"type": "message", "role": "user", "content": [{"type": "input_text"}]},
            "missing_required_parameter",
            "item.content[0].text",
        ),
        (
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": 3}]},
            "invalid_type",
            "item.content[0].text",
        ),
        (
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_audio", "audio": "@@"}],
            },
            "invalid_value",
            "item.content[0].audio",
        ),
        (
            {"type": "function_call_output", "output": "x"},
            "missing_required_parameter",
            "item.call_id",
        ),
        ({"type": "function_call", "call_id": "c"}, "missing_required_parameter", "item.name"),
        ({"type": "reasoning"}, "invalid_value", "item.type"),
        ({"role": "user"}, "missing_required_parameter", "item.type"),
        (
            {"type": "message", "role": "user", "content": [], "colour": 1},
            "unknown_parameter",
            "item.colour",
        ),
    ]
    for index, (item, code, param) in enumerate(cases):
        await peer.send(type="conversation.item.create", event_id=f"evt_{index}", item=item)
        error = await peer.next("error")
        assert (error["error"]["code"], error["error"]["param"], error["error"]["event_id"]) == (
            code,
            param,
            f"evt_{index}",
        ), item
    # a function_call_output needs no earlier function_call (as on the service)
    await peer.send(
        type="conversation.item.create",
        item={"type": "function_call_output", "call_id": "x", "output": "{}"},
    )
    assert (await peer.next("conversation.item.done"))["item"]["call_id"] == "x"


async def test_out_of_band_response_with_input_and_metadata(peer: Peer) -> None:
    await peer.say("in the conversation")
    user_item = (await peer.next("conversation.item.done"))["item"]
    await peer.send(
        type="response.create",
        response={
            "conversation": "none",
            "output_modalities": ["text"],
            "metadata": {"purpose": "summary"},
            "input": [
                {"type": "item_reference", "id": user_item["id"]},
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "only this"}],
                },
            ],
        },
    )
    events = await peer.until("response.done")
    assert "conversation.item.added" not in structure(events)
    response = events[-1]["response"]
    assert response["conversation_id"] is None
    assert response["metadata"] == {"purpose": "summary"}
    assert transcript(events[-1]) == "You said: only this."
    # the out-of-band item did not join the conversation
    await peer.send(type="conversation.item.retrieve", item_id=response["output"][0]["id"])
    assert (await peer.next("error"))["error"]["code"] == "item_not_found"
    await peer.send(type="response.create", response={"conversation": "elsewhere"})
    assert (await peer.next("error"))["error"]["param"] == "response.conversation"
    await peer.send(type="response.create", response={"modalities": ["text"]})
    assert (await peer.next("error"))["error"]["param"] == "response.modalities"


async def test_max_output_tokens_makes_the_response_incomplete(peer: Peer) -> None:
    done = (await turn(peer, "a b c d e f g", max_output_tokens=4))[-1]
    assert done["response"]["status"] == "incomplete"
    assert done["response"]["status_details"] == {
        "type": "incomplete",
        "reason": "max_output_tokens",
    }
    assert transcript(done) == "You said: a b"


async def test_g711_output(peer: Peer) -> None:
    output = {"format": {"type": "audio/pcmu"}, "voice": "tones"}  # a length known exactly
    done = await turn(peer, "phone", audio={"output": output})
    deltas = [e for e in done if e["type"] == "response.output_audio.delta"]
    total = sum(len(base64.b64decode(e["delta"])) for e in deltas)
    expected = synthesize("You said: phone.").samples.size // 3
    assert abs(total - expected) <= 3
    assert done[-1]["response"]["audio"]["output"]["format"] == {"type": "audio/pcmu"}


async def test_identical_turns_give_identical_audio(peer: Peer) -> None:
    """The model and the synthesis are deterministic."""
    first = await turn(peer, "repeat me")
    second = await turn(peer, "repeat me")
    audio = [
        [e["delta"] for e in events if e["type"] == "response.output_audio.delta"]
        for events in (first, second)
    ]
    assert audio[0] == audio[1]


async def test_truncate_while_the_item_still_streams(open_peer: PeerFactory) -> None:
    async with LocalRealtimeServer(pace=4.0) as server:
        peer = await open_peer(server, manual=True)
        await peer.say("a long answer that is cut while it is still being spoken aloud")
        await peer.send(type="response.create")
        events = await peer.until("response.output_audio.delta")
        events += await peer.until("response.output_audio.delta")
        item_id = events[-1]["item_id"]
        # no cancel: truncating alone ends the item's audio at the cut
        await peer.send(
            type="conversation.item.truncate", item_id=item_id, content_index=0, audio_end_ms=100
        )
        events = await peer.until("response.done")
        types = [e["type"] for e in events]
        cut = types.index("conversation.item.truncated")
        assert "response.output_audio.delta" not in types[cut + 1 :]
        response = events[-1]["response"]
        assert response["status"] == "completed"
        assert response["output"][0]["content"][0]["transcript"] == "You"
        sent = next(e for e in events if e["type"] == "response.output_audio_transcript.done")
        assert sent["transcript"].startswith("You")
        await peer.send(type="conversation.item.retrieve", item_id=item_id)
        retrieved = await peer.next("conversation.item.retrieved")
        assert retrieved["item"]["content"][0] == response["output"][0]["content"][0]
