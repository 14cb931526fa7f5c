"""Admission: what :meth:`BaseExecutor.submit` checks before a job may wait in the queue.

Params are parsed (unless already a validated :class:`DreamParams`), clamped to the
executor's size cap and resolved; a clip's params are checked for clips; the job's
time limit is worked out; oversized input bytes are refused. A problem found here
ends the job at once with ``Failed`` (never an exception from ``submit``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional, Union

from dream_core.clips.limits import check_clip_params
from dream_core.errors import DreamParamsError
from dream_core.executor.clips import ClipJob, clip_timeout
from dream_core.executor.config import ExecutorConfig
from dream_core.executor.events import Failed
from dream_core.params import DreamParams, parse_params

ParamsLike = Union[DreamParams, Mapping[str, Any], str, None]


def admit_params(
    config: ExecutorConfig, params: ParamsLike, clip: Optional[ClipJob]
) -> tuple[DreamParams, Optional[Failed]]:
    """The job's resolved params, or the defaults and the ``Failed`` that ends it."""
    try:
        if isinstance(params, DreamParams):
            p = params  # validated when it was made
        else:
            p = parse_params(params if isinstance(params, str) else dict(params or {}))
        p = clamp(config, p).resolved()
        if clip is not None:
            check_clip_params(p)
    except DreamParamsError as exc:
        return DreamParams().resolved(), Failed(str(exc), "params")
    return p, None


def clamp(config: ExecutorConfig, p: DreamParams) -> DreamParams:
    """``p`` within the executor's ``max_size`` (for the image and for noise)."""
    cap = config.max_size
    if p.max_size > cap or p.noise_size > cap:  # a limit, not the user's choice: not recorded as set
        return p.adjusted(max_size=min(p.max_size, cap), noise_size=min(p.noise_size, cap))
    return p


def time_limit(config: ExecutorConfig, p: DreamParams, timeout_s: Optional[float], clip: Optional[ClipJob]) -> float:
    """A job's time limit: ``timeout_s`` or the config's; a clip's grows with its frames."""
    base = timeout_s or config.job_timeout_s
    if clip is None:
        return base
    return clip_timeout(base, clip.frames, p, max(base, config.clip_timeout_max_s))


def oversized_input(
    config: ExecutorConfig, image_bytes: Optional[bytes], guide_bytes: Optional[bytes]
) -> Optional[Failed]:
    """The ``Failed`` for an image or guide over ``max_attachment_bytes``, else ``None``."""
    limit = config.max_attachment_bytes
    for what, data in (("image", image_bytes), ("guide image", guide_bytes)):
        if data is not None and len(data) > limit:
            return Failed(
                f"The {what} is too large ({len(data) / 1e6:.1f} MB; the limit is {limit / 1e6:.1f} MB).", "input"
            )
    return None
