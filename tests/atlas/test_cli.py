"""``dreambot atlas`` through the real entry point (issue 16 §2, §4, §8)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from bot.cli import main
from dream_core.atlas.sheet import read_atlas_meta

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--size", "32", "--steps", "2", "-q"]
#: ``dreambot`` in a new process that must not import torch
NO_TORCH = (
    "import sys; from bot.cli import main; rc = main(sys.argv[1:]); assert 'torch' not in sys.modules; sys.exit(rc)"
)


@pytest.fixture
def atlas_dir(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "atlas-cache"
    monkeypatch.setenv("DREAMBOT_ATLAS_DIR", str(path))
    return path


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--layer", "mixed9"], "--layer: unknown layer 'mixed9' for efficientnet-lite0: try mixed3, mixed4"),
        (["--layer", "mixed4", "--page", "9"], "page 9 is past the end: mixed4 of efficientnet-lite0 has 7 pages"),
        (["--layer", "mixed4", "--filter", "112"], "filter: 112 is out of range: mixed4 of efficientnet-lite0 has 112"),
        (["--layer", "mixed4", "--filters", "0-200"], "200 is out of range"),
        (["--model", "nosuchnet"], "unknown model 'nosuchnet'"),
        (["--size", "5"], "size: 5 px is out of range"),
        (["--layer", "mixed4", "-o", "x.jpg"], "an atlas picture is a PNG"),
        (["--filters", "1", "--diversity", "3"], "--diversity goes with --filter"),
        (["build", "--layers", "mixed3,nope"], "unknown layer 'nope'"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_runs(argv, message, atlas_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["atlas", *argv, "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not atlas_dir.exists() and not list(tmp_path.glob("*.png")) and not list(tmp_path.glob("*.jpg"))


@pytest.mark.slow  # a new interpreter (about 1.5 s)
def test_bad_input_does_not_even_load_torch(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DREAMBOT_ATLAS_DIR": str(tmp_path / "c")}
    proc = subprocess.run([sys.executable, "-c", NO_TORCH, "atlas", "--layer", "mixed4", "--page", "0"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.strip() == "dreambot: error: page: pages start at 1 (got 0)"


@pytest.mark.slow  # renders (tiny) with the real model
def test_sheet_filter_and_build_then_the_cache_serves_a_new_process(atlas_dir, tmp_path, capsys, renderer):
    sheet = tmp_path / "sheet.png"
    assert main(["atlas", "--layer", "mixed3", "--filters", "0-5", "-o", str(sheet), *TINY]) == 0
    assert "wrote" in capsys.readouterr().out
    meta = read_atlas_meta(sheet.read_bytes())
    assert meta["filters"] == [0, 1, 2, 3, 4, 5] and meta["layer_name"] == "mixed3" and meta["size"] == 32
    assert renderer.calls == [[0, 1, 2, 3, 4, 5]]

    card = tmp_path / "f7.png"
    assert main(["atlas", "--layer", "mixed3", "--filter", "7", "--diversity", "2", "-o", str(card), *TINY]) == 0
    assert read_atlas_meta(card.read_bytes())["kind"] == "filter"
    assert Image.open(io.BytesIO(card.read_bytes())).height > 32 + 16

    # build: the first page of mixed3 has 0-5 already; the rest is rendered page by page
    assert main(["atlas", "build", "--layers", "mixed3", *TINY]) == 0
    out = capsys.readouterr().out
    assert "80 filters at 32 px, 6 cached, 74 to render" in out
    assert renderer.calls[2] == list(range(6, 16)) and renderer.calls[3] == list(range(16, 32))
    assert sum(len(c) for c in renderer.calls[2:]) == 74
    assert main(["atlas", "build", "--layers", "mixed3", *TINY]) == 0  # resumed: nothing left
    assert "80 cached, 0 to render" in capsys.readouterr().out
    assert sum(len(c) for c in renderer.calls[2:]) == 74
    # every page's sheet is stored too: its first view is one file read, not 16 renders assembled
    from dream_core.atlas.cache import AtlasCache
    from dream_core.atlas.lookup import picture_digest, sheet_keys
    from dream_core.atlas.request import page_filters, resolve_layer

    target, cache = resolve_layer("efficientnet-lite0", "mixed3"), AtlasCache(atlas_dir, 1 << 30)
    for page in range(1, target.pages + 1):
        fs = page_filters(target, page)
        assert cache.get_digest(picture_digest("sheet", target, fs, sheet_keys(target, fs, 32, steps=2))), page

    # a new process gets a page at once from the cache, without loading torch
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DREAMBOT_ATLAS_DIR": str(atlas_dir)}
    again = tmp_path / "p5.png"
    proc = subprocess.run(
        [sys.executable, "-c", NO_TORCH, "atlas", "--layer", "mixed3", "--page", "5", "-o", str(again), *TINY],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert read_atlas_meta(again.read_bytes())["filters"] == list(range(64, 80))


@pytest.mark.slow  # the real console script in a new process
def test_the_dreambot_console_script_writes_a_sheet(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DREAMBOT_ATLAS_DIR": str(tmp_path / "c")}
    out = tmp_path / "s.png"
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "atlas", "--layer", "mixed4", "--filters", "3,5", "-o", str(out), *TINY],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert read_atlas_meta(out.read_bytes())["filters"] == [3, 5]
