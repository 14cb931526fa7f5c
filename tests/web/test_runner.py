"""``dreambot web``: the gallery served on its own, as an admin starts it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # a dreambot web process
def test_dreambot_web_serves_health_and_stops_on_sigterm(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "DREAMBOT_DATA_DIR": str(tmp_path / "data"),
        "DREAMBOT_WEB_HOST": "127.0.0.1",
        "DREAMBOT_WEB_PORT": str(port),
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
            assert b"No public galleries yet" in r.read()
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
