"""Atlas requests are checked once, torch-free: one clear line for each mistake (issue 16 §8)."""

from __future__ import annotations

import pytest

from dream_core.atlas.request import (
    PER_PAGE,
    AtlasInputError,
    check_filter,
    page_filters,
    parse_filters,
    resolve_layer,
)
from dream_core.errors import DreamParamsError


def test_an_alias_resolves_to_the_own_layer_with_its_channels():
    t = resolve_layer("efficientnet-lite0", "mixed4")
    assert (t.model, t.layer, t.channels, t.name) == ("efficientnet-lite0", "block10", 112, "mixed4")
    assert resolve_layer("efficientnet-lite0", "block10").name == "block10"
    assert resolve_layer("googlenet", "mixed4c").layer == "inception4c"


@pytest.mark.parametrize(
    ("model", "layer", "message"),
    [
        ("efficientnet-lite0", "mixed9", "unknown layer 'mixed9' for efficientnet-lite0: try mixed3, mixed4"),
        ("nosuchnet", "mixed4", "unknown model 'nosuchnet'; choose one of efficientnet-lite0"),
    ],
)
def test_unknown_layer_or_model_is_one_line_naming_the_choices(model, layer, message):
    with pytest.raises(AtlasInputError) as err:
        resolve_layer(model, layer)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert isinstance(err.value, DreamParamsError)  # the CLI and the bot already answer these


def test_pages_cover_the_layer_and_past_the_end_says_how_many():
    t = resolve_layer("efficientnet-lite0", "mixed4")  # 112 filters: 7 pages
    assert page_filters(t, 1) == tuple(range(PER_PAGE))
    assert page_filters(t, 7) == tuple(range(96, 112))
    with pytest.raises(AtlasInputError, match=r"page 9 is past the end: mixed4 of efficientnet-lite0 has 7 pages "
                                              r"\(112 filters\)"):
        page_filters(t, 9)
    with pytest.raises(AtlasInputError, match="pages start at 1"):
        page_filters(t, 0)
    short = resolve_layer("efficientnet-lite0", "stem")  # 32 filters
    assert page_filters(short, 2) == tuple(range(16, 32))


def test_filter_lists_and_ranges():
    t = resolve_layer("efficientnet-lite0", "mixed4")
    assert parse_filters(t, "0-15") == tuple(range(16))
    assert parse_filters(t, "3,5,97") == (3, 5, 97)
    assert parse_filters(t, " 0-2, 97 ,1") == (0, 1, 2, 97)  # once each, in the order given
    assert check_filter(t, 111) == 111


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("112", "filter: 112 is out of range: mixed4 of efficientnet-lite0 has 112 filters (0-111)"),
        ("5-200", "200 is out of range"),
        ("x", "'x' is not a filter number"),
        ("-3", "'-3' is not a filter number"),
        ("9-3", "runs backwards"),
        ("", "give filter numbers"),
        ("0-300", "out of range"),
    ],
)
def test_bad_filter_lists_are_one_line(text, message):
    t = resolve_layer("efficientnet-lite0", "mixed4")
    with pytest.raises(AtlasInputError) as err:
        parse_filters(t, text)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_too_many_filters_in_one_sheet():
    t = resolve_layer("resnet50", "layer4")  # 2048 filters
    with pytest.raises(AtlasInputError, match="at most 256 filters"):
        parse_filters(t, "0-1000")
