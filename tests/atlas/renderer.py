"""The renderer the atlas tests use, its calls counted.

Until the real renderer (``dream_core.atlas.render``) is in the tree, in-process
tests use a small stand-in with the same signature (:mod:`tests.atlas.standin_render`);
tests that start other processes need the real one and are skipped without it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

import pytest


def real_renderer() -> bool:
    return importlib.util.find_spec("dream_core.atlas.render") is not None


needs_renderer = pytest.mark.skipif(not real_renderer(), reason="dream_core.atlas.render is not in this tree yet")


def counted_renderer(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The module ``dream_core.atlas.render`` (real, or the stand-in) with its calls counted:
    ``.calls`` lists the filters of each call."""
    if real_renderer():
        module: Any = importlib.import_module("dream_core.atlas.render")
    else:
        from tests.atlas import standin_render as module

        monkeypatch.setitem(sys.modules, "dream_core.atlas.render", module)
    calls: list[list[int]] = []
    original = module.render_filters

    def counted(model: Any, layer: str, filters: Any, **kw: Any) -> Any:
        calls.append(list(filters))
        return original(model, layer, filters, **kw)

    monkeypatch.setattr(module, "render_filters", counted)
    monkeypatch.setattr(module, "calls", calls, raising=False)
    return module
