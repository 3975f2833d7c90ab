"""The official ``openai`` SDK as the judge of the wire.

:func:`judge_frame` checks one frame against the SDK's event types: the client union
(``RealtimeClientEvent``) for what a client sends, the server union (``RealtimeServerEvent``)
for what a server sends, from ``openai.types.realtime`` on GA connections and
``openai.types.beta.realtime`` on beta ones. A frame passes when it is a JSON object whose
``type`` the union declares, it validates as that event (strictly: no string for a number),
and no object inside it, at any depth, has a field the SDK does not declare. Free-form
values (tool ``parameters``, ``metadata``) are the SDK's ``object`` and are not looked into.
What the SDK's types lag on is in :data:`ALLOWED`, each entry with its reason. The beta
service's ``transcription_session.created``, which the beta SDK's union lacks, is judged as
the SDK's ``TranscriptionSessionUpdatedEvent`` under that type.

The SDK's ``connection.send()`` also takes a GA ``response.create`` whose ``input`` holds
item references (``ResponseCreateEventWithReferencesParam``): each reference there is judged
as the SDK's ``ResponseItemReference``, the rest of the event as ``ResponseCreateEvent``.

:class:`WireJudge` keeps the findings of every frame a :class:`LocalRealtimeServer`
receives and sends (through the server's ``frame_observers``). A client frame the server
refused with an ``error`` before handling the next one is excused: the server and the SDK
agree that it is wrong (the test sent it on purpose). The suite's autouse fixtures
(``tests/conftest.py``) give each test its judge and fail the test when it found a fault.
Scripted servers in tests build their frames with :func:`judged_event`.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import pydantic
from openai.types.beta.realtime import RealtimeClientEvent as BetaClientEvent
from openai.types.beta.realtime import RealtimeServerEvent as BetaServerEvent
from openai.types.beta.realtime import TranscriptionSessionUpdatedEvent
from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent
from openai.types.realtime.response_item_reference import ResponseItemReference

from realtime_widget.core.protocol import Dialect
from realtime_widget.server import Connection, LocalRealtimeServer
from realtime_widget.server.connection import Direction

__all__ = [
    "ALLOWED",
    "Allowance",
    "Finding",
    "JudgeRouter",
    "Side",
    "WireJudge",
    "event_model",
    "judge_frame",
    "judged_event",
]

Side = Literal["client", "server"]
_DROP: Final[Any] = object()  # an allowed value is taken out of the frame before judging


@dataclass(frozen=True)
class Allowance:
    """Why something the SDK's type for the event refuses is still right to send.

    Without ``accepts``, the entry allows an undeclared field at its path. With it, a value
    at the path that ``accepts`` takes is judged as ``stands_for`` instead (by default it is
    taken out: a list element removed, a field deleted; a function makes the stand-in of
    the value): the SDK types it otherwise.
    """

    reason: str
    accepts: Callable[[Any], bool] | None = None
    stands_for: Any = _DROP


def _function_choice(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") == "function"


def _image_part(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") == "input_image"


def _nested_session(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("model"), dict)


_GA_SESSION_OBJECT = (
    "the SDK types this session as the session request (RealtimeSessionCreateRequest), which "
    "has no identity; the service sends the session object, whose type in the SDK, "
    "RealtimeSessionCreateResponse, declares {}"
)
_BETA_SESSION_OBJECT = (
    "the beta service sent the session object ({}, as GA's session object still does); the "
    "beta SDK's Session declares only its id"
)
_BETA_IMAGES = (
    "image input: the beta SDK's content types predate it; the local server takes images in "
    "the beta shape too (the client sends the GA part unchanged)"
)
_BETA_TOOL_CHOICE = (
    "a forced function, {type: function, name}: the beta SDK types tool_choice as a string, "
    "while the beta service took this object (the beta reference client, "
    "openai-realtime-api-beta, sends it)"
)
_NO_CLIENT_SECRET = (
    "a transcription session over the socket has no client_secret: the beta SDK's "
    "TranscriptionSession requires one, while its own docstring says it 'is not present when "
    "a session is updated via the WebSocket API' (it comes with sessions made over HTTP)"
)


def _without_secret(value: Any) -> bool:
    return isinstance(value, dict) and "client_secret" not in value


def _with_secret(session: dict[str, Any]) -> dict[str, Any]:
    return {**session, "client_secret": {"expires_at": 0, "value": ""}}


_NESTED = (
    "the seed library's nested session (session.model an object; RealtimeClient("
    "dialect='nested')), a shape only this project's local server reads: no SDK type has it"
)

# (dialect, event type, path) -> why it is allowed; a path names fields with dots and list
# elements with "[]" (item.content[]). Only what the service sends or takes and the SDK's
# types lag on, or what no SDK type describes; each entry must stay needed (the tests in
# tests/server/test_sdk_judge.py show the SDK still refuses each one's example).
ALLOWED: Mapping[tuple[Dialect, str, str], Allowance] = {
    ("ga", "session.created", "session.id"): Allowance(_GA_SESSION_OBJECT.format("its id")),
    ("ga", "session.created", "session.object"): Allowance(
        _GA_SESSION_OBJECT.format("object: realtime.session")
    ),
    ("ga", "session.created", "session.expires_at"): Allowance(
        _GA_SESSION_OBJECT.format("when it expires (expires_at, seconds since the epoch)")
    ),
    ("ga", "session.updated", "session.id"): Allowance(_GA_SESSION_OBJECT.format("its id")),
    ("ga", "session.updated", "session.object"): Allowance(
        _GA_SESSION_OBJECT.format("object: realtime.session")
    ),
    ("ga", "session.updated", "session.expires_at"): Allowance(
        _GA_SESSION_OBJECT.format("when it expires (expires_at, seconds since the epoch)")
    ),
    ("beta", "session.created", "session.object"): Allowance(
        _BETA_SESSION_OBJECT.format("object: realtime.session")
    ),
    ("beta", "session.created", "session.expires_at"): Allowance(
        _BETA_SESSION_OBJECT.format("expires_at")
    ),
    ("beta", "session.updated", "session.object"): Allowance(
        _BETA_SESSION_OBJECT.format("object: realtime.session")
    ),
    ("beta", "session.updated", "session.expires_at"): Allowance(
        _BETA_SESSION_OBJECT.format("expires_at")
    ),
    ("beta", "session.created", "session.model"): Allowance(
        "the beta SDK lists the models of its time as the only ones (up to "
        "gpt-realtime-2025-08-28); the session names the model the client asked for "
        "(?model=), as the service does",
        accepts=lambda value: isinstance(value, str),
        stands_for="gpt-realtime",
    ),
    ("beta", "session.updated", "session.model"): Allowance(
        "the model the client asked for, as in session.created",
        accepts=lambda value: isinstance(value, str),
        stands_for="gpt-realtime",
    ),
    ("beta", "session.update", "session.tool_choice"): Allowance(
        _BETA_TOOL_CHOICE, accepts=_function_choice, stands_for="auto"
    ),
    ("beta", "session.updated", "session.tool_choice"): Allowance(
        _BETA_TOOL_CHOICE, accepts=_function_choice, stands_for="auto"
    ),
    ("beta", "conversation.item.create", "item.content[]"): Allowance(
        _BETA_IMAGES, accepts=_image_part
    ),
    ("beta", "conversation.item.created", "item.content[]"): Allowance(
        _BETA_IMAGES, accepts=_image_part
    ),
    ("beta", "conversation.item.retrieved", "item.content[]"): Allowance(
        _BETA_IMAGES, accepts=_image_part
    ),
    ("ga", "session.update", "session"): Allowance(
        _NESTED, accepts=_nested_session, stands_for={"type": "realtime"}
    ),
    ("beta", "transcription_session.created", "session"): Allowance(
        _NO_CLIENT_SECRET, accepts=_without_secret, stands_for=_with_secret
    ),
    ("beta", "transcription_session.updated", "session"): Allowance(
        _NO_CLIENT_SECRET, accepts=_without_secret, stands_for=_with_secret
    ),
}


@dataclass(frozen=True)
class Finding:
    """One fault the SDK finds in a frame: the event, the field (``""``: the whole frame)."""

    side: Side
    dialect: Dialect
    event_type: str
    field: str
    problem: str

    def __str__(self) -> str:
        where = f" {self.field}:" if self.field else ""
        return f"{self.dialect} {self.side} {self.event_type!r}{where} {self.problem}"


def _members(union: Any) -> dict[str, type[pydantic.BaseModel]]:
    """``{event type: SDK model}`` for an SDK event union (``Annotated[Union[...], ...]``)."""
    table: dict[str, type[pydantic.BaseModel]] = {}
    for model in typing.get_args(typing.get_args(union)[0]):
        for name in typing.get_args(model.model_fields["type"].annotation):
            table[name] = model
    return table


# What the beta service sends on connect with ?intent=transcription, missing from the beta
# SDK's server union: its transcription_session.updated under the created event's type (the
# API's spec gives the two events the same session object).
TranscriptionSessionCreatedEvent = pydantic.create_model(
    "TranscriptionSessionCreatedEvent",
    __base__=TranscriptionSessionUpdatedEvent,
    type=(Literal["transcription_session.created"], ...),
)

_MODELS: dict[tuple[Dialect, Side], dict[str, type[pydantic.BaseModel]]] = {
    ("ga", "client"): _members(RealtimeClientEvent),
    ("ga", "server"): _members(RealtimeServerEvent),
    ("beta", "client"): _members(BetaClientEvent),
    ("beta", "server"): {
        **_members(BetaServerEvent),
        "transcription_session.created": TranscriptionSessionCreatedEvent,
    },
}


def event_model(dialect: Dialect, side: Side, event_type: str) -> type[pydantic.BaseModel] | None:
    """The SDK's model of ``event_type`` sent by ``side`` in ``dialect``, or None."""
    return _MODELS[(dialect, side)].get(event_type)


