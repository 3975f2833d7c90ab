"""Audio helpers: PCM16 conversion, base64, resampling, G.711, levels and WAV.

Pure functions over numpy arrays; nothing here does I/O or keeps global state.

The wire format of the Realtime API is PCM16: signed 16-bit little-endian mono samples at
24 kHz, base64-encoded in JSON events. :func:`to_int16` is the one normaliser that turns what
a caller may hold into int16 samples; every other function that accepts audio goes through it.
It reads:

- numpy arrays, ``array.array``, lists and tuples, and objects exposing ``__array__``:

  - ``int16``: taken as samples (any byte order);
  - floats: taken as samples in ``[-1, 1]`` and converted by :func:`float_to_16bit_pcm`;
  - wider or unsigned integers: taken as samples when every value fits int16, else rejected;
  - 8-bit integers are rejected: they are as likely raw bytes as samples, so the caller says
    which (``bytes(a)`` for raw PCM16 bytes, ``a.astype(np.int16)`` for sample values);
  - booleans, complex numbers, strings and objects are rejected;
  - only 1-D (mono) input is accepted: a 2-D array is rejected, with a hint to flatten a single
    channel or to mix channels down, never silently interleaved.

- ``bytes``, ``bytearray`` and byte-format ``memoryview`` objects: raw little-endian PCM16 (an
  even number of bytes). A memoryview is read from its own offset and length, not from the
  start of the buffer it views, and must be 1-D (a 2-D view is rejected, never flattened). A
  memoryview with a typed format (``h``, ``f``, ...) is read as an array of that type.

Conversion between float and int16 follows the reference clients: negative values are scaled by
32768 and positive values by 32767, so -1.0 and 1.0 both reach full scale and 0.0 stays 0; the
product is rounded to the nearest integer (the reference truncates, which adds a bias), values
outside ``[-1, 1]`` are clipped and NaN becomes 0. :func:`int16_to_float` is the exact inverse
on the int16 grid.

Value errors raise :class:`~realtime_widget.core.errors.UsageError` (a ``ValueError``); inputs of an
unsupported type raise ``TypeError``. Sample rates are positive whole numbers of hertz: any
integer type (numpy's too) or a float with a whole value; a bool or a non-number raises
``TypeError``, any other value :class:`~realtime_widget.core.errors.UsageError`.
"""

from __future__ import annotations

import array
import base64
import binascii
import io
import math
import numbers
import operator
import secrets
import string
import wave
from typing import Any, SupportsIndex, TypeAlias, overload

import numpy as np
import numpy.typing as npt

from realtime_widget.audio.buffers import Int16Array
from realtime_widget.core.errors import UsageError

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

AudioInput: TypeAlias = npt.ArrayLike
"""Anything :func:`to_int16` reads (see the module docstring for the rules)."""

FloatArray: TypeAlias = npt.NDArray[np.floating[Any]]

SampleRate: TypeAlias = SupportsIndex | float
"""A rate in hertz: any integer (numpy's too) or a float with a whole value."""

_INT16_MIN = -32768
_INT16_MAX = 32767
_ID_ALPHABET = string.ascii_letters + string.digits


# --- normalising input ---------------------------------------------------------------------


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


def _samples(data: object) -> np.ndarray[Any, Any]:
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
            outside = array_ > _INT16_MAX
            if kind == "i":
                outside |= array_ < _INT16_MIN
            bad = np.flatnonzero(outside)
            if bad.size:
                index = int(bad[0])
                raise UsageError(
                    f"{array_.dtype} sample {array_[index]} at index {index} is outside "
                    f"the int16 range [{_INT16_MIN}, {_INT16_MAX}]"
                )
        return array_.astype(np.int16)
    raise TypeError(
        f"unsupported audio dtype {array_.dtype}: expected int16 samples or floats in [-1, 1]"
    )


def to_int16(data: AudioInput) -> Int16Array:
    """Normalise any accepted audio input to int16 samples (the rules are in the module doc).

    Returns a new 1-D, C-contiguous, native-endian int16 array that shares no memory with
    ``data``, so the caller may keep it while the source buffer is reused.
    Raises ``TypeError`` for an unsupported type or dtype, and
    :class:`~realtime_widget.core.errors.UsageError` for a bad shape, an odd byte length or an
    integer sample outside the int16 range.
    """
    samples = _samples(data)
    if samples.dtype.kind == "f":
        return float_to_16bit_pcm(samples)
    return samples


