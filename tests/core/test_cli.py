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
        (["dream", "sample", "--octave-scale", "9"], "--octave-scale:"),
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


@pytest.mark.slow  # builds and saves a second model (GoogLeNet) for the run
def test_googlenet_via_weights_flag(tmp_path, capsys, googlenet_weights):
    weights = googlenet_weights
    out = tmp_path / "g.png"
    rc = main(["dream", "sample", "--model", "googlenet", "--layer", "mixed4c", "--weights", str(weights),
               "--max-size", "64", "-o", str(out), *FAST])
    assert rc == 0, capsys.readouterr().err
    assert read_params(out).model == "googlenet"


# ------------------------------------------------------------------ issue 11 §1 and §4


def test_params_from_a_png_takes_a_new_strength(tmp_path, sample_png, capsys):
    """The PNG stores what was set (not the medium preset's octaves/iterations/step), so
    ``--params-from a.png --strength extreme`` really dreams at extreme."""
    src = tmp_path / "cat.png"
    src.write_bytes(sample_png)
    a = tmp_path / "a.png"
    assert main(["dream", str(src), "-o", str(a), "--max-size", "48", "--seed", "5", "-q"]) == 0
    assert read_params(a).explicit() == {"seed": 5, "max_size": 48}
    b = tmp_path / "b.png"
    assert main(["dream", str(src), "-o", str(b), "--params-from", str(a), "--strength", "extreme", "-q"]) == 0
    p = read_params(b)
    assert p.strength == "extreme" and p.seed == 5 and p.octaves is None
    assert p.resolved().octaves == 5
    assert a.read_bytes() != b.read_bytes()


def test_help_examples_work_on_the_default_model():
    import shlex

    from dream_core.cli import EXAMPLE_LINES, build_parser, params_from_args
    from dream_core.params import DreamParams

    parser = build_parser()
    for line in EXAMPLE_LINES:
        args = parser.parse_args(shlex.split(line))
        params = params_from_args(args)  # validates model and layer: raises on a bad example
        assert params.model == DreamParams().model
    layer_help = DreamParams.model_fields["layer"].description or ""
    for spec in layer_help.split("'")[1::2]:
        DreamParams(layer=spec)


def test_zoom_frames_to_png_writes_an_animated_png(tmp_path, capsys):
    out = tmp_path / "anim.png"
    rc = main(["dream", "noise", "--noise-size", "40", "--zoom-frames", "3", "--frame-iterations", "1",
               "-o", str(out), *FAST])
    assert rc == 0
    assert "4 frames" in capsys.readouterr().out
    with Image.open(out) as im:
        assert im.format == "PNG" and getattr(im, "is_animated", False) and im.n_frames == 4
    assert read_params(out).zoom_frames == 3
    rc = main(["dream", "noise", "--zoom-frames", "3", "-o", str(tmp_path / "anim.jpg"), *FAST])
    err = capsys.readouterr().err
    assert rc == 2 and "JPEG can't hold an animation" in err and "-o" in err


def test_guided_png_records_its_guide_and_params_from_asks_for_it(tmp_path, sample_png, capsys):
    from dream_core.images import read_guide

    guide = tmp_path / "stars.png"
    Image.new("RGB", (32, 32), (10, 20, 200)).save(guide)
    out = tmp_path / "g.png"
    assert main(["dream", "noise", "--noise-size", "40", "--guide", str(guide), "-o", str(out), *FAST]) == 0
    recorded = read_guide(out)
    import hashlib

    assert recorded == {"name": "stars.png", "sha256": hashlib.sha256(guide.read_bytes()).hexdigest()}
    capsys.readouterr()
    rc = main(["dream", "noise", "--params-from", str(out), "-o", str(tmp_path / "x.png"), "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and "--guide" in err and "stars.png" in err and len(err.strip().splitlines()) == 1
    other = tmp_path / "other.png"
    Image.new("RGB", (32, 32), (200, 20, 10)).save(other)
    rc = main(["dream", "noise", "--params-from", str(out), "--guide", str(other), "-o", str(tmp_path / "y.png"), "-q"])
    assert rc == 0 and "not the guide" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["dream", "sample", "--max-size", "9000"], "--max-size:"),
        (["dream", "sample", "--layer", "mixed9"], "--layer:"),
        (["dream", "sample", "-o", "{tmp}/name"], ".png .jpg .webp .gif .mp4"),
        (["dream", "sample", "--weights", "{text}", "-o", "{tmp}/w.png"], "not a PyTorch state dict"),
    ],
)
def test_errors_name_the_flag(tmp_path, capsys, argv, message):
    text = tmp_path / "text.png"
    text.write_text("hello")
    argv = [a.replace("{tmp}", str(tmp_path)).replace("{text}", str(text)) for a in argv]
    rc = main(argv + ["-q"])
    err = capsys.readouterr().err
    assert rc == 2 and message in err, err
    assert "KeyError" not in err and "max_size:" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_warmup_calibrates_once_and_the_dream_then_measures_nothing(tmp_path, monkeypatch, capsys):
    """``dreambot warmup`` takes the first-use calibration off the first dream's path."""
    from dream_core import autotune, tuning_cache

    monkeypatch.setenv(autotune.CACHE_ENV, str(tmp_path / "tune.json"))
    tuning_cache.clear_memory_cache()
    assert main(["warmup"]) == 0
    out = capsys.readouterr().out
    assert "efficientnet-lite0 on cpu" in out and "calibrated in" in out
    tuning_cache.clear_memory_cache()  # as a new process: read from the file
    assert main(["warmup"]) == 0
    assert "already calibrated" in capsys.readouterr().out

    def no_timing(*args, **kwargs):
        raise AssertionError("the dream measured again after the warm-up")

    monkeypatch.setattr(autotune, "time_steps", no_timing)
    monkeypatch.setattr(autotune, "peak_bytes_per_pixel", no_timing)
    assert main(["dream", "sample", "-o", str(tmp_path / "d.png"), "-q", "--iterations", "1", "--octaves", "1"]) == 0


def test_warmup_of_an_unknown_model_is_one_line(capsys):
    assert main(["warmup", "--model", "alexnet"]) == 2
    err = capsys.readouterr().err
    assert "unknown model" in err and len(err.strip().splitlines()) == 1
