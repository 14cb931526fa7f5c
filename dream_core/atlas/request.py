"""TEMPORARY stub (H3) of H2's atlas request validation, per /work/notes/ATLAS_SPEC.md; the merge replaces it."""

from __future__ import annotations

from dataclasses import dataclass

from dream_core.catalog import get_info
from dream_core.errors import DreamParamsError

PER_PAGE = 16


class AtlasInputError(ValueError):
    """Bad atlas input; ``str(exc)`` is one clear line."""


@dataclass(frozen=True)
class AtlasTarget:
    model: str
    layer: str
    channels: int

    @property
    def pages(self) -> int:
        return -(-self.channels // PER_PAGE)


def resolve_layer(model: str, layer: str) -> AtlasTarget:
    try:
        info = get_info(model)
    except DreamParamsError as exc:
        raise AtlasInputError(str(exc).removeprefix("model: ")) from None
    own = info.canonical(layer.strip())
    if own is None:
        names = ", ".join(info.layer_names()[:8])
        raise AtlasInputError(f"unknown layer {layer!r} for {model}: try {names}, ...")
    return AtlasTarget(model, own, info.channels[own])


def page_filters(target: AtlasTarget, page: int) -> tuple[int, ...]:
    pages = -(-target.channels // PER_PAGE)
    if page < 1 or page > pages:
        raise AtlasInputError(
            f"page {page} is past the end: {target.layer} of {target.model} has {pages} pages "
            f"({target.channels} filters)"
        )
    start = (page - 1) * PER_PAGE
    return tuple(range(start, min(start + PER_PAGE, target.channels)))


def check_filter(target: AtlasTarget, n: int) -> int:
    if not 0 <= n < target.channels:
        raise AtlasInputError(f"filter {n} is out of range: {target.layer} has filters 0..{target.channels - 1}")
    return n


def parse_filters(target: AtlasTarget, text: str) -> tuple[int, ...]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        try:
            a, b = int(lo), int(hi or lo)
        except ValueError:
            raise AtlasInputError(f"bad filter list {text!r}: use 0-15 or 3,5,97") from None
        out += [check_filter(target, n) for n in range(a, b + 1)]
    return tuple(out)
