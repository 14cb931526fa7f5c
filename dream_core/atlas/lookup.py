"""Sheets and cards from the render cache (torch-free).

The keys of what a sheet or a filter card needs, which of them are missing,
and the PNG assembled from cached renders. The bot and the web gallery answer
from here without a worker when every render is cached (a few milliseconds);
:mod:`dream_core.atlas.service` renders the misses and assembles the same way.

A *sheet* is a grid of filters at ``size`` (variant 0 of a render of one image
per filter). A *card* is one filter at ``size`` rendered with ``diversity``
images: the main one large, the others in a strip below.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, Optional

from PIL import Image

from dream_core.atlas.cache import AtlasCache, RenderKey, render_key
from dream_core.atlas.request import AtlasTarget
from dream_core.atlas.sheet import contact_sheet, decode_png, filter_card, sheet_png
from dream_core.atlas.version import RENDERER_VERSION

#: a sheet's renders, one per filter (px)
SHEET_SIZE = 128
#: a filter shown large (px), and how many different images of it
CARD_SIZE = 224
CARD_DIVERSITY = 4
#: columns of a sheet
COLUMNS = 4
#: bump when the layout of sheets and cards changes (their assembled PNGs are cached under it)
LAYOUT_VERSION = "1"


def sheet_keys(
    target: AtlasTarget, filters: Sequence[int], size: int = SHEET_SIZE, *, steps: int = 0,
    weights: Optional[str] = None,
) -> list[RenderKey]:
    """One key per filter: its main render at ``size``."""
    return [render_key(target.model, target.layer, f, size, steps=steps, weights=weights) for f in filters]


def card_keys(
    target: AtlasTarget, filt: int, size: int = CARD_SIZE, diversity: int = CARD_DIVERSITY, *, steps: int = 0,
    weights: Optional[str] = None,
) -> list[RenderKey]:
    """The ``diversity`` renders of one filter (variant 0 first)."""
    return [
        render_key(target.model, target.layer, filt, size, variant=v, steps=steps, diversity=diversity, weights=weights)
        for v in range(diversity)
    ]


def missing(cache: AtlasCache, keys: Sequence[RenderKey]) -> list[RenderKey]:
    """The keys not in ``cache``."""
    return [k for k in keys if not cache.has(k)]


def sheet_meta(target: AtlasTarget, filters: Sequence[int], keys: Sequence[RenderKey], kind: str) -> dict[str, Any]:
    """What an atlas PNG records (its ``dreambot:atlas`` text chunk)."""
    first = keys[0]
    return {
        "kind": kind,
        "model": target.model,
        "layer": target.layer,
        "layer_name": target.name,
        "filters": list(filters),
        "size": first.size,
        "steps": first.steps,
        "diversity": first.diversity,
        "weights": first.weights_id,
        "renderer": RENDERER_VERSION,
    }


def sheet_title(target: AtlasTarget) -> str:
    alias = f" ({target.layer})" if target.name != target.layer else ""
    return f"{target.model}  {target.name}{alias}"


def picture_digest(kind: str, target: AtlasTarget, filters: Sequence[int], keys: Sequence[RenderKey]) -> str:
    """The cache address of an assembled sheet or card: its layout, title and renders."""
    what = [kind, LAYOUT_VERSION, target.model, target.name, list(filters), [k.digest for k in keys]]
    return hashlib.sha256(json.dumps(what).encode()).hexdigest()


def assemble_sheet(
    target: AtlasTarget, filters: Sequence[int], images: Sequence[Image.Image], keys: Sequence[RenderKey],
    cache: Optional[AtlasCache] = None,
) -> bytes:
    """The sheet PNG of ``images`` (one per filter, in order); kept in ``cache`` when given."""
    labels = [str(f) for f in filters]
    grid = contact_sheet(images, labels, columns=COLUMNS, title=sheet_title(target))
    data = sheet_png(grid, sheet_meta(target, filters, keys, "sheet"))
    if cache is not None:
        cache.put_digest(picture_digest("sheet", target, filters, keys), data)
    return data


def assemble_card(
    target: AtlasTarget, filt: int, images: Sequence[Image.Image], keys: Sequence[RenderKey],
    cache: Optional[AtlasCache] = None,
) -> bytes:
    """The card PNG of one filter: ``images[0]`` large, the rest in a strip; kept in ``cache`` when given."""
    card = filter_card(images[0], images[1:], title=f"{target.model}  {target.name}:{filt}")
    data = sheet_png(card, sheet_meta(target, [filt], keys, "filter"))
    if cache is not None:
        cache.put_digest(picture_digest("filter", target, [filt], keys), data)
    return data


def _cached_images(cache: AtlasCache, keys: Sequence[RenderKey]) -> Optional[list[Image.Image]]:
    images = []
    for key in keys:
        data = cache.get(key)
        if data is None:
            return None
        images.append(decode_png(data))
    return images


def cached_sheet(
    cache: AtlasCache, target: AtlasTarget, filters: Sequence[int], size: int = SHEET_SIZE, *, steps: int = 0
) -> Optional[bytes]:
    """The sheet PNG when every render is cached, else None (then submit an atlas job)."""
    keys = sheet_keys(target, filters, size, steps=steps)
    found = cache.get_digest(picture_digest("sheet", target, filters, keys))
    if found is not None:
        return found
    images = _cached_images(cache, keys)
    return assemble_sheet(target, filters, images, keys, cache) if images is not None else None


def cached_card(
    cache: AtlasCache, target: AtlasTarget, filt: int, size: int = CARD_SIZE, diversity: int = CARD_DIVERSITY,
    *, steps: int = 0,
) -> Optional[bytes]:
    """The card PNG of one filter when its renders are cached, else None."""
    keys = card_keys(target, filt, size, diversity, steps=steps)
    found = cache.get_digest(picture_digest("filter", target, [filt], keys))
    if found is not None:
        return found
    images = _cached_images(cache, keys)
    return assemble_card(target, filt, images, keys, cache) if images is not None else None


def cached_tile(cache: AtlasCache, target: AtlasTarget, filt: int, size: int = SHEET_SIZE) -> Optional[bytes]:
    """One filter's cached sheet render (PNG), or None (the web grid's cells)."""
    return cache.get(sheet_keys(target, [filt], size)[0])


__all__ = [
    "CARD_DIVERSITY",
    "CARD_SIZE",
    "COLUMNS",
    "SHEET_SIZE",
    "assemble_card",
    "assemble_sheet",
    "cached_card",
    "cached_sheet",
    "cached_tile",
    "card_keys",
    "missing",
    "picture_digest",
    "sheet_keys",
    "sheet_meta",
]
