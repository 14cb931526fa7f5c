"""Reading user images safely and writing dream results.

:func:`load_image` accepts anything Pillow reads and turns it into an RGB (or
RGBA, when the input has real transparency) image of bounded size, or raises
:class:`DreamInputError` with a one-line reason. :func:`encode_result` and
:func:`save_result` write stills (PNG with the params in a tEXt chunk, JPEG,
WebP) and animations (GIF, animated WebP, MP4 through imageio-ffmpeg).
"""

from __future__ import annotations

import io
import json
import os
import struct
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol, Union, cast

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from dream_core.errors import DreamInputError, DreamParamsError

if TYPE_CHECKING:
    from dream_core.params import DreamParams

DEFAULT_MAX_BYTES = 25 * 1024 * 1024
DEFAULT_MAX_PIXELS = 64_000_000  # 8000x8000
PARAMS_PNG_KEY = "dreambot:params"
GUIDE_PNG_KEY = "dreambot:guide"  # {"name": file name, "sha256": hex} of a guided dream's guide image

ImageSource = Union[bytes, bytearray, memoryview, str, os.PathLike, IO[bytes], Image.Image]

STILL_FORMATS = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP"}
ANIMATION_FORMATS = {"gif": "GIF", "webp": "WEBP", "mp4": "MP4", "png": "PNG"}  # png: animated PNG (APNG)
OUTPUT_EXTENSIONS = ".png .jpg .webp .gif .mp4"


class EncodableResult(Protocol):
    """What :func:`encode_result` needs of a result (:class:`dream_core.results.DreamResult`)."""

    @property
    def image(self) -> Image.Image: ...
    @property
    def frames(self) -> list[Image.Image]: ...
    @property
    def params(self) -> DreamParams: ...
    @property
    def is_animation(self) -> bool: ...


@dataclass
class LoadedImage:
    """A decoded, normalised input image plus user-facing notes about what was done to it."""

    image: Image.Image
    notes: list[str] = field(default_factory=list)
    original_size: tuple[int, int] = (0, 0)
    format: str | None = None


def read_input_bytes(src: Union[bytes, bytearray, memoryview, str, os.PathLike, IO[bytes]], max_bytes: int) -> bytes:
    """The bytes of an input (bytes, a path or a binary file), at most ``max_bytes``.

    Raises :class:`DreamInputError` (one line) for a file that is missing, a folder,
    unreadable, empty or too large. Shared by still pictures and clips
    (:func:`dream_core.clips.decode.read_clip_bytes`).
    """
    if isinstance(src, (bytes, bytearray, memoryview)):
        data = bytes(src)
    elif isinstance(src, (str, os.PathLike)):
        path = Path(src)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise DreamInputError(f"can't read {path}: {exc.strerror or exc}") from None
        if size > max_bytes:
            raise DreamInputError(f"file is too large ({_mb(size)}; the limit is {_mb(max_bytes)})")
        if path.is_dir():
            raise DreamInputError(f"{path} is a folder, not an image")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DreamInputError(f"can't read {path}: {exc.strerror or exc}") from None
    else:
        data = src.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise DreamInputError(f"file is too large ({_mb(len(data))}; the limit is {_mb(max_bytes)})")
    if not data:
        raise DreamInputError("the file is empty")
    return data


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


def load_image(
    src: ImageSource,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_size: int | None = None,
) -> LoadedImage:
    """Decode and normalise an input image.

    EXIF orientation is applied; palette, grayscale, CMYK, 16-bit and float
    images become RGB; transparency is kept (RGBA) when present; an animated
    input gives its first frame. The pixel count is checked from the header
    before decoding (decompression bombs). ``max_size`` bounds the long side
    (downscaled with a note). Raises :class:`DreamInputError`.
    """
    notes: list[str] = []
    if isinstance(src, Image.Image):
        img = src
        if img.width * img.height > max_pixels:
            raise DreamInputError(
                f"image is too large ({img.width}x{img.height}; the limit is {max_pixels / 1e6:.1f} MP)"
            )
        img.load()
        fmt = img.format
        header_size = img.size
    else:
        data = read_input_bytes(src, max_bytes)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                img = Image.open(io.BytesIO(data))
                fmt = img.format
                w, h = img.size
                if w <= 0 or h <= 0:
                    raise DreamInputError("the image has no pixels")
                if w * h > max_pixels:
                    raise DreamInputError(
                        f"image is too large ({w}x{h} = {w * h / 1e6:.1f} MP; the limit is {max_pixels / 1e6:.1f} MP)"
                    )
                frames = int(getattr(img, "n_frames", 1))
                if getattr(img, "is_animated", False) and frames > 1:
                    notes.append(f"animated input ({frames} frames): used the first frame")
                    img.seek(0)
                header_size = img.size
                if max_size and fmt == "JPEG":
                    img.draft("RGB", (max_size, max_size))  # fast DCT downscale of huge JPEGs
                img.load()
        except DreamInputError:
            raise
        except UnidentifiedImageError:
            raise DreamInputError("not an image (or a format Pillow can't read)") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise DreamInputError("image is too large (decompression bomb protection)") from None
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error) as exc:
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if "truncated" in msg:
                raise DreamInputError("the image file is truncated (incomplete download?)") from None
            raise DreamInputError(f"the image is corrupt: {msg}") from None
    original_size = header_size
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # noqa: BLE001 - broken EXIF must not lose the picture
        notes.append("couldn't read the EXIF orientation; used the image as stored")
    img = _to_rgb_or_rgba(img)
    if max_size and max(img.size) > max_size:
        img = img.copy()
        img.thumbnail((max_size, max_size), Image.Resampling.LANCZOS)
    if max(img.size) < max(original_size):
        w, h = original_size
        notes.append(f"downscaled from {w}x{h} to {img.size[0]}x{img.size[1]} (max {max_size} px)")
    return LoadedImage(img, notes, original_size, fmt)


