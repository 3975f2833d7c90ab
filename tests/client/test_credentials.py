"""Credentials stay in the kernel, whoever holds them: a server that echoes them back reaches
no trait, no message to the page, no dispatched event and no log line; and no credential
follows a redirect to another host. Real servers on loopback throughout: the local server
echoing the handshake it got, and small websockets servers redirecting and recording."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sdk_judge import judged_event
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from widget_wire import Wire, recording_comm, until

from realtime_widget.client.api import RealtimeAPI
from realtime_widget.client.client import RealtimeClient
from realtime_widget.core.errors import ConnectError, RedirectRefusedError
from realtime_widget.core.redaction import Redactor
from realtime_widget.server import LocalRealtimeServer
from realtime_widget.widget.widget import RealtimeWidget

FIXTURES = (recording_comm,)  # pytest finds it here by name

KEY = "sk-test-KEY-0123456789"
ORGANIZATION = "org-HEADER-VALUE-4242"
TRACE = "trace-HEADER-VALUE-7777"
URL_TOKEN = "url-TOKEN-VALUE-9999"
CREDENTIALS = (KEY, ORGANIZATION, TRACE, URL_TOKEN)
SESSION_CREATED = judged_event(
    "server", "ga", {"type": "session.created", "event_id": "e1", "session": {"type": "realtime"}}
)


# -- a server that echoes what it was sent ----------------------------------------------------


def echoed(request: Request) -> dict[str, Any]:
    """An ``error`` event quoting the handshake: its path and every header, as text and as
    fields (what a careless proxy or a test server might send back)."""
    lines = [f"GET {request.path}", *(f"{k}: {v}" for k, v in request.headers.raw_items())]
    return {
        "type": "error",
        "event_id": "evt_echo",
        "error": {
            "type": "invalid_request_error",
            "code": "echoed_request",
            "message": "rejected " + "\n".join(lines),
            "param": None,
            "event_id": None,
            "request": {"path": request.path, "headers": dict(request.headers.raw_items())},
        },
    }


class Recorded:
    """Every event a client dispatched (its own and its transport's) and every log line."""

    def __init__(self, client: RealtimeClient, caplog: pytest.LogCaptureFixture) -> None:
        self.events: list[tuple[str, Any]] = []
        self.caplog = caplog
        client.on("*", lambda event: self.events.append(("client", event)))
        client.realtime.on("*", lambda event: self.events.append(("transport", event)))

    def texts(self) -> list[str]:
        found = [f"{source} {json.dumps(e, default=repr)} {e!r}" for source, e in self.events]
        # the client's records: the local server's own (the other end) are its business
        found.extend(
            r.getMessage()
            for r in self.caplog.records
            if not r.name.startswith("realtime_widget.server")
        )
        return found


def published(wire: Wire) -> list[str]:
    """Every message the widget's comm published (the open message with the first state
    included), as text, buffers too."""
    texts = []
    for msg_type, data, buffers in wire.comm.published:
        texts.append(msg_type + json.dumps(data, default=repr))
        texts.extend(bytes(b).decode("latin-1") for b in buffers)
    return texts


def assert_hidden(texts: list[str]) -> None:
    assert texts
    for text in texts:
        for credential in CREDENTIALS:
            assert credential not in text


async def echoed_and_refused(
    server: LocalRealtimeServer, widget: RealtimeWidget, recorded: Recorded, header: str
) -> None:
    """Connect the widget; the server echoes the handshake in an ``error`` event, then
    closes quoting the key. Then no credential is anywhere: traits, messages to the page,
    dispatched events, log lines."""
    wire = Wire(widget)
    await widget.connect()
    connection = await server.wait_for_connection()
    request = connection.websocket.request
    assert request is not None
    await server.send_raw(json.dumps(echoed(request)), connection)
    await until(lambda: "echoed_request" in widget.error)
    await connection.websocket.close(1008, f"policy: key {KEY} refused")
    await until(lambda: "1008" in widget.error)
    texts = [json.dumps(widget.get_state(), default=repr), repr(widget), widget.error]
    assert_hidden([*texts, *published(wire), *recorded.texts()])
    assert "<redacted>" in widget.error
    echoes = [e for _, e in recorded.events if e.get("type") == "error"]
    assert any("echoed_request" in json.dumps(e, default=repr) for e in echoes)  # it came
    assert any(header in r.getMessage() for r in recorded.caplog.records)  # headers logged


@pytest.mark.wire_faults
async def test_a_widget_making_its_client_keeps_every_credential_from_the_page(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with LocalRealtimeServer(pace="fast") as server:
        widget = RealtimeWidget(url=f"{server.url}?token={URL_TOKEN}", api_key=KEY)
        try:
            widget.client.realtime.debug = True
            widget.client.reconnect = False
            widget.client.realtime.extra_headers.update({"X-Trace": TRACE})
            recorded = Recorded(widget.client, caplog)
            await echoed_and_refused(server, widget, recorded, "Authorization")
        finally:
            await widget.client.aclose()
            widget.close()


@pytest.mark.wire_faults
@pytest.mark.parametrize("azure", [False, True], ids=["openai", "azure"])
async def test_a_widget_given_a_client_keeps_every_credential_from_the_page(
    caplog: pytest.LogCaptureFixture, azure: bool
) -> None:
    caplog.set_level(logging.DEBUG)
    async with LocalRealtimeServer(pace="fast") as server:
        url = server.url
        if azure:
            url = url.replace("/v1/realtime", "/openai/realtime") + "?deployment=gpt-realtime"
        client = RealtimeClient(
            url=f"{url}{'&' if azure else '?'}token={URL_TOKEN}",
            api_key=KEY,
            azure=azure,
            debug=True,
            headers={"OpenAI-Organization": ORGANIZATION, "X-Trace": TRACE},
        )
        recorded = Recorded(client, caplog)
        widget = RealtimeWidget(client)
        try:
            header = "api-key" if azure else "Authorization"
            await echoed_and_refused(server, widget, recorded, header)
        finally:
            await client.aclose()
            widget.close()


async def test_what_the_widget_shows_is_scrubbed_whatever_put_it_there() -> None:
    """A status, a message, the user's text and the answer: every trait and message."""
    async with LocalRealtimeServer(pace="fast") as server:
        client = RealtimeClient(url=server.url, api_key=KEY, headers={"X-Trace": TRACE})
        widget = RealtimeWidget(client)
        try:
            wire = Wire(widget)
            await widget.connect()
            widget.status = f"key {KEY}"
            widget.send({"type": "delta", "item_id": "x", "field": "text", "delta": TRACE})
            widget.send_text(f"my key is {KEY}")
            await until(
                lambda: len(widget.items) >= 2 and widget.items[-1]["status"] != "in_progress"
            )
            widget.send_state()
            state = json.dumps(widget.get_state())
            assert "key <redacted>" in state
            assert any('"delta": "<redacted>"' in text for text in published(wire))
            assert_hidden([state, *published(wire)])
        finally:
            await client.aclose()
            widget.close()


def test_the_transport_knows_every_credential_it_sends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-KEY-5555")
    api = RealtimeAPI(
        f"ws://me:PASSWORD-1234@127.0.0.1:9/v1/realtime?api-key={URL_TOKEN}&model=m",
        KEY,
        headers={"X-Trace": TRACE, "X-Short": "no"},
    )
    text = f"{KEY} {TRACE} {URL_TOKEN} PASSWORD-1234 sk-env-KEY-5555 no model=m"
    assert api.redactor(text) == "<redacted> " * 5 + "no model=m"
    api.extra_headers["X-Late"] = "late-HEADER-VALUE"  # set after it was made: known at connect
    api.url = "ws://127.0.0.1:9/v1/realtime?token=another-TOKEN-1"
    assert api.redactor("another-TOKEN-1") == "<redacted>"
    assert "late-HEADER-VALUE" in api._headers().values()
    assert api.redactor("late-HEADER-VALUE") == "<redacted>"
    assert api.redactor(KEY) == "<redacted>"  # a credential once known stays hidden


def test_the_redactor_scrubs_values_in_depth_and_copies_only_what_it_changes() -> None:
    redactor = Redactor(["sk-secret", None, "abc"])
    clean = {"a": ["x", {"b": "y"}], "n": 1}
    assert redactor.value(clean) is clean
    dirty = {"a": ["x", {"b": "the sk-secret"}], "sk-secret": ("sk-secret", 2), "n": None}
    assert redactor.value(dirty) == {
        "a": ["x", {"b": "the <redacted>"}],
        "<redacted>": ("<redacted>", 2),
        "n": None,
    }
    assert dirty["a"][1]["b"] == "the sk-secret"  # the original is left as it was
    assert redactor("abc is short: left alone, sk-secret is not") == (
        "abc is short: left alone, <redacted> is not"
    )
    assert redactor("Authorization: Bearer anything") == "Authorization: <redacted>"
    assert "sk-secret" not in repr(redactor)


def test_the_redactor_reads_a_received_frame_as_the_value_it_parsed_to() -> None:
    redactor = Redactor(["sk-secret"])
    plain = '{"type": "error", "message": "bad key sk-secret"}'
    spelled = '{"type": "error", "message": "bad key sk-\\u0073ecret"}'  # \u escapes
    clean = '{"type": "response.output_audio.delta", "delta": "AAAA"}'
    for frame in (plain, spelled):
        event = json.loads(frame)
        assert redactor.value(event, text=frame)["message"] == "bad key <redacted>"
    event = json.loads(clean)
    assert redactor.value(event, text=clean) is event


# -- redirects ---------------------------------------------------------------------------------


class Recorder:
    """A websockets server on loopback that accepts every handshake and keeps its headers."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, Headers]] = []
        self.port = 0

    def process_request(self, connection: ServerConnection, request: Request) -> None:
        self.requests.append((request.path, request.headers))

    async def handler(self, ws: ServerConnection) -> None:
        await ws.send(SESSION_CREATED)
        await ws.wait_closed()


@contextlib.asynccontextmanager
async def listening(
    process_request: Callable[[ServerConnection, Request], Response | None],
    handler: Callable[[ServerConnection], Any],
) -> AsyncIterator[int]:
    async with serve(
        handler, "127.0.0.1", 0, process_request=process_request, close_timeout=0.2
    ) as running:
        yield running.sockets[0].getsockname()[1]


def redirect_to(location: str) -> Callable[[ServerConnection, Request], Response]:
    def process_request(connection: ServerConnection, request: Request) -> Response:
        response = connection.respond(302, "moved\n")
        response.headers["Location"] = location
        return response

    return process_request


@contextlib.asynccontextmanager
async def redirected_elsewhere() -> AsyncIterator[tuple[int, int, Recorder]]:
    """Two loopback servers: the first answers every handshake 302 to the second."""
    recorder = Recorder()
    async with listening(recorder.process_request, recorder.handler) as target:
        location = f"ws://127.0.0.1:{target}/openai/realtime?deployment=m"
        async with listening(redirect_to(location), recorder.handler) as first:
            yield first, target, recorder


def sent_credentials(requests: list[tuple[str, Headers]]) -> list[str]:
    return [
        f"{path} {headers}"
        for path, headers in requests
        if any(c in f"{path} {headers}" for c in CREDENTIALS)
    ]


async def test_credentials_never_follow_a_redirect_to_another_host() -> None:
    async with redirected_elsewhere() as (first, target, recorder):
        api = RealtimeAPI(
            f"ws://127.0.0.1:{first}/openai/realtime?deployment=m",
            KEY,
            azure=True,
            headers={"OpenAI-Organization": ORGANIZATION},
        )
        with pytest.raises(RedirectRefusedError) as info:
            await api.connect()
        assert recorder.requests == []  # nothing reached the other host
        assert sent_credentials(recorder.requests) == []
        error = info.value
        assert isinstance(error, ConnectError)
        assert f"127.0.0.1:{first}" in str(error) and f"127.0.0.1:{target}" in str(error)
        assert (error.origin, error.target) == (f"127.0.0.1:{first}", f"127.0.0.1:{target}")
        assert KEY not in str(error) and not api.is_connected()


async def test_a_client_does_not_retry_a_refused_redirect() -> None:
    async with redirected_elsewhere() as (first, _target, recorder):
        client = RealtimeClient(
            url=f"ws://127.0.0.1:{first}/v1/realtime", api_key=KEY, reconnect=True
        )
        with pytest.raises(RedirectRefusedError):
            await client.connect()
        assert recorder.requests == []
        await client.aclose()


async def test_a_redirect_to_another_host_is_followed_without_credentials() -> None:
    async with redirected_elsewhere() as (first, _target, recorder):
        api = RealtimeAPI(f"ws://127.0.0.1:{first}/openai/realtime?deployment=m", azure=True)
        await api.connect()
        assert api.is_connected() and len(recorder.requests) == 1
        await api.disconnect()


async def test_a_redirect_on_the_same_host_keeps_the_credentials() -> None:
    recorder = Recorder()

    def moved(connection: ServerConnection, request: Request) -> Response | None:
        if request.path.startswith("/old"):
            return redirect_to("/openai/realtime?deployment=m")(connection, request)
        return recorder.process_request(connection, request)

    async with listening(moved, recorder.handler) as port:
        api = RealtimeAPI(f"ws://127.0.0.1:{port}/old", KEY, azure=True)
        await api.connect()
        assert [path for path, _ in recorder.requests] == ["/openai/realtime?deployment=m"]
        assert recorder.requests[0][1]["api-key"] == KEY
        await api.disconnect()


@pytest.mark.wire_faults
async def test_an_event_too_deep_to_redact_is_an_error_and_the_session_goes_on() -> None:
    async with LocalRealtimeServer(pace="fast") as server:
        api = RealtimeAPI(server.url, KEY)
        seen: list[Any] = []
        api.on("*", seen.append)
        await api.connect()
        depth = 700  # json takes it; a walk of it in Python does not
        await server.send_raw('{"type": "x", "a": ' + "[" * depth + f'"{KEY}"' + "]" * depth + "}")
        error = await api.wait_for_next("error", 5)
        assert error is not None and "nested too deeply" in error["message"]
        assert api.is_connected()
        assert all(KEY not in repr(event) for event in seen)
        await api.disconnect()
