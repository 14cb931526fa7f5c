"""How gradients run fastest on this machine: chosen by measurement, cached, overridable.

Two choices, made per model, device, torch version and CPU capability:

* **precision and layout**: the first time a model is used, one gradient
  step is timed in fp32 (contiguous, channels-last, and channels-last with
  the 3x3 convolutions by Winograd, :mod:`dream_core.models.winograd`, for
  models that have them) and, on CPUs that
  report AVX512-BF16 or AMX, under bf16 autocast; the fastest wins (bf16
  only when it is measured faster by a margin). CUDA uses fp16 autocast and
  channels-last without timing.
* **tile size**: the fewest tiles that fit the memory budget of
  :mod:`dream_core.memory` (the peak memory per pixel is measured once). Not
  timed: a bigger tile has always cost less per pixel, on every machine and
  model measured (smaller convolutions use the cores worse, and every tile pays
  its margins), and timing the candidate sides was most of the first-use
  calibration (issue 18: ~4 s on a user's first dream). ``bench_dream.py``
  prints the time per pixel by tile side, to check this on a new machine.

Results live in a small JSON file under the user cache directory
(:mod:`dream_core.tuning_cache`).

Settings (environment):

* ``DREAMBOT_PRECISION``: ``auto`` (default), ``fp32``, ``bf16`` or ``fp16``.
* ``DREAMBOT_WINOGRAD``: ``auto`` (default: timed with the precision, fp32 only),
  ``on`` (used wherever fp32 is) or ``off`` (never timed nor used).
* ``DREAMBOT_TILE``: ``auto`` (default) or a tile side in px used as is.
* ``DREAMBOT_TILE_MEMORY_MB``: cap of the tile memory budget (default 640).
* ``DREAMBOT_AUTOTUNE_CACHE``: path of the cache file; ``off`` keeps it in memory only.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import asdict

import torch

from dream_core.memory import PROBE_SIDE, MeanSquare, memory_budget, peak_bytes_per_pixel
from dream_core.models import DreamModel
from dream_core.models.winograd import has_winograd
from dream_core.runtime import release_memory, tune_process
from dream_core.tiling import TILE_SLACK, StepConfig, _spans, tile_gradient, tile_margin
from dream_core.tuning_cache import (
    CACHE_ENV,
    Tuning,
    cache_path,
    clear_memory_cache,
    load,
    lock,
    machine_key,
    store,
)

__all__ = [
    "CACHE_ENV",
    "PRECISION_ENV",
    "TILE_ENV",
    "Planner",
    "Tuning",
    "cache_path",
    "clear_memory_cache",
    "machine_key",
    "time_steps",
]

log = logging.getLogger(__name__)

PRECISION_ENV = "DREAMBOT_PRECISION"
WINOGRAD_ENV = "DREAMBOT_WINOGRAD"
TILE_ENV = "DREAMBOT_TILE"

TILE_SIDES = (256, 384, 512, 768, 1024, 1536, 2048)  # tile sides tried, largest first, below the whole image
PRECISION_SIDE = 256  # image side the precision is timed at
PRECISION_REPEAT = 2  # timed runs per candidate (best of), after one warm-up run
BF16_MARGIN = 0.9  # bf16 must take at most this share of fp32's time


# ------------------------------------------------------------------ measurements


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _probe_layers(model: DreamModel) -> list[str]:
    """The layer the timings use: the model's mid-level alias, else its deepest layer."""
    own = model.spec.canonical("mixed4")
    return [own if own is not None else model.spec.layers[-1][0]]


def time_steps(model: DreamModel, runs: dict[str, tuple[int, StepConfig]], repeat: int = 3) -> dict[str, float]:
    """Best-of-``repeat`` seconds of one gradient of a ``side`` x ``side`` image per named run.

    Each run is warmed up once, then the repeats go round all runs in turn, so a
    burst of load from elsewhere slows every candidate alike instead of one.
    """
    obj = MeanSquare(_probe_layers(model))
    images = {}
    for name, (side, cfg) in runs.items():
        gen = torch.Generator().manual_seed(side)
        images[name] = torch.rand(1, 3, side, side, generator=gen).to(model.device)
        tile_gradient(model, images[name], obj, cfg)
    best = dict.fromkeys(runs, math.inf)
    for _ in range(repeat):
        for name, (_side, cfg) in runs.items():
            _sync(model.device)
            t = time.perf_counter()
            tile_gradient(model, images[name], obj, cfg)
            _sync(model.device)
            best[name] = min(best[name], time.perf_counter() - t)
    return best


def _cpu_has_bf16() -> bool:
    cap = torch.backends.cpu.get_cpu_capability().upper()
    if "AVX512" not in cap and "AMX" not in cap:
        return False
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read(1 << 16)
    except OSError:
        return "AMX" in cap
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _winograd_setting() -> str:
    raw = os.environ.get(WINOGRAD_ENV, "auto").strip().lower()
    return raw if raw in ("on", "off") else "auto"


