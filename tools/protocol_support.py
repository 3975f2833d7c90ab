"""What of the GA protocol the client and the local server support: a section of docs/protocol.md.

Every client and server event type of the official SDK's GA ``openai.types.realtime`` unions
(``RealtimeClientEvent``, ``RealtimeServerEvent``), and every field of its GA session types
(``RealtimeSessionCreateRequest``, ``RealtimeTranscriptionSessionCreateRequest``) and of
``RealtimeResponseCreateParams``, each with what the client and the local server do with it.
The answers are computed from the package, not written here:

- a client event the client *sends*: its type is a string in the client's code
  (``realtime_widget/client``, docstrings left out); the server *handles* it: a key of the
  connection's handler table;
- a server event the client *handles*: a key of the conversation's or the client's decision
  tables, or named by the client's ``_apply_server_event``; else it is *dispatched* only
  (``on("server.*")`` sees it, nothing acts on it); the server *sends* it: its type is a
  string in the server's code;
- a session field the client *sets*: the session a config holding a sample of every value
  renders (``session_payload`` / ``transcription_payload``) has it; the server *takes* it: a
  ``session.update`` of that field alone is applied. *No local effect* is the server's
  validator saying so in its docstring, or :data:`NO_LOCAL_EFFECT`, where no docstring can;
- a response field the client *sets*: one of ``client.responsefields.RESPONSE_FIELDS``;
  the server *takes* it: one of the response keys it parses, with an effect when it sets a
  parameter of the response (``ResponseParams``).

``python tools/protocol_support.py`` prints the section; ``--write`` puts it in
docs/protocol.md between its two marker lines; ``--check`` exits 1 when the section there
differs.
"""

from __future__ import annotations

import ast
import dataclasses
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docsection
import pydantic
from openai.types.realtime import (
    RealtimeClientEvent,
    RealtimeResponseCreateParams,
    RealtimeServerEvent,
    RealtimeSessionCreateRequest,
    RealtimeTranscriptionSessionCreateRequest,
)

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from realtime_widget.client import responsefields  # noqa: E402
from realtime_widget.client.client import RealtimeClient  # noqa: E402
from realtime_widget.client.decisions import _STEPS  # noqa: E402
from realtime_widget.core.conversation import _PROCESSORS  # noqa: E402
from realtime_widget.core.sessionmap import GA_TO_BETA  # noqa: E402
from realtime_widget.server import responseparams, sessionstate  # noqa: E402
from realtime_widget.server.wire import ClientEventError  # noqa: E402

__all__ = ["NOTES", "NO_LOCAL_EFFECT", "section", "unused_notes"]

DOC = ROOT / "docs" / "protocol.md"
BEGIN = "<!-- protocol support: python tools/protocol_support.py --write -->"
END = "<!-- end of protocol support -->"
PACKAGE = ROOT / "realtime_widget"

NO_LOCAL_EFFECT: dict[str, str] = {
    "model": "the local model is one and the same whatever the session names",
}
"""Session fields the local server takes and cannot act on, where no validator's docstring
can say so, each with why."""

NOTES: dict[str, str] = {
    "client event output_audio_buffer.clear": "over a WebRTC call only; refused over a "
    "websocket, as the service does",
    "server event output_audio_buffer.started": "over a WebRTC call",
    "server event output_audio_buffer.stopped": "over a WebRTC call",
    "server event output_audio_buffer.cleared": "over a WebRTC call",
    "server event input_audio_buffer.dtmf_event_received": "the service's on SIP calls, "
    "which the local server does not take",
    "session audio.output.voice": "a custom voice, `{id}`, speaks as marin",
    "session audio.input.transcription": "the local recognizer transcribes whatever "
    "model, language or prompt is named; `gpt-4o-transcribe-diarize` adds segments",
    "session tools": "MCP servers by `server_url` only",
    "response tools": "an MCP server named here and not in the session is not listed",
}
"""What a computed cell cannot tell: a limit or a condition, by table and name."""

