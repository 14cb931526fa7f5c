"""What the atlas's web tests share: the real gallery app over the seeded store (see
conftest.py) with its own atlas cache in a temporary folder, served on 127.0.0.1,
standalone (no renderer: ``dreambot web``) or with a renderer at the protocol's edge
that writes PNGs into the same cache, as the executor's atlas jobs do."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from PIL import Image

from bot.web.atlas_images import AtlasImages
from bot.web.atlas_renders import RenderOrder
from dream_core.atlas.cache import AtlasCache
from dream_core.atlas.request import resolve_layer

MODEL = "efficientnet-lite0"
LAYER = "block10"  # mixed4 of lite0: the seeded gallery's "mixed4:97" dream used its filter 97
ALIAS = "mixed4"


def png(n: int, size: int, variant: int = 0) -> bytes:
    """A distinct picture per filter and variant."""
    img = Image.new("RGB", (size, size), ((n * 37) % 256, (variant * 80) % 256, (n * 11 + 90) % 256))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def put(cache: AtlasCache, layer: str, filters, size: int, variants=(0,), model: str = MODEL) -> None:
    """Store renders as ``dreambot atlas build`` (or a worker) does."""
    images = AtlasImages(cache)
    target = resolve_layer(model, layer)
    for n in filters:
        for v in variants:
            key = images.key(target, n, size, v)
            assert key is not None, (size, v)
            cache.put(key, png(n, size, v))


@dataclass
class FakeRenderer:
    """The executor's side of :class:`~bot.web.atlas_renders.AtlasRenderer`: after ``delay``
    it writes the ordered renders into the cache (or fails with ``fail``)."""

    cache: AtlasCache
    delay: float = 0.3
    fail: Optional[str] = None
    orders: list[RenderOrder] = field(default_factory=list)
    gate: Optional[asyncio.Event] = None

    async def render(self, order: RenderOrder) -> None:
        self.orders.append(order)
        if self.gate is not None:
            await self.gate.wait()
        await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError(self.fail)
        variants = range(order.diversity) if order.single else (0,)
        await asyncio.to_thread(put, self.cache, order.layer, order.filters, order.size, variants, order.model)


@dataclass
class AtlasServed:
    base: str
    cache: AtlasCache
    renderer: Optional[FakeRenderer]


async def serve_atlas(web_env, root: Path, renderer: bool):
    """Start the app; returns ``(AtlasServed, runner)``."""
    from aiohttp import web

    from bot.metrics import Metrics
    from bot.web import create_web_app

    store, _seeded, settings = web_env
    cache = AtlasCache(root, 64 * 1024 * 1024)
    fake = FakeRenderer(cache) if renderer else None
    app = create_web_app(store, store.files, settings=settings, metrics=Metrics(), atlas_cache=cache,
                         atlas_renderer=fake)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return AtlasServed(f"http://127.0.0.1:{runner.addresses[0][1]}", cache, fake), runner
