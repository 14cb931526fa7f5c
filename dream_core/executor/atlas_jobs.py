"""TEMPORARY (H3): a copy of H2's module (branch atlas-cachecli, 788023d) without its worker side;
the merge of main replaces it.

Atlas jobs: render a sheet of filters, or one filter large, on a worker (issue 16).

The caller checks what it asks for with the torch-free
:mod:`dream_core.atlas.request`, answers from the render cache when it can
(:mod:`dream_core.atlas.lookup`), and submits an :class:`AtlasJob` for the rest
with ``executor.submit_atlas``. The job has the events, progress and Cancel of
a dream; ``Done.result.data`` is the PNG. Atlas jobs wait in a line of their own
behind dreams, at most ``ExecutorConfig.atlas_max_running`` at once
(:mod:`.priority`).

This module is torch-free: :func:`run_atlas` imports the atlas service (torch)
only when a worker calls it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dream_core.atlas.lookup import CARD_DIVERSITY, CARD_SIZE, SHEET_SIZE
from dream_core.atlas.request import MAX_FILTERS, AtlasInputError, AtlasTarget, check_filter, resolve_layer

if TYPE_CHECKING:
    pass

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


__all__ = ["MAX_DIVERSITY", "MAX_SIZE", "MIN_SIZE", "AtlasJob"]
