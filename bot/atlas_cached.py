"""Atlas sheets served from the render cache, in the bot process, without the executor.

A sheet is 16 filter renders side by side. When every one of them is in the
content-addressed render cache (:mod:`dream_core.atlas.cache`, shared with the
workers that render them), :class:`CachedSheets` composes the sheet here with
:mod:`dream_core.atlas.sheet` — torch-free, a few milliseconds — so a sheet anyone
has seen once comes back at once, for everyone, after restarts too. Composed sheets
(and the ones the executor returns) are also kept in a small in-memory LRU.
"""

from __future__ import annotations

import io
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

from PIL import Image

from dream_core.atlas.cache import AtlasCache, RenderKey, weights_id
from dream_core.atlas.request import AtlasTarget
from dream_core.atlas.sheet import sheet_png
from dream_core.atlas.version import RENDERER_VERSION

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SheetKey:
    """One sheet: a page of a layer at a size, by one renderer version."""

    target: AtlasTarget
    filters: tuple[int, ...]
    size: int
    version: str = RENDERER_VERSION


class CachedSheets:
    """Sheets composed from the render cache (``cache``) and remembered (``keep`` of them)."""

    def __init__(self, cache: AtlasCache, *, keep: int = 64) -> None:
        self.cache = cache
        self.keep = keep
        self._sheets: OrderedDict[SheetKey, bytes] = OrderedDict()

    def render_keys(self, key: SheetKey) -> list[RenderKey]:
        """The cache keys of the sheet's filter renders (the main image of each)."""
        t = key.target
        wid = weights_id(t.model)
        return [RenderKey(t.model, wid, t.layer, f, key.size, 0, key.version) for f in key.filters]

    def get(self, key: SheetKey) -> Optional[bytes]:
        """The sheet's PNG when every filter of it is cached, else None. Blocking (file reads,
        PNG encoding): call it in a thread."""
        png = self._sheets.get(key)
        if png is not None:
            self._sheets.move_to_end(key)
            return png
        renders: list[bytes] = []
        for rkey in self.render_keys(key):
            data = self.cache.get(rkey)
            if data is None:
                return None
            renders.append(data)
        try:
            images = [Image.open(io.BytesIO(data)) for data in renders]
            png = compose(key, images)
        except (OSError, ValueError):  # a damaged cache file: render the sheet again
            log.warning("atlas cache: could not compose %s from its renders", key, exc_info=True)
            return None
        self.remember(key, png)
        return png

    def remember(self, key: SheetKey, png: bytes) -> None:
        """Keep a sheet (composed here or rendered by the executor)."""
        self._sheets[key] = png
        self._sheets.move_to_end(key)
        while len(self._sheets) > self.keep:
            self._sheets.popitem(last=False)


def compose(key: SheetKey, images: Sequence[Image.Image]) -> bytes:
    """The sheet PNG of ``images`` (one per filter of ``key``), each cell marked with its filter."""
    t = key.target
    metadata = {
        "model": t.model,
        "layer": t.layer,
        "filters": ",".join(map(str, key.filters)),
        "size": key.size,
        "renderer": key.version,
    }
    title = f"{t.model} · {t.layer}"
    return sheet_png(images, [str(f) for f in key.filters], title=title, metadata=metadata)
