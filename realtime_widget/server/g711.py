"""G.711 audio for the server: 8 kHz codes in and out, 24 kHz int16 inside.

The server works on 24 kHz int16 internally: G.711 input is decoded and brought up to
24 kHz on arrival, output is brought down and encoded on the way out. The codec itself is
:mod:`realtime_widget.audio.utils`'s. The rate conversions are deliberately simple and stateless
(each chunk of a stream converts on its own, with no seam between chunks).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from realtime_widget.audio.buffers import Int16Array
from realtime_widget.audio.utils import alaw_decode, alaw_encode, mulaw_decode, mulaw_encode

__all__ = [
    "decode_g711",
    "downsample_24k_to_8k",
    "encode_g711",
    "upsample_8k_to_24k",
]


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


def decode_g711(data: bytes, kind: str) -> Int16Array:
    """``audio/pcmu`` or ``audio/pcma`` bytes as 24 kHz int16 samples."""
    linear = mulaw_decode(data) if kind == "audio/pcmu" else alaw_decode(data)
    return upsample_8k_to_24k(linear)


def encode_g711(samples: Int16Array, kind: str) -> bytes:
    """24 kHz int16 samples as ``audio/pcmu`` or ``audio/pcma`` bytes."""
    low = downsample_24k_to_8k(samples)
    return mulaw_encode(low) if kind == "audio/pcmu" else alaw_encode(low)