def _to_rgb_or_rgba(img: Image.Image) -> Image.Image:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F") or mode.startswith("I;16"):
        arr = np.asarray(img, dtype=np.float64)
        if mode != "F" and arr.max() > 255:
            arr = arr / (65535.0 if arr.max() <= 65535 else arr.max()) * 255.0
        elif mode == "F":
            lo, hi = float(arr.min()), float(arr.max())
            arr = (arr - lo) / (hi - lo or 1.0) * 255.0
        return Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8), "L").convert("RGB")
    if mode == "RGB":
        return img
    if mode == "RGBA":
        extrema = cast("tuple[tuple[int, int], ...]", img.getextrema())  # per band (min, max)
        alpha_low = extrema[3][0]
        return img if alpha_low < 255 else img.convert("RGB")
    if mode in ("LA", "PA") or (mode == "P" and "transparency" in img.info) or (mode == "RGBa"):
        return _to_rgb_or_rgba(img.convert("RGBA"))
    if mode == "CMYK":
        return img.convert("RGB")
    return img.convert("RGB")


# ---------------------------------------------------------------- output


def output_format(fmt_or_path: str | os.PathLike | None, animated: bool) -> str:
    """Normalise a format name or path extension to one of png/jpeg/webp/gif/mp4."""
    if fmt_or_path is None:
        return "webp" if animated else "png"
    s = str(fmt_or_path).lower()
    is_path = isinstance(fmt_or_path, os.PathLike) or "." in s or "/" in s or os.sep in s
    if is_path:
        ext = Path(s).suffix.lstrip(".")
        if not ext:
            raise DreamParamsError(
                f"output: {Path(s).name!r} has no extension; end it with one of {OUTPUT_EXTENSIONS}"
            )
    else:
        ext = s
    ext = {"jpg": "jpeg"}.get(ext, ext)
    if ext not in ("png", "jpeg", "webp", "gif", "mp4"):
        raise DreamParamsError(f"output: unsupported format {ext!r}; use {OUTPUT_EXTENSIONS}")
    if animated and ext == "jpeg":
        raise DreamParamsError("output: a JPEG can't hold an animation; use .png (animated), .webp, .gif or .mp4")
    return ext


def params_pnginfo(params: DreamParams, extra: dict[str, str] | None = None) -> PngImagePlugin.PngInfo:
    """PNG text chunks: the params that were set (and the seed), as JSON, plus ``extra``."""
    info = PngImagePlugin.PngInfo()
    info.add_text(PARAMS_PNG_KEY, json.dumps(params.explicit()))
    info.add_text("Software", "DreamBot")
    for k, v in (extra or {}).items():
        info.add_text(k, v)
    return info


def read_params(png: bytes | str | os.PathLike) -> DreamParams | None:
    """The DreamParams stored in a DreamBot PNG, or None."""
    from dream_core.params import parse_params

    raw = _png_text(png).get(PARAMS_PNG_KEY)
    return parse_params(json.loads(raw)) if raw else None


def read_guide(png: bytes | str | os.PathLike) -> dict[str, str] | None:
    """The guide image a DreamBot PNG was dreamed with (``{"name", "sha256"}``), or None."""
    raw = _png_text(png).get(GUIDE_PNG_KEY)
    if not raw:
        return None
    data = json.loads(raw)
    return {"name": str(data.get("name", "")), "sha256": str(data.get("sha256", ""))}


def guide_text(name: str, data: bytes) -> dict[str, str]:
    """The PNG text chunk that records a guide image (its file name and sha256)."""
    import hashlib

    return {GUIDE_PNG_KEY: json.dumps({"name": name, "sha256": hashlib.sha256(data).hexdigest()})}


def _png_text(png: bytes | str | os.PathLike) -> dict[str, str]:
    data = png if isinstance(png, (bytes, bytearray)) else Path(png).read_bytes()
    with Image.open(io.BytesIO(data)) as im:
        return dict(getattr(im, "text", {}) or im.info)


