"""Atlas fixtures: a fresh render cache per test, and the renderer with its calls counted."""

from __future__ import annotations

import pytest

from dream_core.atlas.cache import AtlasCache
from tests.atlas.renderer import counted_renderer


@pytest.fixture
def cache(tmp_path) -> AtlasCache:
    return AtlasCache(tmp_path / "atlas", 50_000_000)


@pytest.fixture
def renderer(monkeypatch):
    """``dream_core.atlas.render``; ``renderer.calls``: the filters of each call."""
    return counted_renderer(monkeypatch)
