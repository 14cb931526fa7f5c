"""DreamParams: validation, strength presets, and the flags that reproduce a dream."""

from __future__ import annotations

import pytest

from dream_core.errors import DreamParamsError
from dream_core.params import STRENGTH_PRESETS, DreamParams, parse_params


def test_explicit_knobs_override_the_strength_preset():
    p = DreamParams(strength="high", iterations=3).resolved()
    assert p.iterations == 3
    assert p.octaves == STRENGTH_PRESETS["high"].octaves
    assert p.seed is not None


def test_bad_values_give_one_line_errors():
    with pytest.raises(DreamParamsError, match="octaves"):
        parse_params({"octaves": 0})
    with pytest.raises(DreamParamsError, match="^layer: can't read"):
        parse_params({"layer": "mixed4:"})
    with pytest.raises(DreamParamsError, match="extra|not permitted"):
        parse_params({"colour": 1})


def test_cli_args_reproduce_the_dream_through_the_real_parser():
    import argparse
    import shlex

    from dream_core.cli import add_subcommands, params_from_args

    given = DreamParams(strength="low", layer="mixed3*0.5+mixed5:7", normalize_gradients=False, keep_colors=True,
                        step=0.02, seed=42).resolved()
    flags = given.cli_args()
    assert "--no-normalize-gradients" in flags and "--keep-colors" in flags and "--seed 42" in flags
    assert "--octaves" not in flags  # implied by the strength preset
    parser = argparse.ArgumentParser()
    add_subcommands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["dream", "noise", *shlex.split(flags)])
    assert params_from_args(args).resolved() == given
