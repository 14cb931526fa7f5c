"""Animated input at the bot's edge: GIFs, animated WebP/APNG, MP4 and WebM (issue 12).

The bot never imports torch: a clip is checked here with the torch-free
:mod:`dream_core.clips.decode` / :mod:`dream_core.clips.limits` (container,
frames, duration, pixels x frames, sound) and every refusal is one line for
the user. A clip that passes carries its :class:`~dream_core.clips.limits.ClipPlan`
(frames to dream, size, notes); the runner turns it into the executor's
:class:`~dream_core.executor.clips.ClipJob`. A 1-frame "animation" is not a
clip: it is dreamed as a still.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Optional, Protocol

from bot.replies import as_sentence
from dream_core.clips.decode import is_clip, probe_clip
from dream_core.clips.limits import MAX_FRAMES_ENV, MAX_SECONDS_ENV, MAX_SIDE_ENV, ClipLimits, ClipPlan
from dream_core.errors import DreamInputError
from dream_core.executor.clips import ClipJob
from dream_core.params import DreamParams

#: shown when a clip comes with a zoom animation (``zoom_frames``, e.g. from a preset)
ZOOM_WITH_CLIP = (
    "A clip can't be combined with `zoom_frames` (zoom animations grow from one still picture). "
    "Dream the clip without `zoom_frames`, or dream a still picture with it."
)


class ClipRejected(Exception):
    """The clip can't be dreamed; ``str(exc)`` is one friendly line."""


class ClipSettings(Protocol):
    """The settings that bound animated input."""

    @property
    def max_input_frames(self) -> int: ...
    @property
    def max_clip_seconds(self) -> float: ...
    @property
    def max_clip_side(self) -> int: ...
    @property
    def max_pixels(self) -> int: ...


def clip_limits(settings: ClipSettings) -> ClipLimits:
    """The engine's :class:`ClipLimits` from the bot's settings (frames, seconds, side; a
    source frame no larger than ``max_pixels``)."""
    values: Mapping[str, str] = {
        MAX_FRAMES_ENV: str(settings.max_input_frames),
        MAX_SECONDS_ENV: str(settings.max_clip_seconds),
        MAX_SIDE_ENV: str(settings.max_clip_side),
    }
    limits = ClipLimits.from_env(values)  # keeps the dream budget in step with frames and side
    frame_pixels = min(limits.max_frame_pixels, settings.max_pixels)
    return limits if frame_pixels == limits.max_frame_pixels else replace(limits, max_frame_pixels=frame_pixels)


def inspect_clip(data: bytes, filename: str, limits: ClipLimits) -> Optional[ClipPlan]:
    """The dream plan when ``data`` is an animation or a video; ``None`` for a still (a
    1-frame animation included). Blocking: a video's header is read by ffmpeg.

    Raises :class:`ClipRejected` (audio only, corrupt, no frames, too many frames,
    too long, frames too large, too much to decode).
    """
    if not is_clip(data):
        return None
    try:
        _header, plan = probe_clip(data, limits)
    except DreamInputError as exc:
        raise ClipRejected(f"I can't dream `{filename}`: {as_sentence(str(exc))}") from None
    return plan


def clip_job(plan: ClipPlan, limits: ClipLimits, max_bytes: int) -> ClipJob:
    """What the executor needs to dream a checked clip whose result must fit ``max_bytes``
    (the output format follows the input: GIF, WebP, or MP4 for videos)."""
    return ClipJob(frames=plan.n_frames, limits=limits, max_bytes=max_bytes)


def check_clip_params(params: DreamParams) -> None:
    """Refuse what makes no sense for a clip (a zoom animation) with :class:`ClipRejected`."""
    if params.zoom_frames:
        raise ClipRejected(ZOOM_WITH_CLIP)
