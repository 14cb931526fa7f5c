"""Measuring temporal coherence, and synthetic clips with known motion.

The coherence error of a dreamed clip whose content moves by a known,
uniform shift per frame: take the residual ``r_t = dream_t - source_t``
(what the dream added), shift ``r_{t-1}`` by the motion, and average
``|r_t - shifted r_{t-1}|`` over the overlap and all frame pairs. Patterns
that stick to the content give ~0; patterns that swim or flicker give about
the residual's own size. Torch-free (numpy).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from dream_core.clips.clip import Clip


def _arr(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0


def residuals(
    dreams: Sequence[Image.Image], sources: Sequence[Image.Image]
) -> list[np.ndarray]:
    return [_arr(d) - _arr(s) for d, s in zip(dreams, sources, strict=True)]


def strength(dreams: Sequence[Image.Image], sources: Sequence[Image.Image]) -> float:
    """Mean |dream - source| over all frames and pixels (0..1): how strong the dream is."""
    return float(np.mean([np.abs(r).mean() for r in residuals(dreams, sources)]))


def coherence_error(
    dreams: Sequence[Image.Image],
    sources: Sequence[Image.Image],
    shift: tuple[int, int],
) -> float:
    """E = mean |r_t - r_{t-1} moved by ``shift``| (``shift`` = (dx, dy): content moves by it per frame).

    Content at (x, y) in frame t-1 is at (x + dx, y + dy) in frame t.
    """
    dx, dy = shift
    rs = residuals(dreams, sources)
    h, w = rs[0].shape[:2]
    errs = []
    for prev, cur in itertools.pairwise(rs):
        # cur[y, x] pairs with prev[y - dy, x - dx]
        c = cur[max(0, dy) : h + min(0, dy), max(0, dx) : w + min(0, dx)]
        p = prev[max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)]
        errs.append(float(np.abs(c - p).mean()))
    return float(np.mean(errs))


def panning_clip(
    image: Image.Image,
    frames: int,
    size: tuple[int, int],
    step: tuple[int, int] = (3, 0),
    duration: int = 80,
) -> Clip:
    """A camera panning over ``image``: a ``size`` window moving by ``step`` px per frame.

    The *content* moves by ``(-step[0], -step[1])`` per frame (pass that to :func:`coherence_error`).
    """
    w, h = size
    need = (w + abs(step[0]) * (frames - 1), h + abs(step[1]) * (frames - 1))
    scale = max(need[0] / image.width, need[1] / image.height, 1.0)
    big = image.convert("RGB")
    if scale > 1.0:
        big = big.resize(
            (int(image.width * scale) + 1, int(image.height * scale) + 1),
            Image.Resampling.LANCZOS,
        )
    x0 = 0 if step[0] >= 0 else need[0] - w
    y0 = 0 if step[1] >= 0 else need[1] - h
    out = [
        big.crop(
            (
                x0 + i * step[0],
                y0 + i * step[1],
                x0 + i * step[0] + w,
                y0 + i * step[1] + h,
            )
        )
        for i in range(frames)
    ]
    return Clip(out, [duration] * frames, 0, "synthetic", frames, size)


def moving_square_clip(
    frames: int,
    size: tuple[int, int] = (64, 48),
    side: int = 16,
    step: int = 3,
    duration: int = 100,
) -> Clip:
    """A red square sliding right over a soft gradient background."""
    w, h = size
    gx = np.linspace(0.2, 0.8, w, dtype=np.float32)[None, :, None]
    gy = np.linspace(0.3, 0.7, h, dtype=np.float32)[:, None, None]
    bg = Image.fromarray(
        (
            np.broadcast_to(gx * gy * np.array([1.0, 1.2, 1.6]), (h, w, 3)).clip(0, 1)
            * 255
        ).astype(np.uint8)
    )
    out = []
    for i in range(frames):
        f = bg.copy()
        x = (4 + i * step) % max(1, w - side)
        ImageDraw.Draw(f).rectangle(
            (x, h // 2 - side // 2, x + side - 1, h // 2 + side // 2 - 1),
            fill=(220, 30, 30),
        )
        out.append(f)
    return Clip(out, [duration] * frames, 0, "synthetic", frames, size)
