"""Atlas pictures: a labelled grid, one filter large, and the PNG that records what it shows."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from dream_core.atlas.lookup import cached_card, cached_sheet, card_keys, sheet_keys
from dream_core.atlas.request import resolve_layer
from dream_core.atlas.sheet import contact_sheet, encode_tile, filter_card, read_atlas_meta, sheet_png
from dream_core.atlas.version import RENDERER_VERSION


def solid(color, size=64) -> Image.Image:
    return Image.new("RGB", (size, size), color)


def test_contact_sheet_grid_with_a_label_under_each_cell():
    images = [solid((200, 0, 0)), solid((0, 200, 0)), solid((0, 0, 200)), solid((200, 200, 0)), solid((9, 9, 9))]
    sheet = contact_sheet(images, ["0", "1", "2", "3", "97"], columns=4, title="efficientnet-lite0 mixed4")
    plain = contact_sheet(images, ["0", "1", "2", "3", "97"], columns=4)
    assert sheet.width == plain.width == 4 * 64 + 5 * 4
    assert sheet.height > plain.height > 2 * 64  # two rows, labels, a title band
    # each cell's picture is where the grid says, and its label band has ink in it
    assert sheet.getpixel((4 + 32, sheet.height - plain.height + 4 + 32)) == (200, 0, 0)
    label_band = plain.crop((4, 4 + 64, 4 + 64, 4 + 64 + 12))
    assert np.asarray(label_band).max() > 150  # the digit "0" drawn light on dark
    blank = plain.crop((4 + 3 * 68, 4 + 68 + 12 + 4, 4 + 3 * 68 + 64, 4 + 68 + 12 + 4 + 64))
    assert len(np.unique(np.asarray(blank).reshape(-1, 3), axis=0)) == 1  # no cell after the last image
    with pytest.raises(ValueError):
        contact_sheet(images, ["0"])


def test_filter_card_main_large_and_a_strip_of_the_others():
    card = filter_card(solid((250, 0, 0), 120), [solid((0, 250, 0), 120), solid((0, 0, 250), 120)], title="mixed4:97")
    assert card.width == 128
    assert card.height > 120 + 56  # the main picture, the strip (two of 58 px), a title band
    assert card.getpixel((60, card.height - 4 - 28)) == (0, 250, 0)


def test_sheet_png_records_what_it_shows():
    data = sheet_png(solid((1, 2, 3)), {"model": "m", "layer": "block10", "filters": [1, 2]})
    assert data.startswith(b"\x89PNG")
    assert read_atlas_meta(data) == {"model": "m", "layer": "block10", "filters": [1, 2]}
    assert Image.open(io.BytesIO(data)).text["Software"] == "DreamBot"
    assert read_atlas_meta(encode_tile(solid((0, 0, 0)))) is None


def test_a_sheet_comes_from_the_cache_only_when_every_render_is_there(cache):
    target = resolve_layer("efficientnet-lite0", "mixed4")
    filters = list(range(16, 32))
    keys = sheet_keys(target, filters, 64)
    assert cached_sheet(cache, target, filters, 64) is None
    for key in keys[:-1]:
        cache.put(key, encode_tile(solid((key.filter * 8, 0, 0))))
    assert cached_sheet(cache, target, filters, 64) is None  # one missing: a job renders it
    cache.put(keys[-1], encode_tile(solid((255, 255, 255))))
    data = cached_sheet(cache, target, filters, 64)
    assert data is not None
    meta = read_atlas_meta(data)
    assert meta is not None
    assert meta["filters"] == filters and meta["layer"] == "block10" and meta["layer_name"] == "mixed4"
    assert meta["size"] == 64 and meta["renderer"] == RENDERER_VERSION and meta["kind"] == "sheet"
    assert Image.open(io.BytesIO(data)).size == contact_sheet([solid(0)] * 16, ["x"] * 16, title="t").size
    # the assembled sheet is kept: next time it is one file read
    cache.path(keys[0]).unlink()
    assert cached_sheet(cache, target, filters, 64) == data
    assert cached_sheet(cache, target, filters[:-1], 64) is None  # another sheet needs its own renders


def test_a_card_comes_from_its_cached_variants(cache):
    target = resolve_layer("efficientnet-lite0", "mixed3")
    keys = card_keys(target, 7, 96, 3)
    assert [k.variant for k in keys] == [0, 1, 2] and {k.diversity for k in keys} == {3}
    assert cached_card(cache, target, 7, 96, 3) is None
    for key in keys:
        cache.put(key, encode_tile(solid((key.variant * 100, 0, 0), 96)))
    data = cached_card(cache, target, 7, 96, 3)
    assert data is not None
    meta = read_atlas_meta(data)
    assert meta is not None and meta["kind"] == "filter" and meta["filters"] == [7] and meta["diversity"] == 3
