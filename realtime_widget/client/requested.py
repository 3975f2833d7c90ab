"""The responses a client asked for, and what became of each: refused, running, finished.

Each ``response.create`` the client sends carries an ``event_id`` of its own, kept in
:class:`RequestedResponses` with who asked: the client itself after answering function calls
(``automatic``: no fields; refused while a response runs, it is asked again once that one is
done), a caller who does not wait (``asked``: a refusal is reported as an ``error``), or a
caller who awaits the result (``awaited``: a refusal fails the wait). The server's ``error``
names the ``event_id`` it refuses (one that names none refuses the oldest request still
unanswered); a ``response.created`` answers the oldest request of its kind, in or out of
band (``conversation_id`` null), one whose ``metadata`` is the response's first. At most
:data:`MAX_UNANSWERED` requests wait for an answer (the oldest is forgotten past it).
:class:`ResponseResult` is a finished response as an awaiting caller gets it. No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypedDict, cast

from realtime_widget.core.ids import generate_id
from realtime_widget.core.protocol import ConversationItem

__all__ = [
    "MAX_UNANSWERED",
    "RequestKind",
    "RequestedResponse",
    "RequestedResponses",
    "ResponseResult",
    "Usage",
    "is_out_of_band",
]

MAX_UNANSWERED: Final = 64

RequestKind = Literal["automatic", "asked", "awaited"]


class Usage(TypedDict, total=False):
    """A response's token counts, as the server's ``response.done`` states them."""

    total_tokens: int
    input_tokens: int
    output_tokens: int
    input_token_details: dict[str, Any]  # text_tokens, audio_tokens, image_tokens, cached_tokens
    output_token_details: dict[str, Any]  # text_tokens, audio_tokens


@dataclass(frozen=True, slots=True)
class ResponseResult:
    """A finished response: ``status`` (``completed``, ``cancelled``, ``incomplete`` or
    ``failed``), its ``status_details``, its ``output`` items (each with ``formatted``:
    ``text``, ``transcript``, ``audio``, ``tool``), the ``metadata`` it was asked with and
    its ``usage`` (``None`` when the server gave none)."""

    id: str
    status: str
    status_details: dict[str, Any] | None
    output: tuple[ConversationItem, ...]
    metadata: dict[str, str] | None
    usage: Usage | None

    @property
    def text(self) -> str:
        """What the response said: the text, or the transcript, of its messages, joined."""
        said = []
        for item in self.output:
            formatted = item.get("formatted") or {}
            said.append(formatted.get("text") or formatted.get("transcript") or "")
        return "\n".join(s for s in said if s)

    @classmethod
    def of(cls, response: Mapping[str, Any], items: Sequence[ConversationItem]) -> ResponseResult:
        """The result of ``response`` (the conversation's, ``output`` as ids) and its items."""
        details = response.get("status_details")
        metadata = response.get("metadata")
        usage = response.get("usage")
        return cls(
            id=str(response.get("id")),
            status=str(response.get("status") or "completed"),
            status_details=dict(details) if isinstance(details, Mapping) else None,
            output=tuple(items),
            metadata=dict(metadata) if isinstance(metadata, Mapping) else None,
            usage=cast(Usage, dict(usage)) if isinstance(usage, Mapping) else None,
        )


def is_out_of_band(response: Mapping[str, Any]) -> bool:
    """Whether a server ``response`` is outside the conversation (``conversation_id`` null)."""
    return "conversation_id" in response and response["conversation_id"] is None


@dataclass(frozen=True, slots=True)
class RequestedResponse:
    """One ``response.create`` sent: its ``event_id``, who asked, whether it is out of band
    and the ``metadata`` it carries."""

    event_id: str
    kind: RequestKind
    out_of_band: bool = False
    metadata: Mapping[str, str] | None = None


class RequestedResponses:
    """The requests sent and not yet answered, and the awaited ones running (see the module
    docstring)."""

    def __init__(self) -> None:
        self._unanswered: dict[str, RequestedResponse] = {}
        self._running: dict[str, RequestedResponse] = {}  # awaited, by response id

    def __len__(self) -> int:
        return len(self._unanswered)

    def sent(
        self,
        kind: RequestKind,
        *,
        out_of_band: bool = False,
        metadata: Mapping[str, str] | None = None,
        event_id: str | None = None,
    ) -> str:
        """Keep a request about to be sent; returns the ``event_id`` it must carry (a new
        one unless given)."""
        event_id = event_id or generate_id("evt_")
        self._unanswered[event_id] = RequestedResponse(event_id, kind, out_of_band, metadata)
        if len(self._unanswered) > MAX_UNANSWERED:
            del self._unanswered[next(iter(self._unanswered))]
        return event_id

    def refused(self, event_id: object) -> RequestedResponse | None:
        """The request an ``error`` refuses (``event_id``: the one it names, if any)."""
        if isinstance(event_id, str):
            return self._unanswered.pop(event_id, None)
        oldest = next(iter(self._unanswered), None)
        return self._unanswered.pop(oldest) if oldest is not None else None

    def started(self, response: Mapping[str, Any]) -> RequestedResponse | None:
        """The request a ``response.created`` answers, if any (see the module docstring)."""
        out_of_band = is_out_of_band(response)
        candidates = [r for r in self._unanswered.values() if r.out_of_band == out_of_band]
        if not candidates:
            return None
        metadata = response.get("metadata")
        request = next((r for r in candidates if r.metadata == metadata), candidates[0])
        del self._unanswered[request.event_id]
        response_id = response.get("id")
        if request.kind == "awaited" and isinstance(response_id, str):
            self._running[response_id] = request
        return request

    def finished(self, response_id: str | None) -> RequestedResponse | None:
        """The awaited request whose response ``response_id`` is done, if any."""
        return self._running.pop(response_id, None) if response_id is not None else None

    def end_session(self) -> None:
        """The session is over: nothing asked of it will be answered."""
        self._unanswered.clear()
        self._running.clear()
