"""Tests for realtime_widget.client.images: data URLs for input_image content parts."""

from __future__ import annotations

import base64
import io
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from matplotlib.figure import Figure
from PIL import Image

from realtime_widget.client import images
from realtime_widget.client.images import detect_image_type, encode_png, image_to_data_url
from realtime_widget.core.errors import UsageError


def split_data_url(url: str) -> tuple[str, bytes]:
    head, _, payload = url.partition(",")
    assert head.startswith("data:") and head.endswith(";base64")
    return head[5:-7], base64.b64decode(payload, validate=True)


def decode(url: str) -> Image.Image:
    mime, data = split_data_url(url)
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.get_format_mimetype() == mime
    return image


def encoded(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


@pytest.fixture
def no_pil(monkeypatch: pytest.MonkeyPatch) -> None:
    """Behave as if Pillow were not installed."""
    monkeypatch.setattr(images, "_load_pil", lambda: None)


GRADIENT = np.arange(12 * 8 * 3, dtype=np.uint8).reshape(12, 8, 3)


# --- magic bytes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("GIF", "image/gif"), ("WEBP", "image/webp")],
)
def test_detect_image_type(fmt: str, mime: str) -> None:
    assert detect_image_type(encoded(Image.new("RGB", (4, 4)), fmt)) == mime


def test_detect_image_type_unknown() -> None:
    assert detect_image_type(b"") is None
    assert detect_image_type(b"RIFF\x00\x00\x00\x00WAVEfmt ") is None
    assert detect_image_type(b"<svg xmlns=...") is None


# --- the dependency-free PNG encoder -------------------------------------------------------

pixel_arrays = st.one_of(
    hnp.arrays(np.uint8, st.tuples(st.integers(1, 24), st.integers(1, 24))),
    hnp.arrays(
        np.uint8, st.tuples(st.integers(1, 24), st.integers(1, 24), st.sampled_from([2, 3, 4]))
    ),
)


