"""``dreambot web``: the gallery served on its own, as an admin starts it."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from PIL import Image


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # a dreambot web process
def test_dreambot_web_serves_health_and_stops_on_sigterm(tmp_path):
    port, metrics_port = free_port(), free_port()
    env = {
        **os.environ,
        "DREAMBOT_DATA_DIR": str(tmp_path / "data"),
        "DREAMBOT_WEB_HOST": "127.0.0.1",
        "DREAMBOT_WEB_PORT": str(port),
        "DREAMBOT_METRICS_PORT": str(metrics_port),
        "DREAMBOT_LOG_LEVEL": "WARNING",
    }
    env.pop("DREAMBOT_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "web"], env=env, cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        body = None
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read().decode()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    body = json.loads(r.read())
                    assert r.status == 200
                    break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        assert body == {"status": "ok", "checks": {"store": body["checks"]["store"]}}, body
        assert body["checks"]["store"]["ok"] is True
        # the database was created through the migrations in the data folder
        assert (tmp_path / "data" / "dreambot.db").is_file()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            front = r.read().decode()
        assert "No public galleries yet" in front
        # ... and shows the example pictures the README shows, served as static files
        shown = re.findall(r'src="(/static/examples/[a-z0-9-]+\.(?:jpg|webp)\?v=[0-9a-f]{12})"', front)
        assert {"photo", "mixed3", "mixed4", "mixed5", "clip"} <= {u.split("/")[3].split(".")[0] for u in shown}
        for url in shown:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{url}", timeout=5) as r:
                assert r.headers["Content-Type"] in ("image/jpeg", "image/webp")
                assert "immutable" in r.headers["Cache-Control"]
                Image.open(io.BytesIO(r.read())).verify()
        # /metrics answers on its own listener only
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:
            assert b"dreambot_jobs_total" in r.read()
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert missing.value.code == 404
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.asyncio(loop_scope="session")
async def test_port_in_use_is_a_clear_error(served):
    from bot.web import start_web
    from dream_core.errors import DreamError

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(DreamError) as err:
            await start_web(served.store, served.store.files, settings=served.settings, host="127.0.0.1", port=port)
    message = str(err.value)
    assert message.startswith(f"cannot serve the web gallery on 127.0.0.1:{port}: ")
    assert "DREAMBOT_WEB_HOST / DREAMBOT_WEB_PORT" in message and "\n" not in message
