"""Atlas sheets and cards, rendered where torch lives (a worker, the CLI).

:func:`render_sheet` and :func:`render_single` look every render up in the
cache, render only the misses (all of them in one batch, through
:func:`dream_core.atlas.render.render_filters`), store each new render, and
return the PNG assembled as :mod:`dream_core.atlas.lookup` does in the bot.
``progress`` gets the fraction of the job done (0..1); ``should_cancel`` is
asked between steps, and a cancelled job raises :class:`DreamCancelled`;
``stored``, when given, collects ``(digest, png)`` of each new render.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Optional

from PIL import Image

from dream_core.atlas.cache import AtlasCache, RenderKey, default_cache
from dream_core.atlas.lookup import (
    CARD_DIVERSITY,
    CARD_SIZE,
    SHEET_SIZE,
    assemble_card,
    assemble_sheet,
    card_keys,
    missing,
    sheet_keys,
)
from dream_core.atlas.request import AtlasTarget, check_filter
from dream_core.atlas.sheet import decode_png, encode_tile
from dream_core.errors import DreamCancelled

if TYPE_CHECKING:
    from dream_core.models import DreamModel

log = logging.getLogger(__name__)

Progress = Callable[[float], None]
CancelCheck = Callable[[], bool]
#: (digest, png) of each render a call stored: a caller elsewhere (a Ray node's) keeps them too
Stored = list[tuple[str, bytes]]


def _put(cache: AtlasCache, key: RenderKey, png: bytes, stored: Optional[Stored]) -> None:
    cache.put(key, png)
    if stored is not None:
        stored.append((key.digest, png))


def _render(
    model: DreamModel, target: AtlasTarget, filters: Sequence[int], *, size: int, steps: Optional[int],
    diversity: int, progress: Optional[Progress], should_cancel: Optional[CancelCheck],
) -> list[list[Image.Image]]:
    from dream_core.atlas.render import render_filters

    images = render_filters(
        model, target.layer, list(filters), size=size, steps=steps, diversity=diversity,
        progress=progress, should_cancel=should_cancel,
    )
    if should_cancel is not None and should_cancel():
        raise DreamCancelled("the atlas job was cancelled")
    return images


def _render_keys(
    model: DreamModel, target: AtlasTarget, keys: Sequence[RenderKey], cache: AtlasCache, *, size: int,
    steps: Optional[int], progress: Optional[Progress], should_cancel: Optional[CancelCheck], stored: Optional[Stored],
) -> list[tuple[Image.Image, int]]:
    """Render the sheet renders of ``keys`` (their filters, one batch), store each; (image, PNG bytes) per key."""
    rendered = _render(
        model, target, [k.filter for k in keys], size=size, steps=steps, diversity=1,
        progress=progress, should_cancel=should_cancel,
    )
    out = []
    for key, variants in zip(keys, rendered, strict=True):
        png = encode_tile(variants[0])
        _put(cache, key, png, stored)
        out.append((variants[0], len(png)))
    return out


def _lookup(cache: AtlasCache, keys: Sequence[RenderKey]) -> list[Optional[Image.Image]]:
    out: list[Optional[Image.Image]] = []
    for key in keys:
        data = cache.get(key)
        out.append(decode_png(data) if data is not None else None)
    return out


def render_missing(
    model: DreamModel,
    target: AtlasTarget,
    filters: Sequence[int],
    size: int = SHEET_SIZE,
    cache: Optional[AtlasCache] = None,
    progress: Optional[Progress] = None,
    should_cancel: Optional[CancelCheck] = None,
    *,
    steps: Optional[int] = None,
    weights: Optional[str] = None,
    stored: Optional[Stored] = None,
) -> int:
    """Render the sheet renders of ``filters`` the cache lacks and store them; the bytes stored."""
    cache = cache if cache is not None else default_cache()
    keys = missing(cache, sheet_keys(target, filters, size, steps=steps or 0, weights=weights))
    written = 0
    if keys:
        new = _render_keys(
            model, target, keys, cache, size=size, steps=steps, progress=progress, should_cancel=should_cancel,
            stored=stored,
        )
        written = sum(n for _, n in new)
    if progress is not None:
        progress(1.0)
    return written


def render_sheet(
    model: DreamModel,
    target: AtlasTarget,
    filters: Sequence[int],
    size: int = SHEET_SIZE,
    cache: Optional[AtlasCache] = None,
    progress: Optional[Progress] = None,
    should_cancel: Optional[CancelCheck] = None,
    *,
    steps: Optional[int] = None,
    weights: Optional[str] = None,
    stored: Optional[Stored] = None,
) -> bytes:
    """The sheet PNG of ``filters`` of ``target`` at ``size``, rendering only what the cache lacks."""
    for f in filters:
        check_filter(target, f)
    cache = cache if cache is not None else default_cache()
    keys = sheet_keys(target, filters, size, steps=steps or 0, weights=weights)
    images = _lookup(cache, keys)
    todo = [i for i, img in enumerate(images) if img is None]
    if todo:
        log.info("atlas %s %s: rendering %d of %d filters", target.model, target.layer, len(todo), len(filters))
        new = _render_keys(
            model, target, [keys[i] for i in todo], cache, size=size, steps=steps, progress=progress,
            should_cancel=should_cancel, stored=stored,
        )
        for i, (img, _n) in zip(todo, new, strict=True):
            images[i] = img
    if progress is not None:
        progress(1.0)
    return assemble_sheet(target, filters, [img for img in images if img is not None], keys, cache)


def render_single(
    model: DreamModel,
    target: AtlasTarget,
    filt: int,
    size: int = CARD_SIZE,
    cache: Optional[AtlasCache] = None,
    progress: Optional[Progress] = None,
    should_cancel: Optional[CancelCheck] = None,
    *,
    diversity: int = CARD_DIVERSITY,
    steps: Optional[int] = None,
    weights: Optional[str] = None,
    stored: Optional[Stored] = None,
) -> bytes:
    """One filter large with its diversity images (a card PNG); cached as variants 0..diversity-1."""
    check_filter(target, filt)
    diversity = max(1, diversity)
    cache = cache if cache is not None else default_cache()
    keys = card_keys(target, filt, size, diversity, steps=steps or 0, weights=weights)
    found = _lookup(cache, keys)
    images: list[Image.Image]
    if all(img is not None for img in found):
        images = [img for img in found if img is not None]
    else:  # the variants shape each other (the diversity term): render them together
        images = _render(
            model, target, [filt], size=size, steps=steps, diversity=diversity,
            progress=progress, should_cancel=should_cancel,
        )[0]
        for key, img in zip(keys, images, strict=True):
            _put(cache, key, encode_tile(img), stored)
    if progress is not None:
        progress(1.0)
    return assemble_card(target, filt, images, keys, cache)


__all__ = ["render_missing", "render_sheet", "render_single"]
