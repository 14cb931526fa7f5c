"""Writing a dreamed clip: animated GIF, animated WebP, APNG or MP4.

Unlike :func:`dream_core.images.encode_animation` (zoom animations: one fps,
endless loop), a clip keeps each frame's own duration and the source's loop
count. MP4 has one frame rate: it gets the mean one (frames of uneven length
are noted). Torch-free.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from dream_core.errors import DreamParamsError

CLIP_FORMATS: dict[str, str] = {
    "gif": "image/gif",
    "webp": "image/webp",
    "png": "image/apng",
    "apng": "image/apng",
    "mp4": "video/mp4",
}


def clip_format(fmt_or_path: str | os.PathLike[str]) -> str:
    """``gif``, ``webp``, ``png`` (APNG) or ``mp4`` from a format name or a path's extension."""
    s = str(fmt_or_path).lower()
    ext = s.rsplit(".", 1)[-1] if "." in s else s
    ext = {"apng": "png"}.get(ext, ext)
    if ext not in CLIP_FORMATS:
        raise DreamParamsError(
            f"output: a clip is written as .gif, .webp, .png (APNG) or .mp4, not .{ext}"
        )
    return ext


@dataclass
class EncodedClip:
    """Encoded bytes of a clip and what they are."""

    data: bytes
    format: str  # gif | webp | png | mp4
    media_type: str
    size: tuple[int, int]
    frames: int
    notes: list[str] = field(default_factory=list)

    @property
    def extension(self) -> str:
        return "." + self.format


def encode_clip(
    frames: list[Image.Image],
    durations: list[int],
    fmt: str,
    loop: int | None = 0,
    *,
    quality: int = 85,
) -> bytes:
    """Encode ``frames`` (RGB, one size) with their ``durations`` (ms) and ``loop`` (0 = forever, None = once)."""
    if not frames or len(frames) != len(durations):
        raise ValueError("encode_clip: one duration per frame, at least one frame")
    fmt = clip_format(fmt)
    frames = [f.convert("RGB") if f.mode != "RGB" else f for f in frames]
    durations = [max(10, int(d)) for d in durations]
    if fmt == "mp4":
        return _encode_mp4(frames, durations)
    options: dict[str, object]
    if fmt == "gif":
        # One palette for the whole clip: a per-frame palette makes flat areas flicker.
        palette = _shared_palette(frames)
        frames = [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
        options = {"disposal": 1, "optimize": False}
        if loop is not None:
            options["loop"] = int(loop)
    elif fmt == "webp":
        options = {"quality": quality, "method": 4, "loop": int(loop or 0)}
    else:  # png: APNG
        options = {"loop": int(loop or 0), "compress_level": 6}
    buf = io.BytesIO()
    frames[0].save(
        buf, format=fmt.upper(), save_all=True, append_images=frames[1:], duration=durations, **options
    )
    return buf.getvalue()


def _shared_palette(frames: list[Image.Image]) -> Image.Image:
    """A 256-colour palette image for all frames (a mosaic of a few of them, quantised once)."""
    step = max(1, len(frames) // 8)
    picks = frames[::step][:8]
    w, h = picks[0].size
    scale = min(1.0, 256 / max(w, h))
    tw, th = max(1, int(w * scale)), max(1, int(h * scale))
    sheet = Image.new("RGB", (tw * len(picks), th))
    for i, f in enumerate(picks):
        sheet.paste(f.resize((tw, th), Image.Resampling.BILINEAR), (i * tw, 0))
    return sheet.quantize(colors=256, method=Image.Quantize.MEDIANCUT)


def mp4_fps(durations: list[int]) -> float:
    """The one frame rate an MP4 of these frames gets: the mean one."""
    return 1000.0 * len(durations) / max(1, sum(durations))


def _encode_mp4(frames: list[Image.Image], durations: list[int]) -> bytes:
    import imageio.v2 as imageio

    w, h = frames[0].size
    w2, h2 = max(2, w - w % 2), max(2, h - h % 2)  # H.264 in yuv420p wants even sides
    with tempfile.TemporaryDirectory(prefix="dreambot-clip-") as d:
        path = os.path.join(d, "dream.mp4")
        writer = imageio.get_writer(
            path,
            fps=mp4_fps(durations),
            codec="libx264",
            pixelformat="yuv420p",
            macro_block_size=1,
            ffmpeg_log_level="error",
        )
        try:
            for f in frames:
                if f.size != (w2, h2):
                    f = (
                        f.resize((w2, h2), Image.Resampling.BILINEAR)
                        if min(w, h) < 2
                        else f.crop((0, 0, w2, h2))
                    )
                writer.append_data(np.asarray(f))
        finally:
            writer.close()
        return Path(path).read_bytes()


def fit_upload(
    frames: list[Image.Image],
    durations: list[int],
    loop: int | None,
    fmt: str,
    max_bytes: int | None = None,
) -> EncodedClip:
    """Encode in ``fmt``; when over ``max_bytes``, try MP4 (smallest), then downscale by 3/4 steps.

    The notes say what was changed to fit. Raises :class:`DreamParamsError`
    if even a small version doesn't fit.
    """
    fmt = clip_format(fmt)
    notes: list[str] = []
    data = encode_clip(frames, durations, fmt, loop)
    if max_bytes is None or len(data) <= max_bytes:
        return EncodedClip(
            data, fmt, CLIP_FORMATS[fmt], frames[0].size, len(frames), notes
        )
    first = len(data)
    if fmt != "mp4":
        data = encode_clip(frames, durations, "mp4", loop)
        if len(data) <= max_bytes:
            notes.append(
                f"sent as MP4: the {fmt.upper()} was {first / 2**20:.1f} MB, "
                f"over the {max_bytes / 2**20:.1f} MB upload limit"
            )
            return EncodedClip(
                data, "mp4", CLIP_FORMATS["mp4"], frames[0].size, len(frames), notes
            )
        fmt = "mp4"
    scaled = frames
    while min(scaled[0].size) > 48:
        w, h = scaled[0].size
        size = (max(2, w * 3 // 4), max(2, h * 3 // 4))
        scaled = [f.resize(size, Image.Resampling.LANCZOS) for f in frames]
        data = encode_clip(scaled, durations, fmt, loop)
        if len(data) <= max_bytes:
            notes.append(
                f"downscaled to {size[0]}x{size[1]} and sent as {fmt.upper()} to fit the "
                f"{max_bytes / 2**20:.1f} MB upload limit"
            )
            return EncodedClip(data, fmt, CLIP_FORMATS[fmt], size, len(frames), notes)
    raise DreamParamsError(
        f"the dreamed clip doesn't fit the {max_bytes / 2**20:.1f} MB upload limit"
    )
