"""The Alembic migrations create exactly the ORM models' schema, go down and up
again on a real file, and the CLI commands drive them."""

from __future__ import annotations

import argparse
import sqlite3

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from bot.store import Database
from bot.store.db_cli import add_db_subcommands
from bot.store.migrate import current, downgrade, head, upgrade
from bot.store.models import Base

from .conftest import OTHER_DATABASE, sqlite_url

TABLES = {"users", "guilds", "presets", "dreams", "gallery_entries", "votes"}


def _diff(path) -> list:
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(ctx, Base.metadata)
    finally:
        engine.dispose()


def _tables(path) -> set[str]:
    with sqlite3.connect(path) as con:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_models_and_migrations_agree(tmp_path):
    path = tmp_path / "m.db"
    upgrade(sqlite_url(path))
    assert _diff(path) == []
    # and the check is able to see a difference: an empty database differs
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    assert len(_diff(empty)) >= len(TABLES)


def test_upgrade_downgrade_upgrade_on_a_file(tmp_path):
    path = tmp_path / "sub" / "dir" / "m.db"  # folders are created
    url = sqlite_url(path)
    assert current(url) is None
    upgrade(url)
    assert current(url) == head()
    assert _tables(path) >= TABLES
    with sqlite3.connect(path) as con:
        con.execute("INSERT INTO users (id, display_name, first_seen, last_seen, gallery_opt_out) "
                    "VALUES (1, 'x', '2020-01-01', '2020-01-01', 0)")
    downgrade(url, "base")
    assert current(url) is None
    assert not (TABLES & _tables(path))
    upgrade(url)
    assert current(url) == head()
    assert _diff(path) == []
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT count(*) FROM users").fetchone()[0] == 0


def test_guide_columns_migration_keeps_existing_dreams(tmp_path):
    """0001 -> 0002 adds the guide columns (NULL for old dreams) and back again, keeping rows
    and SQLite AUTOINCREMENT (dream ids are never reused)."""
    path = tmp_path / "g.db"
    url = sqlite_url(path)
    upgrade(url, "0001")
    with sqlite3.connect(path) as con:
        con.execute("INSERT INTO users (id, display_name, first_seen, last_seen, gallery_opt_out) "
                    "VALUES (1, 'x', '2020-01-01', '2020-01-01', 0)")
        con.execute("INSERT INTO dreams (user_id, params, model, status, created_at, is_animation) "
                    "VALUES (1, '{}', 'efficientnet-lite0', 'done', '2020-01-01', 0)")
    upgrade(url)
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT id, guide_sha256, guide_ext, guide_size FROM dreams").fetchall() == [
            (1, None, None, None)
        ]
        con.execute("UPDATE dreams SET guide_sha256 = :s, guide_ext = 'png', guide_size = 3", {"s": "a" * 64})
    downgrade(url, "0001")
    with sqlite3.connect(path) as con:
        columns = {r[1] for r in con.execute("PRAGMA table_info(dreams)")}
        assert "guide_sha256" not in columns and "source_sha256" in columns
        assert con.execute("SELECT id, user_id FROM dreams").fetchall() == [(1, 1)]
        schema = con.execute("SELECT sql FROM sqlite_master WHERE name = 'dreams'").fetchone()[0]
        assert "AUTOINCREMENT" in schema
    upgrade(url)
    assert _diff(path) == []


