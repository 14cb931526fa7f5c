"""Store fixtures: a real SQLite file brought to the latest schema by the real
Alembic migrations, and a real file store in a temporary folder.

The migrations run once per session into a template database; each test gets
its own copy of that file (running Alembic per test would cost ~0.3 s each).

``DREAMBOT_TEST_DATABASE_URL=postgresql://user:password@host/db`` runs the same
tests against another database (emptied for every test: its tables truncated when
it is at the latest schema, else dropped and migrated again; SQLite-only tests are
skipped there). ``.ci/postgres`` makes such a database.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bot.store import Database, FileStore, Store
from bot.store.migrate import downgrade, upgrade

OTHER_DATABASE = os.environ.get("DREAMBOT_TEST_DATABASE_URL")


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def empty_other_database(url: str) -> None:
    """Bring ``url`` to the latest schema with no rows (truncating is ~10x faster than
    migrating down and up again, which is done when the schema is not the latest)."""
    import asyncio

    from sqlalchemy import text

    from bot.store.migrate import current, head

    if current(url) != head():
        downgrade(url, "base")
        upgrade(url)
        return

    async def truncate() -> None:
        db = Database(url)
        try:
            async with db.write() as s:
                names = await s.run_sync(lambda sync: sync.connection().dialect.get_table_names(sync.connection()))
                tables = ", ".join(f'"{n}"' for n in names if n != "alembic_version")
                await s.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        finally:
            await db.dispose()

    asyncio.run(truncate())


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("store-template") / "template.db"
    upgrade(sqlite_url(path))
    # fold the WAL into the main file so a plain copy is complete
    import sqlite3

    with sqlite3.connect(path) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def db_path(tmp_path, migrated_template) -> Path:
    """A migrated SQLite file (tests needing SQLite itself are skipped on other databases)."""
    if OTHER_DATABASE:
        pytest.skip("SQLite-specific test")
    path = tmp_path / "dreambot.db"
    shutil.copyfile(migrated_template, path)
    return path


@pytest.fixture
def db_url(tmp_path, migrated_template) -> str:
    """The URL of a freshly migrated, empty database."""
    if OTHER_DATABASE:
        empty_other_database(OTHER_DATABASE)
        return OTHER_DATABASE
    path = tmp_path / "dreambot.db"
    shutil.copyfile(migrated_template, path)
    return sqlite_url(path)


@pytest.fixture
async def store(db_url, tmp_path):
    s = Store(Database(db_url), FileStore(tmp_path / "files"), max_presets_per_user=5)
    yield s
    await s.close()


@pytest.fixture
async def finished_dream(store, sample_png):
    """A factory: ``await finished_dream(user_id, guild_id)`` -> a done DreamInfo."""

    async def make(user_id: int = 1, guild_id: int | None = 100, *, name: str | None = None, data: bytes | None = None):
        src = store.files.put(data if data is not None else sample_png)
        d = await store.create_dream(user_id, {"octaves": 1}, guild_id=guild_id, source=src, user_name=name)
        await store.mark_running(d.id)
        res = store.files.put((data if data is not None else sample_png) + str(d.id).encode(), "png")
        return await store.mark_done(d.id, res, width=160, height=107, seconds=0.5)

    return make