def float_to_16bit_pcm(samples: AudioInput) -> Int16Array:
    """Convert float samples in ``[-1, 1]`` to int16 (scaling rules in the module doc).

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


def generate_id(prefix: str, length: int = 21) -> str:
    """``prefix`` followed by random letters and digits, ``length`` characters in all.

    Uses :mod:`secrets`. Raises :class:`UsageError` unless ``length`` exceeds ``len(prefix)``,
    ``TypeError`` for a non-str prefix or a non-int length.
    """
    if not isinstance(prefix, str):
        raise TypeError(f"id prefix must be str, got {type(prefix).__name__}")
    if not isinstance(length, int) or isinstance(length, bool):
        raise TypeError(f"id length must be int, got {type(length).__name__}")
    if length <= len(prefix):
        raise UsageError(f"id length {length} leaves no room after prefix {prefix!r}")
    wanted = length - len(prefix)
    # one draw of random bytes for the whole id (ids are made for every event sent); bytes
    # past the largest multiple of the alphabet's size are skipped, so every character stays
    # equally likely
    limit = 256 - 256 % len(_ID_ALPHABET)
    chars: list[str] = []
    while len(chars) < wanted:
        chars.extend(
            _ID_ALPHABET[b % len(_ID_ALPHABET)]
            for b in secrets.token_bytes(wanted + 8)
            if b < limit
        )
    return prefix + "".join(chars[:wanted])


# --- resampling ----------------------------------------------------------------------------

# A Kaiser-windowed sinc evaluated at exact rational positions (polyphase): 32 sinc lobes on
# each side, a cutoff at 92 % of the lower Nyquist frequency and beta 8.6 (about 86 dB of
# stopband attenuation). The transition band then ends just below the lower Nyquist frequency,
# so nothing above it folds back, and the passband stays flat to a few hundredths of a dB.
_ZERO_CROSSINGS = 32
_ROLLOFF = 0.92
_KAISER_BETA = 8.6
_MAX_TABLE_PHASES = 4096  # above this many phases, weights are computed per block instead
_BLOCK_ELEMENTS = 1 << 18  # gathered input values per block, bounding temporary memory


def _check_rate(rate: object, name: str) -> int:
    """``rate`` as a positive int (the rules are in the module doc)."""
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


class _Kernel:
    """The interpolation filter for a rational ratio ``up / down`` (in lowest terms)."""

    def __init__(self, up: int, down: int) -> None:
        self.up = up
        self.down = down
        # cycles per input sample; below the Nyquist frequency of the slower side
        self.cutoff = _ROLLOFF * 0.5 * min(1.0, up / down)
        self.half = math.ceil(_ZERO_CROSSINGS / (2.0 * self.cutoff))
        # input index minus floor(output position), for each tap
        self.offsets = np.arange(-self.half + 1, self.half + 1, dtype=np.int64)
        self.table = self.rows(np.arange(up)) if up <= _MAX_TABLE_PHASES else None

    def rows(self, phases: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """Tap weights for output positions whose fractional part is ``phases / up``."""
        tau = phases[:, None] / self.up - self.offsets[None, :]
        ratio = np.clip(1.0 - np.square(tau / self.half), 0.0, None)
        window = np.i0(_KAISER_BETA * np.sqrt(ratio)) / np.i0(_KAISER_BETA)
        weights = 2.0 * self.cutoff * np.sinc(2.0 * self.cutoff * tau) * window
        weights /= weights.sum(axis=1, keepdims=True)  # exact unity gain at DC
        return weights

    def weights(self, phases: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        return self.table[phases] if self.table is not None else self.rows(phases)


class Resampler:
    """A streaming resampler: feed chunks with :meth:`process`, end with :meth:`flush`.

    Chunk boundaries leave no trace: the concatenated outputs equal what :func:`resample`
    returns for the concatenated input. The first chunk fixes the sample type of the stream:
    int16 in, int16 out (rounded and clipped); float in, float out (float32 at least, values
    outside ``[-1, 1]`` left as they are). Other integer input is read by :func:`to_int16`.

    Output ``n`` stands for time ``n / to_rate`` of input sample time ``n * from_rate /
    to_rate``; ``flush`` emits the outputs the end of the input leaves pending (the signal is
    taken as zero past its end) so the stream yields ``ceil(len(input) * to_rate / from_rate)``
    samples in all, then resets for a new stream. Output lags input by about 32 cycles of the
    filter cutoff (under 3 ms at 24 kHz).
    """

    def __init__(self, from_rate: SampleRate, to_rate: SampleRate = 24_000) -> None:
        """Raise :class:`UsageError` unless both rates are positive whole numbers of hertz
        (``TypeError`` for a rate that is not a number at all, or a bool)."""
        self.from_rate = _check_rate(from_rate, "from_rate")
        self.to_rate = _check_rate(to_rate, "to_rate")
        divisor = math.gcd(self.from_rate, self.to_rate)
        up, down = self.to_rate // divisor, self.from_rate // divisor
        self._kernel = _Kernel(up, down) if up != down else None
        self._dtype: np.dtype[Any] | None = None
        self._reset()

    def _reset(self) -> None:
        half = self._kernel.half if self._kernel is not None else 0
        self._buffer = np.zeros(half, dtype=np.float64)  # zeros stand before the signal
        self._buffer_start = -half  # input index of self._buffer[0]
        self._received = 0
        self._produced = 0
        self._dtype = None

    def _accept(self, chunk: AudioInput) -> np.ndarray[Any, Any]:
        samples = _samples(chunk)
        dtype: np.dtype[Any] = np.dtype(np.int16)
        if samples.dtype.kind == "f":
            dtype = np.dtype(np.float64 if samples.dtype.itemsize > 4 else np.float32)
        if self._dtype is None:
            self._dtype = dtype
        elif (self._dtype.kind == "f") != (dtype.kind == "f"):
            raise UsageError(
                f"resampler stream started with {self._dtype} audio, got {samples.dtype}"
            )
        return samples

    def _finish(self, values: npt.NDArray[np.float64]) -> np.ndarray[Any, Any]:
        dtype = self._dtype if self._dtype is not None else np.dtype(np.int16)
        if dtype == np.int16:
            return np.clip(np.rint(values), _INT16_MIN, _INT16_MAX).astype(np.int16)
        return values.astype(dtype)

    def process(self, chunk: AudioInput) -> np.ndarray[Any, Any]:
        """Feed ``chunk`` and return the output samples it completes (possibly none).

        Raises what :func:`to_int16` raises for bad input, and :class:`UsageError` when
        ``chunk`` is float and the stream int16, or the other way round.
        """
        samples = self._accept(chunk)
        if self._kernel is None:
            return self._finish(samples.astype(np.float64))
        self._buffer = np.concatenate([self._buffer, samples.astype(np.float64)])
        self._received += samples.size
        kernel = self._kernel
        # output n needs inputs up to floor(n * down / up) + half
        last_centre = self._received - 1 - kernel.half
        ready = -(-(last_centre + 1) * kernel.up // kernel.down) if last_centre >= 0 else 0
        return self._finish(self._emit(ready))

    def flush(self) -> np.ndarray[Any, Any]:
        """Return the outputs still pending at the end of the input, then reset the stream."""
        if self._kernel is None:
            out = self._finish(np.zeros(0))
        else:
            kernel = self._kernel
            self._buffer = np.concatenate([self._buffer, np.zeros(kernel.half)])
            total = -(-self._received * kernel.up // kernel.down)
            out = self._finish(self._emit(total))
        self._reset()
        return out

    def _emit(self, end: int) -> npt.NDArray[np.float64]:
        kernel = self._kernel
        assert kernel is not None
        count = end - self._produced
        if count <= 0:
            return np.zeros(0)
        out = np.empty(count, dtype=np.float64)
        block = max(1, _BLOCK_ELEMENTS // kernel.offsets.size)
        for first in range(0, count, block):
            index = np.arange(self._produced + first, self._produced + min(count, first + block))
            position = index * kernel.down
            centre = position // kernel.up
            gather = centre[:, None] + kernel.offsets[None, :] - self._buffer_start
            values = self._buffer[gather]
            weights = kernel.weights(position % kernel.up)
            out[first : first + index.size] = np.einsum("ij,ij->i", values, weights)
        self._produced = end
        keep_from = end * kernel.down // kernel.up - kernel.half + 1
        drop = keep_from - self._buffer_start
        if drop > 0:
            self._buffer = self._buffer[drop:]
            self._buffer_start += drop
        return out


@overload
def resample(
    samples: Int16Array, from_rate: SampleRate, to_rate: SampleRate = ...
) -> Int16Array: ...
@overload
def resample(
    samples: FloatArray, from_rate: SampleRate, to_rate: SampleRate = ...
) -> FloatArray: ...
@overload
def resample(
    samples: AudioInput, from_rate: SampleRate, to_rate: SampleRate = ...
) -> npt.NDArray[Any]: ...


def resample(
    samples: AudioInput, from_rate: SampleRate, to_rate: SampleRate = 24_000
) -> npt.NDArray[Any]:
    """Resample mono audio from ``from_rate`` to ``to_rate`` Hz (anti-aliased when lowering).

    int16 in, int16 out; float in, float out (float32 at least); other input is read by
    :func:`to_int16`. Equal rates return a copy. The output has
    ``ceil(len(samples) * to_rate / from_rate)`` samples. Windowed-sinc polyphase filtering:
    flat within 0.01 dB up to 84 % of the lower Nyquist frequency (10 kHz when the slower
    side runs at 24 kHz), -6 dB at 92 %, and at least 80 dB down from that Nyquist frequency
    on, so nothing audible folds back. For audio arriving in chunks use :class:`Resampler`,
    which leaves no seams between chunks.

    Raises :class:`UsageError` for a rate that is not a positive whole number, ``TypeError``
    for a rate that is not a number (or is a bool), and what :func:`to_int16` raises for bad
    input.
    """
    resampler = Resampler(from_rate, to_rate)
    head = resampler.process(samples)
    tail = resampler.flush()
    return np.concatenate([head, tail]) if tail.size else head


# --- G.711 ---------------------------------------------------------------------------------
#
# ITU-T G.711 with the conventions of the ITU-T reference software (G.191): negative inputs
# take the one's-complement magnitude, so -1 is coded like -0 and coding is symmetric.
# mu-law works on the top 14 bits with a bias of 33 and inverts every bit of the code;
# A-law works on the top 13 bits and inverts the even bits (XOR 0x55).


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


# --- levels and WAV ------------------------------------------------------------------------


def _unit_floats(samples: AudioInput) -> npt.NDArray[np.float64]:
    values = _samples(samples)
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
    frame_rate = _check_rate(rate, "rate")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(frame_rate)
        writer.writeframes(pcm.astype("<i2", copy=False).tobytes())
    return buffer.getvalue()


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
