"""The SDK's judge of the wire (tests/support/sdk_judge.py): what it finds, what it allows
and why each allowance is still needed, and that it watches every server of the suite."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sdk_judge import ALLOWED, Allowance, Finding, Side, WireJudge, judge_frame, judged_event
from websockets.asyncio.client import connect

from realtime_widget.core.protocol import Dialect
from realtime_widget.server import LocalRealtimeServer

IMAGE = {"type": "input_image", "image_url": "data:image/png;base64,AAAA"}
FORCED = {"type": "function", "name": "lookup"}


class _Connection:
    """What the judge reads of a server connection: its dialect."""

    dialect: Dialect = "ga"


def _session(**fields: Any) -> dict[str, Any]:
    return {"type": "realtime", **fields}


# one frame per allowance, holding what it allows (and nothing else the SDK refuses)
EXAMPLES: dict[tuple[Dialect, str, str], dict[str, Any]] = {
    ("ga", "session.created", "session.id"): {"session": _session(id="sess_1")},
    ("ga", "session.created", "session.object"): {"session": _session(object="realtime.session")},
    ("ga", "session.created", "session.expires_at"): {"session": _session(expires_at=1)},
    ("ga", "session.updated", "session.id"): {"session": _session(id="sess_1")},
    ("ga", "session.updated", "session.object"): {"session": _session(object="realtime.session")},
    ("ga", "session.updated", "session.expires_at"): {"session": _session(expires_at=1)},
    ("beta", "session.created", "session.object"): {"session": {"object": "realtime.session"}},
    ("beta", "session.created", "session.expires_at"): {"session": {"expires_at": 1}},
    ("beta", "session.updated", "session.object"): {"session": {"object": "realtime.session"}},
    ("beta", "session.updated", "session.expires_at"): {"session": {"expires_at": 1}},
    ("beta", "session.created", "session.model"): {"session": {"model": "gpt-realtime-mini"}},
    ("beta", "session.updated", "session.model"): {"session": {"model": "gpt-realtime-mini"}},
    ("beta", "session.update", "session.tool_choice"): {"session": {"tool_choice": FORCED}},
    ("beta", "session.updated", "session.tool_choice"): {"session": {"tool_choice": FORCED}},
    ("beta", "conversation.item.create", "item.content[]"): {
        "item": {"type": "message", "role": "user", "content": [IMAGE]}
    },
    ("beta", "conversation.item.created", "item.content[]"): {
        "previous_item_id": None,
        "item": {"id": "item_1", "type": "message", "role": "user", "content": [IMAGE]},
    },
    ("beta", "conversation.item.retrieved", "item.content[]"): {
        "item": {"id": "item_1", "type": "message", "role": "user", "content": [IMAGE]}
    },
    ("ga", "session.update", "session"): {
        "session": {"model": {"name": "gpt-realtime"}, "speech": {"voice": "marin"}}
    },
    ("beta", "transcription_session.created", "session"): {
        "session": {"input_audio_format": "pcm16", "turn_detection": None}
    },
    ("beta", "transcription_session.updated", "session"): {
        "session": {"input_audio_transcription": {"model": "whisper-1"}}
    },
}
CLIENT_EVENTS = {"session.update", "conversation.item.create"}


def example_frame(key: tuple[Dialect, str, str]) -> str:
    _, event_type, _ = key
    return json.dumps({"type": event_type, "event_id": "event_1", **EXAMPLES[key]})


def test_every_allowance_has_an_example() -> None:
    assert set(EXAMPLES) == set(ALLOWED)
    assert all(
        isinstance(allowance, Allowance) and allowance.reason for allowance in ALLOWED.values()
    )


@pytest.mark.parametrize("key", list(ALLOWED), ids=lambda key: "/".join(key))
def test_each_allowance_is_still_needed(key: tuple[Dialect, str, str]) -> None:
    dialect, event_type, path = key
    side: Side = "client" if event_type in CLIENT_EVENTS else "server"
    frame = example_frame(key)
    assert judge_frame(side, dialect, frame) == []
    without = {k: v for k, v in ALLOWED.items() if k != key}
    refused = judge_frame(side, dialect, frame, without)
    # once the SDK takes this example as it is, the entry must go
    assert refused, f"the SDK now takes {key}: drop it from ALLOWED"
    assert all(f.field.replace("[0]", "[]").startswith(path) for f in refused), refused


def test_what_the_judge_finds() -> None:
    ids = {"event_id": "e", "response_id": "r", "item_id": "i", "output_index": 0}
    part = {"type": "response.content_part.added", **ids, "content_index": 0}
    assert judge_frame("server", "ga", json.dumps({**part, "part": {"type": "audio"}})) == []
    (wrong,) = judge_frame("server", "ga", json.dumps({**part, "part": {"type": "output_audio"}}))
    assert (wrong.event_type, wrong.field) == ("response.content_part.added", "part.type")
    assert "'output_audio'" in str(wrong)
    (extra,) = judge_frame("server", "ga", json.dumps({**part, "part": {"type": "text", "x": 1}}))
    assert extra.field == "part.x" and "does not declare" in extra.problem
    text_part = {**part, "part": {"type": "text"}}
    (strict,) = judge_frame("server", "ga", json.dumps({**text_part, "content_index": "0"}))
    assert strict.field == "content_index"  # no string for a number
    unknown = Finding("server", "ga", "brand.new", "type", "is not an event the SDK declares")
    assert judge_frame("server", "ga", '{"type": "brand.new"}') == [unknown]
    assert judge_frame("server", "ga", b"\x00")[0].problem.startswith("is a binary frame")
    # each dialect against its own types
    beta_delta = {"type": "response.audio.delta", **ids, "content_index": 0, "delta": "AAAA"}
    assert judge_frame("server", "beta", json.dumps(beta_delta)) == []
    assert judge_frame("server", "ga", json.dumps(beta_delta))[0].field == "type"
    # the client's side is judged against the client union
    assert judge_frame("client", "ga", '{"type": "response.cancel"}') == []
    assert judge_frame("server", "ga", '{"type": "response.cancel"}')[0].field == "type"


def test_a_beta_transcription_session_created_is_judged_as_the_sdks_updated_event() -> None:
    session = {"input_audio_format": "pcm16", "turn_detection": None}
    created = {"type": "transcription_session.created", "event_id": "e", "session": session}
    assert judge_frame("server", "beta", json.dumps(created)) == []
    bad = {**created, "session": {**session, "input_audio_format": 16}}
    assert [f.field for f in judge_frame("server", "beta", json.dumps(bad))] == [
        "session.input_audio_format"
    ]
    extra = {**created, "session": {**session, "voice": "alloy"}}
    (found,) = judge_frame("server", "beta", json.dumps(extra))
    assert found.field == "session.voice" and "does not declare" in found.problem
    assert judge_frame("server", "ga", json.dumps(created))[0].field == "type"  # beta only


def test_item_references_in_a_response_input_are_the_sdks_too() -> None:
    def create(*inputs: dict[str, Any]) -> str:
        return json.dumps({"type": "response.create", "response": {"input": list(inputs)}})

    message = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "a"}]}
    reference = {"type": "item_reference", "id": "item_1"}
    assert judge_frame("client", "ga", create(reference, message)) == []
    (extra,) = judge_frame("client", "ga", create(message, {**reference, "x": 1}))
    assert extra.field == "response.input[1].x"
    (missing,) = judge_frame("client", "ga", create({"type": "item_reference"}))
    assert missing.field == "response.input[0].id"


def test_judged_event_refuses_what_the_sdk_refuses() -> None:
    created = {"type": "session.created", "event_id": "e", "session": {"type": "realtime"}}
    assert json.loads(judged_event("server", "ga", created)) == created
    with pytest.raises(AssertionError, match=r"session\.type"):
        judged_event("server", "ga", {**created, "session": {}})


def _error(answering: str | None) -> str:
    error = {"type": "invalid_request_error", "message": "refused", "event_id": answering}
    return json.dumps({"event_id": "event_e", "type": "error", "error": error})


def test_a_client_frame_the_server_refused_is_excused() -> None:
    judge = WireJudge()
    connection: Any = _Connection()
    other: Any = _Connection()
    bad = '{"type": "session.update", "event_id": "evt_1", "session": {"type": "nope"}}'
    judge(connection, "received", bad)
    assert judge.findings  # waiting: the server has not answered yet
    judge(other, "sent", _error(None))
    assert judge.findings  # another connection's error excuses nothing here
    judge(connection, "sent", _error("evt_2"))
    assert judge.findings  # an error answering another frame
    judge(connection, "sent", _error("evt_1"))
    assert judge.findings == [] and judge.excused == 1
    # a frame the server took stays found once the next one comes
    judge(connection, "received", bad)
    judge(connection, "received", '{"type": "response.cancel"}')
    assert {f.event_type for f in judge.findings} == {"session.update"}


def test_raw_frames_are_left_alone_only_when_asked() -> None:
    connection: Any = _Connection()
    judging, leaving = WireJudge(), WireJudge(judge_raw=False)
    for judge in (judging, leaving):
        judge(connection, "raw", '{"type": "mystery.event"}')
    assert judging.findings and leaving.findings == []


async def test_every_server_of_the_suite_is_watched(wire_judge: WireJudge) -> None:
    before = wire_judge.frames
    async with LocalRealtimeServer(pace="fast") as server, connect(server.url) as ws:
        assert json.loads(await ws.recv())["type"] == "session.created"
        await ws.send('{"type": "response.cancel"}')
        assert json.loads(await ws.recv())["type"] == "error"  # nothing to cancel
    assert wire_judge.frames >= before + 3 and wire_judge.findings == []
