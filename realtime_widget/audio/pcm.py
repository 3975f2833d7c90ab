"""PCM16 audio: reading samples, float and int16, base64, levels and WAV.

The wire format of the Realtime API is PCM16: signed 16-bit little-endian mono samples at
24 kHz, base64 in JSON events. :func:`to_int16` is the one reader of what a caller may hold;
every function here that takes audio goes through it. Bad values raise
:class:`~realtime_widget.core.errors.UsageError` (a ``ValueError``), unsupported types
``TypeError``. Pure functions over numpy arrays: no I/O, no global state.
"""

from __future__ import annotations

import array
import base64
import binascii
import io
import math
import numbers
import operator
import wave
from typing import Any, SupportsIndex, TypeAlias

import numpy as np
import numpy.typing as npt

from realtime_widget.audio.buffers import Int16Array
from realtime_widget.core.errors import UsageError

__all__ = [
    "INT16_MAX",
    "INT16_MIN",
    "AudioInput",
    "FloatArray",
    "Int16Array",
    "SampleRate",
    "array_to_base64",
    "base64_to_array",
    "base64_to_bytes",
    "check_rate",
    "float_to_16bit_pcm",
    "int16_to_float",
    "level",
    "merge_int16_arrays",
    "pcm16_to_wav_bytes",
    "peak_dbfs",
    "read_samples",
    "rms_dbfs",
    "to_int16",
]

AudioInput: TypeAlias = npt.ArrayLike
"""Anything :func:`to_int16` reads."""

FloatArray: TypeAlias = npt.NDArray[np.floating[Any]]

SampleRate: TypeAlias = SupportsIndex | float
"""A rate in hertz: any integer (numpy's too) or a float with a whole value."""

INT16_MIN = -32768
INT16_MAX = 32767


# --- reading input -------------------------------------------------------------------------


def _shape_hint(shape: tuple[int, ...]) -> str:
    if len(shape) == 2 and 1 in shape:
        return "use .ravel() to flatten a single channel"
    if len(shape) == 2:
        return "mix channels down with .mean(axis=...) or pick one channel"
    return "pass mono samples"


def _check_1d(array: np.ndarray[Any, Any]) -> None:
    if array.ndim != 1:
        raise UsageError(
            f"audio must be 1-D mono samples, got shape {array.shape}: {_shape_hint(array.shape)}"
        )


def _pcm_view(data: bytes | bytearray | memoryview) -> npt.NDArray[np.int16]:
    """Little-endian PCM16 bytes viewed as '<i2' samples (shares memory with ``data``)."""
    size = data.nbytes if isinstance(data, memoryview) else len(data)
    if size % 2:
        raise UsageError(f"odd byte length {size}: PCM16 needs an even number of bytes")
    if isinstance(data, memoryview) and not data.c_contiguous:
        data = data.tobytes()
    return np.frombuffer(data, dtype="<i2")


def _is_byte_view(view: memoryview) -> bool:
    return view.itemsize == 1 and view.format.lstrip("@=<>!") in ("B", "b", "c")


def _as_ndarray(data: object) -> np.ndarray[Any, Any]:
    """``data`` as an ndarray, not copied when possible; bytes-like input is read as PCM16."""
    if isinstance(data, np.ndarray):
        return data
    if isinstance(data, str):
        raise TypeError("audio must be samples or PCM16 bytes, got str: decode base64 first")
    if isinstance(data, bytes | bytearray):
        return _pcm_view(data)
    if isinstance(data, memoryview):
        if data.ndim != 1:
            raise UsageError(
                f"audio must be 1-D mono samples, got a memoryview of shape {data.shape}: "
                "flatten it with .cast('B') if it holds raw PCM16 bytes"
            )
        return _pcm_view(data) if _is_byte_view(data) else np.asarray(data)
    if isinstance(data, array.array | list | tuple) or hasattr(data, "__array__"):
        try:
            return np.asarray(data)
        except ValueError as exc:  # ragged nested sequences
            raise UsageError(f"cannot read audio from {type(data).__name__}: {exc}") from exc
    raise TypeError(
        f"cannot read audio from {type(data).__name__}: "
        "expected a numpy array, bytes, memoryview, array.array or a list of numbers"
    )


