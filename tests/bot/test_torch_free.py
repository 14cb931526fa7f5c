"""The bot process never imports torch: only the executor's workers do (issue 11 §2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_bot_process_dreams_without_torch(tmp_path):
    """A real bot (own store, local executor with worker processes) handles /dream with a
    picture, /dream noise:True and "Dream again" through the fake Discord; its own process
    then has no torch in sys.modules and stays small (the issue's target: <= 250 MB)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "tests.bot.torch_free_bot", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=280,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["errors"] == []
    assert len(report["params"]) == 4  # the dreams really ran and were recorded
    assert report["gif_frames"] == 3  # the animated GIF was dreamed as a clip, every frame
    assert not report["torch"] and not report["torchvision"]
    assert report["rss_mb"] <= 250, report["rss_mb"]
    # what the user set, and the seed: never the bot's defaults or its max_size clamp (64)
    for params in report["params"]:
        assert set(params) <= {"layer", "strength", "seed"}, params
