"""The atlas renderer with its calls counted, for tests that check what was rendered."""

from __future__ import annotations

from typing import Any

import pytest


def counted_renderer(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The module ``dream_core.atlas.render`` with its calls counted: ``.calls`` lists the
    filters of each call (the real renderer still renders)."""
    from dream_core.atlas import render as module

    calls: list[list[int]] = []
    original = module.render_filters

    def counted(model: Any, layer: str, filters: Any, **kw: Any) -> Any:
        calls.append(list(filters))
        return original(model, layer, filters, **kw)

    monkeypatch.setattr(module, "render_filters", counted)
    monkeypatch.setattr(module, "calls", calls, raising=False)
    return module
