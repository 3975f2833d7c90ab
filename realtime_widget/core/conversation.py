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
  names that is not held is only listed by id in the response). The
  ``mcp_list_tools.*`` events set the status of the tool list item when it is held, and
  are ignored when it is not (the list may be reported before its item).
- MCP tool calls stream like function calls: ``response.mcp_call_arguments.delta`` /
  ``.done`` build the arguments, ``response.mcp_call.in_progress`` / ``.completed`` /
  ``.failed`` set the item's status (``in_progress`` never replaces a final status).
  A transcription ``.segment`` goes to ``formatted["segments"]`` (see :mod:`.segments`).
  ``input_audio_buffer.timeout_triggered`` is a speech from its start to its end.
- A response outside the conversation (an out-of-band one: its ``response.created`` says
  ``conversation_id`` null) streams into items kept apart: its events return
  ``(None, None)``, its items are never among :meth:`get_items` (so never replayed) and are
  read with :meth:`get_out_of_band_item` (the last :data:`MAX_OUT_OF_BAND_ITEMS`).
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
from typing import TYPE_CHECKING, Any, Final, cast

import numpy as np

from realtime_widget.audio.buffers import InputAudioBuffer
from realtime_widget.audio.formats import decode_clip
from realtime_widget.core import streamed
from realtime_widget.core.early import EarlySpeech, EarlyTranscripts, SpeechRecord
from realtime_widget.core.errors import InvalidEventError, UnknownItemError, UsageError
from realtime_widget.core.eventfields import (
    AUDIO_PARTS,
    MAX_ITEM_TEXT,
    MISSING,
    append_str,
    bad,
    content_index,
    copy_item,
    item_audio,
    need_dict,
    need_ms,
    need_room,
    need_str,
    short,
)
from realtime_widget.core.inputspeech import InputSpeech
from realtime_widget.core.items import (
    apply_transcript,
    merge_item,
    new_item,
    set_status,
    settle_status,
)
from realtime_widget.core.protocol import (
    AudioFormat,
    ConversationItem,
    Delta,
    Formatted,
    Response,
    canonical_event_type,
)
from realtime_widget.core.responselog import (
    MAX_OUT_OF_BAND_ITEMS,
    MAX_RESPONSES,
    OutOfBandItems,
    ResponseLog,
    copy_response,
)
from realtime_widget.core.segments import add_segment
from realtime_widget.core.streamed import part_of

if TYPE_CHECKING:
    from realtime_widget.audio.formats import AudioDecoder

__all__ = [
    "MAX_ITEM_TEXT",
    "MAX_OUT_OF_BAND_ITEMS",
    "MAX_PENDING_AUDIO_SECONDS",
    "MAX_RESPONSES",
    "ConversationItem",
    "Delta",
    "Formatted",
    "RealtimeConversation",
]

Result = tuple[ConversationItem | None, Delta | None]
_Event = dict[str, Any]
_Buffer = InputAudioBuffer | None

