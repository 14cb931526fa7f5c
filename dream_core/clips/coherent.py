"""Dreaming a clip so the dream sticks to the things in it.

Frame 1 is dreamed like a still. Every next frame starts from the previous
*dreamed* frame, warped onto it by the dense optical flow between the two
source frames (:mod:`dream_core.clips.flow`), blended with the current
source frame (``clip_blend`` of the carried dream where the flow is
reliable, the plain source where it is not: occlusions, new content) and is
then refined with ``frame_iterations`` steps at full size only (a still
takes ``iterations`` steps at each of ``octaves`` sizes). A scene cut (most
of the frame unreliable) is dreamed afresh like a still.

Uses only the engine's public :func:`~dream_core.engine.dream`.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from dream_core.clips.clip import Clip
from dream_core.clips.encode import EncodedClip, clip_format, encode_clip, fit_upload
from dream_core.clips.flow import FlowSettings, estimate_motion, to_array, to_pil, warp
from dream_core.clips.limits import check_clip_params
from dream_core.engine import dream, octave_sizes
from dream_core.errors import DreamCancelled
from dream_core.params import DreamParams
from dream_core.results import CancelCheck, Progress, ProgressCallback


@dataclass
class ClipResult:
    """A dreamed clip: every frame with its duration, the loop count, notes."""

    frames: list[Image.Image]
    durations: list[int]
    loop: int | None
    params: DreamParams
    seconds: float
    notes: list[str] = field(default_factory=list)
    source_format: str = ""
    reliable_share: list[float] = field(
        default_factory=list
    )  # per frame after the first: flow trusted

    @property
    def image(self) -> Image.Image:
        """The first frame (a thumbnail / still stand-in)."""
        return self.frames[0]

    @property
    def is_animation(self) -> bool:
        return len(self.frames) > 1

    def encode(self, fmt: str = "gif", max_bytes: int | None = None) -> EncodedClip:
        """Encode as ``gif``/``webp``/``png`` (APNG)/``mp4``; with ``max_bytes``, re-encode or downscale to fit."""
        enc = fit_upload(self.frames, self.durations, self.loop, fmt, max_bytes)
        if enc.format == "mp4" and len(set(self.durations)) > 1:
            enc.notes.append(
                "MP4 has one frame rate: frames of uneven length play at the mean rate"
            )
        return enc

    def save(self, path: str | Path) -> Path:
        p = Path(path)
        data = encode_clip(self.frames, self.durations, clip_format(p), self.loop)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        return p


def _steps(size: tuple[int, int], octaves: int, scale: float, iterations: int) -> int:
    return len(octave_sizes((size[1], size[0]), octaves, scale)) * iterations


def dream_clip(
    clip: Clip,
    params: DreamParams | None = None,
    *,
    guide: Image.Image | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelCheck | None = None,
    device: str | None = None,
    weights: str | None = None,
    coherent: bool = True,
    flow: FlowSettings | None = None,
) -> ClipResult:
    """Dream every frame of ``clip`` with temporal coherence (see the module doc).

    ``coherent=False`` dreams each frame alone with the same settings (the
    reference the bench compares against). Progress reports carry
    ``frame``/``frames`` ("frame 12/40"), the engine's octave previews, and a
    ``fraction`` over the whole clip. ``cancel`` is polled before every step.
    Raises :class:`DreamParamsError` for a zoom animation,
    :class:`DreamCancelled` when cancelled.
    """
    t0 = time.perf_counter()
    p = (params or DreamParams()).resolved()
    check_clip_params(p)
    assert p.octaves and p.octave_scale and p.iterations and p.frame_iterations
    n = len(clip.frames)
    notes = list(clip.notes)
    frames = clip.frames
    if (
        max(frames[0].size) > p.max_size
    ):  # all frames at the working size: the flow needs them equal
        w, h = frames[0].size
        k = p.max_size / max(w, h)
        new = (max(1, round(w * k)), max(1, round(h * k)))
        frames = [f.resize(new, Image.Resampling.LANCZOS) for f in frames]
        notes.append(
            f"frames downscaled from {w}x{h} to {new[0]}x{new[1]} (max {p.max_size} px)"
        )
    if n == 1:
        notes.append("a 1-frame animation: dreamed as a still")
    # Refined at full size only: the carried dream already holds the coarse octaves' patterns,
    # and dreaming the small octaves again adds large blobs that don't follow the motion.
    refine = p.with_updates(iterations=p.frame_iterations, octaves=1)
    size = frames[0].size
    still_steps = _steps(size, p.octaves, p.octave_scale, p.iterations)
    refine_steps = _steps(size, 1, p.octave_scale, p.frame_iterations)
    carry = coherent and p.clip_blend > 0
    total = still_steps + (n - 1) * (refine_steps if carry else still_steps)
    done = 0

    def reporter(frame: int, steps: int):
        def report(pr: Progress) -> None:
            if progress is not None:
                frac = (done + pr.fraction * steps) / max(1, total)
                progress(
                    dataclasses.replace(
                        pr, frame=frame, frames=n, fraction=min(1.0, frac)
                    )
                )

        return report

    out: list[Image.Image] = []
    shares: list[float] = []
    prev_dream: np.ndarray | None = None
    for i, src in enumerate(frames):
        if cancel is not None and cancel():
            raise DreamCancelled("the dream was cancelled")
        start, frame_params, steps = src, p, still_steps
        if carry and prev_dream is not None:
            motion = estimate_motion(frames[i - 1], src, flow)
            shares.append(motion.reliable_share)
            if not motion.scene_cut:
                s = to_array(src)
                carried = warp(prev_dream, motion.flow)
                weight = (p.clip_blend * motion.reliable)[..., None]
                start = to_pil(s + weight * (carried - s))
                frame_params, steps = refine, refine_steps
        result = dream(
            start,
            frame_params,
            guide=guide,
            progress=reporter(i + 1, steps),
            cancel=cancel,
            device=device,
            weights=weights,
        )
        done += steps
        out.append(result.image.convert("RGB"))
        prev_dream = to_array(out[-1])
        for note in result.notes:
            if note not in notes:
                notes.append(note)
    cuts = sum(1 for s in shares if s == 0.0)
    if cuts:
        notes.append(f"{cuts} scene cut(s): dreamed afresh there")
    return ClipResult(
        frames=out,
        durations=list(clip.durations),
        loop=clip.loop,
        params=p,
        seconds=time.perf_counter() - t0,
        notes=notes,
        source_format=clip.format,
        reliable_share=shares,
    )
