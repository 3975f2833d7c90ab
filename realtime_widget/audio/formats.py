"""Audio in a session's wire format: the toolkit's 24 kHz PCM16 to and from PCM16 or G.711.

Inside the toolkit (and the local server) audio is 24 kHz int16; on the wire it is the
session's format (:data:`~realtime_widget.core.protocol.AUDIO_FORMATS`): ``pcm16`` as it is,
G.711 at 8 kHz, resampled by :mod:`realtime_widget.audio.resample` and coded. Whole clips go
through :func:`pcm_to_wire` / :func:`pcm_from_wire` (base64: :func:`encode_clip` /
:func:`decode_clip`). Streams (:class:`StreamEncoder`, :class:`StreamDecoder`, and the
client's :class:`InputAudioEncoder` and :class:`OutputAudioDecoder` built on them) keep one
resampler each, so chunk boundaries leave no trace; a resampler holds back a few
milliseconds until more arrives, handed out by ``flush`` at the end of a stream. Each call
costs time linear in its chunk. Pure: no I/O.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol

import numpy as np

from realtime_widget.audio.buffers import Int16Array
from realtime_widget.audio.g711 import alaw_decode, alaw_encode, mulaw_decode, mulaw_encode
from realtime_widget.audio.pcm import AudioInput, to_int16
from realtime_widget.audio.resample import Resampler, resample
from realtime_widget.core.errors import AudioFormatError
from realtime_widget.core.eventfields import decode_base64, decode_pcm16
from realtime_widget.core.frames import Base64Text
from realtime_widget.core.protocol import AUDIO_FORMAT_RATES, SAMPLE_RATE, AudioFormat
from realtime_widget.core.sessionmap import BETA_TO_GA, audio_format_name, ga_get

__all__ = [
    "AudioDecoder",
    "InputAudioEncoder",
    "OutputAudioDecoder",
    "StreamDecoder",
    "StreamEncoder",
    "decode_clip",
    "encode_clip",
    "pcm_from_wire",
    "pcm_to_wire",
    "session_audio_format",
]

Side = Literal["input", "output"]

_G711_RATE = AUDIO_FORMAT_RATES["g711_ulaw"]
_MAX_STREAMS = 64  # items whose audio is still streaming; past it the oldest is dropped
_EMPTY: Int16Array = np.zeros(0, dtype=np.int16)


class AudioDecoder(Protocol):
    """What :class:`~realtime_widget.core.conversation.RealtimeConversation` asks to decode audio.

    Every method returns 24 kHz int16 samples and raises
    :class:`~realtime_widget.core.errors.InvalidEventError` for data that cannot be decoded.
    """

    def decode(self, event_type: str, item_id: str, data: str) -> Int16Array:
        """One base64 chunk of item ``item_id``'s streamed audio."""
        ...

    def finish(self, item_id: str) -> Int16Array:
        """What the item's stream still holds, once its audio is done."""
        ...

    def discard(self, item_id: str) -> None:
        """Forget the item's stream (truncated or deleted): what it holds is not audio."""
        ...

    def decode_clip(self, event_type: str, field: str, data: str) -> Int16Array:
        """A whole base64 clip of input audio (an ``input_audio`` part)."""
        ...


# -- clips ----------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def pcm_to_wire(samples: AudioInput, audio_format: AudioFormat) -> bytes:
    """A whole clip of 24 kHz audio (anything :func:`~realtime_widget.audio.pcm.to_int16`
    reads) as bytes in ``audio_format``; raises what ``to_int16`` raises."""
    pcm = to_int16(samples)
    if audio_format == "pcm16":
        return pcm.astype("<i2", copy=False).tobytes()
    return _g711_encode(resample(pcm, SAMPLE_RATE, _G711_RATE), audio_format)


def pcm_from_wire(data: bytes, audio_format: AudioFormat) -> Int16Array:
    """A whole clip of bytes in ``audio_format`` as 24 kHz samples (PCM16: an even number of
    bytes, else :class:`~realtime_widget.core.errors.UsageError`)."""
    if audio_format == "pcm16":
        return to_int16(data)
    return resample(_g711_decode(data, audio_format), _G711_RATE, SAMPLE_RATE)


def encode_clip(samples: AudioInput, audio_format: AudioFormat) -> str:
    """:func:`pcm_to_wire` in base64, as an ``input_audio`` part or an audio delta holds it."""
    return _b64(pcm_to_wire(samples, audio_format))


def decode_clip(
    data: str, audio_format: AudioFormat, event_type: str = "", field: str = "audio"
) -> Int16Array:
    """Base64 audio in ``audio_format`` as 24 kHz samples (what :func:`encode_clip` made);
    raises :class:`~realtime_widget.core.errors.InvalidEventError` naming ``event_type`` and
    ``field`` for data that is not such audio."""
    if audio_format == "pcm16":
        return decode_pcm16(event_type, field, data)
    return pcm_from_wire(decode_base64(event_type, field, data), audio_format)


def session_audio_format(session: Mapping[str, Any] | None, side: Side) -> AudioFormat | None:
    """The ``side`` audio format a server's session object states (GA, beta or nested shape),
    or ``None`` when it states none that can be read."""
    if not isinstance(session, Mapping):
        return None
    key = f"{side}_audio_format"
    group = session.get("speech" if side == "output" else "hearing")
    if isinstance(ga_get(session, BETA_TO_GA[key][:-1]), Mapping):
        value = ga_get(session, BETA_TO_GA[key])
    elif isinstance(group, Mapping):
        value = group.get(key)
    else:
        value = session.get(key)
    try:
        return audio_format_name(value)
    except AudioFormatError:
        return None


