"""``python -m dream_core`` / ``dreambot dream|layers|models`` run in-process through main()."""

from __future__ import annotations

import argparse

import pytest
from PIL import Image

from dream_core.cli import add_subcommands, main
from dream_core.images import read_params
from dream_core.params import DreamParams

FAST = ["--octaves", "1", "--iterations", "2", "--seed", "5", "-q"]


def test_dream_writes_the_output_and_says_where(tmp_path, sample_png, capsys):
    src = tmp_path / "cat.png"
    src.write_bytes(sample_png)
    out = tmp_path / "out" / "dream.png"
    rc = main(["dream", str(src), "-o", str(out), "--layer", "mixed3:4", "--strength", "high", *FAST])
    assert rc == 0
    printed = capsys.readouterr().out
    assert str(out.resolve()) in printed and "seed 5" in printed
    params = read_params(out)
    assert params.layer == "mixed3:4" and params.strength == "high" and params.iterations == 2
    # reproduce from the PNG's own params
    again = tmp_path / "again.png"
    assert main(["dream", str(src), "-o", str(again), "--params-from", str(out), "-q"]) == 0
    assert again.read_bytes() == out.read_bytes()


def test_dream_sample_and_noise_and_animation(tmp_path, capsys):
    assert main(["dream", "sample", "-o", str(tmp_path / "s.jpg"), "--max-size", "64", *FAST]) == 0
    with Image.open(tmp_path / "s.jpg") as im:
        assert im.format == "JPEG" and max(im.size) == 64
    assert "downscaled" in capsys.readouterr().err
    assert main(["dream", "noise", "-o", str(tmp_path / "n.gif"), "--noise-size", "48", "--zoom-frames", "2",
                 "--frame-iterations", "1", *FAST]) == 0
    with Image.open(tmp_path / "n.gif") as im:
        assert im.n_frames == 3


@pytest.mark.parametrize(
    "argv, message",
    [
        (["dream", "{bad}", "-o", "{tmp}/x.png"], "not an image"),
        (["dream", "{missing}"], "can't read"),
        (["dream", "sample", "--layer", "mixed9"], "valid: mixed3, mixed4"),
        (["dream", "sample", "--layer", "mixed4:500"], "out of range"),
        (["dream", "sample", "--model", "alexnet"], "unknown model"),
        (["dream", "sample", "--octave-scale", "9"], "octave_scale"),
        (["dream", "sample", "-o", "{tmp}/x.bmp"], "unsupported format"),
    ],
)
def test_errors_exit_nonzero_with_one_line(tmp_path, capsys, argv, message):
    bad = tmp_path / "bad.png"
    bad.write_text("not a picture")
    subs = {"{bad}": str(bad), "{missing}": str(tmp_path / "missing.png"), "{tmp}": str(tmp_path)}
    for key, value in subs.items():
        argv = [a.replace(key, value) for a in argv]
    rc = main(argv + ["-q"])
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_layers_lists_aliases_and_channels(capsys):
    assert main(["layers"]) == 0
    out = capsys.readouterr().out
    assert "mixed4" in out and "block10" in out and "112" in out
    assert main(["layers", "--model", "googlenet"]) == 0
    out = capsys.readouterr().out
    assert "mixed4c" in out and "inception4c" in out and "512" in out


def test_models_lists_offline_availability(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    line = next(row for row in out.splitlines() if row.startswith("efficientnet-lite0"))
    assert "offline: yes" in line and "(default)" in line
    assert "googlenet" in out and "DREAMBOT_GOOGLENET_WEIGHTS" in out


def test_flags_are_generated_from_dream_params():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    add_subcommands(sub)
    dream_parser = sub.choices["dream"]
    flags = {s for a in dream_parser._actions for s in a.option_strings}
    for name in DreamParams.model_fields:
        assert "--" + name.replace("_", "-") in flags
    args = parser.parse_args(["dream", "x.png", "--keep-colors", "--zoom", "1.1", "--strength", "low"])
    assert args.keep_colors is True and args.zoom == 1.1 and args.octaves is None


def test_googlenet_via_weights_flag(tmp_path, capsys, googlenet_weights):
    weights = googlenet_weights
    out = tmp_path / "g.png"
    rc = main(["dream", "sample", "--model", "googlenet", "--layer", "mixed4c", "--weights", str(weights),
               "--max-size", "64", "-o", str(out), *FAST])
    assert rc == 0, capsys.readouterr().err
    assert read_params(out).model == "googlenet"