def read_samples(data: object) -> np.ndarray[Any, Any]:
    """Validated 1-D samples: a float array (not copied) or a fresh native int16 array."""
    array_ = _as_ndarray(data)
    _check_1d(array_)
    kind = array_.dtype.kind
    if kind == "f":
        return array_
    if kind in "iu":
        if array_.dtype.itemsize == 1:
            raise TypeError(
                f"8-bit audio ({array_.dtype}) is ambiguous: pass bytes(...) for raw PCM16 "
                "or .astype(np.int16) for sample values"
            )
        if array_.dtype.itemsize > 2 or kind == "u":
            outside = array_ > INT16_MAX
            if kind == "i":
                outside |= array_ < INT16_MIN
            bad = np.flatnonzero(outside)
            if bad.size:
                index = int(bad[0])
                raise UsageError(
                    f"{array_.dtype} sample {array_[index]} at index {index} is outside "
                    f"the int16 range [{INT16_MIN}, {INT16_MAX}]"
                )
        return array_.astype(np.int16)
    raise TypeError(
        f"unsupported audio dtype {array_.dtype}: expected int16 samples or floats in [-1, 1]"
    )


def to_int16(data: AudioInput) -> Int16Array:
    """Normalise any accepted audio input to int16 samples.

    Reads numpy arrays, ``array.array``, lists, tuples and objects exposing ``__array__``:
    int16 as samples (any byte order), floats as samples in ``[-1, 1]`` (as by
    :func:`float_to_16bit_pcm`), wider or unsigned integers as samples when every value fits
    int16. ``bytes``, ``bytearray`` and byte-format ``memoryview`` objects are raw
    little-endian PCM16 (a memoryview read from its own offset and length); a typed
    memoryview (``h``, ``f``, ...) is an array of its type. Only 1-D (mono) input is read.

    Returns a new 1-D, C-contiguous, native-endian int16 array that shares no memory with
    ``data``, so the caller may keep it while the source buffer is reused.
    Raises ``TypeError`` for an unsupported type or dtype (8-bit integers too: raw bytes or
    samples, the caller says which), and :class:`UsageError` for a 2-D shape (with a hint to
    flatten or mix down), an odd byte length or an integer sample outside the int16 range.
    """
    samples = read_samples(data)
    if samples.dtype.kind == "f":
        return float_to_16bit_pcm(samples)
    return samples


def float_to_16bit_pcm(samples: AudioInput) -> Int16Array:
    """Convert float samples in ``[-1, 1]`` to int16 as the reference clients do: negative
    values scaled by 32768, positive by 32767, rounded to the nearest integer; values outside
    ``[-1, 1]`` are clipped and NaN becomes 0.

    ``samples`` is a float array, or a list, tuple or ``array.array`` of numbers. Integer
    arrays raise ``TypeError``: their scale is ambiguous, :func:`to_int16` reads them as
    samples. Returns a new int16 array; raises :class:`UsageError` for non-1-D input.
    """
    if isinstance(samples, list | tuple):
        try:
            values = np.asarray(samples, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            kind = type(samples).__name__
            raise TypeError(f"float samples expected, cannot convert {kind}: {exc}") from exc
    else:
        values = _as_ndarray(samples)
        if values.dtype.kind != "f":
            raise TypeError(
                f"float samples expected, got dtype {values.dtype}: use to_int16 for integers"
            )
    _check_1d(values)
    clean = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=1.0, neginf=-1.0)
    np.clip(clean, -1.0, 1.0, out=clean)
    scaled = np.where(clean < 0, clean * 32768.0, clean * 32767.0)
    return np.rint(scaled).astype(np.int16)


def int16_to_float(samples: AudioInput) -> npt.NDArray[np.float32]:
    """Convert int16 samples to float32 in ``[-1, 1]``: the inverse of
    :func:`float_to_16bit_pcm` (negative values divided by 32768, positive by 32767).

    Accepts whatever :func:`to_int16` accepts. Returns a new float32 array.
    """
    pcm = to_int16(samples).astype(np.float64)
    return np.where(pcm < 0, pcm / 32768.0, pcm / 32767.0).astype(np.float32)


# --- base64 and merging --------------------------------------------------------------------


def base64_to_bytes(data: str | bytes | bytearray) -> bytes:
    """Decode strict base64 (standard alphabet, padded, no whitespace).

    Raises :class:`UsageError` naming the problem for invalid base64, ``TypeError`` for
    anything but ``str``, ``bytes`` or ``bytearray``.
    """
    if not isinstance(data, str | bytes | bytearray):
        raise TypeError(f"base64 must be str or bytes, got {type(data).__name__}")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        text = data if isinstance(data, str) else bytes(data).decode("ascii", "replace")
        preview = text if len(text) <= 16 else text[:16] + "..."
        reason = str(exc).lower()
        raise UsageError(f"invalid base64 {preview!r} ({len(data)} chars): {reason}") from exc


