"""The console entry points end one-shot commands without the interpreter's teardown
(dream_core.quick_exit): what they print and write must all be there, and their status kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).with_name("dreambot")  # the installed console script, as users run it

pytestmark = pytest.mark.slow  # fresh processes, each importing torch


# Pipes are block-buffered, as for users, unless PYTHONUNBUFFERED (set on some machines) hides a missing flush.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


def _run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    cmd = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "bot.cli"]
    return subprocess.run([*cmd, *argv], capture_output=True, text=True, cwd=cwd, env=ENV, timeout=300, check=False)


def test_dream_sample_writes_its_picture_and_its_line_through_a_pipe(tmp_path):
    out = tmp_path / "dream.png"
    done = _run("dream", "sample", "--iterations", "2", "--octaves", "1", "-o", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {out.resolve()}")  # block-buffered into the pipe: flushed before leaving
    with Image.open(out) as img:
        img.load()  # the whole file is there
        assert img.size[0] > 0


def test_an_error_keeps_its_status_and_its_one_line(tmp_path):
    done = _run("dream", str(tmp_path / "missing.png"), cwd=tmp_path)
    assert done.returncode == 2
    want = f"dreambot: error: can't read {tmp_path / 'missing.png'}: No such file or directory"
    assert done.stderr.strip().splitlines() == [want]


def test_python_m_dream_core_lists_the_models_and_exits_zero(tmp_path):
    done = subprocess.run([sys.executable, "-m", "dream_core", "models"], capture_output=True, text=True,
                          cwd=ROOT, env=ENV, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "googlenet" in done.stdout
