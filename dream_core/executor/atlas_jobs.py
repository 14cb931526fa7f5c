"""An atlas render as an executor job: TEMPORARY stand-in (atlas-web branch) for H2's
module, with its fields, until it lands on main."""

from __future__ import annotations

from dataclasses import dataclass

from dream_core.atlas.lookup import CARD_DIVERSITY, CARD_SIZE, SHEET_SIZE


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

    @property
    def render_size(self) -> int:
        return self.size or (CARD_SIZE if self.single else SHEET_SIZE)

    @property
    def render_diversity(self) -> int:
        return (self.diversity or CARD_DIVERSITY) if self.single else 1