def base64_to_array(data: str | bytes | bytearray) -> Int16Array:
    """Decode base64 little-endian PCM16 into a new native int16 array.

    Raises :class:`UsageError` for invalid base64 or an odd number of decoded bytes.
    """
    return _pcm_view(base64_to_bytes(data)).astype(np.int16)


def array_to_base64(data: AudioInput) -> str:
    """Encode audio as base64 little-endian PCM16, as ``input_audio_buffer.append`` wants.

    Accepts whatever :func:`to_int16` accepts (floats are converted) and raises what it
    raises. A memoryview is encoded from its own offset and length.
    """
    pcm = to_int16(data)
    return base64.b64encode(pcm.astype("<i2", copy=False).tobytes()).decode("ascii")


def merge_int16_arrays(left: AudioInput, right: AudioInput) -> Int16Array:
    """``left`` followed by ``right`` as one new int16 array (inputs as for :func:`to_int16`).

    Merging in a loop is quadratic: keep chunks in a list (or an
    :class:`~realtime_widget.audio.buffers.AudioBuffer`) and concatenate once instead.
    """
    return np.concatenate([to_int16(left), to_int16(right)])


# --- rates, levels and WAV ----------------------------------------------------------------


def check_rate(rate: object, name: str) -> int:
    """``rate`` as a positive int: any integer (numpy's too) or a float with a whole value.

    Raises ``TypeError`` naming ``name`` for a bool or a non-number, :class:`UsageError`
    for any other value that is not a positive whole number of hertz.
    """
    if isinstance(rate, bool | np.bool_):
        raise TypeError(f"{name} must be a number, got bool")
    if isinstance(rate, SupportsIndex):  # int and numpy integers
        value = operator.index(rate)
    elif isinstance(rate, numbers.Real):
        number = float(rate)
        value = int(number) if math.isfinite(number) and number == int(number) else 0
    else:
        raise TypeError(f"{name} must be a number, got {type(rate).__name__}")
    if value <= 0:
        raise UsageError(f"{name} must be a positive whole number of hertz, got {rate!r}")
    return value


def _unit_floats(samples: AudioInput) -> npt.NDArray[np.float64]:
    values = read_samples(samples)
    if values.dtype.kind == "f":
        cleaned: npt.NDArray[np.float64] = np.nan_to_num(values.astype(np.float64), nan=0.0)
        return cleaned
    return int16_to_float(values).astype(np.float64)


def rms_dbfs(samples: AudioInput) -> float:
    """The RMS level in dB relative to full scale; ``-inf`` for silence or no samples.

    A full-scale square wave is 0 dBFS, a full-scale sine about -3.01 dBFS. int16 input is
    read as by :func:`int16_to_float`, float input as is (NaN counts as silence).
    """
    values = _unit_floats(samples)
    if not values.size:
        return -math.inf
    mean_square = float(np.mean(np.square(values)))
    return 10.0 * math.log10(mean_square) if mean_square > 0 else -math.inf


def peak_dbfs(samples: AudioInput) -> float:
    """The peak level in dB relative to full scale; ``-inf`` for silence or no samples."""
    values = _unit_floats(samples)
    peak = float(np.max(np.abs(values))) if values.size else 0.0
    return 20.0 * math.log10(peak) if peak > 0 else -math.inf


def level(samples: AudioInput, floor_db: float = -60.0) -> float:
    """A meter reading in ``[0, 1]``: the RMS level mapped linearly from ``[floor_db, 0]`` dBFS.

    Raises :class:`UsageError` unless ``floor_db`` is negative.
    """
    if not floor_db < 0:
        raise UsageError(f"floor_db must be negative, got {floor_db!r}")
    return min(1.0, max(0.0, (rms_dbfs(samples) - floor_db) / -floor_db))


def pcm16_to_wav_bytes(samples: AudioInput, rate: SampleRate = 24_000) -> bytes:
    """A mono 16-bit WAV file holding ``samples`` at ``rate`` Hz.

    Playable in a notebook with ``IPython.display.Audio(data=..., autoplay=False)``. Accepts
    whatever :func:`to_int16` accepts; a rate is checked as by :func:`resample`.
    """
    pcm = to_int16(samples)
    frame_rate = check_rate(rate, "rate")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(frame_rate)
        writer.writeframes(pcm.astype("<i2", copy=False).tobytes())
    return buffer.getvalue()
