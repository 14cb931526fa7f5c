"""The atlas's pictures, read from the torch-free render cache (:mod:`dream_core.atlas.cache`).

Renders are content-addressed: a :class:`~dream_core.atlas.cache.RenderKey` names the
model, the hash of its weights, the layer, the filter, the size, the variant and the
renderer's version, so the bytes under a key never change, and a render made by
``dreambot atlas build``, by a sheet in chat or for this site is the same file for
everyone. A layer's grid shows each filter's *sheet* render (:data:`GRID_SIZE`); a
filter's page shows its *card* renders (:data:`LARGE_SIZE`, :data:`VIEWS` images
rendered together: variant 0 large, the others as more views), the keys
:mod:`dream_core.atlas.lookup` gives. Every disk access runs in a thread.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable
from typing import Optional

from dream_core.atlas.cache import AtlasCache, RenderKey, default_cache
from dream_core.atlas.lookup import CARD_DIVERSITY, CARD_SIZE, SHEET_SIZE, card_keys, sheet_keys
from dream_core.atlas.request import AtlasTarget

#: edge of a filter's image in a layer's grid (the chat's sheets use the same renders)
GRID_SIZE = SHEET_SIZE
#: edge of a filter's images on its own page (the chat's filter cards use the same renders)
LARGE_SIZE = CARD_SIZE
#: images of one filter on its page: variant 0 large, 1.. as more views
VIEWS = CARD_DIVERSITY
#: sizes the image route serves
SIZES: tuple[int, ...] = (GRID_SIZE, LARGE_SIZE)
#: hex digits of a render's digest in its URL (``?v=``)
VERSION_LEN = 16


class AtlasImages:
    """Looks renders up in the atlas cache: by default the one ``DREAMBOT_ATLAS_DIR`` and
    ``DREAMBOT_ATLAS_CACHE_MB`` name, as the workers and ``dreambot atlas build`` make it (a
    bad setting fails here, when the app is built, with the setting's name)."""

    def __init__(self, cache: Optional[AtlasCache] = None) -> None:
        self.cache = cache if cache is not None else default_cache()  # no disk access yet

    @staticmethod
    def grid_keys(target: AtlasTarget, filters: Iterable[int]) -> dict[int, RenderKey]:
        """``filter -> key`` of the grid renders (blocking: hashes the weights the first time).
        One key is asked of the lookup, the others differ only in the filter."""
        wanted = list(filters)
        if not wanted:
            return {}
        first = sheet_keys(target, [wanted[0]], GRID_SIZE)[0]
        return {n: dataclasses.replace(first, filter=n) for n in wanted}

    @staticmethod
    def card(target: AtlasTarget, filter: int) -> list[RenderKey]:
        """The keys of one filter's large renders, variant 0 first."""
        return card_keys(target, filter, LARGE_SIZE, VIEWS)

    def key(self, target: AtlasTarget, filter: int, size: int, variant: int = 0) -> Optional[RenderKey]:
        """The key behind an image URL (``None``: no such picture)."""
        if size == GRID_SIZE and variant == 0:
            return self.grid_keys(target, [filter])[filter]
        if size == LARGE_SIZE and 0 <= variant < VIEWS:
            return self.card(target, filter)[variant]
        return None

    async def rendered(self, target: AtlasTarget, filters: Iterable[int]) -> dict[int, str]:
        """``filter -> version`` (digest prefix) of the filters whose grid render is cached."""
        wanted = list(filters)

        def look() -> dict[int, str]:
            keys = self.grid_keys(target, wanted)
            return {n: key.digest[:VERSION_LEN] for n, key in keys.items() if self.cache.has(key)}

        return await asyncio.to_thread(look)

    async def views(self, target: AtlasTarget, filter: int) -> dict[int, str]:
        """``variant -> version`` of one filter's large renders in the cache."""

        def look() -> dict[int, str]:
            keys = self.card(target, filter)
            return {v: key.digest[:VERSION_LEN] for v, key in enumerate(keys) if self.cache.has(key)}

        return await asyncio.to_thread(look)

    async def png(self, target: AtlasTarget, filter: int, size: int, variant: int) -> Optional[tuple[bytes, str]]:
        """The PNG of one render and its digest, or ``None`` when there is none (yet)."""

        def read() -> Optional[tuple[bytes, str]]:
            key = self.key(target, filter, size, variant)
            if key is None:
                return None
            data = self.cache.get(key)
            return (data, key.digest) if data is not None else None

        return await asyncio.to_thread(read)
