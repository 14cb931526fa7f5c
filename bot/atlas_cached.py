"""Atlas sheets served from the render cache, in the bot process, without the executor.

A sheet is 16 filter renders side by side. :func:`dream_core.atlas.lookup.cached_sheet`
finds it in the content-addressed render cache (:mod:`dream_core.atlas.cache`, shared
with the workers and with ``dreambot atlas build``): the assembled sheet when anyone has
seen it (the worker that rendered it, or a bot that assembled it, stored it — one file
read), else assembled here from its 16 renders when they are all cached (torch-free,
and then stored). So a sheet seen once comes back at once, for everyone, after restarts
too. :class:`CachedSheets` also keeps the last sheets it served in memory.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Optional

from dream_core.atlas.cache import AtlasCache, RenderKey
from dream_core.atlas.lookup import cached_sheet, picture_digest, sheet_keys
from dream_core.atlas.request import AtlasTarget
from dream_core.atlas.version import RENDERER_VERSION

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SheetKey:
    """One sheet: a page of a layer (as the user named it) at a size and step count, by one
    renderer version."""

    target: AtlasTarget
    filters: tuple[int, ...]
    size: int
    steps: int = 0  # 0: the renderer's default
    version: str = RENDERER_VERSION


class CachedSheets:
    """Sheets from the render cache (``cache``), the last ``keep`` of them remembered."""

    def __init__(self, cache: AtlasCache, *, keep: int = 64) -> None:
        self.cache = cache
        self.keep = keep
        self._sheets: OrderedDict[SheetKey, bytes] = OrderedDict()

    def render_keys(self, key: SheetKey) -> list[RenderKey]:
        """The cache keys of the sheet's filter renders."""
        return sheet_keys(key.target, key.filters, key.size, steps=key.steps)

    def stored_digest(self, key: SheetKey) -> str:
        """Where the render cache keeps the assembled sheet."""
        return picture_digest("sheet", key.target, key.filters, self.render_keys(key))

    def get(self, key: SheetKey) -> Optional[bytes]:
        """The sheet's PNG when it, or every filter render of it, is cached; else None.
        Blocking (file reads, maybe PNG encoding): call it in a thread."""
        png = self._sheets.get(key)
        if png is not None:
            self._sheets.move_to_end(key)
            return png
        try:
            png = cached_sheet(self.cache, key.target, key.filters, key.size, steps=key.steps)
        except (OSError, ValueError):  # a damaged cache file: the sheet is rendered again
            log.warning("atlas cache: could not assemble %s from its renders", key, exc_info=True)
            return None
        if png is not None:
            self.remember(key, png)
        return png

    def remember(self, key: SheetKey, png: bytes) -> None:
        """Keep a sheet in memory (the executor's worker stored it in the cache already)."""
        self._sheets[key] = png
        self._sheets.move_to_end(key)
        while len(self._sheets) > self.keep:
            self._sheets.popitem(last=False)

    def forget(self) -> None:
        """Drop the sheets kept in memory (as a restart does)."""
        self._sheets.clear()
