"""`Decisions`: what a client does about each server event, as data.

:meth:`Decisions.server_event` applies one server event to the conversation and to the
client's parts (the user's audio, the responses running and those it asked for, the
function calls owed, what a later session resumes), each event type as the table
:data:`_STEPS` says, and returns a :class:`Reply`: what to dispatch, and the client events
to send in order; the client sends exactly those. :meth:`Decisions.cancel` does the same
for a user's cancel. The last ``rate_limits.updated`` is kept (:attr:`Decisions.rate_limits`).
No I/O, no clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from realtime_widget.audio.buffers import AudioRetention
from realtime_widget.client.inputaudio import InputAudio
from realtime_widget.client.owed import OwedCalls
from realtime_widget.client.requested import RequestedResponses
from realtime_widget.client.responses import (
    ITEM_CREATED,
    ITEM_DONE,
    ActiveResponses,
    event_item_id,
    is_finished_input,
)
from realtime_widget.client.resume import Resume
from realtime_widget.core.conversation import RealtimeConversation
from realtime_widget.core.errors import InvalidEventError, ServerError, UsageError
from realtime_widget.core.protocol import (
    SAMPLE_RATE,
    ConversationItem,
    Delta,
    canonical_event_type,
)
from realtime_widget.core.session import SessionConfig, SessionShape

__all__ = ["Decisions", "Outgoing", "Reply"]

logger = logging.getLogger("realtime_widget.client")  # the client's decisions, under its name

Outgoing = dict[str, Any]
"""A client event to send: its ``type`` and payload (the transport adds the ``event_id``)."""


@dataclass(slots=True)
class Reply:
    """What the client does about one server event, in this order: send ``send``, report
    ``error`` (or, when ``answered`` names an awaited request, fail its wait with it), end
    the wait of ``answered`` with its finished response, dispatch
    ``conversation.interrupted``, then, for ``item``, ``conversation.item.appended`` (when
    new), ``conversation.updated``, ``conversation.item.completed`` (when complete, once)
    and run it as a function call of response ``done_in``."""

    item: ConversationItem | None = None
    delta: Delta | None = None
    appended: bool = False  # the item is new: conversation.item.appended
    completed: bool = False  # the item is finished: conversation.item.completed (once)
    done_in: str | None = None  # the item is done, in this response: run its function call
    interrupted: bool = False  # the user started speaking: conversation.interrupted
    error: ServerError | None = None  # a server error to report
    send: tuple[Outgoing, ...] = ()  # client events to send, in order
    answered: str | None = None  # the event_id of an awaited response.create, refused or done


class Decisions:
    """The client's decisions over one conversation.

    Each part is the client's own (a fresh one when not given). ``config()`` is the
    session's config (its ``interrupt_response`` says whether the server cancels a response
    when the user starts speaking); ``shape()`` the session's shape (beta echoes differ).
    """

    def __init__(
        self,
        conversation: RealtimeConversation | None = None,
        *,
        input_audio: InputAudio | None = None,
        resume: Resume | None = None,
        active: ActiveResponses | None = None,
        calls: OwedCalls | None = None,
        requests: RequestedResponses | None = None,
        retention: AudioRetention | None = None,
        config: Callable[[], SessionConfig] = SessionConfig,
        shape: Callable[[], SessionShape] = lambda: "ga",
    ) -> None:
        self.conversation = conversation if conversation is not None else RealtimeConversation()
        self.input = input_audio if input_audio is not None else InputAudio(300.0)
        self.resume = resume if resume is not None else Resume()
        self.active = active if active is not None else ActiveResponses()
        self.calls = calls if calls is not None else OwedCalls()
        self.requests = requests if requests is not None else RequestedResponses()
        self.retention = retention
        self._config = config
        self._shape = shape
        self.rate_limits: list[dict[str, Any]] | None = None  # the last ones the server sent

    # -- server events --------------------------------------------------------------------

    def server_event(self, event: dict[str, Any], *, ready: bool) -> Reply:
        """Apply ``event``; returns what to dispatch and send.

        Nothing is sent unless ``ready`` (the session is set up). An event that only echoes
        an item replayed into a new session changes nothing. An item is complete when its
        final state arrives with a final status (anything but a message: whatever its
        status), or when a user or system message arrives complete. With a ``retention``,
        every item touched is counted against the audio bound (a deleted one forgotten).
        Raises the conversation's :class:`ProtocolError` for a malformed event, nothing
        changed.
        """
        kind = canonical_event_type(str(event.get("type")))
        if kind == "error":
            return self._refused(ServerError(event))
        if self.resume.is_echo(kind, event, self._shape()):
            return Reply()
        reply = _STEPS.get(kind, Decisions._apply)(self, kind, event, ready)
        item = reply.item
        if item is None:
            return reply
        if self.retention is not None:
            if kind == "conversation.item.deleted":
                self.retention.forget(str(item.get("id")))
            else:
                self.retention.observe(item)
        if kind in ITEM_DONE:
            final = item.get("status") in ("completed", "incomplete")
            reply.completed = final or item.get("type") != "message"
            reply.done_in = str(event.get("response_id") or self.active.newest() or "unknown")
        elif kind in ITEM_CREATED and is_finished_input(item):
            reply.completed = True
        return reply

    def _apply(self, kind: str, event: dict[str, Any], ready: bool = False) -> Reply:
        """The conversation's step: the item, its delta and whether it is new."""
        is_new = kind in ITEM_CREATED and event_item_id(event) not in self.conversation
        item, delta = self.conversation.process_event(event, self.input.buffer)
        return Reply(item, delta, appended=is_new and item is not None)

    def _committed(self, kind: str, event: dict[str, Any], ready: bool) -> Reply:
        span = self.input.committed() if isinstance(event.get("item_id"), str) else None
        if span is not None:  # our manual commit, confirmed: its audio goes to its item
            self.conversation.queue_input_audio(self.input.buffer.slice(*span))
        reply = self._apply(kind, event)
        if span is not None:
            self.input.discard_committed(span)
        return reply

    def _truncated(self, kind: str, event: dict[str, Any], ready: bool) -> Reply:
        heard = self.resume.before_truncation(event, self.conversation)
        reply = self._apply(kind, event)
        if heard is not None:
            self.resume.truncated(heard)
        return reply

    def _deleted(self, kind: str, event: dict[str, Any], ready: bool) -> Reply:
        reply = self._apply(kind, event)
        if reply.item is not None:
            self.resume.forget(str(reply.item.get("id")))
        return reply

    def _speech_started(self, kind: str, event: dict[str, Any], ready: bool) -> Reply:
        reply = self._apply(kind, event)
        if (self._config().turn_detection() or {}).get("interrupt_response", True):
            # the server cancels the response itself: a response.cancel would be refused
            self.active.clear()
        reply.interrupted = True
        return reply

    def _speech_stopped(self, kind: str, event: dict[str, Any], ready: bool) -> Reply:
        reply = self._apply(kind, event)
        self.input.speech_stopped(event)  # a later manual commit starts after it
        return reply

    def _rate_limits(self, kind: str, event: dict[str, Any], ready: bool) -> Reply:
        limits = event.get("rate_limits")
        if not isinstance(limits, list) or not all(isinstance(x, dict) for x in limits):
            raise InvalidEventError(kind, "rate_limits", "must be a list of objects")
        self.rate_limits = [dict(limit) for limit in limits]
        return Reply()

    def _cleared(self, kind: str, event: dict[str, Any], ready: bool) -> Reply:
        reply = self._apply(kind, event)
        self.input.cleared()
        return reply

    def _response_created(self, kind: str, event: dict[str, Any], ready: bool) -> Reply:
        reply = self._apply(kind, event)
        self.active.started(event)
        self.requests.started(event["response"])  # checked by the conversation
        return reply

    def _response_done(self, kind: str, event: dict[str, Any], ready: bool) -> Reply:
        reply = self._apply(kind, event)
        finished = self.active.done(event)
        awaited = self.requests.finished(finished)
        reply.answered = awaited.event_id if awaited is not None else None
        # the response.create its calls make due (OwedCalls), or the one refused while
        # that response ran
        answered = finished is not None and self.calls.finish(finished)
        if (answered or self.active.create_due()) and ready:
            self.active.deferred = False
            reply.send = ({"type": "response.create"},)
        return reply

    def _refused(self, error: ServerError) -> Reply:
        """A server ``error``: the error to report (none when it is expected).

        One refusing a commit or clear leaves its audio to the next commit (and is
        reported); one refusing a ``response.create`` while a response runs defers it when
        it was the client's own (see :mod:`~realtime_widget.client.requested`), fails the
        wait of an awaited one and is reported otherwise; one refusing our
        ``response.cancel`` that crossed the response's own end is no error.
        """
        details = error.event.get("error")
        refused = details.get("event_id") if isinstance(details, Mapping) else None
        if self.input.refused(refused, error.code):
            # the server keeps that audio: it goes with the next commit
            logger.debug("a commit or clear of input audio was refused: %s", error)
        if error.code == "conversation_already_has_active_response":
            request = self.requests.refused(refused)
            if request is not None and request.kind == "automatic":
                # the client's own, asked while one was running: ask again once it is done
                self.active.deferred = True
                logger.debug("response.create refused while a response runs: deferred")
                return Reply()
            if request is not None and request.kind == "awaited":
                return Reply(error=error, answered=request.event_id)
            return Reply(error=error)
        if error.code == "response_cancel_not_active" and self.active.cancel_sent:
            # our cancel crossed the response's own end on the wire: nothing to report
            self.active.cancel_sent = False
            logger.debug("response.cancel arrived after the response ended")
            return Reply()
        return Reply(error=error)

    # -- the user's cancel ----------------------------------------------------------------

    def cancel(
        self, item_id: str | None, played: int, *, ready: bool
    ) -> tuple[ConversationItem | None, tuple[Outgoing, ...]]:
        """A user's cancel: the answer ``item_id`` names (``None`` without one) and the events
        to send, ``response.cancel`` when a response runs and the truncate of that answer
        after ``played`` samples (see :meth:`Resume.cut`).

        What was heard is kept for a replay whether or not the session is ``ready``; nothing
        is sent before it is (nothing of the new session is playing). Raises
        :class:`UsageError` when ``item_id`` names no assistant message held.
        """
        item = self.conversation.get_item(item_id) if item_id is not None else None
        if item_id is not None:
            if item is None:
                raise UsageError(f"cannot cancel: no item {item_id!r} in the conversation")
            if item.get("type") != "message" or item.get("role") != "assistant":
                raise UsageError(f"can only truncate assistant messages, {item_id!r} is not one")
        send: list[Outgoing] = []
        if self.active and ready:
            self.active.cancel_sent = True
            send.append({"type": "response.cancel"})
        cut = self.resume.cut(item_id, item, played) if item_id and item is not None else None
        if cut is not None and ready:
            index, heard = cut
            send.append(
                {
                    "type": "conversation.item.truncate",
                    "item_id": item_id,
                    "content_index": index,
                    "audio_end_ms": heard * 1000 // SAMPLE_RATE,
                }
            )
        return item, tuple(send)


_Step = Callable[[Decisions, str, dict[str, Any], bool], Reply]
_STEPS: dict[str, _Step] = {
    "input_audio_buffer.committed": Decisions._committed,
    "input_audio_buffer.speech_started": Decisions._speech_started,
    "input_audio_buffer.speech_stopped": Decisions._speech_stopped,
    "input_audio_buffer.timeout_triggered": Decisions._speech_stopped,
    "rate_limits.updated": Decisions._rate_limits,
    "input_audio_buffer.cleared": Decisions._cleared,
    "conversation.item.truncated": Decisions._truncated,
    "conversation.item.deleted": Decisions._deleted,
    "response.created": Decisions._response_created,
    "response.done": Decisions._response_done,
}