# -- streams --------------------------------------------------------------------------------


def _g711_encode(samples: Int16Array, audio_format: AudioFormat) -> bytes:
    return mulaw_encode(samples) if audio_format == "g711_ulaw" else alaw_encode(samples)


def _g711_decode(codes: bytes, audio_format: AudioFormat) -> Int16Array:
    return mulaw_decode(codes) if audio_format == "g711_ulaw" else alaw_decode(codes)


class StreamEncoder:
    """One stream of 24 kHz int16 chunks as bytes in ``audio_format``, chunk by chunk."""

    def __init__(self, audio_format: AudioFormat) -> None:
        self.audio_format: AudioFormat = audio_format
        g711 = audio_format != "pcm16"
        self._resampler = Resampler(SAMPLE_RATE, _G711_RATE) if g711 else None

    def encode(self, samples: Int16Array) -> bytes:
        """``samples`` in the stream's format (G.711: what the filter lets out so far)."""
        if self._resampler is None:
            return to_int16(samples).astype("<i2", copy=False).tobytes()
        low = self._resampler.process(samples)
        return _g711_encode(low, self.audio_format) if low.size else b""

    def flush(self) -> bytes:
        """What the stream still holds (``b""`` for none); the next chunk starts a new one."""
        if self._resampler is None:
            return b""
        low = self._resampler.flush()
        return _g711_encode(low, self.audio_format) if low.size else b""


class StreamDecoder:
    """One stream of bytes in ``audio_format`` as 24 kHz int16 samples, chunk by chunk."""

    def __init__(self, audio_format: AudioFormat) -> None:
        self.audio_format: AudioFormat = audio_format
        g711 = audio_format != "pcm16"
        self._resampler = Resampler(_G711_RATE, SAMPLE_RATE) if g711 else None

    def decode(self, data: bytes) -> Int16Array:
        """``data`` as samples (G.711: what the filter lets out so far). PCM16 needs an even
        number of bytes, else :class:`~realtime_widget.core.errors.UsageError`."""
        if self._resampler is None:
            return to_int16(data)
        samples: Int16Array = self._resampler.process(_g711_decode(data, self.audio_format))
        return samples

    def flush(self) -> Int16Array:
        """What the stream still holds; the next chunk starts a new one."""
        if self._resampler is None:
            return _EMPTY
        samples: Int16Array = self._resampler.flush()
        return samples


class InputAudioEncoder:
    """The user's 24 kHz audio, chunk by chunk, as base64 in the session's input format
    (:class:`~realtime_widget.core.frames.Base64Text`, written into the frame as it is).

    One stream runs across chunks; a chunk in another format than the last starts a new one
    (what the old one held is dropped: the server now expects the new format).
    """

    def __init__(self) -> None:
        self._stream = StreamEncoder("pcm16")

    def encode(self, samples: Int16Array, audio_format: AudioFormat) -> str:
        """``samples`` in ``audio_format`` (``""`` when the filter holds them all back)."""
        if audio_format != self._stream.audio_format:
            self._stream = StreamEncoder(audio_format)
        if audio_format == "pcm16":  # no filter: the samples' own bytes, little-endian
            return Base64Text.from_bytes(np.ascontiguousarray(samples, dtype="<i2"))
        return Base64Text.from_bytes(self._stream.encode(samples))

    def flush(self) -> str:
        """What the stream still holds (``""`` for none), before a commit; the next chunk
        starts a new stream."""
        return Base64Text.from_bytes(self._stream.flush())


class OutputAudioDecoder:
    """The :class:`AudioDecoder` of a client: the model's audio, item by item, at 24 kHz.

    ``output_format`` and ``input_format`` say the session's current formats. An item's
    stream takes the output format at its first chunk and keeps it to the end (a session
    change applies to later responses). At most 64 streams are kept; the oldest goes first.
    """

    def __init__(
        self,
        output_format: Callable[[], AudioFormat] = lambda: "pcm16",
        input_format: Callable[[], AudioFormat] = lambda: "pcm16",
    ) -> None:
        self._output_format = output_format
        self._input_format = input_format
        self._streams: dict[str, StreamDecoder] = {}

    def decode(self, event_type: str, item_id: str, data: str) -> Int16Array:
        stream = self._streams.get(item_id)
        audio_format = stream.audio_format if stream is not None else self._output_format()
        if audio_format == "pcm16":
            samples = decode_pcm16(event_type, "delta", data)
        else:
            codes = decode_base64(event_type, "delta", data)
        # the data is good: only now may the stream start or advance
        if stream is None:
            stream = StreamDecoder(audio_format)
            if len(self._streams) >= _MAX_STREAMS:
                del self._streams[next(iter(self._streams))]
            self._streams[item_id] = stream
        return samples if audio_format == "pcm16" else stream.decode(codes)

    def finish(self, item_id: str) -> Int16Array:
        stream = self._streams.pop(item_id, None)
        return stream.flush() if stream is not None else _EMPTY

    def discard(self, item_id: str) -> None:
        self._streams.pop(item_id, None)

    def decode_clip(self, event_type: str, field: str, data: str) -> Int16Array:
        return decode_clip(data, self._input_format(), event_type, field)