# a sample of every value a client's config holds (what is computed is whether it is sent)
_SAMPLE_CONFIG: dict[str, dict[str, Any]] = {
    "model": {
        "instructions": "Be brief.",
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
        "tool_choice": "auto",
        "max_response_output_tokens": 100,
        "tracing": "auto",
        "truncation": "auto",
        "prompt": {"id": "pmpt_1"},
        "include": ["item.input_audio_transcription.logprobs"],
        "parallel_tool_calls": True,
        "reasoning": {"effort": "low"},
    },
    "speech": {"voice": "marin", "speed": 1.0, "output_audio_format": "pcm16"},
    "hearing": {
        "input_audio_format": "pcm16",
        "input_audio_transcription": {"model": "gpt-4o-mini-transcribe"},
        "input_audio_noise_reduction": {"type": "near_field"},
        "turn_detection": {"type": "server_vad"},
    },
}


def _event_types(union: Any) -> list[str]:
    members = typing.get_args(typing.get_args(union)[0])
    return sorted(
        name for model in members for name in typing.get_args(model.model_fields["type"].annotation)
    )


def _fields(model: type[pydantic.BaseModel], prefix: str = "") -> Iterator[str]:
    """The dotted fields of ``model``, ``audio`` expanded to the fields of its sides
    (``audio.input.format``)."""
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        found = [info.annotation, *typing.get_args(info.annotation)]
        nested = [a for a in found if isinstance(a, type) and issubclass(a, pydantic.BaseModel)]
        if path in ("audio", "audio.input", "audio.output") and nested:
            yield from _fields(nested[0], f"{path}.")
        else:
            yield path


