"""G.711 mu-law and A-law: one byte a sample, 8 kHz on the wire.

ITU-T G.711 with the conventions of the ITU-T reference software (G.191): negative inputs
take the one's-complement magnitude, so -1 is coded like -0 and coding is symmetric.
mu-law works on the top 14 bits with a bias of 33 and inverts every bit of the code;
A-law works on the top 13 bits and inverts the even bits (XOR 0x55). The codecs convert
samples only: bringing 24 kHz audio to 8 kHz and back is :mod:`realtime_widget.audio.formats`'s
work. Pure: no I/O.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from realtime_widget.audio.buffers import Int16Array
from realtime_widget.audio.pcm import AudioInput, to_int16
from realtime_widget.core.errors import UsageError

__all__ = ["alaw_decode", "alaw_encode", "mulaw_decode", "mulaw_encode"]


def _bit_length(values: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:
    """Bit length of non-negative values below 2**16, element-wise."""
    result = np.zeros(values.shape, dtype=np.int32)
    remaining = values.copy()
    for shift in (8, 4, 2, 1):
        has_high = remaining >= (1 << shift)
        result += np.where(has_high, shift, 0).astype(np.int32)
        remaining = np.where(has_high, remaining >> shift, remaining)
    return result + (remaining > 0).astype(np.int32)


def _magnitude(pcm: Int16Array, shift: int) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.bool_]]:
    wide = pcm.astype(np.int32)
    negative = wide < 0
    return np.where(negative, ~wide, wide) >> shift, negative


def _as_codes(data: object, law: str) -> npt.NDArray[np.int32]:
    if isinstance(data, bytes | bytearray | memoryview):
        codes = np.frombuffer(
            data if not isinstance(data, memoryview) else data.tobytes(), np.uint8
        )
    elif isinstance(data, np.ndarray) and data.dtype == np.uint8:
        codes = data
    else:
        raise TypeError(f"{law} codes must be bytes or a uint8 array, got {type(data).__name__}")
    if codes.ndim != 1:
        raise UsageError(f"{law} codes must be 1-D, got shape {codes.shape}")
    return codes.astype(np.int32)


def mulaw_encode(samples: AudioInput) -> bytes:
    """Encode audio (anything :func:`to_int16` accepts) as G.711 mu-law, one byte a sample.

    Silence (0) encodes to ``0xFF``; magnitudes above 32124 saturate.
    """
    magnitude, negative = _magnitude(to_int16(samples), 2)
    biased = np.minimum(magnitude + 33, 0x1FFF)
    segment = _bit_length(biased >> 5) - 1
    mantissa = (biased >> (segment + 1)) & 0x0F
    code = 0x7F - ((segment << 4) | mantissa)
    code = np.where(negative, code, code | 0x80)
    return code.astype(np.uint8).tobytes()


def mulaw_decode(codes: bytes | bytearray | memoryview | npt.NDArray[np.uint8]) -> Int16Array:
    """Decode G.711 mu-law bytes (or a uint8 array) to int16 samples (±32124 at most)."""
    inverted = ~_as_codes(codes, "mu-law") & 0xFF
    segment = (inverted >> 4) & 0x07
    mantissa = inverted & 0x0F
    magnitude = (((2 * mantissa + 33) << segment) - 33) << 2
    return np.where(inverted & 0x80, -magnitude, magnitude).astype(np.int16)


def alaw_encode(samples: AudioInput) -> bytes:
    """Encode audio (anything :func:`to_int16` accepts) as G.711 A-law, one byte a sample.

    Silence (0) encodes to ``0xD5``; magnitudes above 32256 saturate.
    """
    magnitude, negative = _magnitude(to_int16(samples), 4)
    segment = np.maximum(_bit_length(magnitude) - 4, 0)
    mantissa = np.where(segment > 0, magnitude >> np.maximum(segment - 1, 0), magnitude) & 0x0F
    code = (segment << 4) | mantissa
    code = np.where(negative, code, code | 0x80) ^ 0x55
    return code.astype(np.uint8).tobytes()


def alaw_decode(codes: bytes | bytearray | memoryview | npt.NDArray[np.uint8]) -> Int16Array:
    """Decode G.711 A-law bytes (or a uint8 array) to int16 samples (±32256 at most).

    A-law has no zero: the smallest codes decode to ±8.
    """
    raw = _as_codes(codes, "a-law")
    plain = (raw ^ 0x55) & 0x7F
    segment = plain >> 4
    mantissa = plain & 0x0F
    mantissa = np.where(segment > 0, mantissa + 16, mantissa)
    magnitude = ((mantissa << 4) + 8) << np.maximum(segment - 1, 0)
    decoded: Int16Array = np.where(raw & 0x80, magnitude, -magnitude).astype(np.int16)
    return decoded
