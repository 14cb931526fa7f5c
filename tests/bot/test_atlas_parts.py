"""The atlas's Discord parts without Discord: the checked request with the defaults users get,
the buttons' custom_ids, the sheet composed from the render cache, the autocomplete hint."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from bot.atlas_cached import CachedSheets, SheetKey
from bot.atlas_labels import filter_hint
from bot.atlas_service import check_sheet
from bot.atlas_views import ATLAS_ITEMS, rendering_view, sheet_view
from bot.replies import UserError
from bot.settings import Settings
from dream_core.atlas.cache import AtlasCache
from dream_core.atlas.request import resolve_layer
from dream_core.catalog import get_info


def _png(colour: tuple[int, int, int], size: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, format="PNG")
    return buf.getvalue()


def test_the_default_sheet_is_16_filters_of_the_default_model_at_128_px():
    settings = Settings(_env_file=None)
    sheet = check_sheet(settings, None, "mixed4", 2)
    channels = get_info(settings.default_model).channels["mixed4"]
    assert sheet.target.model == settings.default_model and sheet.key.size == 128 and sheet.key.steps == 0
    assert sheet.filters == tuple(range(16, 32)) and sheet.pages == -(-channels // 16)
    assert sheet.name == "mixed4"  # dreams use the name the user knows: layer:mixed4:N
    assert "/atlas/" not in sheet.caption()  # no web gallery configured: no link
    web = Settings(_env_file=None, web_enabled=True, web_url="https://dreams.example/")
    linked = check_sheet(web, None, "mixed4", 1)
    assert f"(<https://dreams.example/atlas/{settings.default_model}/{linked.target.layer}>)" in linked.caption()


@pytest.mark.parametrize(
    "model, layer, page, words",
    [
        (None, "mixed4", 999, "Page 999 is past the end"),
        (None, "mixed9", 1, "Unknown layer 'mixed9'"),
        ("alexnet", "mixed4", 1, "Unknown model 'alexnet'"),
    ],
)
def test_bad_input_is_one_line(model, layer, page, words):
    with pytest.raises(UserError) as err:
        check_sheet(Settings(_env_file=None), model, layer, page)
    text = str(err.value)
    assert words in text and "\n" not in text and text.endswith(".")


def test_sheet_buttons_carry_model_layer_and_page_and_match_their_templates():
    view = sheet_view("efficientnet-lite0", "mixed4", 1, 7, range(16))
    ids = [item.custom_id for item in view.children]  # type: ignore[attr-defined]
    assert ids == [
        "atlas:page:efficientnet-lite0:mixed4:1:p",
        "atlas:at:efficientnet-lite0:mixed4:1",
        "atlas:page:efficientnet-lite0:mixed4:2:n",
        "atlas:pick:efficientnet-lite0:mixed4:1",
    ]
    templates = [cls.__discord_ui_compiled_template__ for cls in ATLAS_ITEMS]  # type: ignore[attr-defined]
    cancel = rendering_view(12).children[0].custom_id  # type: ignore[attr-defined]
    for custom_id in [*ids, cancel]:
        assert len(custom_id) <= 100
        assert sum(bool(t.fullmatch(custom_id)) for t in templates) == 1, custom_id
    assert view.children[0].item.disabled and not view.children[2].item.disabled  # type: ignore[attr-defined]
    last = sheet_view("googlenet", "inception4c", 7, 7, range(96, 100))
    assert last.children[2].item.disabled  # type: ignore[attr-defined]


def test_a_sheet_is_composed_from_the_render_cache_only_when_every_filter_is_there(tmp_path):
    cache = AtlasCache(tmp_path, 10 * 1024 * 1024)
    sheets = CachedSheets(cache)
    key = SheetKey(resolve_layer("efficientnet-lite0", "mixed4"), tuple(range(16)), 32)
    rkeys = sheets.render_keys(key)
    for n, rkey in enumerate(rkeys[:-1]):
        cache.put(rkey, _png((n * 15, 100, 200), 32))
    assert sheets.get(key) is None  # one filter missing: the executor renders the sheet
    cache.put(rkeys[-1], _png((255, 0, 0), 32))
    png = sheets.get(key)
    assert png is not None
    img = Image.open(io.BytesIO(png))
    assert min(img.size) >= 4 * 32
    assert sheets.get(key) is png  # remembered
    assert cache.get_digest(sheets.stored_digest(key)) == png  # and stored: a restarted bot reads it back
    for rkey in rkeys:  # even with its renders evicted
        cache.path(rkey).unlink()
    assert CachedSheets(cache).get(key) == png
    other = SheetKey(key.target, key.filters, 64)  # another size is another sheet
    assert sheets.get(other) is None and sheets.stored_digest(other) != sheets.stored_digest(key)


def test_layer_autocomplete_names_a_filter_s_atlas_page():
    assert filter_hint("mixed4:97") == "mixed4:97 — see /atlas layer:mixed4 page:7"
    assert filter_hint("mixed3+mixed4:15") == "mixed3+mixed4:15 — see /atlas layer:mixed4 page:1"
    assert filter_hint("mixed4") == "mixed4"
    assert filter_hint("mixed4:") == "mixed4:"
    assert re.fullmatch(r".{1,100}", filter_hint("a" * 95 + ":1"))
