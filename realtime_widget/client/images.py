"""Images as ``data:`` URLs for ``input_image`` content parts.

The Realtime API takes an image inside a user message as a base64 data URL. Remote URLs are
refused here rather than fetched: the API does not accept them, and downloading is I/O that
does not belong in a pure helper; download the image and pass its bytes or path.

:func:`image_to_data_url` reads, in this order:

- a ``data:image/...;base64,...`` string: validated (base64 and declared type against the
  bytes), then handled like bytes;
- any other ``str`` or ``os.PathLike``: a file path, read as bytes;
- ``bytes``, ``bytearray``, ``memoryview``: an encoded PNG, JPEG, GIF or WebP image, recognised
  by its magic bytes and sent as it is unless it must be downscaled;
- a ``PIL.Image.Image`` (when Pillow is installed): encoded in ``format``;
- a numpy array of pixels, ``HxW`` (grey), ``HxWx2`` (grey and alpha), ``HxWx3`` (RGB) or
  ``HxWx4`` (RGBA); uint8 (or other integers within 0-255), bool, or floats in ``[0, 1]``:
  encoded in ``format``. Without Pillow, PNG is written by :func:`encode_png`, which needs
  nothing but the standard library;
- a matplotlib ``Figure`` (anything with ``savefig``) or ``Axes``: rendered to PNG as a
  notebook shows it (``bbox_inches="tight"``), then converted to ``format`` if that differs;
- any object with an IPython ``_repr_png_`` or ``_repr_jpeg_`` method.

Images wider or taller than ``max_size`` are downscaled (aspect ratio kept) and re-encoded in
``format``; this needs Pillow, and without it images are sent at their own size.

Value errors raise :class:`~realtime_widget.core.errors.UsageError` (a ``ValueError``);
unsupported types raise ``TypeError``; unreadable files raise ``OSError``.
"""

from __future__ import annotations

import base64
import io
import os
import re
import struct
import sys
import zlib
from pathlib import Path
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from realtime_widget.audio.pcm import base64_to_bytes
from realtime_widget.core.checks import need_int
from realtime_widget.core.errors import UsageError

__all__ = ["ImageFormat", "detect_image_type", "encode_png", "image_to_data_url"]

