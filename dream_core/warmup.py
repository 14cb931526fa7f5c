"""Warm-up: a model's one-time calibration (:mod:`dream_core.autotune`), done before anyone's dream.

The first dream of a model on a machine would otherwise pay for it. Workers
warm their preloaded models at start (:mod:`dream_core.executor.worker`);
``dreambot warmup`` does it from the command line, e.g. in a Dockerfile or
after installing, so the first ``dreambot dream`` starts at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from dream_core import models
from dream_core.autotune import Planner, cache_path
from dream_core.tuning_cache import Tuning, load, lock, machine_key

__all__ = ["WarmupReport", "warm_up"]

WARM_SIDE = 1024  # the image side the memory probe is run for (the default max_size)


@dataclass(frozen=True)
class WarmupReport:
    model: str
    device: str
    seconds: float
    measured: bool  # False: the tuning was already cached
    tuning: Tuning

    def describe(self) -> str:
        t = self.tuning
        where = cache_path() or "memory only"
        what = f"calibrated in {self.seconds:.1f} s" if self.measured else "already calibrated"
        if self.device == "cpu":
            from dream_core.models import cpu_loops

            how = f"{torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads, "
            how += f"compiled loops {cpu_loops.describe()}"
        else:
            how = f"{self.device}, {torch.get_num_threads()} threads"
        return f"{self.model} on {self.device} ({how}): {what}: {t.choice} (in {where})"


def warm_up(name: str, device: str | None = None, weights: str | None = None, side: int = WARM_SIDE) -> WarmupReport:
    """Calibrate ``name`` on ``device`` for images up to ``side`` px (nothing to do when cached)."""
    model = models.get_model(name, device, weights)
    with lock:
        cached = load(machine_key(model))
    had = cached is not None and bool(cached.timings) and bool(cached.bytes_per_px)
    t = time.perf_counter()
    planner = Planner(model)
    planner.config((side, side))
    return WarmupReport(model.name, str(model.device), time.perf_counter() - t, not had, planner.tuning)
