"""``dreambot db backup`` / ``restore``: a consistent copy of the database and the file
store, taken while writers keep going, restores everything it holds.

Each test runs on the SQLite file, or on the database ``DREAMBOT_TEST_DATABASE_URL``
names (PostgreSQL: ``pg_dump``/``pg_restore``; the target is then the same database,
emptied first). The bot journey (a backup while /dream runs, a restored bot's
/history) is tests/bot/test_backup_flow.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

import pytest

from bot.store import Database, FileStore, Store
from bot.store.backup import MANIFEST, BackupError, Manifest, backup, restore
from bot.store.db_cli import add_db_subcommands
from bot.store.migrate import downgrade
from bot.store.pg_tools import PgToolMissing, pg_dump

from .conftest import OTHER_DATABASE, empty_other_database, sqlite_url

ALICE, BOB, G1 = 1, 2, 100


async def _fill(store: Store, finished_dream) -> dict[str, object]:
    """Two finished dreams (one with a thumbnail), a queued one, a preset, a gallery entry."""
    d1 = await finished_dream(ALICE, G1, name="alice")
    d2 = await finished_dream(BOB, G1, data=b"\x89PNG\r\n\x1a\nnot really a picture")
    thumb = await store.files.athumbnail(d1.result.sha256, 64)
    queued = await store.create_dream(BOB, {"octaves": 2}, guild_id=G1, source=d2.source)
    preset = await store.create_preset(ALICE, "dogs", {"layer": "mixed4:7"}, shared=True)
    entry = await store.publish(d1.id, G1, by_user_id=ALICE, title="My dog")
    return {"done": [d1, d2], "queued": queued, "preset": preset, "entry": entry, "thumb": thumb}


async def _target(tmp_path: Path, live: Store) -> tuple[str, Path]:
    """An empty database and file store to restore into (on PostgreSQL, the same database
    emptied: the live store is closed first)."""
    if OTHER_DATABASE:
        await live.close()
        await asyncio.to_thread(downgrade, OTHER_DATABASE, "base")
        return OTHER_DATABASE, tmp_path / "restored-files"
    return sqlite_url(tmp_path / "restored" / "dreambot.db"), tmp_path / "restored" / "files"


async def _check_restored(url: str, files_dir: Path, filled: dict, originals: FileStore) -> None:
    restored = Store(Database(url), FileStore(files_dir))
    try:
        for d in filled["done"]:
            got = await restored.get_dream(d.id)
            assert got.status.value == "done" and got.params_data == d.params_data
            for ref in (got.source, got.result):
                assert restored.files.read(ref.sha256) == originals.read(ref.sha256)
        assert (await restored.get_dream(filled["queued"].id)).status.value == "queued"
        preset = await restored.get_preset(ALICE, "dogs")
        assert preset.id == filled["preset"].id and preset.shared and preset.params.layer == "mixed4:7"
        entry = await restored.find_entry(G1, filled["done"][0].id)
        assert entry is not None and entry.title == "My dog"
        assert restored.files.thumbnail(filled["done"][0].result.sha256, 64) == filled["thumb"]  # cached link kept
        # the ids go on after the restored ones (PostgreSQL's sequences are in the dump)
        new = await restored.create_dream(ALICE, {})
        assert new.id > max(d.id for d in [*filled["done"], filled["queued"]])
    finally:
        await restored.close()


async def test_backup_then_restore_into_an_empty_store(store, finished_dream, tmp_path):
    filled = await _fill(store, finished_dream)
    m = await asyncio.to_thread(backup, store.db.url, store.files.root, tmp_path / "bk")
    assert (m.dreams, m.done, m.presets, m.gallery_entries, m.missing_files) == (3, 2, 1, 1, 0)
    assert m.files == sum(1 for _ in store.files.stored()) + 1  # + the thumbnail's link
    assert json.loads((tmp_path / "bk" / MANIFEST).read_text())["revision"] == m.revision
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]

    url, files_dir = await _target(tmp_path, store)
    got = await asyncio.to_thread(restore, tmp_path / "bk", url, files_dir)
    assert got == m
    await _check_restored(url, files_dir, filled, FileStore(store.files.root))


async def test_restore_refuses_existing_data_unless_forced(store, finished_dream, tmp_path):
    filled = await _fill(store, finished_dream)
    await asyncio.to_thread(backup, store.db.url, store.files.root, tmp_path / "bk")
    await store.delete_preset(ALICE, "dogs")
    later = await store.create_dream(ALICE, {})
    url = store.db.url.render_as_string(hide_password=False)

    with pytest.raises(BackupError, match=r"not restoring over existing data \(.*dreams.*--force"):
        await asyncio.to_thread(restore, tmp_path / "bk", url, store.files.root)
    assert (await store.get_dream(later.id)).id == later.id  # untouched
    # an empty database but stored files: refused too
    empty = sqlite_url(tmp_path / "empty.db") if not OTHER_DATABASE else None
    if empty:
        with pytest.raises(BackupError, match="files in"):
            await asyncio.to_thread(restore, tmp_path / "bk", empty, store.files.root)

    await store.close()
    await asyncio.to_thread(restore, tmp_path / "bk", url, store.files.root, force=True)
    again = Store(Database(url), FileStore(store.files.root))
    try:
        assert (await again.list_history(ALICE, page_size=100)).total == 1  # the later dream is gone
    finally:
        await again.close()
    await _check_restored(url, store.files.root, filled, FileStore(store.files.root))


@pytest.mark.slow  # writers and a backup racing for a second
async def test_backup_while_writers_write_holds_every_file_it_refers_to(store, sample_png, tmp_path):
    """Dreams are stored (file, row, result file, row) and deleted while the backup runs:
    the snapshot refers only to files the backup holds, and every dream finished before
    the backup started is in it."""
    async def one_dream(i: int):
        src = await store.files.aput(sample_png + i.to_bytes(4, "big"))
        d = await store.create_dream(ALICE + i % 3, {"octaves": 1}, guild_id=G1, source=src)
        await store.mark_running(d.id)
        res = await store.files.aput(sample_png + b"result" + i.to_bytes(4, "big"), "png")
        return await store.mark_done(d.id, res, width=160, height=107, seconds=0.1)

    before = [await one_dream(i) for i in range(10)]
    for i in range(400):  # bulk for the copy to take a while (150 was too little on a fast CPU: 1 run in 2)
        await store.files.aput(b"unreferenced" + i.to_bytes(4, "big") * 5000)
    stop = asyncio.Event()
    during: list = []

    async def writer() -> None:
        i = 1000
        while not stop.is_set():
            d = await one_dream(i)
            during.append(d)
            if i % 4 == 0:
                await store.delete_dream(d.id)  # takes its files away
            i += 1

    task = asyncio.create_task(writer())
    await asyncio.sleep(0.05)
    for attempt in range(5):  # until a backup overlapped some writes (a busy machine may starve the writer)
        written = len(during)
        bk = tmp_path / f"bk{attempt}"
        m = await asyncio.to_thread(backup, store.db.url, store.files.root, bk)
        if len(during) - written >= 3:
            break
    else:
        pytest.fail("the writers never overlapped a backup")
    stop.set()
    await task

    url, files_dir = await _target(tmp_path, store)
    await asyncio.to_thread(restore, bk, url, files_dir)
    restored = Store(Database(url), FileStore(files_dir))
    try:
        rows = []
        for user in (ALICE, ALICE + 1, ALICE + 2):
            rows += (await restored.list_history(user, page_size=100)).items
        assert {d.id for d in before} <= {d.id for d in rows}
        assert len(rows) == m.dreams and m.done == sum(d.status.value == "done" for d in rows)
        refs = {d.id: [r for r in (d.source, d.result) if r is not None] for d in rows}
        lacking = [i for i, rs in refs.items() if not all(restored.files.exists(r.sha256) for r in rs)]
        gone = {r.sha256 for rs in refs.values() for r in rs if not restored.files.exists(r.sha256)}
        assert len(gone) == m.missing_files  # only of dreams deleted while the backup ran
        deleted = {d.id for i, d in enumerate(during) if (1000 + i) % 4 == 0}
        assert set(lacking) <= deleted
    finally:
        await restored.close()


async def test_bad_backups_and_targets_get_one_clear_line(store, finished_dream, tmp_path):
    await _fill(store, finished_dream)
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("x")
    with pytest.raises(BackupError, match="already exists and is not an empty folder"):
        await asyncio.to_thread(backup, store.db.url, store.files.root, tmp_path / "used")
    with pytest.raises(BackupError, match="is not a DreamBot backup"):
        await asyncio.to_thread(restore, tmp_path / "used", sqlite_url(tmp_path / "n.db"), tmp_path / "f")

    m = await asyncio.to_thread(backup, store.db.url, store.files.root, tmp_path / "bk")
    other_kind = "sqlite:///x.db" if m.database == "postgresql" else "postgresql://u:pw@127.0.0.1:1/x"
    with pytest.raises(BackupError, match=f"holds a {m.database} database"):
        await asyncio.to_thread(restore, tmp_path / "bk", other_kind, tmp_path / "f")
    manifest = json.loads((tmp_path / "bk" / MANIFEST).read_text())
    (tmp_path / "bk" / MANIFEST).write_text(json.dumps({**manifest, "revision": "f00d"}))
    same_kind = OTHER_DATABASE or sqlite_url(tmp_path / "n.db")
    with pytest.raises(BackupError, match="revision f00d is unknown to this DreamBot"):
        await asyncio.to_thread(restore, tmp_path / "bk", same_kind, tmp_path / "f")
    assert not (tmp_path / "f").exists()  # nothing was written
    with pytest.raises(BackupError, match="not initialised"):
        await asyncio.to_thread(backup, sqlite_url(tmp_path / "n.db"), tmp_path / "f", tmp_path / "bk2")


def test_without_pg_dump_the_line_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump there
    url = "postgresql://dream:s3cret%40@db.example:5433/dreams"
    with pytest.raises(PgToolMissing) as info:
        pg_dump(url, tmp_path / "out.pgdump")
    line = str(info.value)
    assert "pg_dump was not found on PATH" in line and "postgresql-client" in line
    assert f"pg_dump --format=custom --no-owner --no-privileges --file {tmp_path}/out.pgdump" in line
    assert "-h db.example -p 5433 -U dream dreams" in line
    assert "s3cret" not in line and "\n" not in line


def test_pg_tools_get_the_connection_in_their_environment():
    from bot.store.pg_tools import pg_env

    env = pg_env("postgresql://dream:p%40ss%20w@db.example:5433/dreams?sslmode=require")
    assert env == {
        "PGHOST": "db.example", "PGPORT": "5433", "PGUSER": "dream", "PGDATABASE": "dreams",
        "PGPASSWORD": "p@ss w", "PGSSLMODE": "require",
    }
    assert pg_env("postgresql://dream@/dreams?host=/run/postgresql")["PGHOST"] == "/run/postgresql"


@pytest.mark.skipif(not OTHER_DATABASE, reason="PostgreSQL only (set DREAMBOT_TEST_DATABASE_URL)")
async def test_a_postgresql_backup_without_pg_dump_writes_nothing_and_says_what_to_run(
    store, finished_dream, tmp_path, monkeypatch
):
    await _fill(store, finished_dream)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(PgToolMissing) as info:
        await asyncio.to_thread(backup, store.db.url, store.files.root, tmp_path / "bk")
    line = str(info.value)
    assert f"--file {tmp_path}/bk/dreambot.pgdump" in line
    assert f"then copy {store.files.root} to {tmp_path}/bk/files" in line
    assert not (tmp_path / "bk").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_db_backup_and_restore_commands(data_dir, capsys, sample_png, tmp_path):
    from bot.settings import get_settings

    async def setup() -> None:
        store = await Store.open()
        try:
            src = store.files.put(sample_png)
            await store.create_dream(42, {}, source=src)
            await store.create_preset(42, "p", {})
        finally:
            await store.close()

    asyncio.run(setup())
    parser = argparse.ArgumentParser()
    add_db_subcommands(parser.add_subparsers(dest="command", required=True))

    def run(*argv: str) -> int:
        args = parser.parse_args(["db", *argv])
        return args.func(args)

    assert run("backup", str(tmp_path / "bk")) == 0
    out = capsys.readouterr().out
    assert "1 dream(s) (0 finished), 1 preset(s), 0 gallery entries, 1 file(s)" in out and str(tmp_path / "bk") in out
    assert run("restore", str(tmp_path / "bk")) == 2
    err = capsys.readouterr().err
    assert err.startswith("dreambot db: error: not restoring over existing data") and err.count("\n") == 1
    assert run("restore", "--force", str(tmp_path / "bk")) == 0
    assert "restored" in capsys.readouterr().out

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    monkeypatch_env = {"DREAMBOT_DATA_DIR": str(fresh)}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in monkeypatch_env.items():
            mp.setenv(k, v)
        get_settings.cache_clear()
        assert run("restore", str(tmp_path / "bk")) == 0
        assert (fresh / "dreambot.db").is_file() and FileStore(fresh / "files").exists(
            next(FileStore(data_dir / "files").stored())[0]
        )
    get_settings.cache_clear()


def test_manifest_summary_reads_well():
    m = Manifest(1, "2026-01-01T00:00:00Z", "sqlite", "0003", 1, 1, 2, 1, 3, 2_500_000, 0)
    assert m.summary() == "1 dream(s) (1 finished), 2 preset(s), 1 gallery entry, 3 file(s) (2.5 MB)"


@pytest.fixture(autouse=True)
def _other_database_reset():
    """Leave the other database migrated for the next test (these tests drop its tables)."""
    yield
    if OTHER_DATABASE:
        empty_other_database(OTHER_DATABASE)
