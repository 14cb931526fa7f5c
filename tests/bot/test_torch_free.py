"""The bot process stays light: no torch, <= 250 MB; and its workers never outlive it.

The rule for every test of a promise: test it the way users get it, through the real
entry point with the defaults they get. This test runs ``dreambot run`` itself, with
only ``DISCORD_TOKEN`` and ``DREAMBOT_DATA_DIR`` set (and the test-only shim that
points discord.py at the fake Discord): no ``DREAMBOT_EXECUTOR_DEVICES``, no cheap
dream defaults. An earlier version built the bot in-process with the devices set
explicitly and passed while the default settings loaded torch (585 MB; issue 18 §2).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # the real bot, its worker and five dreams at the default settings
def test_dreambot_run_with_default_settings_dreams_without_torch_and_leaves_no_orphans(tmp_path):
    """``dreambot run`` (defaults) handles /dream with a picture, /dream noise:True, "Dream
    again", /dream with an animated GIF, the layer autocomplete and /atlas (rendered, then
    cached) through the fake Discord; its process then maps
    no torch library and holds <= 250 MB (issue 18 §2). Then, ``kill -9`` mid-dream: every
    process the bot started is gone within 3 s (issue 17 §3)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(
        [sys.executable, "-m", "tests.bot.torch_free_bot", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["errors"] == [], report["log_tail"]
    assert report["gif_frames"] == 3  # the animated GIF was dreamed as a clip, every frame
    assert report["autocomplete"][0] == "mixed4:9"  # answered in time, torch-free
    assert min(report["atlas_px"]) >= 4 * 128 and report["atlas_cached"]  # the default sheet: 4 x 4 at 128 px
    assert report["torch_maps"] == [], report["torch_maps"]
    assert report["rss_mb"] <= 250, report["rss_mb"]
    assert report["workers"], "the bot started no worker process"
    assert report["orphans"] == [], f"workers outlived the killed bot: {report}"
    assert report["orphan_exit_s"] < 3.0, report["orphan_exit_s"]
