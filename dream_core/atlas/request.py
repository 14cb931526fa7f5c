"""Atlas requests checked against the catalog, torch-free (TEMPORARY stand-in, per the spec)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from dream_core import catalog
from dream_core.errors import DreamParamsError

PER_PAGE = 16


class AtlasInputError(ValueError):
    """A bad atlas request: one clear line."""


@dataclass(frozen=True)
class AtlasTarget:
    model: str
    layer: str  # the canonical own layer name
    channels: int


def resolve_layer(model: str, layer: str) -> AtlasTarget:
    try:
        info = catalog.get_info(model)
    except DreamParamsError as exc:
        raise AtlasInputError(str(exc).removeprefix("model: ")) from None
    own = info.canonical(layer)
    if own is None:
        raise AtlasInputError(f"unknown layer {layer!r} for {model}: try {', '.join(info.layer_names()[:6])}, ...")
    return AtlasTarget(model, own, info.channels[own])


def pages(target: AtlasTarget) -> int:
    return max(1, math.ceil(target.channels / PER_PAGE))


def page_filters(target: AtlasTarget, page: int) -> tuple[int, ...]:
    n = pages(target)
    if not 1 <= page <= n:
        raise AtlasInputError(
            f"page {page} is past the end: {target.layer} of {target.model} has {n} pages ({target.channels} filters)"
        )
    start = (page - 1) * PER_PAGE
    return tuple(range(start, min(target.channels, start + PER_PAGE)))


def check_filter(target: AtlasTarget, n: int) -> int:
    if not 0 <= n < target.channels:
        raise AtlasInputError(
            f"filter {n} is out of range: {target.layer} of {target.model} has {target.channels} filters "
            f"(0..{target.channels - 1})"
        )
    return n