ImageFormat: TypeAlias = Literal["png", "jpeg"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MIME = {"png": "image/png", "jpeg": "image/jpeg"}
_FORMAT_ALIASES = {"png": "png", "jpeg": "jpeg", "jpg": "jpeg"}
_MIME_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg"}
_URL_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_DATA_URL = re.compile(r"^data:(?P<mime>[^;,]*)(?P<params>(?:;[^;,]*)*),(?P<payload>.*)$", re.S)
_MAX_PATH_LENGTH = 4096
_JPEG_QUALITY = 90


def detect_image_type(data: bytes | bytearray | memoryview) -> str | None:
    """The MIME type of encoded image bytes by their magic bytes, or ``None`` if unknown.

    Recognises ``image/png``, ``image/jpeg``, ``image/gif`` and ``image/webp``.
    """
    head = bytes(data[:12])
    if head.startswith(_PNG_SIGNATURE):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _check_pixels(pixels: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    """Validated pixels as a C-contiguous uint8 array, HxW or HxWxC with C in 2..4."""
    array = np.asarray(pixels)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (2, 3, 4))):
        hint = ""
        if array.ndim == 3 and array.shape[0] in (1, 2, 3, 4):
            hint = ": for channels-first data use np.moveaxis(a, 0, -1)"
        raise UsageError(
            f"image array must be HxW or HxWxC with C in 1..4, got shape {array.shape}{hint}"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise UsageError(f"empty image of shape {array.shape}")
    kind = array.dtype.kind
    if kind == "b":
        return np.ascontiguousarray(array.astype(np.uint8) * np.uint8(255))
    if kind in "iu":
        if array.dtype != np.uint8:
            bad = np.argwhere((array < 0) | (array > 255))
            if bad.size:
                where = tuple(int(i) for i in bad[0])
                raise UsageError(f"{array.dtype} pixel {array[where]} at {where} is outside 0..255")
        return np.ascontiguousarray(array.astype(np.uint8))
    if kind == "f":
        bad = np.argwhere(~((array >= 0.0) & (array <= 1.0)))  # NaN included
        if bad.size:
            where = tuple(int(i) for i in bad[0])
            raise UsageError(
                f"float pixel {array[where]} at {where} is outside [0, 1]: "
                "scale floats to [0, 1] or pass uint8"
            )
        return np.ascontiguousarray(np.rint(array * 255.0).astype(np.uint8))
    raise TypeError(f"unsupported image dtype {array.dtype}: expected uint8, bool or floats")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def encode_png(pixels: npt.ArrayLike, *, compression: int = 6) -> bytes:
    """Encode a pixel array as an 8-bit PNG with the standard library only (zlib, struct).

    ``pixels`` is as for :func:`image_to_data_url` (HxW grey, HxWx2 grey and alpha, HxWx3
    RGB, HxWx4 RGBA; uint8, bool, integers within 0-255 or floats in ``[0, 1]``).
    ``compression`` is the zlib level, 0-9. Raises :class:`UsageError` for a bad shape or
    value, ``TypeError`` for an unsupported dtype.
    """
    if not 0 <= compression <= 9:
        raise UsageError(f"png compression must be 0..9, got {compression!r}")
    array = _check_pixels(pixels)
    height, width = array.shape[:2]
    channels = 1 if array.ndim == 2 else array.shape[2]
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    rows = array.reshape(height, width * channels)
    # Filter type 2 ("Up") on every row: the difference from the row above, modulo 256.
    filtered = np.empty((height, width * channels + 1), dtype=np.uint8)
    filtered[:, 0] = 2
    filtered[:, 1:] = rows
    filtered[1:, 1:] -= rows[:-1]
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"".join(
        (
            _PNG_SIGNATURE,
            _png_chunk(b"IHDR", header),
            _png_chunk(b"IDAT", zlib.compress(filtered.tobytes(), compression)),
            _png_chunk(b"IEND", b""),
        )
    )


def _load_pil() -> Any | None:
    """Pillow's ``Image`` module, or ``None`` when Pillow is not installed."""
    try:
        from PIL import Image
    except ImportError:
        return None
    return Image


def _data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _has_alpha(image: Any) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )


def _encode_pil(image: Any, max_size: int | None, fmt: str) -> str:
    """Encode a Pillow image in ``fmt``, upright and downscaled to ``max_size``."""
    from PIL import Image, ImageOps

    image = ImageOps.exif_transpose(image)
    if _has_alpha(image):
        image = image.convert("RGBA" if image.mode != "LA" else "LA")
        if fmt == "jpeg":  # JPEG has no alpha: composite on white, as viewers show it
            rgba = image.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(background, rgba).convert("RGB")
    elif image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    if max_size is not None and max(image.size) > max_size:
        scale = max_size / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    if fmt == "jpeg":
        image.save(buffer, format="JPEG", quality=_JPEG_QUALITY)
    else:
        image.save(buffer, format="PNG")
    return _data_url(_MIME[fmt], buffer.getvalue())


def _from_bytes(data: bytes, max_size: int | None, fmt: str, *, convert: bool) -> str:
    """Encoded image bytes as a data URL; re-encoded in ``fmt`` when too large or when
    ``convert`` asks for ``fmt`` and the bytes are in another format."""
    mime = detect_image_type(data)
    if mime is None:
        raise UsageError(
            f"unrecognised image bytes starting {data[:8]!r}: expected png, jpeg, gif or webp"
        )
    convert = convert and mime != _MIME[fmt]
    pil = _load_pil()
    if pil is None:
        if convert:
            raise UsageError(f"converting {mime} to {fmt} needs pillow (pip install pillow)")
        return _data_url(mime, data)
    if not convert and max_size is None:
        return _data_url(mime, data)
    try:
        image = pil.open(io.BytesIO(data))
        size = image.size
    except Exception as exc:  # Pillow raises several types for corrupt data
        raise UsageError(f"cannot decode {mime} image of {len(data)} bytes: {exc}") from exc
    if not convert and (max_size is None or max(size) <= max_size):
        return _data_url(mime, data)
    return _encode_pil(image, max_size, fmt)