def _flatten(img: Image.Image, background=(255, 255, 255)) -> Image.Image:
    if img.mode == "RGBA":
        bg = Image.new("RGB", img.size, background)
        bg.paste(img, mask=img.getchannel("A"))
        return bg
    return img.convert("RGB") if img.mode != "RGB" else img


def encode_still(
    img: Image.Image, fmt: str, params: DreamParams | None = None, text: dict[str, str] | None = None, **options: int
) -> bytes:
    """One picture as bytes; a PNG carries ``params`` and ``text`` in text chunks."""
    buf = io.BytesIO()
    if fmt == "png":
        pnginfo = params_pnginfo(params, text) if params is not None else None
        img.save(buf, format="PNG", pnginfo=pnginfo, compress_level=int(options.get("compress_level", 6)))
    elif fmt == "jpeg":
        _flatten(img).save(buf, format="JPEG", quality=int(options.get("quality", 92)), optimize=True)
    elif fmt == "webp":
        img.save(buf, format="WEBP", quality=int(options.get("quality", 90)), method=4)
    else:
        raise DreamParamsError(f"output: {fmt} is not a still-image format")
    return buf.getvalue()


def encode_apng(
    frames: list[Image.Image], fps: int, pnginfo: PngImagePlugin.PngInfo | None = None, compress_level: int = 6
) -> bytes:
    """Frames as an animated PNG (APNG); ``pnginfo``'s text chunks (the params) go with it."""
    frames = [_flatten(f) for f in frames]
    buf = io.BytesIO()
    frames[0].save(
        buf, format="PNG", save_all=True, append_images=frames[1:], duration=int(round(1000 / max(1, fps))),
        loop=0, pnginfo=pnginfo, compress_level=compress_level,
    )
    return buf.getvalue()


def encode_animation(frames: list[Image.Image], fmt: str, fps: int, **options: int) -> bytes:
    """Frames as an animation (png: APNG, gif, webp, mp4)."""
    if fmt == "png":
        return encode_apng(frames, fps, None, int(options.get("compress_level", 6)))
    frames = [_flatten(f) for f in frames]
    duration = int(round(1000 / max(1, fps)))
    buf = io.BytesIO()
    if fmt == "gif":
        method, dither = Image.Quantize.MEDIANCUT, Image.Dither.FLOYDSTEINBERG
        pal = [f.quantize(colors=256, method=method, dither=dither) for f in frames]
        pal[0].save(buf, format="GIF", save_all=True, append_images=pal[1:], duration=duration, loop=0, optimize=False)
    elif fmt == "webp":
        frames[0].save(
            buf, format="WEBP", save_all=True, append_images=frames[1:], duration=duration, loop=0,
            quality=int(options.get("quality", 85)), method=4,
        )
    elif fmt == "mp4":
        return _encode_mp4(frames, fps)
    else:
        raise DreamParamsError(f"output: {fmt} is not an animation format")
    return buf.getvalue()


def _encode_mp4(frames: list[Image.Image], fps: int) -> bytes:
    import imageio.v2 as imageio

    # H.264 in yuv420p needs even dimensions.
    w, h = frames[0].size
    w2, h2 = w - w % 2, h - h % 2
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "dream.mp4")
        writer = imageio.get_writer(path, fps=fps, codec="libx264", pixelformat="yuv420p", macro_block_size=1)
        try:
            for f in frames:
                writer.append_data(np.asarray(f.crop((0, 0, w2, h2))))
        finally:
            writer.close()
        return Path(path).read_bytes()


def encode_result(
    result: EncodableResult, fmt: str | None = None, text: dict[str, str] | None = None, /, **options: int
) -> bytes:
    """Encode a dream result. Default: PNG for a still, animated WebP for an animation.

    An animation in PNG is an animated PNG; JPEG can't hold one (DreamParamsError).
    PNGs carry the params (and ``text``, e.g. :func:`guide_text`) in text chunks.
    """
    f = output_format(fmt, result.is_animation)
    if result.is_animation and f in ANIMATION_FORMATS:
        if f == "png":
            pnginfo = params_pnginfo(result.params, text)
            return encode_apng(result.frames, result.params.fps, pnginfo, int(options.get("compress_level", 6)))
        return encode_animation(result.frames, f, result.params.fps, **options)
    if f in ("gif", "mp4"):  # a still written as an "animation" of one frame
        return encode_animation([result.image], f, result.params.fps, **options)
    return encode_still(result.image, f, result.params, text, **options)


def save_result(result: EncodableResult, path: str | os.PathLike, text: dict[str, str] | None = None) -> Path:
    """Write a result to ``path``; the format follows the extension. Returns the path."""
    p = Path(path)
    data = encode_result(result, output_format(p, result.is_animation), text)
    if p.parent and not p.parent.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


def sample_path() -> Path:
    """The bundled sample photo (``dreambot dream sample``)."""
    from importlib.resources import files

    return Path(str(files("dream_core") / "samples" / "astronaut.jpg"))
