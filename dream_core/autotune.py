"""How gradients run fastest on this machine: chosen by measurement, cached, overridable.

Two choices, made per model, device, torch version and CPU capability:

* **precision and layout**: the first time a model is used, one gradient
  step is timed in fp32 (contiguous and channels-last) and, on CPUs that
  report AVX512-BF16 or AMX, under bf16 autocast; the fastest wins (bf16
  only when it is measured faster by a margin). CUDA uses fp16 autocast and
  channels-last without timing.
* **tile size**: the time per pixel of one gradient is measured for a few
  square tile sides (only those an image actually needs, at most once each);
  for an image, every tiling that fits the memory budget is costed with those
  figures (margins included) and the cheapest wins, within the memory budget
  of :mod:`dream_core.memory` (the peak memory per pixel is measured once).

Results live in a small JSON file under the user cache directory
(:mod:`dream_core.tuning_cache`).

Settings (environment):

* ``DREAMBOT_PRECISION``: ``auto`` (default), ``fp32``, ``bf16`` or ``fp16``.
* ``DREAMBOT_TILE``: ``auto`` (default) or a tile side in px used as is.
* ``DREAMBOT_TILE_MEMORY_MB``: cap of the tile memory budget (default 640).
* ``DREAMBOT_AUTOTUNE_CACHE``: path of the cache file; ``off`` keeps it in memory only.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict

import torch

from dream_core.memory import PROBE_SIDE, MeanSquare, memory_budget, peak_bytes_per_pixel
from dream_core.models import DreamModel
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
TILE_ENV = "DREAMBOT_TILE"

TILE_SIDES = (
    256,
    384,
    512,
    768,
    1024,
    1536,
    2048,
)  # sides the time per pixel is measured at
PRECISION_SIDE = 384  # image side the precision is timed at
BF16_MARGIN = 0.9  # bf16 must take at most this share of fp32's time
MORE_TILES_GAIN = 0.85  # a tiling with more tiles must take at most this share of the time


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


def _measure_precision(model: DreamModel, tuning: Tuning) -> None:
    if model.device.type == "cuda":
        tuning.precision, tuning.channels_last = "fp16", True
        return
    side = PRECISION_SIDE
    options = {
        "fp32": StepConfig(tile=side, channels_last=False),
        "fp32-cl": StepConfig(tile=side, channels_last=True),
    }
    if _cpu_has_bf16():
        options["bf16-cl"] = StepConfig(tile=side, amp_dtype=torch.bfloat16, channels_last=True)
    times = time_steps(model, {name: (side, cfg) for name, cfg in options.items()})
    fp32_best = min(times["fp32"], times["fp32-cl"])
    tuning.channels_last = times["fp32-cl"] < times["fp32"]
    if "bf16-cl" in times and times["bf16-cl"] < BF16_MARGIN * fp32_best:
        tuning.precision, tuning.channels_last = "bf16", True
    tuning.timings = {k: round(v, 5) for k, v in times.items()}
    log.info(
        "autotune %s: %s -> %s%s",
        model.name,
        tuning.timings,
        tuning.precision,
        " channels-last" if tuning.channels_last else "",
    )


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
                self.tuning.channels_last = True
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
            cfg = StepConfig(tile=4 * PROBE_SIDE, amp_dtype=t.amp_dtype, channels_last=t.channels_last)
            t.bytes_per_px = peak_bytes_per_pixel(self.model, cfg)
            store(self.key, t)

    def _sec_per_px(self, px: int) -> float:
        """Seconds per pixel for a tile of ``px`` pixels, from the measured sides (log-linear in between)."""
        pts = sorted((int(s) ** 2, v) for s, v in self.tuning.sec_per_px.items())
        if px <= pts[0][0]:
            return pts[0][1]
        for (p0, v0), (p1, v1) in itertools.pairwise(pts):
            if px <= p1:
                f = math.log(px / p0) / math.log(p1 / p0)
                return v0 + f * (v1 - v0)
        return pts[-1][1]

    def _measure_sides(self, sides: Sequence[int]) -> None:
        todo = [s for s in sides if str(s) not in self.tuning.sec_per_px]
        if not todo:
            return
        with lock:

            def cfg_of(side: int) -> StepConfig:
                return StepConfig(tile=side, amp_dtype=self.tuning.amp_dtype, channels_last=self.tuning.channels_last)

            # All the sides this choice compares, timed together (not only the new ones).
            times = time_steps(self.model, {str(s): (s, cfg_of(s)) for s in sides})
            for name, secs in times.items():
                self.tuning.sec_per_px[name] = secs / int(name) ** 2
            store(self.key, self.tuning)
            self._ensure_bytes_per_px()
        release_memory()  # the timed tiles' and the memory probe's activations
        log.info(
            "autotune %s: seconds per megapixel by tile side %s",
            self.model.name,
            {k: round(v * 1e6, 3) for k, v in sorted(self.tuning.sec_per_px.items(), key=lambda kv: int(kv[0]))},
        )

    def tile_for(self, h: int, w: int) -> int:
        """The tile side for an ``h`` x ``w`` image: the cheapest measured tiling within the memory budget."""
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
        options: dict[tuple[int, ...], int] = {}  # tiling (tile pixel counts) -> tile side
        for side in [*(s for s in TILE_SIDES if s < whole), whole]:
            tiles = _tiles(h, w, side)
            if max(tiles) <= max_px or side == TILE_SIDES[0]:
                options.setdefault(tuple(tiles), side)
        if len(options) == 1:
            return next(iter(options.values()))
        biggest = math.sqrt(max(max(t) for t in options))
        need = [s for s in TILE_SIDES if s < biggest]
        need += [s for s in TILE_SIDES if s >= biggest][:1]
        # never time a tile the budget would not allow (the timing itself would break it)
        self._measure_sides([s for s in need if s * s <= max_px] or [TILE_SIDES[0]])
        # Fewest tiles first; more tiles must be clearly cheaper (seams, timing noise).
        best_side, best_cost = 0, math.inf
        for tiling, side in sorted(options.items(), key=lambda kv: (len(kv[0]), -kv[1])):
            cost = sum(px * self._sec_per_px(px) for px in tiling)
            if cost < MORE_TILES_GAIN * best_cost:
                best_side, best_cost = side, cost
        return best_side

    def config(self, size: tuple[int, int]) -> StepConfig:
        """The :class:`StepConfig` for an image of ``size`` (H, W)."""
        if size not in self._plans:
            self._plans[size] = StepConfig(
                tile=self.tile_for(*size),
                amp_dtype=self.tuning.amp_dtype,
                channels_last=self.tuning.channels_last,
            )
        return self._plans[size]
