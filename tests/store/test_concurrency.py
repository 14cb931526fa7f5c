"""Many writers at once lose nothing and never see "database is locked"; a
process killed mid-write leaves a consistent database."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from bot.store import Database, DreamStatus, FileStore, Store
from bot.store.migrate import current, head

from .conftest import sqlite_url

G1 = 100


async def _life(store: Store, user_id: int, entry_id: int, i: int) -> int:
    src = await store.files.aput(f"input {i}".encode())
    d = await store.create_dream(user_id, {"seed": i}, guild_id=G1, source=src, user_name=f"user{user_id}")
    await store.mark_running(d.id)
    res = src  # the file store has its own tests; keep this about the database
    await store.mark_done(d.id, res, width=8, height=8, seconds=0.01)
    await store.vote(entry_id, user_id)
    return d.id


@pytest.mark.slow  # fifty writers
async def test_fifty_concurrent_tasks(store, finished_dream):
    seed = await finished_dream(999, G1)
    entry = await store.publish(seed.id, G1, by_user_id=999)
    ids = await asyncio.gather(*(_life(store, 1000 + i, entry.id, i) for i in range(50)))
    assert len(set(ids)) == 50
    assert await store.vote_count(entry.id) == 50
    for i, dream_id in enumerate(ids):
        d = await store.get_dream(dream_id)
        assert d.status is DreamStatus.DONE and d.user_id == 1000 + i and d.seed == i


@pytest.mark.slow  # two engines on one file, writing for a second
async def test_two_store_instances_on_one_file(db_url, tmp_path, finished_dream, store):
    """Two independent stores (as the bot and the web gallery would have) write at once:
    no shared asyncio lock, so SQLite's own locking (BEGIN IMMEDIATE + busy timeout) does it."""
    seed = await finished_dream(999, G1)
    entry = await store.publish(seed.id, G1, by_user_id=999)
    files = FileStore(tmp_path / "files")
    a = Store(Database(db_url), files)
    b = Store(Database(db_url), files)
    try:
        jobs = [_life(a if i % 2 else b, 2000 + i, entry.id, i) for i in range(30)]
        readers = [a.list_gallery(G1, sort="top") for _ in range(10)]
        results = await asyncio.gather(*jobs, *readers)
        assert len(set(results[:30])) == 30
        assert await store.vote_count(entry.id) == 30
        assert (await store.list_history(2001)).total == 1
    finally:
        await a.close()
        await b.close()


_WRITER = textwrap.dedent(
    """
    import asyncio, os, sys
    from bot.store import Database, FileStore, Store
    from bot.store.migrate import upgrade

    async def main(url, root, user, stop_after):
        if os.environ.get("WRITER_MIGRATES"):
            upgrade(url)  # as the bot and the web gallery do when they start
        store = Store(Database(url), FileStore(root), max_presets_per_user=10_000)
        i = 0
        while stop_after < 0 or i < stop_after:
            data = os.urandom(64 * 1024)
            ref = await store.files.aput(data)
            d = await store.create_dream(user, {"seed": i}, source=ref, guild_id=7)
            await store.mark_running(d.id)
            await store.mark_done(d.id, ref, width=1, height=1, seconds=0.0)
            await store.create_preset(user, f"p{i}", {"seed": i})
            print(d.id, ref.sha256, flush=True)
            i += 1
        await store.close()

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
    """
)


def _spawn(tmp_path, db_path, user: int, stop_after: int, *, migrate: bool = False) -> subprocess.Popen:
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    if migrate:
        env["WRITER_MIGRATES"] = "1"
    return subprocess.Popen(
        [sys.executable, str(script), sqlite_url(db_path), str(tmp_path / "files"), str(user), str(stop_after)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _integrity(db_path) -> str:
    with sqlite3.connect(db_path) as con:
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        return con.execute("PRAGMA integrity_check").fetchone()[0]


@pytest.mark.slow  # writer processes
async def test_killed_writer_leaves_a_consistent_database(db_path, tmp_path):
    proc = _spawn(tmp_path, db_path, user=1, stop_after=-1)
    committed: list[tuple[int, str]] = []
    deadline = time.monotonic() + 30
    try:
        assert proc.stdout is not None
        while len(committed) < 15 and time.monotonic() < deadline:
            line = await asyncio.to_thread(proc.stdout.readline)
            if not line:
                break
            dream_id, sha = line.split()
            committed.append((int(dream_id), sha))
        os.kill(proc.pid, signal.SIGKILL)  # mid-loop: some write is in flight
    finally:
        proc.kill()
        proc.wait()
    assert len(committed) >= 15, proc.stderr.read() if proc.stderr else ""
    assert proc.returncode == -signal.SIGKILL

    assert _integrity(db_path) == "ok"
    store = Store(Database(sqlite_url(db_path)), FileStore(tmp_path / "files"))
    try:
        store.files.cleanup_temp()
        for dream_id, sha in committed:
            d = await store.get_dream(dream_id)
            assert d.status is DreamStatus.DONE and d.result.sha256 == sha
            assert hashlib.sha256(store.files.read(sha)).hexdigest() == sha
        assert await store.count_presets(1) >= len(committed)
        assert not [p for p in (tmp_path / "files").rglob(".tmp-*")]
        # and the database keeps working
        assert len((await store.claim_unfinished()).resume) <= 1
        new = await store.create_dream(1, {})
        assert (await store.get_dream(new.id)).status is DreamStatus.QUEUED
    finally:
        await store.close()


@pytest.mark.slow  # several processes
async def test_processes_migrating_and_writing_at_once(db_path, tmp_path):
    """Processes start together on a fresh file: each migrates (one does the work, the
    other waits and finds it done), then they write at once."""
    db_path = tmp_path / "fresh.db"  # (the fixture only marks this test SQLite-only)
    procs = [_spawn(tmp_path, db_path, user=10 + i, stop_after=10, migrate=True) for i in range(2)]
    outs = [await asyncio.to_thread(p.communicate, timeout=60) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert "locked" not in err
        assert len(out.split("\n")) - 1 == 10
    assert _integrity(db_path) == "ok"
    assert current(sqlite_url(db_path)) == head()
    store = Store(Database(sqlite_url(db_path)), FileStore(tmp_path / "files"))
    try:
        for i in range(2):
            assert (await store.list_history(10 + i)).total == 10
            assert await store.count_presets(10 + i) == 10
    finally:
        await store.close()


def test_upgrade_is_one_transaction(tmp_path):
    """Another connection never sees a half-way revision: the version read and every
    step share one transaction, so a second migrator starting mid-way waits for the
    end instead of redoing a step it saw as missing ("duplicate column")."""
    import threading

    from bot.store.migrate import upgrade

    db_path = tmp_path / "fresh.db"
    seen: set[str | None] = set()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            try:
                con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=0.01)
            except sqlite3.OperationalError:  # no file yet
                continue
            try:
                row = con.execute("SELECT version_num FROM alembic_version").fetchone()
                seen.add(row[0] if row else None)
            except sqlite3.OperationalError:  # no table yet, or locked
                pass
            finally:
                con.close()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        upgrade(sqlite_url(db_path))
    finally:
        done.set()
        watcher.join()
    assert seen <= {None, head()}, seen
    assert current(sqlite_url(db_path)) == head()