def _extras(value: object, path: str) -> Iterator[str]:
    """The path of every undeclared field in a validated SDK value, at any depth."""
    if isinstance(value, pydantic.BaseModel):
        for name in value.model_extra or {}:
            yield f"{path}.{name}" if path else name
        for name, child in value:
            yield from _extras(child, f"{path}.{name}" if path else name)
    elif isinstance(value, list | tuple):
        for index, child in enumerate(value):
            yield from _extras(child, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from _extras(child, f"{path}.{key}")


def _location(loc: tuple[int | str, ...], value: Any) -> str:
    """A pydantic error location as a path in ``value``, without the names pydantic gives
    the members of a union (``session.RealtimeSessionCreateRequest.type`` is
    ``session.type``)."""
    path, here = "", value
    for index, part in enumerate(loc):
        if isinstance(part, int) and isinstance(here, list) and 0 <= part < len(here):
            path, here = f"{path}[{part}]", here[part]
        elif (
            isinstance(part, str)
            and isinstance(here, dict)
            and (part in here or index == len(loc) - 1)  # the last one may be missing
        ):
            path, here = (f"{path}.{part}" if path else part), here.get(part)
    return path


_STEP = re.compile(r"([^.\[\]]+)|\[\]")


def _places(value: Any, path: str) -> list[tuple[Any, Any]]:
    """``(container, key)`` of every value at ``path`` (list elements last to first)."""
    places: list[tuple[Any, Any]] = [(None, value)]
    for match in _STEP.finditer(path):
        found: list[tuple[Any, Any]] = []
        for container, key in places:
            here = value if container is None else container[key]
            if match.group(1) is not None:
                if isinstance(here, dict) and match.group(1) in here:
                    found.append((here, match.group(1)))
            elif isinstance(here, list):
                found.extend((here, index) for index in reversed(range(len(here))))
        places = found
    return places


def _validated(
    model: type[pydantic.BaseModel], event: Any, found: Callable[[str, str], None]
) -> pydantic.BaseModel | None:
    try:
        return model.model_validate(event, strict=True)
    except pydantic.ValidationError as error:
        # the deepest locations first: in a union, the member that came closest
        problems: dict[tuple[str, str], None] = {}
        for problem in sorted(error.errors(), key=lambda e: -len(e["loc"])):
            value = repr(problem.get("input"))[:80]
            problems[(_location(problem["loc"], event), f"{problem['msg'][:160]} ({value})")] = None
        for field, message in list(problems)[:3]:
            found(field, message)
        return None


def judge_frame(
    side: Side,
    dialect: Dialect,
    frame: str | bytes,
    allowed: Mapping[tuple[Dialect, str, str], Allowance] = ALLOWED,
) -> list[Finding]:
    """What the SDK finds wrong with ``frame`` sent by ``side`` (an empty list: nothing)."""
    return _judge(side, dialect, frame, allowed)[1]


def _judge(
    side: Side,
    dialect: Dialect,
    frame: str | bytes,
    allowed: Mapping[tuple[Dialect, str, str], Allowance] = ALLOWED,
) -> tuple[dict[str, Any] | None, list[Finding]]:
    """The frame's event (None when it is not a JSON object) and what the SDK finds."""
    findings: list[Finding] = []
    event_type = ""

    def found(field: str, problem: str) -> None:
        findings.append(Finding(side, dialect, event_type, field, problem))

    if isinstance(frame, bytes):
        found("", "is a binary frame: events are JSON text")
        return None, findings
    try:
        event = json.loads(frame)
    except (ValueError, RecursionError):
        found("", f"is not JSON: {frame[:80]!r}")
        return None, findings
    if not isinstance(event, dict):
        found("", f"is not a JSON object: {frame[:80]!r}")
        return None, findings
    kind = event.get("type")
    if not isinstance(kind, str):
        found("type", f"is missing or not a string ({kind!r})")
        return event, findings
    event_type = kind
    model = event_model(dialect, side, event_type)
    if model is None:
        found("type", "is not an event the SDK declares")
        return event, findings
    judged = _with_stand_ins(event, dialect, allowed)
    if dialect == "ga" and side == "client" and event_type == "response.create":
        judged = _apart_references(judged, found)
    validated = _validated(model, judged, found)
    if validated is not None:
        for path in _extras(validated, ""):
            if (dialect, event_type, re.sub(r"\[\d+\]", "[]", path)) not in allowed:
                found(path, "is a field the SDK does not declare")
    return event, findings


def _with_stand_ins(
    event: dict[str, Any], dialect: Dialect, allowed: Mapping[tuple[Dialect, str, str], Allowance]
) -> dict[str, Any]:
    """``event``, or a copy in which each value an allowance accepts is its stand-in."""
    shapes = [
        (path, allowance)
        for (where, named, path), allowance in allowed.items()
        if (where, named) == (dialect, event["type"]) and allowance.accepts is not None
    ]
    if not shapes:
        return event
    judged = copy.deepcopy(event)
    for path, allowance in shapes:
        assert allowance.accepts is not None
        for container, key in _places(judged, path):
            if not allowance.accepts(container[key]):
                continue
            if allowance.stands_for is _DROP:
                del container[key]
            elif callable(allowance.stands_for):
                container[key] = allowance.stands_for(container[key])
            else:
                container[key] = copy.deepcopy(allowance.stands_for)
    return judged


def _apart_references(event: dict[str, Any], found: Callable[[str, str], None]) -> dict[str, Any]:
    """``event`` without the item references of ``response.input``, each judged apart."""
    response = event.get("response")
    inputs = response.get("input") if isinstance(response, dict) else None
    if not isinstance(response, dict) or not isinstance(inputs, list):
        return event
    kept = []
    for index, item in enumerate(inputs):
        if not (isinstance(item, dict) and item.get("type") == "item_reference"):
            kept.append(item)
            continue
        prefix = f"response.input[{index}]"

        def found_here(field: str, problem: str, prefix: str = prefix) -> None:
            found(f"{prefix}.{field}", problem)

        reference = _validated(ResponseItemReference, item, found_here)
        for path in _extras(reference, "") if reference is not None else ():
            found_here(path, "is a field the SDK does not declare")
    return {**event, "response": {**response, "input": kept}}


def judged_event(side: Side, dialect: Dialect, event: Mapping[str, Any]) -> str:
    """``event`` as a frame, once the SDK finds nothing wrong with it (else AssertionError).

    For scripted servers and peers in tests, whose frames no observer sees.
    """
    frame = json.dumps(event)
    findings = judge_frame(side, dialect, frame)
    assert not findings, "the openai SDK refuses this frame:\n" + "\n".join(map(str, findings))
    return frame


class WireJudge:
    """A frame observer for :class:`LocalRealtimeServer` that keeps what the SDK finds.

    ``judge_raw`` False leaves alone the frames tests send with ``send_raw`` (faulty on
    purpose). A client frame's findings wait for the server: an ``error`` sent before the
    next client frame of that connection (naming the frame's ``event_id`` when both have
    one) excuses them. Safe from any thread (servers run in threads call it on theirs).
    """

    def __init__(self, *, judge_raw: bool = True) -> None:
        self.judge_raw = judge_raw
        self.frames = 0
        self.excused = 0
        self._findings: list[Finding] = []
        self._pending: dict[Connection, tuple[str | None, list[Finding]]] = {}
        self._lock = threading.Lock()

    def __call__(self, connection: Connection, direction: Direction, frame: str | bytes) -> None:
        if direction == "raw" and not self.judge_raw:
            return
        side: Side = "client" if direction == "received" else "server"
        event, findings = _judge(side, connection.dialect, frame)
        with self._lock:
            self.frames += 1
            if direction == "received":
                _, earlier = self._pending.pop(connection, (None, []))
                self._findings += earlier
                if findings:
                    event_id = event.get("event_id") if event is not None else None
                    self._pending[connection] = (
                        event_id if isinstance(event_id, str) else None,
                        findings,
                    )
                return
            self._findings += findings
            if direction == "sent" and event is not None and event.get("type") == "error":
                self._excuse(connection, event)

    def _excuse(self, connection: Connection, error_event: dict[str, Any]) -> None:
        pending = self._pending.get(connection)
        if pending is None:
            return
        error = error_event.get("error")
        answered = error.get("event_id") if isinstance(error, dict) else None
        if pending[0] is None or answered is None or answered == pending[0]:
            del self._pending[connection]
            self.excused += 1

    @property
    def findings(self) -> list[Finding]:
        """What was found, the client frames the server did not (yet) refuse included."""
        with self._lock:
            return self._findings + [f for _, found in self._pending.values() for f in found]

    def watch(self, server: LocalRealtimeServer) -> None:
        """Judge every frame ``server`` receives and sends from now on."""
        server.frame_observers.append(self)

    def report(self) -> str:
        """The distinct findings, one a line, with how often each was seen."""
        counts: dict[str, int] = {}
        for finding in self.findings:
            counts[str(finding)] = counts.get(str(finding), 0) + 1
        return "\n".join(f"{line} (x{n})" if n > 1 else line for line, n in counts.items())


class JudgeRouter:
    """One frame observer on every server, handing each frame to the judge of the moment.

    The suite's fixtures set :attr:`judge` to each test's :class:`WireJudge`; frames seen
    between tests (a server of a wider scope closing, say) go to :attr:`between`, which
    the next test reports too.
    """

    def __init__(self) -> None:
        self.between = WireJudge()
        self.judge: WireJudge | None = None

    def __call__(self, connection: Connection, direction: Direction, frame: str | bytes) -> None:
        (self.judge or self.between)(connection, direction, frame)
