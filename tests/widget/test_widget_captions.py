"""A transcription session's widget: the client it makes, its ``session_type`` trait, and the
user's live transcripts over the local server, with no answer."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import traitlets
from test_widget import received, speech_chunks
from widget_wire import SECRET, Wire, by_role, make_widget, recording_comm, server, until

from realtime_widget.client.client import RealtimeClient
from realtime_widget.core.errors import UsageError
from realtime_widget.server import LocalRealtimeServer
from realtime_widget.widget.widget import RealtimeWidget

FIXTURES = (make_widget, recording_comm, server)  # pytest finds them here by name


async def test_a_transcription_widget_streams_the_users_transcripts_and_asks_nothing(
    server: LocalRealtimeServer, make_widget: Callable[..., RealtimeWidget]
) -> None:
    widget = make_widget(session_type="transcription")
    assert widget.client.session_type == "transcription"
    assert widget.session_type == "transcription"
    wire = Wire(widget)
    states = [data.get("state", {}) for _, data, _ in wire.comm.published]
    assert [s["session_type"] for s in states if "session_type" in s] == ["transcription"]
    await widget.connect()
    for chunk in speech_chunks("hello there"):
        wire.browser({"type": "audio"}, [chunk])
    await until(lambda: [u for u in by_role(widget, "user") if u["transcript"] == "hello there"])
    deltas = [m for m, _ in wire.custom("delta") if m["field"] == "transcript"]
    assert deltas, "the transcript streams to the page as deltas"
    assert by_role(widget, "assistant") == []
    assert received(server, "response.create") == []
    assert received(server, "session.update")[-1]["session"]["type"] == "transcription"


async def test_the_session_type_follows_the_client(
    make_widget: Callable[..., RealtimeWidget],
) -> None:
    assert make_widget().session_type == "realtime"
    assert make_widget().client.session_type == "realtime"


async def test_a_given_clients_session_type_is_the_widgets(server: LocalRealtimeServer) -> None:
    client = RealtimeClient(url=server.url, api_key=SECRET, session_type="transcription")
    widget = RealtimeWidget(client, session_type="transcription")
    assert widget.session_type == "transcription"
    assert RealtimeWidget(client).session_type == "transcription"
    with pytest.raises(UsageError, match=r"session_type='realtime'.*'transcription'"):
        RealtimeWidget(client, session_type="realtime")
    with pytest.raises(UsageError, match="session_type must be"):
        RealtimeWidget(url=server.url, api_key=SECRET, session_type="captions")  # type: ignore[arg-type]
    with pytest.raises(traitlets.TraitError):
        widget.session_type = "realtime"
    await client.aclose()