def _parse_data_url(url: str) -> bytes:
    """The bytes of a base64 image data URL, checked against its declared type."""
    match = _DATA_URL.match(url)
    if match is None:
        raise UsageError(f"malformed data url {url[:40]!r}")
    declared = match["mime"].lower()
    declared = _MIME_ALIASES.get(declared, declared)
    if ";base64" not in match["params"].lower():
        raise UsageError(f"data url {url[:40]!r} is not base64-encoded")
    if not declared.startswith("image/"):
        raise UsageError(f"data url has type {declared!r}, not an image type")
    data = base64_to_bytes(match["payload"])
    actual = detect_image_type(data)
    if actual is None:
        raise UsageError(f"data url declares {declared} but its bytes are not a known image")
    if actual != declared:
        raise UsageError(f"data url declares {declared} but holds {actual}")
    return data


def _render_figure(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def _repr_bytes(image: Any) -> bytes | None:
    """PNG or JPEG bytes from IPython's display protocol, if the object offers them."""
    for name in ("_repr_png_", "_repr_jpeg_"):
        method = getattr(image, name, None)
        if not callable(method):
            continue
        result = method()
        if isinstance(result, tuple):  # (data, metadata)
            result = result[0] if result else None
        if isinstance(result, str):  # some objects return base64 text
            result = base64_to_bytes(result)
        if isinstance(result, bytes | bytearray):
            return bytes(result)
    return None


def image_to_data_url(image: object, *, max_size: int | None = 2048, format: str = "png") -> str:
    """Encode ``image`` as a ``data:image/...;base64,...`` URL (accepted inputs: module doc).

    ``max_size`` bounds the longer side in pixels (``None``: no bound); larger images are
    downscaled when Pillow is installed. ``format`` (``"png"`` or ``"jpeg"``) is used for
    what this function encodes itself; encoded bytes within ``max_size`` keep their format.

    Raises :class:`UsageError` for a remote URL, a malformed data URL, unrecognised bytes,
    a bad pixel array, JPEG output without Pillow, or a bad ``max_size`` / ``format``;
    ``TypeError`` for an unsupported type; ``OSError`` when a file cannot be read.
    """
    fmt = _FORMAT_ALIASES.get(format.lower()) if isinstance(format, str) else None
    if fmt is None:
        raise UsageError(f"image format must be 'png' or 'jpeg', got {format!r}")
    if max_size is not None:
        max_size = need_int("max_size", max_size, "a positive int or None", above=0)

    if isinstance(image, str):
        if image.startswith("data:"):
            return _from_bytes(_parse_data_url(image), max_size, fmt, convert=False)
        if _URL_SCHEME.match(image):
            raise UsageError(
                f"remote image url {image[:60]!r} is not accepted: the api takes data urls, "
                "so download the image and pass its bytes or path"
            )
        if len(image) > _MAX_PATH_LENGTH:
            raise UsageError(f"string of {len(image)} chars is neither a data url nor a path")
        return _from_bytes(Path(image).expanduser().read_bytes(), max_size, fmt, convert=False)
    if isinstance(image, os.PathLike):
        return _from_bytes(Path(image).expanduser().read_bytes(), max_size, fmt, convert=False)
    if isinstance(image, bytes | bytearray | memoryview):
        return _from_bytes(bytes(image), max_size, fmt, convert=False)

    pil = _load_pil()
    if pil is not None and isinstance(image, pil.Image):
        return _encode_pil(image, max_size, fmt)
    if isinstance(image, np.ndarray):
        pixels = _check_pixels(image)
        if pil is not None:
            return _encode_pil(pil.fromarray(pixels), max_size, fmt)
        if fmt != "png":
            raise UsageError(f"encoding an array as {fmt} needs pillow (pip install pillow)")
        return _data_url("image/png", encode_png(pixels))
    axes_module = sys.modules.get("matplotlib.axes")
    if axes_module is not None and isinstance(image, axes_module.Axes):
        image = image.figure
    if callable(getattr(image, "savefig", None)):
        return _from_bytes(_render_figure(image), max_size, fmt, convert=True)
    encoded = _repr_bytes(image)
    if encoded is not None:
        return _from_bytes(encoded, max_size, fmt, convert=True)
    raise TypeError(
        f"cannot make an image from {type(image).__name__}: expected a path, bytes, a data url, "
        "a PIL image, a numpy array or a matplotlib figure"
    )
