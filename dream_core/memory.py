"""How much memory one gradient needs, and how much the tiles may use.

* :func:`peak_bytes` measures the peak of one gradient (the saved activations
  plus backward's transient gradients): the allocator's peak on CUDA, the
  allocations and frees torch.profiler records on CPU.
* :func:`peak_bytes_per_pixel` turns two such measurements into a per-pixel
  figure, which :class:`dream_core.autotune.Planner` holds tilings against.
* :func:`memory_budget` is that budget: a share of the free memory (RAM on CPU,
  device memory on GPU), capped by ``DREAMBOT_TILE_MEMORY_MB`` (default 640).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch

from dream_core.models import DreamModel
from dream_core.tiling import StepConfig, tile_gradient

__all__ = [
    "DEFAULT_MEMORY_CAP_MB",
    "MEMORY_ENV",
    "MeanSquare",
    "free_memory_bytes",
    "memory_budget",
    "peak_bytes",
    "peak_bytes_per_pixel",
]

log = logging.getLogger(__name__)

MEMORY_ENV = "DREAMBOT_TILE_MEMORY_MB"
DEFAULT_MEMORY_CAP_MB = 640  # one tile's gradient at its peak; keeps a 4096 px dream under 1.8 GB in all
FREE_MEMORY_SHARE = 0.25  # of the free RAM / device memory
PROBE_SIDE = 128  # image sides the memory per pixel is measured at: this and twice this


class MeanSquare:
    """The probes' objective: the mean square of the named layers' activations."""

    def __init__(self, layers: Sequence[str]) -> None:
        self.layers = list(layers)

    def __call__(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        return sum(feats[k].float().pow(2).mean() for k in self.layers)  # type: ignore[return-value]


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for a moment: torch.profiler's backend
    (Kineto) writes start/stop lines there that no setting turns off, and a user's
    first dream should not print "ERROR: gpuGetDeviceCount failed" on a CPU box."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def peak_bytes(model: DreamModel, cfg: StepConfig, side: int) -> int:
    """Peak bytes allocated while one gradient of a ``side`` x ``side`` image runs under
    ``cfg`` (forward to the model's deepest layer), over what was allocated before.

    Measured, not estimated from the saved activations: backward's transient
    gradients come on top of them (measured here: 2.3x the saved tensors for
    lite0 in fp32, 1.25x for googlenet in bf16). CUDA reads the allocator's peak;
    CPU adds up the allocations and frees the profiler records, in order.
    """
    x = torch.rand(1, 3, side, side, device=model.device)
    obj = MeanSquare([model.spec.layers[-1][0]])
    tile_gradient(model, x, obj, cfg)  # warm-up: one-time allocations are not the step's
    if model.device.type == "cuda":
        torch.cuda.synchronize(model.device)
        base = torch.cuda.memory_allocated(model.device)
        torch.cuda.reset_peak_memory_stats(model.device)
        tile_gradient(model, x, obj, cfg)
        torch.cuda.synchronize(model.device)
        return int(torch.cuda.max_memory_allocated(model.device) - base)
    events = _profiled_events(lambda: tile_gradient(model, x, obj, cfg))
    # innermost events only (an op's memory is also counted on the ops it is nested in)
    deltas = sorted((e.time_range.start, e.cpu_memory_usage) for e in events if not e.cpu_children)
    live = peak = 0
    for _, d in deltas:
        live += d
        peak = max(peak, live)
    return peak


def _profiled_events(step: Callable[[], object]) -> list[Any]:
    """The profiler's events of ``step``, memory included: torch's own (legacy) profiler where
    it exists, else Kineto's. Kineto's start-up took ~1.3 s of a 1.6 s memory probe (most of a
    user's first-dream calibration, issue 18); the legacy profiler records the same
    allocations (the same peak to ~1 %) in ~0.1 s."""
    try:
        from torch.autograd import profiler_legacy
    except ImportError:
        profiler_legacy = None  # type: ignore[assignment]
    if profiler_legacy is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with profiler_legacy.profile(profile_memory=True) as legacy:
                step()
            return list(legacy.function_events or [])
    from torch.profiler import ProfilerActivity, profile

    with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    return list(prof.events())


def peak_bytes_per_pixel(model: DreamModel, cfg: StepConfig, side: int = PROBE_SIDE) -> float:
    """Memory one gradient needs per input pixel at its peak (:func:`peak_bytes`).

    The slope between two sizes, so what does not grow with the image (weight
    casts, workspaces) is left out; the image and its gradient are in it.
    """
    try:
        small, big = peak_bytes(model, cfg, side), peak_bytes(model, cfg, 2 * side)
    except RuntimeError as exc:  # a torch built without the profiler: guess, do not fail the dream
        log.warning("autotune %s: the memory probe failed (%s)", model.name, exc)
        small = big = 0
    slope = (big - small) / (3 * side * side)
    if slope <= 0:  # nothing measured: a safe guess (2x the largest measured here, lite0 in fp32)
        log.warning("autotune %s: could not measure the step's memory; assuming 4 KiB per pixel", model.name)
        return 4096.0
    return slope


def free_memory_bytes(device: torch.device) -> int:
    """Free device memory (CUDA) or available RAM (CPU, from /proc/meminfo; 4 GiB if unknown)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 << 30


def memory_budget(device: torch.device) -> int:
    """Bytes the tiles' activations may use: a share of the free memory, capped by the setting."""
    cap_mb = float(os.environ.get(MEMORY_ENV, DEFAULT_MEMORY_CAP_MB))
    return int(min(FREE_MEMORY_SHARE * free_memory_bytes(device), cap_mb * 2**20))
