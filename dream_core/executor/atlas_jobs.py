"""An atlas render as an executor job: TEMPORARY stand-in (atlas-web branch) for H2's
module, with its fields, until it lands on main."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AtlasJob:
    """``size`` 0: 128 for a sheet, 224 for a single filter; ``diversity`` 0: 4 images of a
    single filter; ``steps`` 0: the renderer's default."""

    model: str
    layer: str
    filters: tuple[int, ...]
    size: int = 0
    single: bool = False
    diversity: int = 0
    steps: int = 0