@given(pixel_arrays)
def test_encode_png_decodes_to_the_same_pixels(pixels: np.ndarray) -> None:
    image = Image.open(io.BytesIO(encode_png(pixels)))
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    assert image.mode == {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[channels]
    assert np.array_equal(np.asarray(image), pixels)


def test_encode_png_chunks_are_well_formed() -> None:
    png = encode_png(GRADIENT, compression=9)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    offset, kinds = 8, []
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind = png[offset + 4 : offset + 8]
        body = png[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", png[offset + 8 + length : offset + 12 + length])
        assert crc == zlib.crc32(kind + body)
        kinds.append(kind)
        if kind == b"IHDR":
            assert struct.unpack(">IIBBBBB", body) == (8, 12, 8, 2, 0, 0, 0)
        if kind == b"IDAT":
            rows = np.frombuffer(zlib.decompress(body), np.uint8).reshape(12, 1 + 8 * 3)
            assert set(rows[:, 0].tolist()) <= {0, 1, 2, 3, 4}
        offset += 12 + length
    assert kinds == [b"IHDR", b"IDAT", b"IEND"]


def test_encode_png_converts_other_dtypes() -> None:
    as_bool = np.array([[True, False]])
    assert np.asarray(Image.open(io.BytesIO(encode_png(as_bool)))).tolist() == [[255, 0]]
    as_float = np.array([[0.0, 0.5, 1.0]])
    assert np.asarray(Image.open(io.BytesIO(encode_png(as_float)))).tolist() == [[0, 128, 255]]
    as_int = np.array([[0, 200]], dtype=np.int64)
    assert np.asarray(Image.open(io.BytesIO(encode_png(as_int)))).tolist() == [[0, 200]]
    single = np.zeros((3, 2, 1), dtype=np.uint8)
    assert Image.open(io.BytesIO(encode_png(single))).mode == "L"


@pytest.mark.parametrize(
    ("pixels", "error", "message"),
    [
        (
            np.zeros((3, 10, 12)),
            UsageError,
            r"got shape \(3, 10, 12\): for channels-first data use np\.moveaxis",
        ),
        (np.zeros((6, 6, 5)), UsageError, r"HxWxC with C in 1\.\.4, got shape \(6, 6, 5\)$"),
        (np.zeros(5), UsageError, r"got shape \(5,\)"),
        (np.zeros((0, 4)), UsageError, r"empty image of shape \(0, 4\)"),
        (
            np.array([[0.5, 255.0]]),
            UsageError,
            r"float pixel 255\.0 at \(0, 1\) is outside \[0, 1\]",
        ),
        (np.array([[np.nan]]), UsageError, r"float pixel nan at \(0, 0\)"),
        (np.array([[3, -1]], dtype=np.int16), UsageError, r"int16 pixel -1 at \(0, 1\) is outside"),
        (np.array([[300]], dtype=np.uint16), UsageError, r"uint16 pixel 300 at \(0, 0\)"),
        (np.array([[1j]]), TypeError, "unsupported image dtype complex128"),
    ],
)
def test_bad_pixel_arrays(pixels: np.ndarray, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        encode_png(pixels)
    with pytest.raises(error, match=message):
        image_to_data_url(pixels)


def test_encode_png_compression_level_is_checked() -> None:
    with pytest.raises(UsageError, match=r"png compression must be 0\.\.9, got 10"):
        encode_png(GRADIENT, compression=10)
    assert len(encode_png(GRADIENT, compression=0)) > len(encode_png(GRADIENT, compression=9))


# --- encoded bytes, files and data URLs ----------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
def test_small_encoded_bytes_pass_through_untouched(fmt: str) -> None:
    data = encoded(Image.new("RGB", (16, 9), "red"), fmt)
    mime, payload = split_data_url(image_to_data_url(data))
    assert mime == f"image/{fmt.lower()}"
    assert payload == data
    assert image_to_data_url(bytearray(data)) == image_to_data_url(memoryview(data))


def test_unknown_bytes_are_rejected() -> None:
    with pytest.raises(UsageError, match=r"unrecognised image bytes starting b'GIF8'"):
        image_to_data_url(b"GIF8")


def test_corrupt_bytes_are_reported_when_they_must_be_decoded() -> None:
    with pytest.raises(UsageError, match=r"cannot decode image/png image of 20 bytes"):
        image_to_data_url(b"\x89PNG\r\n\x1a\n" + bytes(12))


def test_files_by_str_and_path(tmp_path: Path) -> None:
    data = encoded(Image.new("RGB", (5, 5), "blue"), "JPEG")
    target = tmp_path / "photo.bin"  # the type comes from the bytes, not the name
    target.write_bytes(data)
    assert image_to_data_url(target) == image_to_data_url(str(target))
    assert split_data_url(image_to_data_url(target)) == ("image/jpeg", data)
    with pytest.raises(FileNotFoundError):
        image_to_data_url(tmp_path / "missing.png")


def test_valid_data_urls_are_accepted() -> None:
    data = encoded(Image.new("RGB", (3, 3)), "PNG")
    url = "data:image/png;base64," + base64.b64encode(data).decode()
    assert image_to_data_url(url) == url
    jpeg = encoded(Image.new("RGB", (3, 3)), "JPEG")
    alias = "data:image/jpg;name=x.jpg;base64," + base64.b64encode(jpeg).decode()
    assert split_data_url(image_to_data_url(alias)) == ("image/jpeg", jpeg)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("data:image/png;base64", r"malformed data url 'data:image/png;base64'"),
        ("data:image/png,rawbytes", r"is not base64-encoded"),
        ("data:text/plain;base64,aGk=", r"data url has type 'text/plain', not an image type"),
        ("data:image/png;base64,@@@@", r"invalid base64 '@@@@'"),
        ("data:image/png;base64,aGVsbG8=", r"declares image/png but its bytes are not a known"),
        (
            "data:image/png;base64,"
            + base64.b64encode(encoded(Image.new("RGB", (2, 2)), "JPEG")).decode(),
            r"data url declares image/png but holds image/jpeg",
        ),
    ],
)
def test_bad_data_urls(url: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        image_to_data_url(url)


@pytest.mark.parametrize(
    "url", ["https://example.com/cat.png", "http://example.com/a.jpg", "file:///tmp/a.png"]
)
def test_remote_urls_are_refused(url: str) -> None:
    with pytest.raises(UsageError, match=r"remote image url .* is not accepted: .*download"):
        image_to_data_url(url)


def test_very_long_strings_are_not_taken_for_paths() -> None:
    with pytest.raises(UsageError, match="string of 5000 chars is neither a data url nor a path"):
        image_to_data_url("A" * 5000)


# --- downscaling ---------------------------------------------------------------------------


def test_large_encoded_bytes_are_downscaled_and_re_encoded() -> None:
    data = encoded(Image.new("RGB", (300, 150), "green"), "JPEG")
    small = decode(image_to_data_url(data, max_size=100))
    assert small.size == (100, 50) and small.format == "PNG"
    as_jpeg = decode(image_to_data_url(data, max_size=100, format="jpg"))
    assert as_jpeg.size == (100, 50) and as_jpeg.format == "JPEG"
    assert split_data_url(image_to_data_url(data, max_size=None))[1] == data
    assert split_data_url(image_to_data_url(data, max_size=300))[1] == data


def test_downscaling_keeps_at_least_one_pixel() -> None:
    thin = decode(image_to_data_url(Image.new("L", (1000, 2)), max_size=10))
    assert thin.size == (10, 1)


def test_exif_orientation_is_applied_before_downscaling() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, displayed rotated by 90 degrees
    data = encoded(Image.new("RGB", (40, 20)), "JPEG", exif=exif)
    assert decode(image_to_data_url(data, max_size=10)).size == (5, 10)


def test_pil_images_are_not_modified() -> None:
    original = Image.new("RGBA", (64, 32), (1, 2, 3, 4))
    decode(image_to_data_url(original, max_size=8))
    assert original.size == (64, 32) and original.mode == "RGBA"


# --- PIL images, arrays, figures -----------------------------------------------------------


def test_pil_image_to_png_keeps_pixels_and_alpha() -> None:
    pixels = np.random.default_rng(3).integers(0, 256, (7, 9, 4), dtype=np.uint8)
    url = image_to_data_url(Image.fromarray(pixels))
    assert url.startswith("data:image/png;base64,")
    assert np.array_equal(np.asarray(decode(url)), pixels)


def test_palette_and_other_modes() -> None:
    palette = Image.new("P", (4, 4))
    assert decode(image_to_data_url(palette)).mode == "RGB"
    transparent = Image.new("P", (4, 4))
    transparent.info["transparency"] = 0
    assert decode(image_to_data_url(transparent)).mode == "RGBA"
    assert decode(image_to_data_url(Image.new("CMYK", (4, 4)))).mode == "RGB"
    assert decode(image_to_data_url(Image.new("LA", (4, 4)))).mode == "LA"
    assert decode(image_to_data_url(Image.new("L", (4, 4)), format="jpeg")).mode == "L"


def test_alpha_is_composited_on_white_for_jpeg() -> None:
    clear = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    result = decode(image_to_data_url(clear, format="JPEG"))
    assert result.mode == "RGB"
    assert np.asarray(result).min() >= 250


@pytest.mark.parametrize("shape", [(6, 5), (6, 5, 2), (6, 5, 3), (6, 5, 4)])
def test_numpy_arrays(shape: tuple[int, ...]) -> None:
    pixels = np.random.default_rng(5).integers(0, 256, shape, dtype=np.uint8)
    assert np.array_equal(np.asarray(decode(image_to_data_url(pixels))), pixels)


def test_float_arrays_are_scaled() -> None:
    pixels = np.linspace(0, 1, 20).reshape(4, 5)
    expected = np.rint(pixels * 255).astype(np.uint8)
    assert np.array_equal(np.asarray(decode(image_to_data_url(pixels))), expected)


def test_large_arrays_are_downscaled() -> None:
    assert decode(image_to_data_url(np.zeros((400, 100), np.uint8), max_size=40)).size == (10, 40)


def test_matplotlib_figure_and_axes() -> None:
    figure = Figure(figsize=(2, 1), dpi=50)
    axes = figure.add_subplot()
    axes.plot([0, 1], [1, 0])
    from_figure = decode(image_to_data_url(figure))
    assert from_figure.format == "PNG" and 50 <= from_figure.width <= 110
    assert image_to_data_url(axes) == image_to_data_url(figure)
    assert decode(image_to_data_url(figure, format="jpeg")).format == "JPEG"
    assert max(decode(image_to_data_url(figure, max_size=20)).size) == 20


def test_objects_with_ipython_png_repr() -> None:
    png = encode_png(GRADIENT)

    class Plain:
        def _repr_png_(self) -> bytes:
            return png

    class WithMetadata:
        def _repr_png_(self) -> tuple[bytes, dict[str, int]]:
            return png, {"width": 8}

    class AsText:
        def _repr_png_(self) -> None:
            return None

        def _repr_jpeg_(self) -> str:
            return base64.b64encode(encoded(Image.new("RGB", (2, 2)), "JPEG")).decode()

    expected = np.asarray(decode(image_to_data_url(png)))
    assert np.array_equal(np.asarray(decode(image_to_data_url(Plain()))), expected)
    assert np.array_equal(np.asarray(decode(image_to_data_url(WithMetadata()))), expected)
    # the repr is converted to the requested format (png by default)
    assert decode(image_to_data_url(AsText())).format == "PNG"


@pytest.mark.parametrize("value", [12, None, {"a": 1}, object()])
def test_unsupported_types(value: object) -> None:
    with pytest.raises(TypeError, match=f"cannot make an image from {type(value).__name__}"):
        image_to_data_url(value)


@pytest.mark.parametrize("fmt", ["gif", "webp", "", 3])
def test_bad_format(fmt: object) -> None:
    with pytest.raises(UsageError, match=r"image format must be 'png' or 'jpeg', got"):
        image_to_data_url(GRADIENT, format=fmt)  # type: ignore[arg-type]


@pytest.mark.parametrize("max_size", [0, -5, 1.5, True, "100"])
def test_bad_max_size(max_size: object) -> None:
    with pytest.raises(UsageError, match=r"max_size must be a positive int or None, got"):
        image_to_data_url(GRADIENT, max_size=max_size)  # type: ignore[arg-type]


# --- without Pillow ------------------------------------------------------------------------


@pytest.mark.usefixtures("no_pil")
def test_arrays_are_encoded_without_pillow() -> None:
    url = image_to_data_url(GRADIENT)
    assert url == "data:image/png;base64," + base64.b64encode(encode_png(GRADIENT)).decode()
    assert np.array_equal(np.asarray(decode(url)), GRADIENT)
    big = np.zeros((50, 30), dtype=np.uint8)
    assert decode(image_to_data_url(big, max_size=10)).size == (30, 50)  # not scaled


@pytest.mark.usefixtures("no_pil")
def test_bytes_pass_through_unscaled_without_pillow() -> None:
    data = encoded(Image.new("RGB", (300, 150)), "JPEG")
    assert split_data_url(image_to_data_url(data, max_size=10)) == ("image/jpeg", data)


@pytest.mark.usefixtures("no_pil")
def test_jpeg_output_needs_pillow() -> None:
    with pytest.raises(UsageError, match="encoding an array as jpeg needs pillow"):
        image_to_data_url(GRADIENT, format="jpeg")
    with pytest.raises(UsageError, match="converting image/png to jpeg needs pillow"):
        image_to_data_url(Figure(figsize=(1, 1)), format="jpeg")


@pytest.mark.usefixtures("no_pil")
def test_pil_objects_fall_back_to_their_png_repr() -> None:
    # a PIL image made elsewhere still offers IPython's _repr_png_
    url = image_to_data_url(Image.fromarray(GRADIENT))
    assert np.array_equal(np.asarray(decode(url)), GRADIENT)
