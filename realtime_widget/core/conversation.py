"""`RealtimeConversation`: a pure state machine from server events to conversation items.

Rules:

- ``process_event(event[, input_audio_buffer])`` applies one server event (a plain dict,
  GA or beta names) and returns ``(item, delta)``: the item it touched (the stored dict, not a
  copy) and what was appended to it (``{"audio": int16 array}``, ``{"text": s}``,
  ``{"transcript": s}`` or ``{"arguments": s}``). Events that set or replace a value (the
  ``.done`` events, transcription ``.completed``, truncation) return no delta: read the item
  (the one exception is an audio decoder's tail, below).
  Events that touch no item (and unknown event types) return ``(None, None)``.
- Beta event names are mapped to GA names, and content part types to GA types (``text`` ->
  ``output_text``, ``audio`` -> ``output_audio``) in the stored items, so the same stream in
  either dialect gives identical items.
- An item is the server's item dict (copied) plus ``formatted``: ``audio`` (an
  :class:`AudioBuffer`), ``text``, ``transcript``, ``tool`` (function calls:
  ``{type: "function", name, call_id, arguments}``; MCP tool calls: ``{type: "mcp", name,
  server_label, arguments}``), ``output`` (function call outputs and MCP tool calls) and,
  after a failed input transcription, ``transcription_error`` (the server's ``error`` dict).
- ``conversation.item.added`` / ``.created`` / ``.retrieved`` and
  ``response.output_item.added`` create the item when it is new. When it is already held they
  merge into it: the creation events only fill in what is missing and advance the status;
  ``.retrieved``, like ``conversation.item.done`` and ``response.output_item.done``, carries
  the final state, which wins (except that a ``null`` never erases a value). Streamed values
  are never reset by a late duplicate.
- Every other event naming an item the conversation does not hold raises
  :class:`UnknownItemError`, with three exceptions. Input transcriptions (``.delta``,
  ``.completed``, ``.failed``) may arrive before their item: they are kept and applied when
  it appears; the user's speech audio (from ``speech_started`` / ``speech_stopped``) and the
  audio given to :meth:`queue_input_audio` or :meth:`expect_item` wait for their item the
  same way, within the bounds of :mod:`realtime_widget.core.early`. ``response.created`` and
  ``response.done`` keep the response (status, usage, output ids; the last
  :data:`MAX_RESPONSES`, so a server that never finishes its responses cannot grow it).
  ``response.done`` merges its output items into the items held and adds none (an item it
  names that is not held, such as the output of a response outside the conversation, is
  only listed by id in the response). The
  ``mcp_list_tools.*`` events set the status of the tool list item when it is held, and
  are ignored when it is not (the list may be reported before its item).
- MCP tool calls stream like function calls: ``response.mcp_call_arguments.delta`` /
  ``.done`` build the arguments, ``response.mcp_call.in_progress`` / ``.completed`` /
  ``.failed`` set the item's status (``in_progress`` never replaces a final status).
  ``conversation.item.input_audio_transcription.segment`` changes nothing: its text also
  comes in the transcription deltas and ``.completed``, and handlers see the event itself.
- A malformed event raises :class:`InvalidEventError` naming the field. Every event is checked
  before anything changes, so after any error the conversation is exactly as before. No other
  exception escapes, except :class:`UsageError` when ``input_audio_buffer`` is not an
  :class:`InputAudioBuffer`.
- ``speech_stopped`` slices the utterance out of ``input_audio_buffer`` by session-absolute
  milliseconds, then lets the buffer drop audio older than ``keep_input_ms`` before the end
  of the utterance, unless a speech still open needs it (``keep_input_ms=None`` never drops).
  A speech still open whose start the buffer no longer holds keeps nothing back.
  ``input_audio_buffer.cleared`` drops what the server dropped: the speeches still open
  (their ``speech_stopped`` will not come) and the uncommitted audio, but for the last
  ``keep_input_ms``. :meth:`reset_input` forgets every pending input record for a new
  session.
- A streamed string (text, transcript, arguments) may grow to :data:`MAX_ITEM_TEXT`
  characters; a delta that would take it further is refused with
  :class:`InvalidEventError` naming the item.
- Costs are constant per event however long the session: audio is appended in chunks, and
  streamed strings grow in place (see :func:`append_str`).
- Audio is base64 PCM16, unless an ``audio_decoder`` (:class:`~realtime_widget.audio.formats.
  AudioDecoder`) reads the session's wire format: it decodes each audio delta and each
  ``input_audio`` part to int16, and on ``response.output_audio.done`` returns what it still
  held, appended to the item and returned as that event's delta (``{"audio": tail}``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final, TypedDict

import numpy as np

from realtime_widget.audio.buffers import AudioBuffer, InputAudioBuffer, Int16Array
from realtime_widget.audio.formats import decode_clip
from realtime_widget.core.early import EarlySpeech, EarlyTranscripts, SpeechRecord, TranscriptRecord
from realtime_widget.core.errors import InvalidEventError, UnknownItemError, UsageError
from realtime_widget.core.eventfields import (
    AUDIO_PARTS,
    MAX_ITEM_TEXT,
    MISSING,
    TEXT_PARTS,
    ConversationItem,
    append_str,
    bad,
    content_index,
    copy_item,
    copy_part,
    decode_pcm16,
    is_empty,
    item_audio,
    joined,
    merge_part,
    merge_parts,
    need_dict,
    need_ms,
    need_room,
    need_str,
    short,
    sync_formatted,
)
from realtime_widget.core.protocol import AudioFormat, canonical_event_type

if TYPE_CHECKING:
    from realtime_widget.audio.formats import AudioDecoder

__all__ = [
    "MAX_ITEM_TEXT",
    "MAX_PENDING_AUDIO_SECONDS",
    "MAX_RESPONSES",
    "ConversationItem",
    "Delta",
    "Formatted",
    "RealtimeConversation",
]


class Formatted(TypedDict, total=False):
    """The ``formatted`` value of an item: its content, decoded and joined."""

    audio: AudioBuffer
    text: str
    transcript: str
    tool: dict[str, str]
    output: str
    transcription_error: dict[str, Any]


class Delta(TypedDict, total=False):
    """What an event appended to an item."""

    audio: Int16Array
    text: str
    transcript: str
    arguments: str


Result = tuple[ConversationItem | None, Delta | None]
_Event = dict[str, Any]
_Buffer = InputAudioBuffer | None

_FINAL_STATUSES: Final = frozenset({"completed", "incomplete", "cancelled", "failed"})

MAX_PENDING_AUDIO_SECONDS: Final = 120
"""How much user audio may wait for items not held yet, in all (the newest always stays)."""

MAX_RESPONSES: Final = 1024
"""How many responses :meth:`RealtimeConversation.get_response` remembers; past it the
oldest is forgotten (its items stay)."""


# -- the conversation --------------------------------------------------------------------------


class RealtimeConversation:
    """The items of one realtime conversation, built from server events.

    ``sample_rate`` is the rate of the PCM16 audio (24 kHz for the Realtime API).
    ``keep_input_ms`` is how much input audio before the end of an utterance is kept in the
    input buffer after ``speech_stopped`` (``None`` keeps everything). ``audio_decoder``
    reads audio in the session's wire format (``None``: base64 PCM16).
    """

    def __init__(
        self,
        sample_rate: int = 24_000,
        *,
        keep_input_ms: int | None = 1_000,
        audio_decoder: AudioDecoder | None = None,
    ) -> None:
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
            raise UsageError(f"sample_rate must be a positive int, got {sample_rate!r}")
        if keep_input_ms is not None and (
            isinstance(keep_input_ms, bool)
            or not isinstance(keep_input_ms, int)
            or keep_input_ms < 0
        ):
            raise UsageError(f"keep_input_ms must be a non-negative int, got {keep_input_ms!r}")
        self.sample_rate = sample_rate
        self.keep_input_ms = keep_input_ms
        self.audio_decoder = audio_decoder
        self._items: dict[str, ConversationItem] = {}
        self._responses: dict[str, dict[str, Any]] = {}
        self._speech = EarlySpeech(max_samples=MAX_PENDING_AUDIO_SECONDS * sample_rate)
        self._transcripts = EarlyTranscripts()
        self._queued_audio: Int16Array | None = None

    # -- queries ----------------------------------------------------------------------------

    def get_item(self, item_id: str) -> ConversationItem | None:
        """The item with ``item_id`` (the stored dict), or ``None``."""
        return self._items.get(item_id)

    def get_items(self) -> list[ConversationItem]:
        """Every item, in conversation order (the stored dicts; treat them as read-only)."""
        return list(self._items.values())

    def get_response(self, response_id: str) -> dict[str, Any] | None:
        """The response with ``response_id``: the server's dict, ``output`` as item ids
        (``None`` for one never seen, or one of more than :data:`MAX_RESPONSES` ago)."""
        return self._responses.get(response_id)

    def __contains__(self, item_id: object) -> bool:
        return isinstance(item_id, str) and item_id in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"RealtimeConversation({len(self._items)} items, {len(self._responses)} responses)"

    # -- commands ---------------------------------------------------------------------------

    def clear(self) -> None:
        """Forget every item, response, pending transcript and pending audio."""
        self._items.clear()
        self._responses.clear()
        self.reset_input()

    def reset_input(self) -> None:
        """Forget the pending input state and keep the items and responses.

        Drops the speeches still open, the speech audio and transcriptions waiting for their
        items and the audio given to :meth:`queue_input_audio`. For a new session (a
        reconnect): its input audio offsets count from zero again, and what the old session
        left pending will never meet its item.
        """
        self._speech.clear()
        self._transcripts.clear()
        self._queued_audio = None

    def close_in_progress(self) -> list[ConversationItem]:
        """Mark every item still ``in_progress`` as ``incomplete`` and return them.

        For when the session they streamed in is lost: nothing will finish them now.
        """
        closed = [item for item in self._items.values() if item.get("status") == "in_progress"]
        for item in closed:
            item["status"] = "incomplete"
        return closed

    def queue_input_audio(self, samples: Any) -> None:
        """Keep int16 ``samples`` (copied) for the next user audio message item.

        In manual turns the client commits the input buffer itself: the audio goes to the item
        of the next ``input_audio_buffer.committed``, or else to the next user message item
        created with an ``input_audio`` part. Raises :class:`UsageError` unless ``samples`` is
        a 1-D int16 array (or an :class:`AudioBuffer`).
        """
        try:
            array = np.asarray(samples)
        except (TypeError, ValueError):  # ragged sequences and the like
            raise UsageError(
                f"input audio must be a 1-D int16 array, got {short(samples)}"
            ) from None
        if array.dtype != np.int16 or array.ndim != 1:
            raise UsageError(
                f"input audio must be a 1-D int16 array, got {array.dtype} {array.shape}"
            )
        self._queued_audio = array.copy()

    def expect_item(self, item: dict[str, Any], audio_format: AudioFormat = "pcm16") -> None:
        """Keep the audio of a user item this side is about to create, for when it arrives.

        ``item`` is the ``item`` of a ``conversation.item.create`` (with its ``id``); its
        ``input_audio`` parts are read in ``audio_format``, the format they were encoded in.
        The server's echo of such an item carries no audio, so the item it adds gets these
        samples (an item already held with no audio gets them at once). Bounded with the
        speech audio waiting for its items. Raises :class:`InvalidEventError` for an item
        that is not a valid one.
        """
        etype = "conversation.item.create"
        checked = copy_item(etype, item)
        audio = item_audio(
            etype, checked, "item", lambda e, f, data: decode_clip(data, audio_format, e, f)
        )
        if audio is not None and audio.size:
            self._give_audio(checked["id"], SpeechRecord(audio=audio))

    def process_event(self, event: dict[str, Any], *args: Any) -> Result:
        """Apply one server event; returns ``(item, delta)`` (see the module rules).

        ``args[0]``, when given and not ``None``, is the session's :class:`InputAudioBuffer`:
        ``input_audio_buffer.speech_stopped`` slices the utterance out of it and drops audio no
        longer needed. Raises :class:`InvalidEventError` for a malformed event,
        :class:`UnknownItemError` for an event naming an item not held, and
        :class:`UsageError` for an ``args[0]`` that is not an input buffer; the conversation
        is unchanged after any of them.
        """
        event = need_dict(None, event, "event")
        etype = event.get("type", MISSING)
        if not isinstance(etype, str):
            raise bad(None, "type", etype, "a string")
        buffer = args[0] if args else None
        if buffer is not None and not isinstance(buffer, InputAudioBuffer):
            raise UsageError(f"input audio buffer must be an InputAudioBuffer, got {short(buffer)}")
        processor = _PROCESSORS.get(canonical_event_type(etype))
        if processor is None:
            return None, None
        return processor(self, etype, event, buffer)

    # -- helpers ----------------------------------------------------------------------------

    def _known(self, etype: str, event: dict[str, Any]) -> ConversationItem:
        item_id = need_str(etype, event, "item_id")
        item = self._items.get(item_id)
        if item is None:
            raise UnknownItemError(etype, item_id)
        return item

    def _part(self, etype: str, event: dict[str, Any], item: ConversationItem) -> dict[str, Any]:
        index = content_index(etype, event)
        content = item.get("content") or ()
        if index >= len(content):
            raise InvalidEventError(
                etype,
                "content_index",
                f"is out of range: {short(index)} (item has {len(content)} parts)",
            )
        part: dict[str, Any] = content[index]
        return part

    def _give_audio(self, item_id: str, speech: SpeechRecord) -> ConversationItem | None:
        """Give ``speech``'s audio to item ``item_id`` when it is held and has none, or keep
        it until the item arrives; returns the held item, if any."""
        item = self._items.get(item_id)
        if item is None:
            self._speech.put(item_id, speech)
            return None
        self._speech.pop(item_id)
        if speech.audio is not None and not len(item["formatted"]["audio"]):
            item["formatted"]["audio"].append(speech.audio)
        return item

    def _samples(self, ms: float) -> int:
        return int(ms * self.sample_rate // 1000)

    def _create(self, item: ConversationItem, previous_id: object) -> None:
        """Store a checked new item (``formatted`` set) after ``previous_id`` or at the end."""
        item_id: str = item["id"]
        formatted = item["formatted"]
        kind, role = item.get("type"), item.get("role")
        if item.get("status") is None:
            if kind == "message":
                item["status"] = "in_progress" if role == "assistant" else "completed"
            elif kind == "function_call":
                item["status"] = "in_progress"
            elif kind == "function_call_output":
                item["status"] = "completed"
        speech = self._speech.get(item_id)
        if speech is not None and not speech.is_open:
            self._speech.pop(item_id)
            if speech.audio is not None and not len(formatted["audio"]):
                formatted["audio"].append(speech.audio)
        elif speech is None and (
            self._queued_audio is not None
            and kind == "message"
            and role == "user"
            and not len(formatted["audio"])
            and any(p.get("type") == "input_audio" for p in item.get("content") or ())
        ):
            formatted["audio"].append(self._queued_audio)
            self._queued_audio = None
        pending = self._transcripts.pop(item_id)
        if pending is not None:
            self._apply_transcript(item, pending)
        if (
            isinstance(previous_id, str)
            and previous_id in self._items
            and previous_id != next(reversed(self._items))
        ):
            # Rare (an item inserted mid-conversation): rebuild the ordered dict once.
            rebuilt: dict[str, ConversationItem] = {}
            for key, value in self._items.items():
                rebuilt[key] = value
                if key == previous_id:
                    rebuilt[item_id] = item
            self._items = rebuilt
        else:
            self._items[item_id] = item

    def _apply_transcript(self, item: ConversationItem, pending: TranscriptRecord) -> None:
        formatted = item["formatted"]
        text = pending.text
        if text is not None:
            formatted["transcript"] = text
            content = item.get("content") or ()
            if pending.content_index is not None and pending.content_index < len(content):
                content[pending.content_index]["transcript"] = text
        if pending.error is not None:
            formatted["transcription_error"] = pending.error

    def _new_item(self, etype: str, value: object, field: str = "item") -> ConversationItem:
        """A checked copy of ``value`` with a fresh ``formatted``; raises before any change."""
        item = copy_item(etype, value, field)
        decode = decode_pcm16 if self.audio_decoder is None else self.audio_decoder.decode_clip
        audio = item_audio(etype, item, field, decode)
        formatted: Formatted = {
            "audio": AudioBuffer(audio),
            "text": "",
            "transcript": "",
        }
        item["formatted"] = formatted
        sync_formatted(item, final=False)
        return item

    def _upsert(
        self, etype: str, value: object, *, final: bool, previous_id: object = None
    ) -> ConversationItem:
        """Create the item ``value`` or merge it into the stored one; returns the stored item."""
        incoming = self._new_item(etype, value)
        stored = self._items.get(incoming["id"])
        if stored is None:
            self._create(incoming, previous_id)
            return incoming
        self._merge(stored, incoming, final=final)
        return stored

    @staticmethod
    def _merge(stored: ConversationItem, incoming: ConversationItem, *, final: bool) -> None:
        """Merge a checked ``incoming`` copy into ``stored`` (cannot fail)."""
        for key, value in incoming.items():
            if key in ("formatted", "content") or value is None:
                continue
            current = stored.get(key)
            if key == "status":
                if final or not (current in _FINAL_STATUSES and value == "in_progress"):
                    stored[key] = value
            elif final or is_empty(current):
                stored[key] = value
        parts = incoming.get("content")
        if parts is not None:
            content = stored.get("content")
            if content is None:
                stored["content"] = parts
            else:
                merge_parts(content, parts, final)
        formatted = stored["formatted"]
        audio = incoming["formatted"]["audio"]
        if len(audio) and not len(formatted["audio"]):
            formatted["audio"] = audio
        sync_formatted(stored, final=final)

    # -- items ------------------------------------------------------------------------------

    def _on_item_created(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        value = event.get("item", MISSING)
        return self._upsert(
            etype, value, final=False, previous_id=event.get("previous_item_id")
        ), None

    def _on_item_retrieved(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        return self._upsert(etype, event.get("item", MISSING), final=True), None

    def _on_item_done(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        incoming = self._new_item(etype, event.get("item", MISSING))
        stored = self._items.get(incoming["id"])
        if stored is None:
            raise UnknownItemError(etype, incoming["id"])
        self._merge(stored, incoming, final=True)
        return stored, None

    def _on_item_truncated(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        item = self._known(etype, event)
        part = self._part(etype, event, item)
        end_ms = need_ms(etype, event, "audio_end_ms")
        formatted = item["formatted"]
        formatted["audio"].truncate(self._samples(end_ms))
        if self.audio_decoder is not None:
            self.audio_decoder.discard(item["id"])  # held back past the cut: never heard
        # The server drops the transcript of a truncated audio part.
        formatted["transcript"] = ""
        if part.get("type") in AUDIO_PARTS or "transcript" in part:
            part["transcript"] = ""
        return item, None

    def _on_item_deleted(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        item = self._known(etype, event)
        item_id: str = item["id"]
        del self._items[item_id]
        if self.audio_decoder is not None:
            self.audio_decoder.discard(item_id)
        self._speech.pop(item_id)
        self._transcripts.pop(item_id)
        return item, None

    # -- input transcription ----------------------------------------------------------------

    def _transcript_target(
        self, etype: str, event: dict[str, Any]
    ) -> tuple[str, ConversationItem | None, dict[str, Any] | None, int | None]:
        """``(item_id, item or None, part or None, content_index or None)``, all checked."""
        item_id = need_str(etype, event, "item_id")
        index = content_index(etype, event) if event.get("content_index") is not None else None
        item = self._items.get(item_id)
        part = self._part(etype, event, item) if item is not None and index is not None else None
        return item_id, item, part, index

    def _on_transcription_delta(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        delta = need_str(etype, event, "delta")
        item_id, item, part, index = self._transcript_target(etype, event)
        if item is None:
            self._transcripts.append(etype, item_id, delta, index)
            return None, None
        need_room(etype, item, item["formatted"]["transcript"], delta)
        append_str(item["formatted"], "transcript", delta)
        if part is not None:
            append_str(part, "transcript", delta)
        return item, {"transcript": delta}

    def _on_transcription_completed(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        transcript = need_str(etype, event, "transcript")
        item_id, item, part, index = self._transcript_target(etype, event)
        if item is None:
            self._transcripts.replace(etype, item_id, transcript, index)
            return None, None
        item["formatted"]["transcript"] = transcript
        if part is not None:
            part["transcript"] = transcript
        return item, None

    def _on_transcription_failed(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        error = dict(need_dict(etype, event.get("error", MISSING), "error"))
        item_id, item, _, _ = self._transcript_target(etype, event)
        if item is None:
            self._transcripts.fail(item_id, error)
            return None, None
        item["formatted"]["transcription_error"] = error
        return item, None

    # -- input audio ------------------------------------------------------------------------

    def _on_speech_started(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        item_id = need_str(etype, event, "item_id")
        start_ms = need_ms(etype, event, "audio_start_ms")
        self._speech.put(item_id, SpeechRecord(start_ms=start_ms))
        return None, None

    def _on_speech_stopped(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        item_id = need_str(etype, event, "item_id")
        end_ms = need_ms(etype, event, "audio_end_ms")
        speech = self._speech.get(item_id) or SpeechRecord()
        start_ms = speech.start_ms
        if start_ms is not None and end_ms < start_ms:
            raise InvalidEventError(
                etype, "audio_end_ms", f"is before audio_start_ms ({end_ms} < {start_ms})"
            )
        audio = None
        end = self._samples(end_ms)
        if buffer is not None and start_ms is not None:
            audio = buffer.slice(self._samples(start_ms), end)
        item = self._give_audio(item_id, replace(speech, end_ms=end_ms, audio=audio))
        if buffer is not None:
            self._drop_input(buffer, end)
        return item, None

    def _on_cleared(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        self._speech.drop_open()
        if buffer is not None:
            self._drop_input(buffer, buffer.end)
        return None, None

    def _drop_input(self, buffer: InputAudioBuffer, end: int) -> None:
        """Let ``buffer`` drop audio older than ``keep_input_ms`` before sample ``end``,
        except what a speech still open needs (unless its start is gone already)."""
        if self.keep_input_ms is None:
            return
        horizon = end - self._samples(self.keep_input_ms)
        kept_from = buffer.start
        for start_ms in self._speech.open_starts():
            start = self._samples(start_ms)
            if kept_from <= start < horizon:
                horizon = start
        buffer.discard_before(horizon)

    def _on_committed(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        item_id = need_str(etype, event, "item_id")
        if self._queued_audio is not None and item_id not in self._items:
            speech = self._speech.get(item_id) or SpeechRecord()
            if speech.audio is None:
                self._speech.put(item_id, replace(speech, audio=self._queued_audio))
                self._queued_audio = None
        return None, None

    # -- responses --------------------------------------------------------------------------

    def _copy_response(
        self, etype: str, event: dict[str, Any]
    ) -> tuple[dict[str, Any], list[ConversationItem]]:
        """A checked copy of ``event["response"]`` (``output`` as ids) and its output items."""
        response = dict(need_dict(etype, event.get("response", MISSING), "response"))
        response_id = response.get("id", MISSING)
        if not isinstance(response_id, str) or not response_id:
            raise bad(etype, "response.id", response_id, "a non-empty string")
        output = response.get("output")
        items: list[ConversationItem] = []
        if output is not None:
            if not isinstance(output, list):
                raise bad(etype, "response.output", output, "a list")
            ids = []
            for i, entry in enumerate(output):
                if isinstance(entry, str):
                    ids.append(entry)
                    continue
                item = self._new_item(etype, entry, f"response.output[{i}]")
                items.append(item)
                ids.append(item["id"])
            response["output"] = ids
        return response, items

    def _on_response_created(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        response, _ = self._copy_response(etype, event)
        stored = self._responses.get(response["id"])
        if stored is None:
            response.setdefault("output", [])
            self._remember(response)
            return None, None
        output = stored.get("output") or []
        for key, value in response.items():
            if key != "output" and value is not None:
                stored[key] = value
        stored["output"] = output + [i for i in response.get("output") or () if i not in output]
        return None, None

    def _remember(self, response: dict[str, Any]) -> dict[str, Any]:
        responses = self._responses
        responses[response["id"]] = response
        if len(responses) > MAX_RESPONSES:
            del responses[next(iter(responses))]
        return response

    def _on_response_done(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        response, items = self._copy_response(etype, event)
        stored = self._responses.get(response["id"])
        if stored is None:
            stored = self._remember({"id": response["id"], "output": []})
        for key, value in response.items():
            if value is not None or key not in stored:
                stored[key] = value
        # The final output items carry the final status of items cut short by a cancel.
        for item in items:
            known = self._items.get(item["id"])
            if known is not None:
                self._merge(known, item, final=True)
        return None, None

    def _on_output_item_added(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        response_id = event.get("response_id")
        if response_id is not None and not isinstance(response_id, str):
            raise bad(etype, "response_id", response_id, "a string")
        item = self._upsert(etype, event.get("item", MISSING), final=False)
        response = self._responses.get(response_id) if response_id is not None else None
        if response is not None:
            output = response.setdefault("output", [])
            if item["id"] not in output:
                output.append(item["id"])
        return item, None

    def _on_content_part(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        item = self._known(etype, event)
        index = content_index(etype, event)
        part = copy_part(etype, event.get("part", MISSING), "part")
        content = item.get("content")
        size = len(content) if content is not None else 0
        if index > size:
            raise InvalidEventError(
                etype, "content_index", f"is out of range: {short(index)} (item has {size} parts)"
            )
        final = etype.endswith(".done")
        if content is None:
            item["content"] = [part]
        elif index == size:
            content.append(part)
        else:
            content[index] = merge_part(content[index], part, final)
        sync_formatted(item, final=final)
        return item, None

    # -- streamed output --------------------------------------------------------------------

    def _on_text_delta(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        item = self._known(etype, event)
        part = self._part(etype, event, item)
        delta = need_str(etype, event, "delta")
        need_room(etype, item, item["formatted"]["text"], delta)
        append_str(part, "text", delta)
        append_str(item["formatted"], "text", delta)
        return item, {"text": delta}

    def _on_transcript_delta(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        item = self._known(etype, event)
        part = self._part(etype, event, item)
        delta = need_str(etype, event, "delta")
        need_room(etype, item, item["formatted"]["transcript"], delta)
        append_str(part, "transcript", delta)
        append_str(item["formatted"], "transcript", delta)
        return item, {"transcript": delta}

    def _on_audio_delta(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        item = self._known(etype, event)
        self._part(etype, event, item)
        data = need_str(etype, event, "delta")
        decoder = self.audio_decoder
        chunk = (
            decode_pcm16(etype, "delta", data)
            if decoder is None
            else decoder.decode(etype, item["id"], data)
        )
        item["formatted"]["audio"].append(chunk)
        return item, {"audio": chunk}

    def _on_arguments_delta(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        item = self._known(etype, event)
        delta = need_str(etype, event, "delta")
        tool = self._tool(etype, item)
        need_room(etype, item, item.get("arguments"), delta)
        need_room(etype, item, tool["arguments"], delta)
        append_str(item, "arguments", delta)
        append_str(tool, "arguments", delta)
        return item, {"arguments": delta}

    def _tool(self, etype: str, item: ConversationItem) -> dict[str, str]:
        """The ``formatted["tool"]`` of the call ``etype`` streams (a function or MCP call)."""
        kind = "mcp_call" if etype.startswith("response.mcp_call") else "function_call"
        tool: dict[str, str] | None = item["formatted"].get("tool")
        if tool is None or item.get("type") != kind:
            what = "an MCP tool call" if kind == "mcp_call" else "a function call"
            raise InvalidEventError(
                etype, "item_id", f"names a {short(item.get('type'))} item, not {what}"
            )
        return tool

    def _on_text_done(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        return self._set_part(etype, event, "text", TEXT_PARTS)

    def _on_transcript_done(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        return self._set_part(etype, event, "transcript", AUDIO_PARTS)

    def _set_part(
        self, etype: str, event: dict[str, Any], key: str, kinds: frozenset[str]
    ) -> Result:
        item = self._known(etype, event)
        part = self._part(etype, event, item)
        value = need_str(etype, event, key)
        part[key] = value
        item["formatted"][key] = joined(item["content"], kinds, key) or value
        return item, None

    def _on_audio_done(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        item = self._known(etype, event)
        self._part(etype, event, item)
        tail = self.audio_decoder.finish(item["id"]) if self.audio_decoder else None
        if tail is not None and tail.size:
            item["formatted"]["audio"].append(tail)
            return item, {"audio": tail}
        return item, None

    def _on_arguments_done(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        item = self._known(etype, event)
        arguments = need_str(etype, event, "arguments")
        tool = self._tool(etype, item)
        item["arguments"] = arguments
        tool["arguments"] = arguments
        return item, None

    # -- MCP --------------------------------------------------------------------------------

    def _on_mcp_call_status(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        item = self._known(etype, event)
        self._tool(etype, item)
        self._set_status(item, etype.rsplit(".", 1)[1])
        return item, None

    def _on_mcp_list_tools_status(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        item_id = need_str(etype, event, "item_id")
        item = self._items.get(item_id)
        if item is None:
            return None, None
        if item.get("type") != "mcp_list_tools":
            raise InvalidEventError(
                etype, "item_id", f"names a {short(item.get('type'))} item, not an MCP tool list"
            )
        self._set_status(item, etype.rsplit(".", 1)[1])
        return item, None

    @staticmethod
    def _set_status(item: ConversationItem, status: str) -> None:
        if status != "in_progress" or item.get("status") not in _FINAL_STATUSES:
            item["status"] = status


_Processor = Callable[[RealtimeConversation, str, dict[str, Any], InputAudioBuffer | None], Result]
_PROCESSORS: dict[str, _Processor] = {
    "conversation.item.added": RealtimeConversation._on_item_created,
    "conversation.item.created": RealtimeConversation._on_item_created,
    "conversation.item.retrieved": RealtimeConversation._on_item_retrieved,
    "conversation.item.done": RealtimeConversation._on_item_done,
    "conversation.item.truncated": RealtimeConversation._on_item_truncated,
    "conversation.item.deleted": RealtimeConversation._on_item_deleted,
    "conversation.item.input_audio_transcription.delta": (
        RealtimeConversation._on_transcription_delta
    ),
    "conversation.item.input_audio_transcription.completed": (
        RealtimeConversation._on_transcription_completed
    ),
    "conversation.item.input_audio_transcription.failed": (
        RealtimeConversation._on_transcription_failed
    ),
    "input_audio_buffer.speech_started": RealtimeConversation._on_speech_started,
    "input_audio_buffer.speech_stopped": RealtimeConversation._on_speech_stopped,
    "input_audio_buffer.committed": RealtimeConversation._on_committed,
    "response.created": RealtimeConversation._on_response_created,
    "response.done": RealtimeConversation._on_response_done,
    "response.output_item.added": RealtimeConversation._on_output_item_added,
    "response.output_item.done": RealtimeConversation._on_item_done,
    "response.content_part.added": RealtimeConversation._on_content_part,
    "response.content_part.done": RealtimeConversation._on_content_part,
    "response.output_text.delta": RealtimeConversation._on_text_delta,
    "response.output_text.done": RealtimeConversation._on_text_done,
    "response.output_audio.delta": RealtimeConversation._on_audio_delta,
    "response.output_audio.done": RealtimeConversation._on_audio_done,
    "response.output_audio_transcript.delta": RealtimeConversation._on_transcript_delta,
    "response.output_audio_transcript.done": RealtimeConversation._on_transcript_done,
    "response.function_call_arguments.delta": RealtimeConversation._on_arguments_delta,
    "response.function_call_arguments.done": RealtimeConversation._on_arguments_done,
    "input_audio_buffer.cleared": RealtimeConversation._on_cleared,
    "response.mcp_call_arguments.delta": RealtimeConversation._on_arguments_delta,
    "response.mcp_call_arguments.done": RealtimeConversation._on_arguments_done,
    "response.mcp_call.in_progress": RealtimeConversation._on_mcp_call_status,
    "response.mcp_call.completed": RealtimeConversation._on_mcp_call_status,
    "response.mcp_call.failed": RealtimeConversation._on_mcp_call_status,
    "mcp_list_tools.in_progress": RealtimeConversation._on_mcp_list_tools_status,
    "mcp_list_tools.completed": RealtimeConversation._on_mcp_list_tools_status,
    "mcp_list_tools.failed": RealtimeConversation._on_mcp_list_tools_status,
}
