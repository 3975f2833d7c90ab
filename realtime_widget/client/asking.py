"""What a client asks of the server and waits for: responses, items, client secrets.

:class:`Asking` is a part of :class:`~realtime_widget.client.client.RealtimeClient`: it sends
``response.create`` with an ``event_id`` kept by
:class:`~realtime_widget.client.requested.RequestedResponses` (so a refusal reaches whoever
asked), awaits an out-of-band response's result or a retrieved item, deletes items, and
creates ephemeral client secrets (:mod:`~realtime_widget.client.secrets`). Each wait ends
with its answer, the server's refusal (:class:`ServerError`), the end of the session
(:class:`ConnectionClosedError`) or its timeout (:class:`AnswerTimeoutError`).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from realtime_widget.client.decisions import Decisions, Reply
from realtime_widget.client.requested import RequestKind, ResponseResult
from realtime_widget.client.responsefields import response_fields
from realtime_widget.client.secrets import ClientSecret, create_client_secret
from realtime_widget.client.transport import Transport
from realtime_widget.core.checks import need_number
from realtime_widget.core.conversation import RealtimeConversation
from realtime_widget.core.errors import AnswerTimeoutError, ServerError, UsageError
from realtime_widget.core.ids import generate_id
from realtime_widget.core.protocol import ConversationItem, canonical_event_type
from realtime_widget.core.session import SessionConfig, session_payload
from realtime_widget.tools.registry import ToolRegistry

__all__ = ["Asking"]


def _item_id(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise UsageError(f"item_id must be a non-empty string, got {value!r}")
    return value


async def _wait(future: asyncio.Future[Any], timeout: float | None, what: str) -> Any:
    try:
        async with asyncio.timeout(timeout):
            return await future
    except TimeoutError:
        raise AnswerTimeoutError(f"no {what} within {timeout}s") from None


class Asking:
    """The client's requests that get an answer (see the module docstring)."""

    realtime: Transport
    conversation: RealtimeConversation
    config: SessionConfig
    tools: ToolRegistry
    session_type: Literal["realtime", "transcription"]
    _decisions: Decisions

    @property
    def rate_limits(self) -> list[dict[str, Any]] | None:
        """The last ``rate_limits.updated``'s limits (``{name, limit, remaining,
        reset_seconds}`` each), or ``None`` before the first."""
        return self._decisions.rate_limits

    def _when_ready(self, what: str, run: Callable[[], object], samples: int = 0) -> bool:
        raise NotImplementedError  # the client's: send now, or once the session is ready

    def _commit_if_manual(self) -> None:
        raise NotImplementedError  # the client's: in manual turns, commit the user's audio

    @functools.cached_property
    def _waiting(self) -> dict[str, tuple[str, asyncio.Future[Any]]]:
        """The waits under way by ``event_id``: what they wait for and their future."""
        return {}

    # -- responses --------------------------------------------------------------------

    def create_response(self, **fields: Any) -> bool:
        """Ask for a response; ``fields`` are the GA fields of ``response.create``'s
        ``response`` (``conversation``, ``input``, ``instructions``, ``metadata``,
        ``output_modalities``, ``audio``, ``tools``, ``tool_choice``, ``max_output_tokens``,
        ``prompt``, ``parallel_tool_calls``, ``reasoning``), checked: a bad one raises
        :class:`UsageError` naming it, before anything is sent. ``tool_choice={"type":
        "mcp", "server_label": ..., "name": ...}`` forces a tool of an MCP server of the
        session (or of the response's ``tools``); GA only.

        In manual turns a response in the conversation commits pending user audio first.
        A refusal (``conversation_already_has_active_response`` among others) is dispatched
        as an ``error``; nothing is asked again. Held until the session is ready. Returns
        ``True``; a transcription session asks for none (UsageError).
        """
        if self.session_type == "transcription":
            raise UsageError("a transcription session creates no responses")
        response = self._response_fields(fields)
        self._when_ready("create_response", functools.partial(self._ask_response, response))
        return True

    def _response_fields(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """``fields`` checked as :func:`response_fields` does, against the session's tools."""
        tools = self.config.get("model", "tools") or []
        return response_fields(fields, self.realtime.dialect, tools)

    def _ask_response(
        self,
        response: Mapping[str, Any] | None = None,
        kind: RequestKind = "asked",
        event_id: str | None = None,
    ) -> None:
        if self.session_type == "transcription":
            return  # its user messages are only kept
        response = response or {}
        out_of_band = response.get("conversation") == "none"
        if not out_of_band:
            self._commit_if_manual()
        event_id = self._decisions.requests.sent(
            kind, out_of_band=out_of_band, metadata=response.get("metadata"), event_id=event_id
        )
        payload: dict[str, Any] = {"event_id": event_id}
        if response:
            payload["response"] = dict(response)
        self.realtime.send("response.create", payload)

    async def respond_out_of_band(
        self,
        *,
        instructions: str | None = None,
        input: Sequence[Mapping[str, Any]] | None = None,
        metadata: Mapping[str, str] | None = None,
        output_modalities: Sequence[str] | None = None,
        timeout: float | None = 60.0,
        **fields: Any,
    ) -> ResponseResult:
        """A response outside the conversation (``conversation: "none"``), once finished.

        ``input`` (items, or ``{"type": "item_reference", "id": ...}``) replaces the
        conversation as its context; ``fields`` are the other fields of
        :meth:`create_response`. Its output items never enter the conversation (nor the
        widget, nor a replay): they are in the result, with ``formatted`` text, transcript
        and audio. Its function calls are returned, not run. Raises :class:`UsageError` for
        a bad field, :class:`ServerError` when the server refuses it (such as
        ``conversation_already_has_active_response``), :class:`ConnectionClosedError` when
        the session ends first and :class:`AnswerTimeoutError` after ``timeout`` seconds
        (``None``: no limit; the response may still run).
        """
        if self.session_type == "transcription":
            raise UsageError("a transcription session creates no responses")
        given = {
            "instructions": instructions,
            "input": None if input is None else list(input),
            "metadata": metadata,
            "output_modalities": None if output_modalities is None else list(output_modalities),
        }
        fields = {**fields, **{k: v for k, v in given.items() if v is not None}}
        fields["conversation"] = "none"
        response = self._response_fields(fields)
        seconds = self._timeout(timeout)
        event_id = generate_id("evt_")
        ask = functools.partial(self._ask_response, response, "awaited", event_id)
        future = self._wait_for(event_id, "response", "respond_out_of_band", ask)
        try:
            result: ResponseResult = await _wait(future, seconds, "response")
            return result
        finally:
            self._stop_waiting(future)

    # -- items ------------------------------------------------------------------------

    async def retrieve_item(self, item_id: str, timeout: float | None = 10.0) -> ConversationItem:
        """The server's item ``item_id`` (``conversation.item.retrieve``), as the
        conversation holds it once ``conversation.item.retrieved`` has merged it in (a user
        message's audio among it). Raises :class:`ServerError` when the server has no such
        item, :class:`ConnectionClosedError` when the session ends first and
        :class:`AnswerTimeoutError` after ``timeout`` seconds. Held until the session is
        ready."""
        item_id = _item_id(item_id)
        seconds = self._timeout(timeout)
        event_id = generate_id("evt_")
        payload = {"event_id": event_id, "item_id": item_id}
        send = functools.partial(self.realtime.send, "conversation.item.retrieve", payload)
        future = self._wait_for(event_id, item_id, "retrieve_item", send)
        try:
            item: ConversationItem = await _wait(future, seconds, f"item {item_id!r}")
            return item
        finally:
            self._stop_waiting(future)

    def delete_item(self, item_id: str) -> bool:
        """Delete item ``item_id`` (``conversation.item.delete``); the conversation drops it
        on ``conversation.item.deleted``, and a refusal is dispatched as an ``error``. Held
        until the session is ready. Returns ``True``."""
        payload = {"item_id": _item_id(item_id)}
        send = functools.partial(self.realtime.send, "conversation.item.delete", payload)
        self._when_ready("delete_item", send)
        return True

    # -- client secrets ---------------------------------------------------------------

    async def create_client_secret(
        self,
        expires_after: int | Mapping[str, Any] = 600,
        session: Mapping[str, Any] | None = None,
        *,
        timeout: float = 10.0,
    ) -> ClientSecret:
        """An ephemeral client secret for a session (``POST .../client_secrets`` beside the
        client's URL, with its credentials; see :mod:`~realtime_widget.client.secrets`).

        ``expires_after`` is seconds (10 to 7200) or ``{"anchor": "created_at", "seconds":
        n}``; ``session`` the GA session the secret opens (by default the client's, tools
        included). Needs no connection. Raises :class:`UsageError` for a bad argument or a
        client on a transport of its own, and the :class:`ConnectError` family when the
        server cannot be reached or refuses.
        """
        from realtime_widget.client.api import RealtimeAPI  # the HTTP request needs its URL

        if not isinstance(self.realtime, RealtimeAPI):
            raise UsageError("create_client_secret needs the client's own RealtimeAPI transport")
        if session is None:
            session = session_payload(self.config, "ga", tools=self.tools.definitions())
        elif not isinstance(session, Mapping):
            raise UsageError(f"session must be a dict, got {session!r}")
        return await create_client_secret(
            self.realtime.connect_url(),
            self.realtime.request_headers(),
            session=session,
            expiry=expires_after,
            timeout=timeout,
        )

    # -- the waits --------------------------------------------------------------------

    @staticmethod
    def _timeout(timeout: float | None) -> float | None:
        if timeout is None:
            return None
        return float(need_number("timeout", timeout, "a positive number or None", above=0))

    def _wait_for(
        self, event_id: str, wanted: str, what: str, send: Callable[[], object]
    ) -> asyncio.Future[Any]:
        """A wait for the answer to the event ``send`` sends (now, or once the session is
        ready); raises as :meth:`_when_ready` does, with nothing kept."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[event_id] = (wanted, future)
        try:
            self._when_ready(what, send)
        except BaseException:
            del self._waiting[event_id]
            raise
        return future

    def _stop_waiting(self, future: asyncio.Future[Any]) -> None:
        for event_id, (_, waiting) in list(self._waiting.items()):
            if waiting is future:
                del self._waiting[event_id]

    def _settle(self, reply: Reply, event: Mapping[str, Any]) -> bool:
        """End the waits ``event`` answers; ``True`` when it was the refusal of one (the
        error is then the waiter's, not reported)."""
        if not self._waiting:
            return False
        kind = canonical_event_type(str(event.get("type")))
        if kind == "conversation.item.retrieved":
            item = event.get("item")
            item_id = item.get("id") if isinstance(item, Mapping) else None
            held = self.conversation.get_item(str(item_id)) if item_id is not None else None
            for wanted, future in list(self._waiting.values()):
                if wanted == item_id and not future.done():
                    future.set_result(held if held is not None else dict(item or {}))
            return False
        if kind == "error":
            details = event.get("error")
            refused = details.get("event_id") if isinstance(details, Mapping) else None
            waited = self._waiting.get(reply.answered or str(refused))
            if waited is None or waited[1].done():
                return False
            waited[1].set_exception(reply.error or ServerError(dict(event)))
            return True
        if reply.answered is not None and kind == "response.done":
            waited = self._waiting.get(reply.answered)
            if waited is not None and not waited[1].done():
                waited[1].set_result(self._result(event))
        return False

    def _result(self, event: Mapping[str, Any]) -> ResponseResult:
        response = event.get("response")
        response_id = str(response.get("id")) if isinstance(response, Mapping) else ""
        kept = self.conversation.get_response(response_id) or dict(response or {})
        items = []
        for item_id in kept.get("output") or ():
            item = self.conversation.get_out_of_band_item(item_id) or self.conversation.get_item(
                item_id
            )
            if item is not None:
                items.append(item)
        return ResponseResult.of(kept, items)

    def _fail_waiting(self, error: BaseException) -> None:
        """The session is over: every wait ends with ``error``."""
        self._decisions.requests.end_session()
        for _, future in self._waiting.values():
            if not future.done():
                future.set_exception(error)
        self._waiting.clear()
