"""Input decoding (every bad-input class gets a one-line DreamInputError) and output encoding."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from dream_core.errors import DreamInputError, DreamParamsError
from dream_core.images import (
    encode_still,
    load_image,
    output_format,
    read_params,
    sample_path,
)


def encoded(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def assert_one_line_error(src, match: str, **kw) -> None:
    with pytest.raises(DreamInputError, match=match) as e:
        load_image(src, **kw)
    assert "\n" not in str(e.value) and len(str(e.value)) < 200


# ---------------------------------------------------------------- bad inputs


def test_empty(tmp_path):
    assert_one_line_error(b"", "empty")
    p = tmp_path / "empty.png"
    p.write_bytes(b"")
    assert_one_line_error(p, "empty")


def test_text_renamed_png(tmp_path):
    p = tmp_path / "notes.png"
    p.write_text("hello, this is not a picture\n" * 20)
    assert_one_line_error(p, "not an image")


def test_corrupt(sample_image):
    data = bytearray(encoded(sample_image, "PNG"))
    data[60:400] = bytes(340)  # zero out part of the compressed stream
    assert_one_line_error(bytes(data), "corrupt|truncated")


def test_truncated(sample_image):
    for fmt in ("PNG", "JPEG"):
        data = encoded(sample_image, fmt)
        assert_one_line_error(data[: len(data) // 2], "truncated|corrupt")


def test_decompression_bomb_checked_before_decoding():
    bomb = encoded(Image.new("1", (12000, 12000)), "PNG")  # tiny file, 144 MP
    assert len(bomb) < 100_000
    assert_one_line_error(bomb, "too large", max_pixels=50_000_000)


def test_pillow_bomb_guard_also_maps_to_input_error(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    assert_one_line_error(encoded(Image.new("RGB", (100, 100)), "PNG"), "too large")


def test_too_many_bytes(sample_image, tmp_path):
    data = encoded(sample_image, "PNG")
    assert_one_line_error(data, "too large", max_bytes=1000)
    p = tmp_path / "big.png"
    p.write_bytes(data)
    assert_one_line_error(p, "too large", max_bytes=1000)
    assert_one_line_error(io.BytesIO(data), "too large", max_bytes=1000)


def test_missing_file(tmp_path):
    assert_one_line_error(tmp_path / "nope.png", "can't read")


# ---------------------------------------------------------------- conversions


def test_exif_orientation_applied(sample_image):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    data = encoded(sample_image, "JPEG", exif=exif.tobytes())
    loaded = load_image(data)
    assert loaded.image.size == (sample_image.height, sample_image.width)


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "1", "I;16", "LA"])
def test_modes_become_rgb_or_rgba(sample_image, mode):
    if mode == "I;16":
        arr = (np.asarray(sample_image.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
        img = Image.fromarray(arr)
        assert img.mode.startswith("I")
        fmt = "PNG"
    else:
        img = sample_image.convert(mode)
        fmt = "JPEG" if mode == "CMYK" else "PNG"
    out = load_image(encoded(img, fmt)).image
    assert out.mode == "RGB"  # LA here is fully opaque
    assert out.size == sample_image.size
    grey = np.asarray(out.convert("L"), dtype=np.float32)
    assert 40 < grey.mean() < 220  # not black/white garbage (16-bit scaled properly)


def test_transparency_kept_as_rgba(sample_image):
    rgba = sample_image.convert("RGBA")
    rgba.putpixel((0, 0), (0, 0, 0, 0))
    assert load_image(encoded(rgba, "PNG")).image.mode == "RGBA"
    opaque = sample_image.convert("RGBA")
    assert load_image(encoded(opaque, "PNG")).image.mode == "RGB"  # alpha that hides nothing is dropped
    pal = sample_image.convert("P")
    pal.info["transparency"] = 0
    assert load_image(encoded(pal, "PNG", transparency=0)).image.mode == "RGBA"


def test_animated_input_first_frame_with_note(sample_image):
    frames = [sample_image, sample_image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    loaded = load_image(data)
    assert any("first frame" in n for n in loaded.notes)
    assert loaded.image.size == sample_image.size


def test_max_size_downscales_with_note(sample_image):
    loaded = load_image(encoded(sample_image, "JPEG"), max_size=64)
    assert max(loaded.image.size) == 64
    assert any("downscaled" in n for n in loaded.notes)
    assert loaded.original_size == sample_image.size


def test_sample_is_bundled():
    img = load_image(sample_path()).image
    assert img.size == (512, 512) and img.mode == "RGB"


# ---------------------------------------------------------------- output


def test_output_format_from_extension():
    assert output_format("a/b.JPG", False) == "jpeg"
    assert output_format("x.webp", True) == "webp"
    assert output_format(None, True) == "webp" and output_format(None, False) == "png"
    with pytest.raises(DreamParamsError, match="unsupported"):
        output_format("x.bmp", False)


def test_still_formats_and_png_params(sample_image):
    from dream_core.params import DreamParams

    params = DreamParams(layer="mixed3:7", seed=42).resolved()
    png = encode_still(sample_image, "png", params)
    assert read_params(png).explicit() == {"layer": "mixed3:7", "seed": 42}  # what was set, not the fill-ins
    assert read_params(png).resolved() == params
    with Image.open(io.BytesIO(png)) as im:
        assert im.format == "PNG" and "dreambot:params" in im.text
    rgba = sample_image.convert("RGBA")
    with Image.open(io.BytesIO(encode_still(rgba, "jpeg"))) as im:
        assert im.format == "JPEG" and im.mode == "RGB"
    with Image.open(io.BytesIO(encode_still(sample_image, "webp"))) as im:
        assert im.format == "WEBP"
    assert read_params(encode_still(sample_image, "png")) is None
