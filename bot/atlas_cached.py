"""Atlas sheets served from the render cache, in the bot process, without the executor.

A sheet is 16 filter renders side by side. When every one of them is in the
content-addressed render cache (:mod:`dream_core.atlas.cache`, shared with the
workers that render them and with ``dreambot atlas build``),
:func:`dream_core.atlas.lookup.cached_sheet` assembles the sheet here — torch-free,
milliseconds. The assembled sheet (or the one the executor rendered) is stored in
the same cache too, under its own key (:func:`sheet_render_key`), so a sheet anyone
has seen once comes back at once — one file read, no PNG encoding — for everyone,
after restarts too; the cache's cap and eviction cover it like any render.
:class:`CachedSheets` also keeps the last sheets it served in memory.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Optional

from dream_core.atlas.cache import AtlasCache, RenderKey, render_key
from dream_core.atlas.lookup import cached_sheet, sheet_keys
from dream_core.atlas.request import AtlasTarget
from dream_core.atlas.version import RENDERER_VERSION

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SheetKey:
    """One sheet: a page of a layer at a size and step count, by one renderer version."""

    target: AtlasTarget
    filters: tuple[int, ...]
    size: int
    steps: int = 0  # 0: the renderer's default
    version: str = RENDERER_VERSION


def sheet_render_key(key: SheetKey) -> RenderKey:
    """Where the render cache keeps the assembled sheet: the key of its first filter's render
    with ``variant`` = minus the number of filters (renders have variants 0, 1, ...; a page's
    filters run on from its first one)."""
    t = key.target
    return render_key(t.model, t.layer, key.filters[0], key.size, variant=-len(key.filters), steps=key.steps)


class CachedSheets:
    """Sheets assembled from the render cache (``cache``), the last ``keep`` of them remembered."""

    def __init__(self, cache: AtlasCache, *, keep: int = 64) -> None:
        self.cache = cache
        self.keep = keep
        self._sheets: OrderedDict[SheetKey, bytes] = OrderedDict()

    def render_keys(self, key: SheetKey) -> list[RenderKey]:
        """The cache keys of the sheet's filter renders."""
        return sheet_keys(key.target, key.filters, key.size, steps=key.steps)

    def get(self, key: SheetKey) -> Optional[bytes]:
        """The sheet's PNG when it, or every filter render of it, is cached; else None.
        Blocking (file reads, maybe PNG encoding): call it in a thread."""
        png = self._sheets.get(key)
        if png is not None:
            self._sheets.move_to_end(key)
            return png
        stored = sheet_render_key(key)
        png = self.cache.get(stored)
        if png is None:
            try:
                png = cached_sheet(self.cache, key.target, key.filters, key.size, steps=key.steps)
            except (OSError, ValueError):  # a damaged cache file: the sheet is rendered again
                log.warning("atlas cache: could not assemble %s from its renders", key, exc_info=True)
                return None
            if png is None:
                return None
            self._put(stored, png)
        self._remember(key, png)
        return png

    def store(self, key: SheetKey, png: bytes) -> None:
        """Keep a sheet the executor rendered (blocking: a file write)."""
        self._put(sheet_render_key(key), png)
        self._remember(key, png)

    def _put(self, stored: RenderKey, png: bytes) -> None:
        try:
            self.cache.put(stored, png)
        except OSError:  # a full or read-only disk: the sheet is still served, from memory
            log.warning("atlas cache: could not store a sheet", exc_info=True)

    def _remember(self, key: SheetKey, png: bytes) -> None:
        self._sheets[key] = png
        self._sheets.move_to_end(key)
        while len(self._sheets) > self.keep:
            self._sheets.popitem(last=False)

    def forget(self) -> None:
        """Drop the sheets kept in memory (as a restart does)."""
        self._sheets.clear()
