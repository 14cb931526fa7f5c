"""``dreambot web`` on its own shows the atlas from the default render cache."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from bot.web.atlas_images import GRID_SIZE
from tests.web.atlas_support import ALIAS, LAYER, MODEL, png
from tests.web.test_runner import free_port


@pytest.mark.slow  # a dreambot web process
def test_dreambot_web_shows_what_a_build_left_in_the_default_cache(tmp_path):
    """``dreambot web`` with default settings: placeholders pointing to ``dreambot atlas build``,
    and the renders a build wrote to the default atlas cache (the user's cache folder)."""
    port = free_port()
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(tmp_path / "cache"),  # where the default atlas cache lives
        "DREAMBOT_DATA_DIR": str(tmp_path / "data"),
        "DREAMBOT_WEB_HOST": "127.0.0.1",
        "DREAMBOT_WEB_PORT": str(port),
        "DREAMBOT_METRICS_PORT": "0",
        "DREAMBOT_LOG_LEVEL": "WARNING",
    }
    for name in ("DREAMBOT_DATABASE_URL", "DREAMBOT_ATLAS_DIR", "DREAMBOT_ATLAS_CACHE_MB"):
        env.pop(name, None)
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "web"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read().decode()
            try:
                with urllib.request.urlopen(f"{base}/atlas/{MODEL}/{ALIAS}", timeout=2) as r:
                    assert r.url == f"{base}/atlas/{MODEL}/{LAYER}"
                    page = r.read().decode()
                    break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert f"run <code>dreambot atlas build --model {MODEL} --layers {ALIAS}</code>" in page
        # a build (in another process, with the same environment) writes renders
        builder = (
            "from dream_core.atlas.cache import default_cache; from tests.web.atlas_support import put; "
            f"put(default_cache(), {LAYER!r}, range(16), {GRID_SIZE})"
        )
        subprocess.run([sys.executable, "-c", builder], env={**env, "PYTHONPATH": os.getcwd()}, check=True)
        with urllib.request.urlopen(f"{base}/atlas/{MODEL}/{LAYER}/status?page=1", timeout=5) as r:
            status = json.loads(r.read())
        assert sorted(map(int, status["images"])) == list(range(16)) and status["renderer"] is False
        with urllib.request.urlopen(base + status["images"]["3"], timeout=5) as r:
            assert r.read() == png(3, GRID_SIZE)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow  # a dreambot web process
def test_a_bad_atlas_cache_setting_stops_dreambot_web_with_one_line(tmp_path):
    env = {**os.environ, "DREAMBOT_DATA_DIR": str(tmp_path / "data"), "DREAMBOT_WEB_PORT": str(free_port()),
           "DREAMBOT_METRICS_PORT": "0", "DREAMBOT_ATLAS_CACHE_MB": "lots"}
    env.pop("DREAMBOT_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-m", "bot.cli", "web"], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dreambot: error: DREAMBOT_ATLAS_CACHE_MB: 'lots' is not"), lines
