"""Making a result fit Discord's upload limit.

:func:`fit_upload` returns the bytes unchanged when they fit; otherwise it
re-encodes at falling quality (WebP, then JPEG for stills) and, if that is not
enough, downscales step by step until the file fits.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

from PIL import Image, ImageSequence

log = logging.getLogger(__name__)

QUALITIES = (90, 80, 70, 55)
SCALE_STEP = 0.75
MIN_EDGE = 64


@dataclass(frozen=True)
class Upload:
    data: bytes
    extension: str  # without the dot: "png", "webp", "jpg", "gif"
    reencoded: bool = False

    @property
    def size(self) -> int:
        return len(self.data)


def _frames(img: Image.Image) -> list[Image.Image]:
    return [frame.convert("RGB") for frame in ImageSequence.Iterator(img)]


def _encode_still(img: Image.Image, fmt: str, quality: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, quality=quality)
    return buf.getvalue()


def _encode_animation(frames: list[Image.Image], duration: int, quality: int) -> bytes:
    buf = io.BytesIO()
    frames[0].save(
        buf, format="WEBP", save_all=True, append_images=frames[1:], duration=duration, loop=0, quality=quality
    )
    return buf.getvalue()


def fit_upload(data: bytes, extension: str, limit: int) -> Upload:
    """``data`` re-encoded (if needed) to at most ``limit`` bytes."""
    if len(data) <= limit:
        return Upload(data, extension)
    with Image.open(io.BytesIO(data)) as img:
        animated = getattr(img, "n_frames", 1) > 1
        duration = int(img.info.get("duration", 80) or 80)
        frames = _frames(img) if animated else [img.convert("RGB")]
    scale = 1.0
    while True:
        if scale < 1.0:
            w, h = frames[0].size
            size = (max(MIN_EDGE, int(w * SCALE_STEP)), max(MIN_EDGE, int(h * SCALE_STEP)))
            frames = [f.resize(size, Image.Resampling.LANCZOS) for f in frames]
        for quality in QUALITIES:
            if animated:
                out, ext = _encode_animation(frames, duration, quality), "webp"
                if len(out) <= limit:
                    return Upload(out, ext, True)
            else:
                for fmt, ext in (("WEBP", "webp"), ("JPEG", "jpg")):
                    out = _encode_still(frames[0], fmt, quality)
                    if len(out) <= limit:
                        return Upload(out, ext, True)
        if min(frames[0].size) <= MIN_EDGE:
            log.warning("result still over %d bytes at %s", limit, frames[0].size)
            return Upload(out, ext, True)
        scale *= SCALE_STEP
