"""The audio helpers under one roof: :class:`RealtimeUtils` and the functions it gathers.

Each function lives in the module of its concept (:mod:`~realtime_widget.audio.pcm`,
:mod:`~realtime_widget.audio.resample`, :mod:`~realtime_widget.audio.g711`,
:mod:`~realtime_widget.core.ids`) and is named here too, so ``from realtime_widget.audio.utils
import to_int16`` keeps working.
"""

from __future__ import annotations

from realtime_widget.audio.buffers import Int16Array
from realtime_widget.audio.g711 import alaw_decode, alaw_encode, mulaw_decode, mulaw_encode
from realtime_widget.audio.pcm import (
    AudioInput,
    FloatArray,
    SampleRate,
    array_to_base64,
    base64_to_array,
    base64_to_bytes,
    float_to_16bit_pcm,
    int16_to_float,
    level,
    merge_int16_arrays,
    pcm16_to_wav_bytes,
    peak_dbfs,
    rms_dbfs,
    to_int16,
)
from realtime_widget.audio.resample import Resampler, resample
from realtime_widget.core.ids import generate_id

__all__ = [
    "AudioInput",
    "FloatArray",
    "Int16Array",
    "RealtimeUtils",
    "Resampler",
    "SampleRate",
    "alaw_decode",
    "alaw_encode",
    "array_to_base64",
    "base64_to_array",
    "base64_to_bytes",
    "float_to_16bit_pcm",
    "generate_id",
    "int16_to_float",
    "level",
    "merge_int16_arrays",
    "mulaw_decode",
    "mulaw_encode",
    "pcm16_to_wav_bytes",
    "peak_dbfs",
    "resample",
    "rms_dbfs",
    "to_int16",
]


class RealtimeUtils:
    """The reference client's utilities under snake_case names (and a few more).

    Every method is the module-level function of the same name.
    """

    float_to_16bit_pcm = staticmethod(float_to_16bit_pcm)
    int16_to_float = staticmethod(int16_to_float)
    to_int16 = staticmethod(to_int16)
    base64_to_array = staticmethod(base64_to_array)
    base64_to_bytes = staticmethod(base64_to_bytes)
    array_to_base64 = staticmethod(array_to_base64)
    merge_int16_arrays = staticmethod(merge_int16_arrays)
    generate_id = staticmethod(generate_id)
    resample = staticmethod(resample)
    mulaw_encode = staticmethod(mulaw_encode)
    mulaw_decode = staticmethod(mulaw_decode)
    alaw_encode = staticmethod(alaw_encode)
    alaw_decode = staticmethod(alaw_decode)
    rms_dbfs = staticmethod(rms_dbfs)
    peak_dbfs = staticmethod(peak_dbfs)
    level = staticmethod(level)
    pcm16_to_wav_bytes = staticmethod(pcm16_to_wav_bytes)