def _strings(folder: Path) -> set[str]:
    """Every string constant in the code under ``folder``, docstrings left out."""
    found: set[str] = set()
    for path in sorted(folder.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        found |= {
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        }
    return found


def _server_handlers() -> set[str]:
    """The keys of the connection's handler table (``self._handlers = {...}``)."""
    tree = ast.parse((PACKAGE / "server" / "connection.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Attribute)
            and node.target.attr == "_handlers"
            and isinstance(node.value, ast.Dict)
        ):
            keys = [k.value for k in node.value.keys if isinstance(k, ast.Constant)]
            return {k for k in keys if isinstance(k, str)}
    raise LookupError("no handler table in server/connection.py")


def _client_own_events() -> set[str]:
    """The event types ``RealtimeClient._apply_server_event`` names itself."""
    source = ast.parse((PACKAGE / "client" / "client.py").read_text(encoding="utf-8"))
    for node in ast.walk(source):
        if isinstance(node, ast.FunctionDef) and node.name == "_apply_server_event":
            return {
                n.value
                for n in ast.walk(node)
                if isinstance(n, ast.Constant) and isinstance(n.value, str)
            }
    raise LookupError("no _apply_server_event in client/client.py")


def _paths(session: dict[str, Any]) -> set[str]:
    paths = {key for key in session if key != "audio"}
    for side, group in (session.get("audio") or {}).items():
        paths |= {f"audio.{side}.{key}" for key in group}
    return paths


def _value(session: dict[str, Any], path: str) -> Any:
    value: Any = session
    for key in path.split("."):
        value = value[key]
    return value


def _only(path: str, value: Any, kind: str) -> dict[str, Any]:
    session: dict[str, Any] = {"type": kind}
    target = session
    keys = path.split(".")
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = value
    return session


def _server_takes(path: str, value: Any, kind: str) -> bool:
    try:
        sessionstate.SessionState("ga").apply_update(_only(path, value, kind))
    except ClientEventError:
        return False
    return True


def _no_local_effect(path: str) -> bool:
    """Whether the local server cannot act on a session field it takes."""
    if path in NO_LOCAL_EFFECT:
        return True
    keys = tuple(path.split("."))
    name = GA_TO_BETA.get(keys)
    validator = sessionstate._GA_FIELDS.get(name) if name else sessionstate._GA_ONLY.get(path)
    return "no local effect" in " ".join((getattr(validator, "__doc__", None) or "").split())


_USED_NOTES: set[str] = set()


def _noted(cell: str, key: str) -> str:
    if key not in NOTES:
        return cell
    _USED_NOTES.add(key)
    return f"{cell} ({NOTES[key]})"


def unused_notes() -> list[str]:
    """The keys of :data:`NOTES` that no row of :func:`section` reads (stale ones)."""
    section()
    return sorted(set(NOTES) - _USED_NOTES)


def _session_rows(model: type[pydantic.BaseModel], kind: str) -> list[str]:
    client = RealtimeClient(url="ws://127.0.0.1:9", config=_SAMPLE_CONFIG, session_type=kind)  # type: ignore[arg-type]
    sent = client.get_session_payload()["session"]
    rows = []
    for path in _fields(model):
        sets = path in _paths(sent) or path == "type"
        value = _value(sent, path) if path in _paths(sent) else None
        if not sets:
            takes = "not sent by the client: not checked"
        elif path == "type":
            takes = "takes"
        elif _server_takes(path, value, kind):
            takes = "takes, no local effect" if _no_local_effect(path) else "takes"
        else:
            takes = "refuses"
        takes = _noted(takes, f"session {path}")
        rows.append(f"| `{path}` | {'sets' if sets else 'no'} | {takes} |")
    return rows


def _response_rows() -> list[str]:
    effects = {f.name for f in dataclasses.fields(responseparams.ResponseParams)}
    effects |= {"audio"}  # its output voice and format are the response's own
    rows = []
    for path in _fields(RealtimeResponseCreateParams):
        top = path.split(".")[0]
        client = "sets" if top in responsefields.RESPONSE_FIELDS else "no"
        if top not in responseparams._GA_KEYS:
            server = "refuses"
        elif top in effects:
            server = "takes"
        else:
            server = "takes, no local effect"
        rows.append(f"| `{path}` | {client} | {_noted(server, f'response {path}')} |")
    return rows


def section() -> str:
    """The generated section, as Markdown."""
    sent = _strings(PACKAGE / "client")
    handled = _server_handlers()
    client_rows = [
        f"| `{name}` | {'sends' if name in sent else 'no'} | "
        + _noted("handles" if name in handled else "refuses", f"client event {name}")
        + " |"
        for name in _event_types(RealtimeClientEvent)
    ]
    acted = set(_PROCESSORS) | set(_STEPS) | _client_own_events()
    emitted = _strings(PACKAGE / "server")
    server_rows = [
        f"| `{name}` | {'handles' if name in acted else 'dispatched only'} | "
        + _noted("sends" if name in emitted else "never sends", f"server event {name}")
        + " |"
        for name in _event_types(RealtimeServerEvent)
    ]
    head = ["| {} | client | local server |", "| --- | --- | --- |"]

    def table(what: str, rows: list[str]) -> str:
        return "\n".join([head[0].format(what), head[1], *rows])

    parts = [
        "### Client events (`openai.types.realtime.RealtimeClientEvent`)",
        table("event", client_rows),
        "### Server events (`openai.types.realtime.RealtimeServerEvent`)",
        table("event", server_rows),
        "### Realtime session fields (`RealtimeSessionCreateRequest`)",
        table("field", _session_rows(RealtimeSessionCreateRequest, "realtime")),
        "### Transcription session fields (`RealtimeTranscriptionSessionCreateRequest`)",
        table("field", _session_rows(RealtimeTranscriptionSessionCreateRequest, "transcription")),
        "### Response fields (`RealtimeResponseCreateParams`)",
        table("field", _response_rows()),
    ]
    return "\n\n".join(parts) + "\n"


def _stale(current: str, _text: str) -> str | None:
    if current.strip() == section().strip():
        return None
    return "the protocol support section is stale: run python tools/protocol_support.py --write"


def main(argv: list[str]) -> int:
    return docsection.run(argv, DOC, (BEGIN, END), section, _stale)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