def _measure_precision(model: DreamModel, tuning: Tuning) -> None:
    if model.device.type == "cuda":
        tuning.precision, tuning.channels_last = "fp16", True
        return
    side = PRECISION_SIDE
    options = {
        "fp32": StepConfig(tile=side, channels_last=False),
        "fp32-cl": StepConfig(tile=side, channels_last=True),
    }
    wino = _winograd_setting()
    if wino != "off" and has_winograd(model):
        options["fp32-cl-wino"] = StepConfig(tile=side, channels_last=True, winograd=True)
    if _cpu_has_bf16():
        options["bf16-cl"] = StepConfig(tile=side, amp_dtype=torch.bfloat16, channels_last=True)
    times = time_steps(model, {name: (side, cfg) for name, cfg in options.items()}, repeat=PRECISION_REPEAT)
    fp32 = {k: v for k, v in times.items() if k.startswith("fp32")}
    fastest = min(fp32, key=fp32.__getitem__)
    tuning.precision = "fp32"
    tuning.channels_last = fastest != "fp32"
    tuning.winograd = fastest == "fp32-cl-wino"
    if "bf16-cl" in times and times["bf16-cl"] < BF16_MARGIN * fp32[fastest]:
        tuning.precision, tuning.channels_last, tuning.winograd = "bf16", True, False
    tuning.timings = {k: round(v, 5) for k, v in times.items()}
    log.info("autotune %s: %s -> %s", model.name, tuning.timings, tuning.choice)


# ------------------------------------------------------------------ the planner


def _tiles(h: int, w: int, tile: int) -> list[int]:
    """Pixel counts of the tiles (margins included) that :func:`tile_gradient` evaluates."""
    ys, xs = _spans(h, tile), _spans(w, tile)
    if len(ys) == 1 and len(xs) == 1:
        return [h * w]
    m = tile_margin(tile)
    return [(min(h, y1 + m) - max(0, y0 - m)) * (min(w, x1 + m) - max(0, x0 - m)) for y0, y1 in ys for x0, x1 in xs]


def _tile_cap_env() -> int | None:
    raw = os.environ.get(TILE_ENV, "auto").strip().lower()
    if raw in ("", "auto"):
        return None
    return max(64, int(raw))


class Planner:
    """Picks a :class:`StepConfig` for each image size of a dream on one model.

    ``tile``: a fixed tile side (the user's), else ``None`` for the measured choice.
    """

    def __init__(self, model: DreamModel, tile: int | None = None) -> None:
        tune_process()  # timings and dreams under the same process settings
        self.model = model
        self.fixed_tile = _tile_cap_env() or tile
        self.key = machine_key(model)
        with lock:
            self.tuning = load(self.key) or Tuning()
        self._plans: dict[tuple[int, int], StepConfig] = {}
        self._ensure_precision()

    def _ensure_precision(self) -> None:
        forced = os.environ.get(PRECISION_ENV, "auto").strip().lower()
        if forced in ("fp32", "bf16", "fp16"):
            self.tuning = Tuning(**{**asdict(self.tuning), "precision": forced})
            if forced != "fp32":
                self.tuning.channels_last, self.tuning.winograd = True, False
            return
        if not self.tuning.timings and not (self.model.device.type == "cuda" and self.tuning.precision == "fp16"):
            with lock:
                _measure_precision(self.model, self.tuning)
                store(self.key, self.tuning)
            release_memory()  # the timed steps' activations

    def _ensure_bytes_per_px(self) -> None:
        """Measure and store the memory per pixel once (call holding ``lock``)."""
        if not self.tuning.bytes_per_px:
            t = self.tuning
            # Without Winograd: its scratch is freed between ops, where the profiler does not see it go
            # (it would count ~40 % too much); its real peak was measured no higher (RSS, googlenet
            # 1400x1200: 728 against 744 B/px for the direct convolution).
            cfg = StepConfig(tile=4 * PROBE_SIDE, amp_dtype=t.amp_dtype, channels_last=t.channels_last)
            t.bytes_per_px = peak_bytes_per_pixel(self.model, cfg)
            store(self.key, t)

    def tile_for(self, h: int, w: int) -> int:
        """The tile side for an ``h`` x ``w`` image: the fewest tiles within the memory budget."""
        if self.fixed_tile:
            return self.fixed_tile
        whole = math.ceil(max(h, w) / TILE_SLACK)
        if whole <= TILE_SIDES[0]:
            return TILE_SIDES[0]  # one pass: nothing to choose
        if not self.tuning.bytes_per_px:
            with lock:
                self._ensure_bytes_per_px()
            release_memory()  # the probe's activations
        max_px = memory_budget(self.model.device) / self.tuning.bytes_per_px
        for side in [whole, *(s for s in reversed(TILE_SIDES) if s < whole)]:
            if max(_tiles(h, w, side)) <= max_px:
                return side  # the largest side that fits: the fewest tiles
        return TILE_SIDES[0]

    def _winograd(self) -> bool:
        setting = _winograd_setting()
        if self.tuning.precision != "fp32" or setting == "off":
            return False
        return setting == "on" or self.tuning.winograd

    def config(self, size: tuple[int, int]) -> StepConfig:
        """The :class:`StepConfig` for an image of ``size`` (H, W)."""
        if size not in self._plans:
            self._plans[size] = StepConfig(
                tile=self.tile_for(*size),
                amp_dtype=self.tuning.amp_dtype,
                channels_last=self.tuning.channels_last,
                winograd=self._winograd(),
            )
        return self._plans[size]
