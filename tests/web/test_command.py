"""The `/dream` command shown on a dream's page reproduces its parameters exactly."""

from __future__ import annotations

import pytest

from bot.web.command import cli_command, dream_command, key_parameter_rows, parameter_rows, reproducing_options
from dream_core.params import DreamParams


@pytest.mark.parametrize(
    "given",
    [
        {},
        {"strength": "high", "layer": "mixed4c:97", "iterations": 30},
        {"strength": "low", "octaves": 2},  # equal to the preset: left out
        {"zoom_frames": 10, "frame_iterations": 3, "keep_colors": True, "rotate": -2.5},
        {"iterations": 20},  # frame_iterations follows iterations: left out
        {"model": "other-net", "step": 0.02, "octave_scale": 1.7, "normalize_gradients": False},
    ],
)
def test_command_resolves_back_to_the_same_dream(given):
    params = DreamParams(**given, seed=4242).resolved()
    options = reproducing_options(params)
    assert DreamParams(**options).resolved() == params
    assert options["seed"] == 4242
    # nothing that /dream would pick by itself is listed
    for name in options:
        if name == "seed":
            continue
        without = {k: v for k, v in options.items() if k != name}
        assert DreamParams(**without).resolved().model_copy(update={"seed": 4242}) != params, name


def test_command_text():
    p = DreamParams(strength="high", layer="mixed4c:97", iterations=17, seed=9).resolved()
    assert dream_command(p) == "/dream layer:mixed4c:97 strength:high iterations:17 seed:9"
    assert dream_command(DreamParams(seed=1).resolved()) == "/dream seed:1"
    assert dream_command(DreamParams(keep_colors=True, seed=1).resolved()) == "/dream seed:1 keep_colors:True"
    rows = dict(parameter_rows(p))
    assert rows["octave scale"] == "1.4" and rows["layer"] == "mixed4c:97"
    assert len(rows) == len(DreamParams.model_fields)
    keys = dict(key_parameter_rows(p))
    assert "zoom frames" not in keys and keys["seed"] == "9"


def test_cli_command_parses_back_to_the_same_dream():
    """The command line shown on the page, fed to the real ``dreambot dream`` parser."""
    import shlex

    from bot.cli import build_parser
    from dream_core.params import DreamParams

    given = DreamParams(
        strength="high", layer="mixed4c:97*0.7+mixed5a", normalize_gradients=False, keep_colors=True,
        rotate=-2.5, zoom_frames=4, seed=77,
    ).resolved()
    line = cli_command(given)
    assert line.startswith("dreambot dream original.png --layer 'mixed4c:97*0.7+mixed5a' --strength high")
    assert "--no-normalize-gradients" in line and "--keep-colors" in line
    args = build_parser().parse_args(shlex.split(line)[1:])
    values = {name: getattr(args, name) for name in DreamParams.model_fields if getattr(args, name, None) is not None}
    assert DreamParams(**values).resolved() == given
    assert cli_command(DreamParams(seed=3).resolved(), has_source=False) == "dreambot dream noise --seed 3"
