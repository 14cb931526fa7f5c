"""Atlas sheets served from the render cache, in the bot process, without the executor.

A sheet is 16 filter renders side by side. When every one of them is in the
content-addressed render cache (:mod:`dream_core.atlas.cache`, shared with the
workers that render them and with ``dreambot atlas build``),
:func:`dream_core.atlas.lookup.cached_sheet` assembles the sheet here — torch-free,
milliseconds — so a sheet anyone has seen once comes back at once, for everyone,
after restarts too. :class:`CachedSheets` also keeps the last sheets it served (and
the ones the executor rendered) in memory, so a page turned back and forth costs no
PNG encoding.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Optional

from dream_core.atlas.cache import AtlasCache, RenderKey
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
        """The sheet's PNG when every filter of it is cached, else None. Blocking (file reads,
        PNG encoding): call it in a thread."""
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
        """Keep a sheet (assembled here or rendered by the executor)."""
        self._sheets[key] = png
        self._sheets.move_to_end(key)
        while len(self._sheets) > self.keep:
            self._sheets.popitem(last=False)
