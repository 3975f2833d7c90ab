"""G.711 (mu-law and A-law) coding and the 8 kHz <-> 24 kHz conversions the server needs.

Pure numpy, vectorised, no state. The server works on 24 kHz int16 internally: G.711 input
is decoded and resampled up on arrival, output is resampled down and encoded on the way out.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..buffers import Int16Array

__all__ = [
    "alaw_decode",
    "alaw_encode",
    "downsample_24k_to_8k",
    "ulaw_decode",
    "ulaw_encode",
    "upsample_8k_to_24k",
]

UInt8Array = npt.NDArray[np.uint8]

_ULAW_BIAS = 0x84
_ULAW_CLIP = 32635


def _bit_length(values: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:
    """Bit length of non-negative int32 values (0 for 0)."""
    out = np.zeros(values.shape, dtype=np.int32)
    nonzero = values > 0
    out[nonzero] = np.floor(np.log2(values[nonzero])).astype(np.int32) + 1
    return out


def ulaw_encode(samples: npt.ArrayLike) -> UInt8Array:
    """mu-law bytes for int16 samples."""
    x = np.asarray(samples, dtype=np.int32)
    negative = x < 0
    magnitude = np.minimum(np.abs(x), _ULAW_CLIP) + _ULAW_BIAS
    exponent = np.clip(_bit_length(magnitude) - 8, 0, 7)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    code = (negative.astype(np.int32) << 7) | (exponent << 4) | mantissa
    return (~code & 0xFF).astype(np.uint8)


def ulaw_decode(codes: npt.ArrayLike) -> Int16Array:
    """int16 samples for mu-law bytes."""
    b = ~np.asarray(codes, dtype=np.int32) & 0xFF
    exponent = (b >> 4) & 0x07
    mantissa = b & 0x0F
    magnitude = (((mantissa << 3) + _ULAW_BIAS) << exponent) - _ULAW_BIAS
    return np.where(b & 0x80, -magnitude, magnitude).astype(np.int16)


def alaw_encode(samples: npt.ArrayLike) -> UInt8Array:
    """A-law bytes for int16 samples."""
    x = np.asarray(samples, dtype=np.int32)
    positive = x >= 0
    magnitude = np.where(positive, x, -x - 1) >> 3  # 13-bit magnitude, 0..4095
    segment = np.clip(_bit_length(magnitude) - 5, 0, 7)
    mantissa = (magnitude >> np.maximum(segment, 1)) & 0x0F
    code = (segment << 4) | mantissa
    return (code ^ np.where(positive, 0xD5, 0x55)).astype(np.uint8)


def alaw_decode(codes: npt.ArrayLike) -> Int16Array:
    """int16 samples for A-law bytes."""
    b = np.asarray(codes, dtype=np.int32) ^ 0x55
    segment = (b >> 4) & 0x07
    value = (b & 0x0F) << 4
    value = np.where(segment == 0, value + 8, (value + 0x108) << np.maximum(segment - 1, 0))
    return np.where(b & 0x80, value, -value).astype(np.int16)


def upsample_8k_to_24k(samples: npt.ArrayLike) -> Int16Array:
    """Linear interpolation of 8 kHz int16 audio to 24 kHz (three samples per input sample)."""
    x = np.asarray(samples, dtype=np.float64)
    if x.size == 0:
        return np.zeros(0, dtype=np.int16)
    positions = np.arange(x.size * 3, dtype=np.float64) / 3.0
    return np.round(np.interp(positions, np.arange(x.size), x)).astype(np.int16)


def downsample_24k_to_8k(samples: npt.ArrayLike) -> Int16Array:
    """24 kHz int16 audio to 8 kHz: every output sample is the mean of three inputs.

    A trailing partial group (one or two samples) is dropped.
    """
    x = np.asarray(samples, dtype=np.float64)
    usable = x.size - x.size % 3
    means: npt.NDArray[np.float64] = x[:usable].reshape(-1, 3).mean(axis=1)
    return np.round(means).astype(np.int16)
