"""The atlas's pictures, read from the torch-free render cache (:mod:`dream_core.atlas.cache`).

Renders are content-addressed: a :class:`~dream_core.atlas.cache.RenderKey` names the
model, the hash of its weights, the layer, the filter, the size, the variant (0: the
filter's main image, 1..k: its diversity images) and the renderer's version, so the
bytes under a key never change and a render made by ``dreambot atlas build``, by a
sheet in chat or for this site is the same file for everyone. Every disk access runs
in a thread; the weights hash is computed once per model (the cache memoises it too).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Optional

from dream_core.atlas.cache import AtlasCache, RenderKey, default_cache, weights_id
from dream_core.atlas.request import AtlasTarget
from dream_core.atlas.version import RENDERER_VERSION

#: edge of a filter's image in a layer's grid (the size of the chat's sheets)
GRID_SIZE = 128
#: edge of a filter's image on its own page
LARGE_SIZE = 256
#: diversity images asked for on a filter's page (variants 1..DIVERSITY)
DIVERSITY = 4
#: sizes the image route serves
SIZES: tuple[int, ...] = (GRID_SIZE, LARGE_SIZE)
#: hex digits of a render's digest in its URL (``?v=``)
VERSION_LEN = 16


class AtlasImages:
    """Looks renders up in the atlas cache (made on first use: ``DREAMBOT_ATLAS_DIR``,
    ``DREAMBOT_ATLAS_CACHE_MB``, unless one is given)."""

    def __init__(self, cache: Optional[AtlasCache] = None, *,
                 cache_factory: Callable[[], AtlasCache] = default_cache) -> None:
        self._cache = cache
        self._cache_factory = cache_factory
        self._weights: dict[str, str] = {}

    @property
    def cache(self) -> AtlasCache:
        if self._cache is None:
            self._cache = self._cache_factory()
        return self._cache

    def _weights_id(self, model: str) -> str:
        if model not in self._weights:
            self._weights[model] = weights_id(model)
        return self._weights[model]

    def key(self, target: AtlasTarget, filter: int, size: int, variant: int = 0) -> RenderKey:
        """The cache key of one render (blocking the first time per model: hashes its weights)."""
        return RenderKey(target.model, self._weights_id(target.model), target.layer, filter, size, variant,
                         RENDERER_VERSION)

    async def rendered(self, target: AtlasTarget, filters: Iterable[int], size: int,
                       variant: int = 0) -> dict[int, str]:
        """``filter -> version`` (digest prefix) of the filters whose render is in the cache."""
        wanted = list(filters)

        def look() -> dict[int, str]:
            out = {}
            for n in wanted:
                key = self.key(target, n, size, variant)
                if self.cache.has(key):
                    out[n] = key.digest[:VERSION_LEN]
            return out

        return await asyncio.to_thread(look)

    async def variants(self, target: AtlasTarget, filter: int, size: int,
                       variants: Iterable[int]) -> dict[int, str]:
        """``variant -> version`` of one filter's renders in the cache."""
        wanted = list(variants)

        def look() -> dict[int, str]:
            out = {}
            for v in wanted:
                key = self.key(target, filter, size, v)
                if self.cache.has(key):
                    out[v] = key.digest[:VERSION_LEN]
            return out

        return await asyncio.to_thread(look)

    async def png(self, target: AtlasTarget, filter: int, size: int, variant: int) -> Optional[tuple[bytes, str]]:
        """The PNG of one render and its digest, or ``None`` when it is not in the cache."""

        def read() -> Optional[tuple[bytes, str]]:
            key = self.key(target, filter, size, variant)
            data = self.cache.get(key)
            return (data, key.digest) if data is not None else None

        return await asyncio.to_thread(read)
