"""The "Dream it again" command on a dream's page (and in ``/preset show``) runs: a
``/dream`` line is accepted by the real ``/dream`` command's schema (as synced to
Discord) and gives back the same params, else it is a CLI line the real parser takes."""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from bot.web.command import (
    DREAM_OPTIONS,
    cli_command,
    dream_command,
    key_parameter_rows,
    parameter_rows,
    reproduce_command,
    reproducing_options,
)
from dream_core.params import DreamParams, parse_params

# Discord application command option types
_STRING, _INTEGER, _BOOLEAN, _ATTACHMENT = 3, 4, 5, 11


def dream_schema() -> dict[str, dict[str, Any]]:
    """The ``/dream`` command's options exactly as the bot syncs them to Discord."""
    import discord
    from discord import app_commands

    from bot.cogs.dream import DreamCog

    tree = app_commands.CommandTree(discord.Client(intents=discord.Intents.none()))
    payload = DreamCog.dream.to_dict(tree)
    assert payload["name"] == "dream"
    return {o["name"]: o for o in payload["options"]}


def parse_dream_line(line: str) -> dict[str, Any]:
    """``/dream a:1 b:x`` -> option values, as Discord would accept them (or AssertionError)."""
    schema = dream_schema()
    words = line.split(" ")
    assert words[0] == "/dream", line
    values: dict[str, Any] = {}
    for word in words[1:]:
        name, colon, raw = word.partition(":")
        assert colon and raw, f"{word!r} is not name:value"
        option = schema.get(name)
        assert option is not None, f"/dream has no option {name!r}"
        assert name not in values, f"{name} given twice"
        kind = option["type"]
        assert kind != _ATTACHMENT, f"{name} needs an upload"
        if kind == _INTEGER:
            value: Any = int(raw)
            assert option.get("min_value", value) <= value <= option.get("max_value", value)
        elif kind == _BOOLEAN:
            assert raw in ("True", "False"), raw
            value = raw == "True"
        else:
            assert kind == _STRING
            value = raw
        if option.get("choices"):
            assert value in [c["value"] for c in option["choices"]], f"{name}:{raw} is not a choice"
        values[name] = value
    return values


def params_from_dream_line(line: str) -> tuple[DreamParams, bool]:
    """What the ``/dream`` cog makes of a line (its options are DreamParams fields), and noise."""
    values = parse_dream_line(line)
    noise = bool(values.pop("noise", False))
    return parse_params(values), noise


CASES = [
    {},
    {"strength": "high", "layer": "mixed4:97", "iterations": 30},
    {"strength": "low", "octaves": 2},  # equal to what the preset gives: still listed, it was set
    {"zoom_frames": 10, "keep_colors": True},
    {"model": "googlenet", "layer": "mixed4c:97*0.7+mixed5a"},
    {"step": 0.02, "octave_scale": 1.7, "normalize_gradients": False},  # not /dream options
    {"max_size": 512, "noise_size": 256, "jitter": 8},
]


@pytest.mark.parametrize("given", CASES)
@pytest.mark.parametrize("has_source", [True, False])
def test_every_line_shown_runs(given, has_source):
    params = DreamParams(**given).resolved()  # as stored after a dream: what was set + seed
    line = reproduce_command(params, has_source=has_source)
    if line.startswith("/dream"):
        again, noise = params_from_dream_line(line)
        assert noise is not has_source
        assert again.explicit() == params.explicit()
        assert again.resolved() == params
    else:
        assert set(given) - set(DREAM_OPTIONS), "a /dream line was possible"
        from bot.cli import build_parser

        args = build_parser().parse_args(shlex.split(line)[1:])
        assert args.input == ("original.png" if has_source else "noise")
        values = {n: getattr(args, n) for n in DreamParams.model_fields if getattr(args, n, None) is not None}
        assert parse_params(values).resolved() == params


def test_dream_options_are_the_real_commands_options():
    schema = dream_schema()
    run_only = {"image", "image_url", "guide", "preset", "noise"}  # not DreamParams fields
    assert set(DREAM_OPTIONS) == set(schema) - run_only
    assert set(DREAM_OPTIONS) <= set(DreamParams.model_fields)


def test_the_bots_clamp_and_preset_fill_ins_are_not_shown():
    params = DreamParams(strength="high", seed=5).resolved().adjusted(max_size=256, noise_size=128)
    assert dream_command(params, has_source=False) == "/dream strength:high seed:5 noise:True"
    assert reproducing_options(params) == {"strength": "high", "seed": 5}


def test_parser_catches_lines_discord_would_refuse():
    """The check above can fail: options /dream doesn't have, bad choices, missing noise."""
    for bad in ("/dream max_size:512", "/dream strength:wild", "/dream seed:x", "/dream keep_colors:yes"):
        with pytest.raises((AssertionError, ValueError)):
            parse_dream_line(bad)
    assert dream_command(DreamParams(step=0.02, seed=1)) is None


def test_command_text_and_rows():
    p = DreamParams(strength="high", layer="mixed4:97", iterations=17, seed=9).resolved()
    assert dream_command(p) == "/dream layer:mixed4:97 strength:high iterations:17 seed:9"
    assert dream_command(DreamParams(seed=1).resolved()) == "/dream seed:1"
    assert dream_command(DreamParams(keep_colors=True, seed=1).resolved()) == "/dream seed:1 keep_colors:True"
    stored = DreamParams.trusted(p.explicit())  # what a store row gives back
    rows = dict(parameter_rows(stored))
    assert rows["octave scale"] == "1.4" and rows["layer"] == "mixed4:97" and rows["octaves"] == "4"
    assert len(rows) == len(DreamParams.model_fields)
    keys = dict(key_parameter_rows(stored))
    assert "zoom frames" not in keys and keys["seed"] == "9" and keys["step"] == "0.012"


def test_cli_command_parses_back_to_the_same_dream():
    """The command line shown on the page, fed to the real ``dreambot dream`` parser."""
    from bot.cli import build_parser

    given = DreamParams(
        strength="high", layer="mixed4:97*0.7+mixed5", normalize_gradients=False, keep_colors=True,
        rotate=-2.5, zoom_frames=4, seed=77,
    ).resolved()
    line = cli_command(given)
    assert line.startswith("dreambot dream original.png --layer 'mixed4:97*0.7+mixed5' --strength high")
    assert "--no-normalize-gradients" in line and "--keep-colors" in line and "--octaves" not in line
    args = build_parser().parse_args(shlex.split(line)[1:])
    values = {name: getattr(args, name) for name in DreamParams.model_fields if getattr(args, name, None) is not None}
    assert DreamParams(**values).resolved() == given
    assert cli_command(DreamParams(seed=3).resolved(), has_source=False) == "dreambot dream noise --seed 3"
