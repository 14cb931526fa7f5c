"""Limits on animated input, and the plan that fits a clip inside them.

Torch-free: the bot process calls :func:`plan_clip` (through
:func:`dream_core.clips.decode.probe_clip`) to validate an upload cheaply.

Two kinds of limits:

* on the *source* (checked from the header, before any frame is decoded):
  too many frames, frames too large, too many pixels x frames to decode, too
  long. Each refusal is a :class:`DreamInputError` with one readable line.
* on the *dream*: at most ``max_frames`` frames of at most ``max_side`` px.
  A longer clip is sampled down in frame rate (each kept frame lasts as long
  as the frames it stands for) and larger frames are downscaled, each with a
  note, rather than refused.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dream_core.errors import DreamInputError, DreamParamsError

if TYPE_CHECKING:
    from dream_core.params import DreamParams

MAX_FRAMES_ENV = "DREAMBOT_MAX_INPUT_FRAMES"
MAX_SECONDS_ENV = "DREAMBOT_MAX_CLIP_SECONDS"
MAX_SIDE_ENV = "DREAMBOT_MAX_CLIP_SIDE"


@dataclass(frozen=True)
class ClipLimits:
    """How much animation a dream accepts.

    ``max_frames``: frames dreamed (a longer clip is sampled down in frame rate).
    ``max_seconds``: play time of the source clip.
    ``max_source_frames``: frames in the source file (10,000 tiny frames are refused).
    ``max_frame_pixels``: pixels of one source frame.
    ``max_source_pixels``: source frames x pixels, i.e. the decoding work.
    ``max_side``: long side of the dreamed frames (larger frames are downscaled).
    ``max_dream_pixels``: dreamed frames x pixels; frames are downscaled further to fit.
    """

    max_frames: int = 60
    max_seconds: float = 60.0
    max_source_frames: int = 1500
    max_frame_pixels: int = 4096 * 4096
    max_source_pixels: int = 1_000_000_000
    max_side: int = 512
    max_dream_pixels: int = 60 * 512 * 384

    def __post_init__(self) -> None:
        if self.max_frames < 2:
            raise ValueError("max_frames must be at least 2")
        if (
            min(
                self.max_seconds,
                self.max_source_frames,
                self.max_frame_pixels,
                self.max_source_pixels,
            )
            <= 0
        ):
            raise ValueError("clip limits must be positive")
        if self.max_side < 32 or self.max_dream_pixels < 32 * 32 * 2:
            raise ValueError("max_side / max_dream_pixels too small")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ClipLimits:
        """Defaults overridden by ``DREAMBOT_MAX_INPUT_FRAMES``, ``DREAMBOT_MAX_CLIP_SECONDS``,
        ``DREAMBOT_MAX_CLIP_SIDE``."""
        env = os.environ if environ is None else environ
        kw: dict[str, Any] = {}
        if env.get(MAX_FRAMES_ENV):
            kw["max_frames"] = int(env[MAX_FRAMES_ENV])
        if env.get(MAX_SECONDS_ENV):
            kw["max_seconds"] = float(env[MAX_SECONDS_ENV])
        if env.get(MAX_SIDE_ENV):
            kw["max_side"] = int(env[MAX_SIDE_ENV])
        base = cls(**kw)
        if "max_frames" in kw or "max_side" in kw:  # keep the work budget in step
            side = base.max_side
            kw["max_dream_pixels"] = base.max_frames * side * (side * 3 // 4)
            base = cls(**kw)
        return base


@dataclass(frozen=True)
class ClipHeader:
    """What the container says about a clip, read without decoding its frames."""

    format: str  # "GIF", "WEBP", "PNG" (APNG), "MP4", "WEBM", ...
    size: tuple[int, int]  # (width, height) of a frame
    n_frames: int
    duration_ms: float | None  # total play time when known from the header
    has_audio: bool = False


@dataclass(frozen=True)
class ClipPlan:
    """Which source frames to keep and at what size to dream them."""

    keep_every: int  # 1 = every frame; k = every k-th frame
    n_frames: int  # frames that will be dreamed
    size: tuple[int, int]  # (width, height) of the dreamed frames
    notes: list[str] = field(default_factory=list)


def _mp(n: float) -> str:
    return f"{n / 1e6:.1f} MP"


def check_header(h: ClipHeader, limits: ClipLimits) -> None:
    """Refuse a source clip over a limit (before decoding). Raises :class:`DreamInputError`."""
    w, ht = h.size
    if h.n_frames <= 0:
        raise DreamInputError("the clip has no frames")
    if w <= 0 or ht <= 0:
        raise DreamInputError("the clip's frames have no pixels")
    if w * ht > limits.max_frame_pixels:
        raise DreamInputError(
            f"the clip's frames are too large ({w}x{ht} = {_mp(w * ht)}; the limit is {_mp(limits.max_frame_pixels)})"
        )
    if h.n_frames > limits.max_source_frames:
        raise DreamInputError(
            f"the clip has too many frames ({h.n_frames}; the limit is {limits.max_source_frames})"
        )
    if h.n_frames * w * ht > limits.max_source_pixels:
        raise DreamInputError(
            f"the clip is too large ({h.n_frames} frames x {w}x{ht} = {_mp(h.n_frames * w * ht)}; "
            f"the limit is {_mp(limits.max_source_pixels)} in all)"
        )
    check_duration(h.duration_ms, limits)


def check_duration(duration_ms: float | None, limits: ClipLimits) -> None:
    if duration_ms is not None and duration_ms > limits.max_seconds * 1000:
        raise DreamInputError(
            f"the clip is too long ({duration_ms / 1000:.1f} s; the limit is {limits.max_seconds:g} s)"
        )


def plan_clip(h: ClipHeader, limits: ClipLimits) -> ClipPlan:
    """Check ``h`` against ``limits`` and decide the frame sampling and dream size.

    Raises :class:`DreamInputError` with one line when the source is over a limit.
    """
    check_header(h, limits)
    notes: list[str] = []
    keep_every = max(1, math.ceil(h.n_frames / limits.max_frames))
    n = math.ceil(h.n_frames / keep_every)
    if keep_every > 1:
        notes.append(
            f"the clip has {h.n_frames} frames; dreamed every {_ordinal(keep_every)} frame ({n} frames, "
            f"same play time; the limit is {limits.max_frames})"
        )
    w, ht = h.size
    scale = min(
        1.0,
        limits.max_side / max(w, ht),
        math.sqrt(limits.max_dream_pixels / (n * w * ht)),
    )
    size = (max(1, round(w * scale)), max(1, round(ht * scale)))
    if size != (w, ht):
        notes.append(f"frames downscaled from {w}x{ht} to {size[0]}x{size[1]}")
    if h.has_audio:
        notes.append("no sound: the clip's audio is not kept")
    return ClipPlan(keep_every=keep_every, n_frames=n, size=size, notes=notes)


def _ordinal(k: int) -> str:
    suffix = (
        "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    )
    return f"{k}{suffix}"


ZOOM_REFUSED = (
    "a clip can't be combined with --zoom-frames (zoom animations grow from one still); "
    "drop --zoom-frames or dream a still"
)


def check_clip_params(params: DreamParams) -> None:
    """Refuse params that make no sense for a clip (a zoom animation). Raises :class:`DreamParamsError`."""
    if params.zoom_frames:
        raise DreamParamsError(ZOOM_REFUSED)


def clip_cost(n_frames: int, params: DreamParams) -> float:
    """Work of dreaming ``n_frames`` coherently, in stills of the same size (for time limits).

    The first frame is a still (``octaves`` x ``iterations`` steps); each next
    one is refined with ``frame_iterations`` steps at full size, plus its flow.
    """
    p = params.resolved()
    assert p.octaves and p.iterations and p.frame_iterations
    still = p.octaves * p.iterations
    per_frame = (
        (p.frame_iterations + 1) if p.clip_blend > 0 else still
    )  # +1: optical flow and blending
    return (still + max(0, n_frames - 1) * per_frame) / still