MAX_PENDING_AUDIO_SECONDS: Final = 120
"""How much user audio may wait for items not held yet, in all (the newest always stays)."""


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
        if keep_input_ms is not None and (type(keep_input_ms) is not int or keep_input_ms < 0):
            raise UsageError(f"keep_input_ms must be a non-negative int, got {keep_input_ms!r}")
        self.audio_decoder = audio_decoder
        self._items: dict[str, ConversationItem] = {}
        self._responses = ResponseLog()
        self._outside = OutOfBandItems()
        self._speech = EarlySpeech(max_samples=MAX_PENDING_AUDIO_SECONDS * sample_rate)
        self._input = InputSpeech(sample_rate, keep_input_ms, self._speech)
        self._transcripts = EarlyTranscripts()

    @property
    def sample_rate(self) -> int:
        """The rate of the PCM16 audio."""
        return self._input.sample_rate

    @property
    def keep_input_ms(self) -> int | None:
        """How much input audio before an utterance's end stays in the input buffer."""
        return self._input.keep_input_ms

    # -- queries ----------------------------------------------------------------------------

    def get_item(self, item_id: str) -> ConversationItem | None:
        """The item with ``item_id`` (the stored dict), or ``None``."""
        return self._items.get(item_id)

    def get_items(self) -> list[ConversationItem]:
        """Every item, in conversation order (the stored dicts; treat them as read-only)."""
        return list(self._items.values())

    def get_response(self, response_id: str) -> Response | None:
        """The response with ``response_id``: the server's dict, ``output`` as item ids
        (``None`` for one never seen, or one of more than :data:`MAX_RESPONSES` ago)."""
        return cast("Response | None", self._responses.get(response_id))

    def get_out_of_band_item(self, item_id: str) -> ConversationItem | None:
        """The item ``item_id`` of a response outside the conversation, or ``None``."""
        return self._outside.get(item_id)

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
        self._outside.clear()
        self.reset_input()

    def reset_input(self) -> None:
        """Forget the pending input state and keep the items and responses.

        Drops the speeches still open, the speech audio and transcriptions waiting for their
        items and the audio given to :meth:`queue_input_audio`. For a new session (a
        reconnect): its input audio offsets count from zero again, and what the old session
        left pending will never meet its item.
        """
        self._input.clear()
        self._transcripts.clear()

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
        wanted = "input audio must be a 1-D int16 array, got"
        try:
            array = np.asarray(samples)
        except (TypeError, ValueError):  # ragged sequences and the like
            raise UsageError(f"{wanted} {short(samples)}") from None
        if array.dtype != np.int16 or array.ndim != 1:
            raise UsageError(f"{wanted} {array.dtype} {array.shape}")
        self._input.queued = array.copy()

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

    def _create(self, item: ConversationItem, previous_id: object) -> None:
        """Store a checked new item (``formatted`` set) after ``previous_id`` or at the end."""
        item_id: str = item["id"]
        settle_status(item)
        audio = self._input.take(item)
        if audio is not None:
            item["formatted"]["audio"].append(audio)
        pending = self._transcripts.pop(item_id)
        if pending is not None:
            apply_transcript(item, pending)
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

    def _new_item(self, etype: str, value: object, field: str = "item") -> ConversationItem:
        """A checked copy of ``value`` with a fresh ``formatted``; raises before any change."""
        return new_item(etype, value, field, self.audio_decoder)

    def _upsert(
        self, etype: str, value: object, *, final: bool, previous_id: object = None
    ) -> ConversationItem:
        """Create the item ``value`` or merge it into the stored one; returns the stored item."""
        incoming = self._new_item(etype, value)
        stored = self._items.get(incoming["id"])
        if stored is None:
            self._create(incoming, previous_id)
            return incoming
        merge_item(stored, incoming, final=final)
        return stored

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
        target = stored if stored is not None else self._outside.get(incoming["id"])
        if target is None:
            raise UnknownItemError(etype, incoming["id"])
        merge_item(target, incoming, final=True)
        return stored, None

    def _on_item_truncated(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        item = self._known(etype, event)
        part = part_of(etype, event, item)
        end_ms = need_ms(etype, event, "audio_end_ms")
        formatted = item["formatted"]
        formatted["audio"].truncate(self._input.samples(end_ms))
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
        part = part_of(etype, event, item) if item is not None and index is not None else None
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

    def _on_transcription_segment(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        item = self._items.get(need_str(etype, event, "item_id"))  # ignored when not held
        return (add_segment(etype, event, item) if item is not None else None), None

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
        self._input.start(item_id, need_ms(etype, event, "audio_start_ms"))
        return None, None

    def _on_speech_stopped(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        item_id = need_str(etype, event, "item_id")
        end_ms = need_ms(etype, event, "audio_end_ms")
        item = self._give_audio(item_id, self._input.stop(etype, item_id, end_ms, buffer))
        if buffer is not None:
            self._input.drop_input(buffer, self._input.samples(end_ms))
        return item, None

    def _on_timeout(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        start = need_ms(etype, event, "audio_start_ms")
        if need_ms(etype, event, "audio_end_ms") < start:
            raise bad(etype, "audio_end_ms", event["audio_end_ms"], "at least audio_start_ms")
        self._input.start(need_str(etype, event, "item_id"), start)
        return self._on_speech_stopped(etype, event, buffer)

    def _on_cleared(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        self._speech.drop_open()
        if buffer is not None:
            self._input.drop_input(buffer, buffer.end)
        return None, None

    def _on_committed(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        item_id = need_str(etype, event, "item_id")
        if item_id not in self._items:
            self._input.commit(item_id)
        return None, None

    # -- responses --------------------------------------------------------------------------

    def _on_response_created(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        response, _ = copy_response(etype, event, self._new_item)
        self._responses.created(response)
        return None, None

    def _on_response_done(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        response, items = copy_response(etype, event, self._new_item)
        self._responses.done(response)
        # The final output items carry the final status of items cut short by a cancel.
        for item in items:
            known = self._items.get(item["id"]) or self._outside.get(item["id"])
            if known is not None:
                merge_item(known, item, final=True)
        return None, None

    def _on_output_item_added(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        response_id = event.get("response_id")
        if response_id is not None and not isinstance(response_id, str):
            raise bad(etype, "response_id", response_id, "a string")
        if self._responses.out_of_band(response_id):
            incoming = self._new_item(etype, event.get("item", MISSING))
            stored = self._outside.get(incoming["id"])
            if stored is None:
                settle_status(incoming)
                self._outside.add(incoming)
            else:
                merge_item(stored, incoming, final=False)
            self._responses.add_output(response_id, incoming["id"])
            return None, None
        item = self._upsert(etype, event.get("item", MISSING), final=False)
        self._responses.add_output(response_id, item["id"])
        return item, None

    # -- MCP --------------------------------------------------------------------------------

    def _on_mcp_list_tools_status(self, etype: str, event: _Event, buffer: _Buffer) -> Result:
        item_id = need_str(etype, event, "item_id")
        item = self._items.get(item_id)
        if item is None:
            return None, None
        if item.get("type") != "mcp_list_tools":
            raise InvalidEventError(
                etype, "item_id", f"names a {short(item.get('type'))} item, not an MCP tool list"
            )
        set_status(item, etype.rsplit(".", 1)[1])
        return item, None


_Processor = Callable[[RealtimeConversation, str, dict[str, Any], InputAudioBuffer | None], Result]
_Streamed = Callable[[str, dict[str, Any], ConversationItem, "AudioDecoder | None"], Delta | None]


def _on_held(apply: _Streamed) -> _Processor:
    """The processor that applies ``apply`` (see :mod:`realtime_widget.core.streamed`) to
    the item the event names; :class:`UnknownItemError` when it is not held."""

    def processor(
        conversation: RealtimeConversation, etype: str, event: _Event, buffer: _Buffer
    ) -> Result:
        outside = conversation._outside.get(event.get("item_id"))
        if outside is not None:  # a response outside the conversation streams apart
            apply(etype, event, outside, conversation.audio_decoder)
            return None, None
        item = conversation._known(etype, event)
        return item, apply(etype, event, item, conversation.audio_decoder)

    return processor


_TRANSCRIPTION = "conversation.item.input_audio_transcription."
_PROCESSORS: dict[str, _Processor] = {
    "conversation.item.added": RealtimeConversation._on_item_created,
    "conversation.item.created": RealtimeConversation._on_item_created,
    "conversation.item.retrieved": RealtimeConversation._on_item_retrieved,
    "conversation.item.done": RealtimeConversation._on_item_done,
    "conversation.item.truncated": RealtimeConversation._on_item_truncated,
    "conversation.item.deleted": RealtimeConversation._on_item_deleted,
    _TRANSCRIPTION + "delta": RealtimeConversation._on_transcription_delta,
    _TRANSCRIPTION + "completed": RealtimeConversation._on_transcription_completed,
    _TRANSCRIPTION + "failed": RealtimeConversation._on_transcription_failed,
    _TRANSCRIPTION + "segment": RealtimeConversation._on_transcription_segment,
    "input_audio_buffer.timeout_triggered": RealtimeConversation._on_timeout,
    "input_audio_buffer.speech_started": RealtimeConversation._on_speech_started,
    "input_audio_buffer.speech_stopped": RealtimeConversation._on_speech_stopped,
    "input_audio_buffer.committed": RealtimeConversation._on_committed,
    "response.created": RealtimeConversation._on_response_created,
    "response.done": RealtimeConversation._on_response_done,
    "response.output_item.added": RealtimeConversation._on_output_item_added,
    "response.output_item.done": RealtimeConversation._on_item_done,
    "response.content_part.added": _on_held(streamed.part_added_or_done),
    "response.content_part.done": _on_held(streamed.part_added_or_done),
    "response.output_text.delta": _on_held(streamed.text_delta),
    "response.output_text.done": _on_held(streamed.text_done),
    "response.output_audio.delta": _on_held(streamed.audio_delta),
    "response.output_audio.done": _on_held(streamed.audio_done),
    "response.output_audio_transcript.delta": _on_held(streamed.transcript_delta),
    "response.output_audio_transcript.done": _on_held(streamed.transcript_done),
    "response.function_call_arguments.delta": _on_held(streamed.arguments_delta),
    "response.function_call_arguments.done": _on_held(streamed.arguments_done),
    "input_audio_buffer.cleared": RealtimeConversation._on_cleared,
    "response.mcp_call_arguments.delta": _on_held(streamed.arguments_delta),
    "response.mcp_call_arguments.done": _on_held(streamed.arguments_done),
    "response.mcp_call.in_progress": _on_held(streamed.mcp_call_status),
    "response.mcp_call.completed": _on_held(streamed.mcp_call_status),
    "response.mcp_call.failed": _on_held(streamed.mcp_call_status),
    "mcp_list_tools.in_progress": RealtimeConversation._on_mcp_list_tools_status,
    "mcp_list_tools.completed": RealtimeConversation._on_mcp_list_tools_status,
    "mcp_list_tools.failed": RealtimeConversation._on_mcp_list_tools_status,
}
