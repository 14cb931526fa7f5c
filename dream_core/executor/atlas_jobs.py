"""Atlas jobs: render a sheet of filters, or one filter large, on a worker (issue 16).

The caller checks what it asks for with the torch-free
:mod:`dream_core.atlas.request`, answers from the render cache when it can
(:mod:`dream_core.atlas.lookup`), and submits an :class:`AtlasJob` for the rest
with ``executor.submit_atlas``. The job has the events, progress and Cancel of
a dream; ``Done.result.data`` is the PNG. Atlas jobs wait in a line of their own
behind dreams, at most ``ExecutorConfig.atlas_max_running`` at once
(:mod:`.priority`).

The new renders come back with the result (``JobResult.renders``) and the executor
keeps them in its own process's cache too (:func:`keep_renders`): with Ray, the worker
may run on another machine, whose cache the bot does not read.

This module is torch-free: :func:`run_atlas` imports the atlas service (torch)
only when a worker calls it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from dream_core.atlas.lookup import CARD_DIVERSITY, CARD_SIZE, SHEET_SIZE
from dream_core.atlas.request import MAX_FILTERS, AtlasInputError, AtlasTarget, check_filter, resolve_layer

if TYPE_CHECKING:
    from dream_core.atlas.cache import AtlasCache

#: sizes an atlas render may have (px)
MIN_SIZE, MAX_SIZE = 32, 1024
MAX_DIVERSITY = 8


@dataclass(frozen=True)
class AtlasJob:
    """One atlas render. Picklable: it travels to the worker with the job.

    ``filters``: the sheet's filters (``single``: exactly one, shown large).
    ``size``: px of each render; 0: 128 for a sheet, 224 for a single filter.
    ``diversity``: images of a single filter; 0: 4 (a sheet renders one per filter).
    ``steps``: optimisation steps; 0: the renderer's default.
    """

    model: str
    layer: str
    filters: tuple[int, ...]
    size: int = 0
    single: bool = False
    diversity: int = 0
    steps: int = 0

    @property
    def render_size(self) -> int:
        return self.size or (CARD_SIZE if self.single else SHEET_SIZE)

    @property
    def render_diversity(self) -> int:
        return (self.diversity or CARD_DIVERSITY) if self.single else 1

    def check(self) -> AtlasTarget:
        """The checked target; :class:`AtlasInputError` (one line) when something is wrong."""
        target = resolve_layer(self.model, self.layer)
        if not self.filters:
            raise AtlasInputError("filters: an atlas job needs at least one filter")
        if self.single and len(self.filters) != 1:
            raise AtlasInputError(f"filters: a single-filter job shows one filter, not {len(self.filters)}")
        if len(self.filters) > MAX_FILTERS:
            raise AtlasInputError(f"filters: at most {MAX_FILTERS} filters in one sheet")
        for f in self.filters:
            check_filter(target, f)
        if not MIN_SIZE <= self.render_size <= MAX_SIZE:
            raise AtlasInputError(f"size: {self.render_size} px is out of range ({MIN_SIZE}-{MAX_SIZE})")
        if not 0 <= self.diversity <= MAX_DIVERSITY:
            raise AtlasInputError(f"diversity: {self.diversity} is out of range (1-{MAX_DIVERSITY})")
        if self.steps < 0:
            raise AtlasInputError(f"steps: {self.steps} is not a number of steps")
        return target

    @property
    def spec(self) -> str:
        """The target spec a dream would use: ``mixed4`` or ``mixed4:97`` (single)."""
        return f"{self.layer}:{self.filters[0]}" if self.single else self.layer


_caches: dict[tuple[str, int], AtlasCache] = {}
_caches_lock = threading.Lock()


def local_cache() -> AtlasCache:
    """This process's view of the cache the settings name (one per directory and cap)."""
    from dream_core.atlas.cache import AtlasCache, default_cap_bytes, default_dir

    key = (str(default_dir()), default_cap_bytes())
    with _caches_lock:
        cache = _caches.get(key)
        if cache is None:
            cache = _caches[key] = AtlasCache(default_dir(), key[1])
        return cache


def run_atlas(
    atlas: AtlasJob,
    params_json: str,
    *,
    progress: Callable[[float], None],
    cancel: Callable[[], bool],
    device: str,
    cache: Optional[AtlasCache] = None,
) -> dict[str, Any]:
    """Render ``atlas`` in a worker; the ``done`` payload (see :mod:`.worker`).

    Raises :class:`AtlasInputError` (a ``DreamParamsError``), ``DreamCancelled``,
    ``ModelUnavailableError``.
    """
    from dream_core import models
    from dream_core.atlas.service import render_sheet, render_single

    t0 = time.perf_counter()
    target = atlas.check()
    cache = cache if cache is not None else local_cache()
    model = models.get_model(atlas.model, device)
    steps = atlas.steps or None
    stored: list[tuple[str, bytes]] = []
    if atlas.single:
        data = render_single(
            model, target, atlas.filters[0], atlas.render_size, cache, progress, cancel,
            diversity=atlas.render_diversity, steps=steps, stored=stored,
        )
    else:
        data = render_sheet(
            model, target, atlas.filters, atlas.render_size, cache, progress, cancel, steps=steps, stored=stored
        )
    from dream_core.atlas.sheet import decode_png

    width, height = decode_png(data).size
    seconds = time.perf_counter() - t0
    return {
        "data": data,
        "format": "png",
        "width": width,
        "height": height,
        "params_json": params_json,
        "model": atlas.model,
        "seed": 0,
        "seconds": seconds,
        "notes": (),
        "is_animation": False,
        "frames": 1,
        "input_size": (0, 0),
        "device": device,
        "worker_s": seconds,
        "renders": tuple(stored),
    }


def keep_renders(renders: tuple[tuple[str, bytes], ...]) -> int:
    """Store the new renders a job brought back in this process's cache (the caller's side:
    a worker on another machine, a Ray node, has a cache of its own); how many were new here."""
    cache = local_cache()
    return sum(cache.keep(digest, png) for digest, png in renders)


__all__ = ["MAX_DIVERSITY", "MAX_SIZE", "MIN_SIZE", "AtlasJob", "run_atlas", "keep_renders", "local_cache"]
