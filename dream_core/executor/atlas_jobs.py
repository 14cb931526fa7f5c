"""An atlas render as an executor job (TEMPORARY stand-in for H2's module, per the spec)."""

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
