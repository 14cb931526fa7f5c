"""The change token (bot/store/changes.py) the gallery's caches trust: equal while
nothing is committed, different after any other connection's commit."""

from __future__ import annotations

import os

import pytest

from tests.web.test_cache import GUILD

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_change_tokens_follow_commits_of_other_connections(tmp_path):
    """SQLite's data_version: equal while nothing is committed, different after a commit
    by any other connection; an in-memory database is never cached."""
    from bot.settings import Settings
    from bot.store import Database, FileStore, Store
    from bot.store.changes import ChangeWatcher, SqliteDataVersion, watcher_for

    store = await Store.open(Settings(_env_file=None, data_dir=tmp_path))
    await store.touch_guild(GUILD, "Cache Club")
    watcher = watcher_for(store.db)
    try:
        assert isinstance(watcher, SqliteDataVersion)
        before = await watcher.token()
        await store.get_guild(GUILD)  # a read commits nothing
        assert await watcher.token() == before
        await store.touch_guild(GUILD, "Renamed")
        after = await watcher.token()
        assert after != before and await watcher.token() == after
    finally:
        watcher.close()
        await store.close()
    memory = Store(Database("sqlite+aiosqlite:///:memory:"), FileStore(tmp_path / "files"))
    never = watcher_for(memory.db)
    assert type(never) is ChangeWatcher and await never.token() != await never.token()
    await memory.close()


@pytest.mark.skipif(
    not os.environ.get("DREAMBOT_TEST_DATABASE_URL", "").startswith("postgres"),
    reason="needs DREAMBOT_TEST_DATABASE_URL=postgresql+asyncpg://...",
)
async def test_postgres_change_tokens_follow_commits(tmp_path):
    from bot.store import Database, FileStore, Store
    from bot.store.changes import PostgresSnapshot, watcher_for
    from bot.store.migrate import upgrade_async

    url = os.environ["DREAMBOT_TEST_DATABASE_URL"]
    await upgrade_async(url)
    writer = Store(Database(url), FileStore(tmp_path / "files"))
    reader = Database(url)  # another connection pool, as a separate web process has
    watcher = watcher_for(reader)
    try:
        assert isinstance(watcher, PostgresSnapshot)
        watcher.poll_s = 0.0
        before = await watcher.token()
        assert await watcher.token() == before
        await writer.rotate_gallery_token(GUILD)  # commits (the guild is created the first time)
        assert await watcher.token() != before
    finally:
        await reader.dispose()
        await writer.close()
