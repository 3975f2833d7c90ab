"""One response of the local server: its parameters, its events and its pacing.

Rules:

- ``response.create`` parameters are validated by
  :func:`~realtime_widget.server.responseparams.parse_response_params` and fall back to the
  session's.
- A :class:`ResponseRun` streams, for each output of the model, in the service's order:
  ``response.output_item.added``, ``conversation.item.added`` (beta:
  ``conversation.item.created``), ``response.content_part.added`` (its part typed ``audio``
  or ``text`` in both dialects, as the service does; GA items say ``output_audio`` /
  ``output_text``), the deltas,
  ``response.output_audio.done``, ``response.output_audio_transcript.done`` (or
  ``response.output_text.done`` / ``response.function_call_arguments.done``),
  ``response.content_part.done``, ``response.output_item.done``, ``conversation.item.done``
  (GA only), and at the end ``response.done`` with the status and usage. The caller sends
  ``response.created`` itself, before starting the run, so the response is active from the
  moment the client could see it.
- Speech comes from :func:`~realtime_widget.server.speech.speak`: espeak-ng words when the
  server has it (``espeak``), tones for the ``tones`` voice or without it.
- Audio goes out in chunks of ``chunk_ms`` (100 ms by default), in the response's format
  (G.711: whole 8 kHz samples, coded as one stream per item); a transcript delta goes out
  with the chunk in which its word starts. With a pace factor ``p``, the chunk starting at
  ``t`` seconds into the response's audio is sent ``t / p`` seconds after the run began
  (``p = 1`` is real time); without one, chunks go out as fast as the socket takes them.
  Text deltas (one per word) are paced at 20 ms per word the same way.
- :meth:`ResponseRun.cancel` stops the stream at the next chunk: the item being streamed is
  closed with what was sent (status ``incomplete``), later outputs are dropped, and the
  response ends ``cancelled`` with the given reason.
- An item's stored content follows the stream, so it can be retrieved or truncated while
  it plays. Truncating an item still streaming ends its audio at the cut; the ``.done``
  events of its part report what was sent, while the item itself (``output_item.done``,
  ``conversation.item.done``, ``response.done``) holds the truncated transcript.
- ``stall`` (a testing aid) makes a run send its first audio chunk (or text word) and then
  nothing more until it is cancelled: a response that never finishes on its own.
- ``max_output_tokens`` (words, as this server counts tokens) cuts the text and ends the
  response ``incomplete``.
- Items join the conversation unless the response's ``conversation`` is ``"none"``.
- ``parallel_tool_calls`` and ``reasoning`` are checked and have no local effect.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from realtime_widget.audio.formats import StreamEncoder
from realtime_widget.core.ids import generate_id
from realtime_widget.core.protocol import (
    AUDIO_FORMAT_RATES,
    AUDIO_FORMATS,
    SAMPLE_RATE,
    Dialect,
    dialect_event_type,
)
from realtime_widget.server.mcp import McpOutput
from realtime_widget.server.model import CallOutput, MessageOutput, Output
from realtime_widget.server.perceive import perceive
from realtime_widget.server.responseparams import ResponseParams
from realtime_widget.server.speech import speak
from realtime_widget.server.store import (
    Conversation,
    StoredItem,
    render_item,
)
from realtime_widget.server.wire import Emit

__all__ = ["ResponseRun"]

CancelReason = Literal["client_cancelled", "turn_detected"]

_TEXT_WORD_SECONDS = 0.02
_ITEM_ADDED = {"ga": "conversation.item.added", "beta": "conversation.item.created"}


def _tokens(text: str) -> int:
    return len(text.split())


def _input_usage(items: Sequence[StoredItem]) -> dict[str, int]:
    text = audio = images = 0
    for stored in items:
        item = stored.item
        if item.get("type") == "message":
            heard = perceive(stored)
            text += _tokens(heard.text)
            images += 85 * len(heard.images)
            audio += sum(int(a.size * 10 // SAMPLE_RATE) for a in stored.audio.values())
            for part in item.get("content") or ():
                if part.get("type") == "output_audio":
                    text += _tokens(part.get("transcript") or "")
        else:
            text += max(1, len(str(item.get("arguments") or item.get("output") or "")) // 4)
    return {"text_tokens": text, "audio_tokens": audio, "image_tokens": images}


@dataclass
class _Totals:
    text_tokens: int = 0
    audio_samples: int = 0
    output: list[dict[str, Any]] = field(default_factory=list)


class ResponseRun:
    """Streams one response's outputs (see the module rules). Owned by one connection."""

    def __init__(
        self,
        *,
        response_id: str,
        params: ResponseParams,
        context: Sequence[StoredItem],
        outputs: Sequence[Output | McpOutput],
        conversation: Conversation,
        dialect: Dialect,
        emit: Emit,
        pace: float | None,
        chunk_ms: int = 100,
        stall: bool = False,
        espeak: str | None = None,
    ) -> None:
        self.id = response_id
        self.params = params
        self.context = list(context)
        self.outputs = list(outputs)
        self.conversation = conversation
        self.dialect: Dialect = dialect
        self._emit = emit
        self.pace = pace
        self.stall = stall
        self.espeak = espeak
        self.chunk_samples = max(1, chunk_ms * SAMPLE_RATE // 1000)
        self.done = False  # set just before response.done is sent
        self.total_tokens = 0  # the usage's total, set with done
        self.finished = asyncio.Event()  # set by the owner once the run has returned
        self.cancel_reason: CancelReason | None = None
        self._cancelled = asyncio.Event()
        self._totals = _Totals()
        self._started = 0.0
        self._timeline = 0.0  # seconds of output (audio or text) scheduled so far
        self._previous: dict[str, str | None] = {}

    # -- public ---------------------------------------------------------------------

    def response_object(
        self, status: str = "in_progress", status_details: Any = None
    ) -> dict[str, Any]:
        """The ``response`` object in the connection's dialect."""
        p = self.params
        common: dict[str, Any] = {
            "object": "realtime.response",
            "id": self.id,
            "status": status,
            "status_details": status_details,
            "output": copy.deepcopy(self._totals.output),
            "conversation_id": self.conversation.id if p.conversation == "auto" else None,
            "usage": None,
            "metadata": p.metadata,
        }
        if self.dialect == "ga":
            common.update(
                output_modalities=p.output_modalities,
                max_output_tokens=p.max_output_tokens,
                audio={
                    "output": {"format": dict(AUDIO_FORMATS[p.output_format]), "voice": p.voice}
                },
            )
        else:
            common.update(
                modalities=["audio", "text"] if p.output_modalities == ["audio"] else ["text"],
                voice=p.voice,
                output_audio_format=p.output_format,
                temperature=p.temperature,
                max_output_tokens=p.max_output_tokens,
            )
        return common

    def cancel(self, reason: CancelReason) -> bool:
        """Ask the stream to stop; ``False`` when the response already finished."""
        if self.done or self._cancelled.is_set():
            return False
        self.cancel_reason = reason
        self._cancelled.set()
        return True

    async def run(self) -> None:
        """Stream every output, then ``response.done``. Returns when the response is over."""
        loop = asyncio.get_running_loop()
        self._started = loop.time()
        outputs, incomplete = self._limit_tokens()
        index = 0
        for output in outputs:
            if self._cancelled.is_set():
                break
            if isinstance(output, CallOutput):
                await self._stream_call(index, output)
            elif isinstance(output, MessageOutput):
                await self._stream_message(index, output.text)
            else:  # an MCP call (with the message stating its outcome) or approval request
                said = await output.stream(
                    self.id, index, self._send, self._open_item, self._close_item
                )
                if said and not self._cancelled.is_set():
                    index += 1
                    await self._stream_message(index, said)
            index += 1
        await self._finish(incomplete)

    # -- helpers ------------------------------------------------------------------

    def _limit_tokens(self) -> tuple[list[Output | McpOutput], bool]:
        """The outputs that fit ``max_output_tokens``, and whether any had to be cut."""
        limit = self.params.max_output_tokens
        if limit == "inf":
            return list(self.outputs), False
        budget = int(limit)
        kept: list[Output | McpOutput] = []
        for output in self.outputs:
            if not isinstance(output, MessageOutput):
                kept.append(output)
                continue
            words = output.text.split()
            if len(words) <= budget:
                kept.append(output)
                budget -= len(words)
                continue
            if budget > 0:
                kept.append(MessageOutput(" ".join(words[:budget])))
            return kept, True
        return kept, False

    def _type(self, ga_type: str) -> str:
        return dialect_event_type(ga_type, self.dialect)

    async def _send(self, ga_type: str, **payload: Any) -> None:
        await self._emit({"type": self._type(ga_type), **payload})

    async def _wait(self, offset_seconds: float) -> bool:
        """Wait until ``offset_seconds`` of output are due; ``True`` when cancelled."""
        if self._cancelled.is_set():
            return True
        if self.stall and offset_seconds > 0:
            await self._cancelled.wait()
            return True
        if self.pace is None:
            await asyncio.sleep(0)
            return self._cancelled.is_set()
        delay = self._started + offset_seconds / self.pace - asyncio.get_running_loop().time()
        if delay <= 0:
            await asyncio.sleep(0)
        else:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._cancelled.wait()
        return self._cancelled.is_set()

    async def _open_item(self, index: int, item: dict[str, Any]) -> StoredItem:
        stored = StoredItem(item, response_id=self.id)
        await self._send(
            "response.output_item.added",
            response_id=self.id,
            output_index=index,
            item=render_item(item, self.dialect),
        )
        if self.params.conversation == "auto":
            previous = self.conversation.insert(stored)
            self._previous[stored.id] = previous
            added = _ITEM_ADDED[self.dialect]
            rendered = render_item(item, self.dialect)
            await self._send(added, previous_item_id=previous, item=rendered)
        return stored

    async def _close_item(self, index: int, stored: StoredItem) -> None:
        rendered = render_item(stored.item, self.dialect)
        self._totals.output.append(rendered)
        await self._send(
            "response.output_item.done", response_id=self.id, output_index=index, item=rendered
        )
        if self.params.conversation == "auto" and self.dialect == "ga":
            previous = self._previous.get(stored.id)
            await self._send("conversation.item.done", previous_item_id=previous, item=rendered)

    async def _stream_message(self, index: int, text: str) -> None:
        audio = self.params.output_modalities == ["audio"]
        item: dict[str, Any] = {
            "id": generate_id("item_"),
            "object": "realtime.item",
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        stored = await self._open_item(index, item)
        ids = {"response_id": self.id, "item_id": item["id"], "output_index": index}
        part_type = "output_audio" if audio else "output_text"
        # the content_part events name the part "audio" / "text" in both dialects (the
        # service's and the SDK's spelling); only GA items carry the output_* names
        event_type = "audio" if audio else "text"
        key = "transcript" if audio else "text"
        # the stored part is live: a retrieve or truncate mid-stream sees what was sent
        part: dict[str, Any] = {"type": part_type, key: ""}
        item["content"] = [part]
        await self._send(
            "response.content_part.added",
            **ids,
            content_index=0,
            part={"type": event_type, key: ""},
        )
        if audio:
            said = await self._stream_audio(stored, part, ids, text)
        else:
            said = await self._stream_text(part, ids, text)
        self._totals.text_tokens += _tokens(said)
        item["status"] = "incomplete" if self._cancelled.is_set() else "completed"
        await self._send(
            "response.content_part.done",
            **ids,
            content_index=0,
            part={"type": event_type, key: said},
        )
        await self._close_item(index, stored)

    async def _stream_text(self, part: dict[str, Any], ids: dict[str, Any], text: str) -> str:
        sent: list[str] = []
        for position, word in enumerate(text.split()):
            if await self._wait(self._timeline):
                break
            self._timeline += _TEXT_WORD_SECONDS
            delta = word if position == 0 else " " + word
            sent.append(word)
            part["text"] = " ".join(sent)
            await self._send("response.output_text.delta", **ids, content_index=0, delta=delta)
        said = " ".join(sent)
        await self._send("response.output_text.done", **ids, content_index=0, text=said)
        return said

    async def _stream_audio(
        self, stored: StoredItem, part: dict[str, Any], ids: dict[str, Any], text: str
    ) -> str:
        """Stream the audio and transcript; returns the transcript SENT.

        A truncation during the stream (``stored.truncated``) ends the audio at the cut and
        leaves the stored transcript as the truncation made it.
        """
        p = self.params
        # espeak-ng runs as a subprocess: off the loop, so other connections keep flowing
        speech = await asyncio.to_thread(speak, text, p.voice, p.speed, self.espeak)
        stored.words = speech.words
        audio_format = p.output_format
        samples = speech.samples
        # G.711 goes out in whole 8 kHz samples, and one stream carries the filter across chunks
        step = SAMPLE_RATE // AUDIO_FORMAT_RATES[audio_format]
        samples = samples[: samples.size - samples.size % step]
        encoder = StreamEncoder(audio_format)
        total = samples.size
        chunk = self.chunk_samples
        words = list(speech.words)
        said: list[str] = []
        base = self._timeline
        for start in range(0, max(total, 1), chunk):
            if await self._wait(base + start / SAMPLE_RATE) or stored.truncated:
                break
            end = min(start + chunk, total)
            if end > start:
                payload = encoder.encode(samples[start:end])
                if end == total:
                    payload += encoder.flush()
                await self._send(
                    "response.output_audio.delta",
                    **ids,
                    content_index=0,
                    delta=base64.b64encode(payload).decode("ascii"),
                )
                stored.audio_sent = end
                self._totals.audio_samples += end - start
            last = end >= total
            while words and (words[0].start < end or last):
                word = words.pop(0)
                delta = word.word if not said else " " + word.word
                said.append(word.word)
                if not stored.truncated:
                    part["transcript"] = " ".join(said)
                await self._send(
                    "response.output_audio_transcript.delta", **ids, content_index=0, delta=delta
                )
        self._timeline = base + stored.audio_sent / SAMPLE_RATE
        transcript = " ".join(said)
        await self._send("response.output_audio.done", **ids, content_index=0)
        await self._send(
            "response.output_audio_transcript.done", **ids, content_index=0, transcript=transcript
        )
        return transcript

    async def _stream_call(self, index: int, call: CallOutput) -> None:
        item: dict[str, Any] = {
            "id": generate_id("item_"),
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "name": call.name,
            "call_id": generate_id("call_"),
            "arguments": "",
        }
        stored = await self._open_item(index, item)
        ids = {
            "response_id": self.id,
            "item_id": item["id"],
            "output_index": index,
            "call_id": item["call_id"],
        }
        arguments = call.arguments
        for start in range(0, len(arguments), 24):
            await self._send(
                "response.function_call_arguments.delta", **ids, delta=arguments[start : start + 24]
            )
        # GA names the function here too; the beta event has no name (its item does)
        named = {"name": call.name} if self.dialect == "ga" else {}
        await self._send(
            "response.function_call_arguments.done", **ids, **named, arguments=arguments
        )
        item.update(status="completed", arguments=arguments)
        self._totals.text_tokens += max(1, len(arguments) // 4)
        await self._close_item(index, stored)

    async def _finish(self, incomplete: bool) -> None:
        if self.cancel_reason is not None:
            status, details = "cancelled", {"type": "cancelled", "reason": self.cancel_reason}
        elif incomplete:
            status, details = "incomplete", {"type": "incomplete", "reason": "max_output_tokens"}
        else:
            status, details = "completed", None
        response = self.response_object(status, details)
        inputs = _input_usage(self.context)
        audio_tokens = self._totals.audio_samples * 10 // SAMPLE_RATE
        input_total = sum(inputs.values())
        if self.dialect == "beta":  # the beta usage names no image tokens (counted all the same)
            del inputs["image_tokens"]
        output_total = self._totals.text_tokens + audio_tokens
        response["usage"] = {
            "total_tokens": input_total + output_total,
            "input_tokens": input_total,
            "output_tokens": output_total,
            "input_token_details": {**inputs, "cached_tokens": 0},
            "output_token_details": {
                "text_tokens": self._totals.text_tokens,
                "audio_tokens": audio_tokens,
            },
        }
        self.done, self.total_tokens = True, input_total + output_total
        await self._send("response.done", response=response)
