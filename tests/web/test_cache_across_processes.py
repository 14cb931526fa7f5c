"""The bot and a separate ``dreambot web`` process share one database: the web
process's caches drop what the bot changes (SQLite: on its next request;
PostgreSQL, with ``DREAMBOT_TEST_DATABASE_URL``: from the watcher's poll interval on)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from tests.web.test_cache import AUTHOR, GUILD, VOTER, entry_ids, publish_one, score

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


DATABASES = [
    "sqlite",
    pytest.param(
        "postgres",
        marks=pytest.mark.skipif(
            not os.environ.get("DREAMBOT_TEST_DATABASE_URL", "").startswith("postgres"),
            reason="needs DREAMBOT_TEST_DATABASE_URL=postgresql+asyncpg://...",
        ),
    ),
]


@pytest.mark.slow  # a dreambot web process
@pytest.mark.parametrize("database", DATABASES)
async def test_a_separate_web_process_shows_the_bots_changes(tmp_path, sample_image, database):
    """The bot (this process's store) and ``dreambot web`` (a real second process) share
    one database: the web process's caches drop what the bot changes. On SQLite its
    next request shows the change; on PostgreSQL any request from
    :data:`~bot.store.changes.POSTGRES_POLL_S` after the commit does."""
    import random

    from bot.settings import Settings
    from bot.store import Store
    from bot.store.changes import POSTGRES_POLL_S

    data = tmp_path / "data"
    url = os.environ["DREAMBOT_TEST_DATABASE_URL"] if database == "postgres" else None
    # PostgreSQL keeps what earlier runs wrote: a gallery of this run's own
    guild = GUILD if url is None else random.randrange(10**17, 10**18)
    author = AUTHOR if url is None else guild + 1
    settle = 0.0 if url is None else POSTGRES_POLL_S + 0.1
    store = await Store.open(Settings(_env_file=None, data_dir=data, database_url=url))
    await store.set_gallery_visibility(guild, "public", guild_name="Cache Club")
    entry, result = await publish_one(store, sample_image, 1, user=author, guild=guild)
    port = _free_port()
    env = {
        **os.environ,
        "DREAMBOT_DATA_DIR": str(data),
        "DREAMBOT_WEB_HOST": "127.0.0.1",
        "DREAMBOT_WEB_PORT": str(port),
        "DREAMBOT_METRICS_PORT": "0",
        "DREAMBOT_LOG_LEVEL": "WARNING",
    }
    env.pop("DREAMBOT_DATABASE_URL", None)
    if url is not None:
        env["DREAMBOT_DATABASE_URL"] = url
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "web"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    async def fetch(path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        return await asyncio.to_thread(_fetch, base + path, headers)

    async def changed() -> None:
        """After a commit: the next request must show it (SQLite), or one this long after it."""
        await asyncio.sleep(settle)

    try:
        for _ in range(300):  # up to a minute for the process to listen
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                await fetch("/healthz")
                break
            except (urllib.error.URLError, ConnectionError):
                await asyncio.sleep(0.2)
        paths = (f"/d/{entry}", f"/g/{guild}", "/", result, f"/img/{entry}/thumb")
        for path in paths * 2:  # the second round is served from the web process's caches
            assert (await fetch(path))[0] == 200, path
        etag = (await fetch(result))[1]["ETag"]
        assert score((await fetch(f"/d/{entry}"))[2]) == 0

        await store.vote(entry, VOTER)
        await changed()
        assert score((await fetch(f"/d/{entry}"))[2]) == 1
        second, _ = await publish_one(store, sample_image, 2, user=VOTER, name="Bea", guild=guild)
        await changed()
        assert entry_ids((await fetch(f"/g/{guild}"))[2]) == [second, entry]

        await store.hide_entry(entry, moderator=True)
        await changed()
        for path in (f"/d/{entry}", result, f"/img/{entry}/thumb"):
            assert (await fetch(path))[0] == 404, path
        assert (await fetch(result, {"If-None-Match": etag}))[0] == 404
        assert entry_ids((await fetch(f"/g/{guild}"))[2]) == [second]

        await store.unhide_entry(entry, moderator=True)
        await changed()
        assert (await fetch(f"/d/{entry}"))[0] == 200
        await store.delete_user_data(author)
        await changed()
        for path in (f"/d/{entry}", result, f"/img/{entry}/thumb"):
            assert (await fetch(path))[0] == 404, path
        assert entry_ids((await fetch(f"/g/{guild}"))[2]) == [second]
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        await store.close()
