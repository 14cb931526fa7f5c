"""What an atlas request may ask for, checked once at the edge (torch-free).

The CLI, the bot and the web gallery call these before anything runs: a model
and a layer (an alias such as ``mixed4`` or an own name such as ``block10``)
become an :class:`AtlasTarget`; a page, a filter list or one filter index is
checked against the layer's channel count. A problem is an
:class:`AtlasInputError` with one line a user understands, and nothing runs.
Reads only :mod:`dream_core.catalog`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dream_core.catalog import CATALOG
from dream_core.errors import DreamParamsError

#: filters on one page of a sheet (a 4 x 4 grid)
PER_PAGE = 16
#: at most this many filters in one sheet (a whole page range, or a list)
MAX_FILTERS = 256


class AtlasInputError(DreamParamsError):
    """An atlas request names something that does not exist (one clear line)."""


@dataclass(frozen=True)
class AtlasTarget:
    """A checked model and layer: ``layer`` is the model's own layer name."""

    model: str
    layer: str
    channels: int
    label: str = ""  # the name the user gave (an alias like ``mixed4``), for titles

    @property
    def name(self) -> str:
        """The name to show: the user's alias, else the own name."""
        return self.label or self.layer

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.channels / PER_PAGE))


def resolve_layer(model: str, layer: str) -> AtlasTarget:
    """The model's layer ``layer`` (alias or own name); :class:`AtlasInputError` names the choices."""
    info = CATALOG.get(model)
    if info is None:
        raise AtlasInputError(f"model: unknown model {model!r}; choose one of {', '.join(CATALOG)}")
    name = layer.strip()
    own = info.canonical(name)
    if own is None:
        raise AtlasInputError(f"layer: unknown layer {name!r} for {model}: try {', '.join(info.layer_names())}")
    return AtlasTarget(model, own, info.channels[own], name)


def check_filter(target: AtlasTarget, n: int) -> int:
    """``n`` if ``target`` has a filter ``n``, else :class:`AtlasInputError`."""
    if not 0 <= n < target.channels:
        raise AtlasInputError(
            f"filter: {n} is out of range: {target.name} of {target.model} has {target.channels} filters "
            f"(0-{target.channels - 1})"
        )
    return n


def page_filters(target: AtlasTarget, page: int) -> tuple[int, ...]:
    """The filters on 1-based ``page`` (:data:`PER_PAGE` each, the last one may be short)."""
    if page < 1:
        raise AtlasInputError(f"page: pages start at 1 (got {page})")
    if page > target.pages:
        raise AtlasInputError(
            f"page: page {page} is past the end: {target.name} of {target.model} has {target.pages} "
            f"page{'s' if target.pages != 1 else ''} ({target.channels} filters)"
        )
    start = (page - 1) * PER_PAGE
    return tuple(range(start, min(start + PER_PAGE, target.channels)))


def parse_filters(target: AtlasTarget, text: str) -> tuple[int, ...]:
    """Filters from ``"0-15"``, ``"3,5,97"`` or a mix (``"0-3,97"``), in the order given, once each."""
    out: dict[int, None] = {}
    parts = [p.strip() for p in str(text).split(",")]
    if not any(parts):
        raise AtlasInputError("filters: give filter numbers such as 0-15 or 3,5,97")
    for part in parts:
        if not part:
            continue
        lo_text, dash, hi_text = part.partition("-")
        try:
            lo = int(lo_text)
            hi = int(hi_text) if dash else lo
        except ValueError:
            raise AtlasInputError(f"filters: {part!r} is not a filter number or a range like 0-15") from None
        if hi < lo:
            raise AtlasInputError(f"filters: the range {part!r} runs backwards (write {hi}-{lo})")
        check_filter(target, lo)
        check_filter(target, hi)
        if len(out) + (hi - lo + 1) > MAX_FILTERS:
            raise AtlasInputError(f"filters: at most {MAX_FILTERS} filters in one sheet")
        out.update(dict.fromkeys(range(lo, hi + 1)))
    return tuple(out)


__all__ = [
    "MAX_FILTERS",
    "PER_PAGE",
    "AtlasInputError",
    "AtlasTarget",
    "check_filter",
    "page_filters",
    "parse_filters",
    "resolve_layer",
]
