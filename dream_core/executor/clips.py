"""Clip jobs: a job whose input is an animation or a video (issue 12).

The caller (the bot) validates a clip where it arrives, with the torch-free
:func:`dream_core.clips.decode.probe_clip`, and submits it with a
:class:`ClipJob`: how many frames will be dreamed (for the time limit), the
limits it was checked against (the worker decodes with the same ones), the
output format and the byte size the result must fit in.

This module is torch-free: :func:`run_clip` imports the clip service (torch)
only when a worker calls it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

from dream_core.clips.limits import ClipLimits, clip_cost
from dream_core.params import DreamParams

#: output formats a caller may ask for (``None``: like the input, see ``default_output_format``)
CLIP_OUTPUTS = ("gif", "webp", "png", "mp4")


@dataclass(frozen=True)
class ClipJob:
    """How to dream one clip. Picklable: it travels to the worker with the job.

    ``frames``: frames that will be dreamed (the probe's plan), for the time limit.
    ``limits``: what the clip was checked against; the worker decodes with them.
    ``fmt``: ``gif``/``webp``/``png`` (APNG)/``mp4``; ``None`` picks from the input.
    ``max_bytes``: the encoded result must fit (re-encoded as MP4 and downscaled if needed).
    """

    frames: int
    limits: ClipLimits = field(default_factory=ClipLimits)
    fmt: Optional[str] = None
    max_bytes: Optional[int] = None

    def __post_init__(self) -> None:
        if self.frames < 1:
            raise ValueError("a clip job dreams at least one frame")
        if self.fmt is not None and self.fmt not in CLIP_OUTPUTS:
            raise ValueError(f"unknown clip output format {self.fmt!r} (use one of {', '.join(CLIP_OUTPUTS)})")


def clip_timeout(base_s: float, frames: int, params: DreamParams, ceiling_s: float) -> float:
    """The time limit of a clip job: a still's limit (``base_s``) times the clip's work in
    stills (:func:`dream_core.clips.limits.clip_cost`), at most ``ceiling_s`` and never less
    than ``base_s``."""
    scaled = base_s * clip_cost(frames, params)
    return max(base_s, min(ceiling_s, scaled))


def run_clip(
    clip: ClipJob,
    data: bytes,
    params: DreamParams,
    *,
    guide: Any,
    progress: Callable[[Any], None],
    cancel: Callable[[], bool],
    device: str,
) -> dict[str, Any]:
    """Dream ``data`` as a clip in a worker; the ``done`` payload (see :mod:`.worker`).

    Raises what :func:`dream_core.clips.service.dream_clip_bytes` raises
    (``DreamInputError``, ``DreamParamsError``, ``DreamCancelled``).
    """
    from dream_core.clips.service import dream_clip_bytes

    t0 = time.perf_counter()
    dreamed = dream_clip_bytes(
        data,
        params,
        guide=guide,
        progress=progress,
        cancel=cancel,
        fmt=clip.fmt,
        max_bytes=clip.max_bytes,
        limits=clip.limits,
        device=device,
    )
    result, encoded = dreamed.result, dreamed.encoded
    rparams = result.params
    width, height = encoded.size
    return {
        "data": encoded.data,
        "format": encoded.format,
        "width": int(width),
        "height": int(height),
        "params_json": rparams.to_wire(),
        "model": rparams.model,
        "seed": int(rparams.seed if rparams.seed is not None else params.seed or 0),
        "seconds": float(result.seconds),
        "notes": tuple(dict.fromkeys(dreamed.notes)),
        "is_animation": encoded.frames > 1,
        "frames": int(encoded.frames),
        "input_size": tuple(result.frames[0].size),
        "device": device,
        "worker_s": time.perf_counter() - t0,
    }