def test_sync_url_works_too(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    upgrade(url)
    assert current(url) == head()


async def test_sqlite_connection_setup(db_path):  # db_path: skipped on other databases
    db = Database(sqlite_url(db_path))
    try:
        async with db.read() as s:
            conn = await s.connection()
            mode = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
            fks = (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar()
            busy = (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar()
        assert (mode, fks) == ("wal", 1)
        assert busy >= 5000
        # foreign keys are enforced, not just switched on
        with pytest.raises(IntegrityError):
            async with db.write() as s:
                await s.execute(text("INSERT INTO votes (entry_id, user_id, created_at) VALUES (1, 1, '2020-01-01')"))
    finally:
        await db.dispose()


def test_db_cli(tmp_path, capsys):
    url = sqlite_url(tmp_path / "cli.db")
    parser = argparse.ArgumentParser()
    add_db_subcommands(parser.add_subparsers(dest="command", required=True))

    def run(*argv: str) -> int:
        args = parser.parse_args(["db", "--url", url, *argv])
        return args.func(args)

    assert run("current") == 1
    assert "not initialised" in capsys.readouterr().out
    assert run("upgrade") == 0
    assert head() in capsys.readouterr().out
    assert run("current") == 0
    assert "(head)" in capsys.readouterr().out
    assert run("downgrade", "base") == 0
    assert current(url) is None


def test_upgrade_uses_settings_by_default(data_dir):
    upgrade()
    assert (data_dir / "dreambot.db").is_file()
    assert current() == head()
    from bot.store import DatabaseError

    with pytest.raises(DatabaseError, match="no-such-revision"):
        downgrade(None, "no-such-revision")


@pytest.mark.skipif(not OTHER_DATABASE, reason="set DREAMBOT_TEST_DATABASE_URL to check another database")
async def test_models_and_migrations_agree_on_the_other_database():
    from bot.store.database import create_engine_checked

    assert OTHER_DATABASE
    downgrade(OTHER_DATABASE, "base")
    upgrade(OTHER_DATABASE)
    engine = create_engine_checked(OTHER_DATABASE)  # a plain postgresql:// URL gets asyncpg, as in the store
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata)
            )
        assert diff == []
    finally:
        await engine.dispose()
    downgrade(OTHER_DATABASE, "base")
    upgrade(OTHER_DATABASE)


async def test_migrations_from_async_code(tmp_path):
    from bot.store.migrate import upgrade_async

    url = sqlite_url(tmp_path / "a.db")
    upgrade(url)  # inside a running loop: works (in a helper thread)
    assert current(url) == head()
    downgrade(url, "base")
    await upgrade_async(url)
    assert current(url) == head()


async def test_store_open_from_settings(data_dir, monkeypatch):
    from bot.settings import get_settings
    from bot.store import Store

    monkeypatch.setenv("DREAMBOT_MAX_PRESETS_PER_USER", "2")
    get_settings.cache_clear()
    (data_dir / "files" / "ab" / "cd").mkdir(parents=True)
    (data_dir / "files" / "ab" / "cd" / ".tmp-crashed").write_bytes(b"partial")
    store = await Store.open()
    try:
        assert store.max_presets_per_user == 2
        assert current(get_settings().resolved_database_url) == head()
        assert not (data_dir / "files" / "ab" / "cd" / ".tmp-crashed").exists()
        assert (await store.touch_user(5, "e")).id == 5
    finally:
        await store.close()


@pytest.mark.parametrize(
    "url,message",
    [
        ("not a url", "not a valid database URL"),
        ("nosuchdb://host/x", "Unknown database type"),
        ("postgresql://dreambot:s3cret@127.0.0.1:1/nothing", r"(Cannot use the database|not installed)"),
        ("sqlite:////proc/no/such/folder/x.db", "Cannot create the data folder"),
    ],
)
def test_bad_database_urls_fail_with_admin_readable_errors(url, message):
    from bot.store import DatabaseError

    with pytest.raises(DatabaseError, match=message) as info:
        upgrade(url)
    assert "s3cret" not in str(info.value)


def test_plain_urls_get_the_async_driver(tmp_path):
    assert Database(f"sqlite:///{tmp_path / 'a.db'}").url.drivername == "sqlite+aiosqlite"


def test_db_cli_delete_user_and_gc(data_dir, capsys, sample_png):
    import asyncio
    import os
    import time

    from bot.settings import get_settings
    from bot.store import FileStore, Store

    async def setup() -> tuple[str, str]:
        store = await Store.open()
        try:
            src = store.files.put(sample_png)
            d = await store.create_dream(42, {}, source=src)
            await store.create_preset(42, "p", {})
            await store.create_dream(7, {})
            orphan = store.files.put(b"never recorded")
            old = time.time() - 3 * 3600
            os.utime(store.files.path_for(orphan.sha256), (old, old))
            return d.source.sha256, orphan.sha256
        finally:
            await store.close()

    src_sha, orphan_sha = asyncio.run(setup())
    parser = argparse.ArgumentParser()
    add_db_subcommands(parser.add_subparsers(dest="command", required=True))

    def run(*argv: str) -> int:
        args = parser.parse_args(["db", *argv])
        return args.func(args)

    assert run("gc", "--min-age-hours", "2") == 0
    assert "removed 1 unreferenced file(s)" in capsys.readouterr().out
    files = FileStore(get_settings().files_dir)
    assert not files.exists(orphan_sha) and files.exists(src_sha)
    assert run("delete-user", "42") == 0
    out = capsys.readouterr().out
    assert "deleted user 42: 1 dream(s), 1 preset(s)" in out and "1 file(s)" in out
    assert not files.exists(src_sha)
    assert run("--url", "not a url", "gc") == 2
    assert "not a valid database URL" in capsys.readouterr().err


def test_migrations_folder_is_found_or_explained(tmp_path, monkeypatch):
    import shutil

    from bot.store import DatabaseError
    from bot.store.migrate import migrations_dir

    copy = tmp_path / "elsewhere" / "migrations"
    shutil.copytree(migrations_dir(), copy)
    monkeypatch.setenv("DREAMBOT_MIGRATIONS_DIR", str(copy))
    assert migrations_dir() == copy
    url = sqlite_url(tmp_path / "x.db")
    upgrade(url)
    assert current(url) == head()
    # a folder that is not DreamBot's (another project's migrations) is not used
    other = tmp_path / "other" / "migrations"
    other.mkdir(parents=True)
    (other / "env.py").write_text("# someone else's alembic env\n")
    monkeypatch.setenv("DREAMBOT_MIGRATIONS_DIR", str(other))
    monkeypatch.chdir(tmp_path / "other")
    assert migrations_dir() != other
    # nothing anywhere: a clear error for the admin
    import bot.store.migrate as migrate_mod

    monkeypatch.setattr(migrate_mod, "__file__", str(tmp_path / "a" / "b" / "c" / "migrate.py"))
    with pytest.raises(DatabaseError, match="migrations were not found.*DREAMBOT_MIGRATIONS_DIR"):
        migrations_dir()


async def test_ping_reports_a_dead_database(tmp_path, data_dir):
    from bot.store import DatabaseError, FileStore, Store

    assert Database.from_settings().url.database == str((data_dir / "dreambot.db").resolve())
    broken = tmp_path / "broken.db"
    broken.write_bytes(bytes(range(256)) * 16)  # not a database (any more)
    store = Store(Database(sqlite_url(broken)), FileStore(tmp_path / "files"))
    try:
        with pytest.raises(DatabaseError, match="does not answer: file is not a database"):
            await store.ping()
    finally:
        await store.close()


def test_params_migration_keeps_what_was_set(tmp_path):
    """0002 -> 0003 rewrites old, fully resolved params to the fields that count as set:
    strength-preset fill-ins of the row's own strength, defaults and a dream's clamp go."""
    import json

    path = tmp_path / "p.db"
    url = sqlite_url(path)
    upgrade(url, "0002")
    old_preset = {  # saved as strength=high, iterations=30 (the rest written out by the old code)
        "model": "efficientnet-lite0", "layer": "mixed3", "strength": "high", "octaves": 4, "octave_scale": 1.4,
        "iterations": 30, "step": 0.012, "jitter": 32, "smoothing": 0.5, "normalize_gradients": True,
        "tile_size": 512, "seed": None, "keep_colors": False, "max_size": 1024, "noise_size": 512,
        "guide_weight": 1.0, "zoom_frames": 0, "zoom": 1.05, "rotate": 0.0, "frame_iterations": 15, "fps": 12,
    }
    old_dream = {**old_preset, "strength": "medium", "octaves": 3, "iterations": 10, "step": 0.01,
                 "frame_iterations": 5, "seed": 77, "max_size": 512, "keep_colors": True}
    with sqlite3.connect(path) as con:
        con.execute("INSERT INTO users (id, display_name, first_seen, last_seen, gallery_opt_out) "
                    "VALUES (1, 'x', '2020-01-01', '2020-01-01', 0)")
        con.execute("INSERT INTO presets (owner_id, name, name_key, params, shared, use_count, created_at, updated_at) "
                    "VALUES (1, 'p', 'p', ?, 0, 0, '2020-01-01', '2020-01-01')", (json.dumps(old_preset),))
        con.execute("INSERT INTO dreams (user_id, params, model, status, created_at, is_animation) "
                    "VALUES (1, ?, 'efficientnet-lite0', 'done', '2020-01-01', 0)", (json.dumps(old_dream),))
    upgrade(url)
    with sqlite3.connect(path) as con:
        preset = json.loads(con.execute("SELECT params FROM presets").fetchone()[0])
        dream = json.loads(con.execute("SELECT params FROM dreams").fetchone()[0])
    assert preset == {"layer": "mixed3", "strength": "high", "iterations": 30}
    assert dream == {"layer": "mixed3", "seed": 77, "keep_colors": True}
    assert _diff(path) == []
    downgrade(url, "0002")  # the smaller dicts stay: older code reads them too
    upgrade(url)
    assert current(url) == head()
