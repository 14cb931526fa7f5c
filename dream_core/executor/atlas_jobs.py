"""TEMPORARY stub (H3) of H2's atlas job description, per /work/notes/ATLAS_SPEC.md; the merge replaces it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AtlasJob:
    model: str
    layer: str
    filters: tuple[int, ...]
    size: int = 128
    single: bool = False
    diversity: int = 0
