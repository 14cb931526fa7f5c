"""The worker side: only cache misses are rendered, each render is stored, the PNG says what it shows."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from dream_core.atlas.lookup import cached_sheet, card_keys, sheet_keys
from dream_core.atlas.request import resolve_layer
from dream_core.atlas.service import render_missing, render_sheet, render_single
from dream_core.atlas.sheet import read_atlas_meta
from dream_core.errors import DreamCancelled

pytestmark = pytest.mark.slow  # loads the model and renders (tiny sizes, two steps)

SIZE, STEPS = 32, 2


@pytest.fixture(scope="module")
def model():
    from dream_core import models

    return models.get_model("efficientnet-lite0", "cpu")


def test_a_sheet_renders_only_its_misses_and_stores_each(model, cache, renderer):
    target = resolve_layer("efficientnet-lite0", "mixed3")
    progress: list[float] = []
    png = render_sheet(model, target, [0, 1, 2], SIZE, cache, progress.append, steps=STEPS)
    assert renderer.calls == [[0, 1, 2]]  # one batch
    assert progress[-1] == 1.0 and progress == sorted(progress)
    assert all(cache.has(k) for k in sheet_keys(target, [0, 1, 2], SIZE, steps=STEPS))
    meta = read_atlas_meta(png)
    assert meta is not None and meta["filters"] == [0, 1, 2] and meta["layer"] == "block5" and meta["steps"] == STEPS
    again = render_sheet(model, target, [2, 3, 0, 1], SIZE, cache, steps=STEPS)
    assert renderer.calls == [[0, 1, 2], [3]]  # only the new filter
    assert read_atlas_meta(again)["filters"] == [2, 3, 0, 1]
    # the bot's torch-free path assembles the same sheet from the cache
    assert cached_sheet(cache, target, [2, 3, 0, 1], SIZE, steps=STEPS) == again
    assert render_missing(model, target, [0, 1, 2, 3], SIZE, cache, steps=STEPS) == 0
    assert len(renderer.calls) == 2
    assert render_missing(model, target, [4, 5], SIZE, cache, steps=STEPS) > 0
    assert renderer.calls[-1] == [4, 5]


def test_a_single_filter_is_large_with_its_diversity_images_cached_as_variants(model, cache, renderer):
    target = resolve_layer("efficientnet-lite0", "mixed4")
    png = render_single(model, target, 97, 48, cache, diversity=3, steps=STEPS)
    assert renderer.calls == [[97]]
    assert all(cache.has(k) for k in card_keys(target, 97, 48, 3, steps=STEPS))
    width, height = Image.open(io.BytesIO(png)).size
    assert width > 48 and height > 48 + 48 // 3  # the main render and a strip below it
    assert read_atlas_meta(png)["kind"] == "filter"
    assert render_single(model, target, 97, 48, cache, diversity=3, steps=STEPS) == png
    assert renderer.calls == [[97]]  # from the cache


def test_a_cancelled_sheet_stores_nothing(model, cache, renderer):
    target = resolve_layer("efficientnet-lite0", "mixed3")
    with pytest.raises(DreamCancelled):
        render_sheet(model, target, [7, 8], SIZE, cache, should_cancel=lambda: True, steps=STEPS)
    assert not any(cache.has(k) for k in sheet_keys(target, [7, 8], SIZE, steps=STEPS))
