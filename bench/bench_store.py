"""Store benchmark (run by hand): what one dream costs the database, and how
many concurrent writers it sustains, against plain ``sqlite3`` in the same run.

    python bench/bench_store.py                  # 300 dreams, 50 concurrent tasks
    python bench/bench_store.py --dreams 1000 --tasks 100

Measured (one fresh SQLite file each, WAL, synchronous=NORMAL):

1. Life of a dream, sequential: ``create_dream`` -> ``mark_running`` ->
   ``mark_done`` (three write transactions). Reference: the same three
   transactions as hand-written SQL on one ``sqlite3`` connection (no ORM, no
   async thread hop) -- the floor any Python store could reach.
2. Concurrency: the same lives from N asyncio tasks at once, plus one vote each
   on a shared gallery entry; checks nothing was lost.
3. Reads: ``list_gallery(sort="top")`` pages over 200 entries with votes, and
   ``list_history`` pages.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.store import Database, FileStore, Store  # noqa: E402
from bot.store.migrate import upgrade  # noqa: E402
from dream_core.params import DreamParams  # noqa: E402


def reference(path: Path, n: int) -> float:
    """Seconds per dream life with raw sqlite3 (same schema, same three transactions)."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("PRAGMA foreign_keys=ON")
    params = json.dumps(DreamParams().model_dump(mode="json"))
    now = "2026-01-01 00:00:00"
    con.execute(
        "INSERT INTO users (id, display_name, first_seen, last_seen, gallery_opt_out) VALUES (1, 'u', ?, ?, 0)",
        (now, now),
    )
    t = time.perf_counter()
    for _ in range(n):
        con.execute("BEGIN IMMEDIATE")
        con.execute("SELECT id FROM users WHERE id = 1").fetchall()
        cur = con.execute(
            "INSERT INTO dreams (user_id, params, model, status, created_at, is_animation) "
            "VALUES (1, ?, 'm', 'queued', ?, 0)",
            (params, now),
        )
        con.execute("COMMIT")
        did = cur.lastrowid
        for sql in (
            "UPDATE dreams SET status='running', started_at=? WHERE id=?",
            "UPDATE dreams SET status='done', finished_at=? WHERE id=?",
        ):
            con.execute("BEGIN IMMEDIATE")
            con.execute("SELECT * FROM dreams WHERE id=?", (did,)).fetchall()
            con.execute(sql, (now, did))
            con.execute("COMMIT")
    dt = (time.perf_counter() - t) / n
    con.close()
    return dt


async def life(store: Store, user: int, ref) -> int:
    d = await store.create_dream(user, {"octaves": 2})
    await store.mark_running(d.id)
    await store.mark_done(d.id, ref, width=64, height=64, seconds=0.1)
    return d.id


async def main_async(args: argparse.Namespace, root: Path) -> None:
    url = f"sqlite+aiosqlite:///{root / 'store.db'}"
    upgrade(url)
    store = Store(Database(url), FileStore(root / "files"))
    ref = store.files.put(b"\x89PNG\r\n\x1a\n" + b"0" * 1000)
    await store.touch_user(1, "u")
    await life(store, 1, ref)  # warm-up

    t = time.perf_counter()
    for _ in range(args.dreams):
        await life(store, 1, ref)
    seq = (time.perf_counter() - t) / args.dreams

    ref_path = root / "ref.db"
    upgrade(f"sqlite+aiosqlite:///{ref_path}")
    raw = reference(ref_path, args.dreams)

    # concurrency
    seed = await life(store, 2, ref)
    entry = await store.publish(seed, 7, by_user_id=2)

    async def task(i: int) -> int:
        did = await life(store, 1000 + i, ref)
        await store.vote(entry.id, 1000 + i)
        return did

    t = time.perf_counter()
    ids = await asyncio.gather(*(task(i) for i in range(args.tasks)))
    conc = time.perf_counter() - t
    lost = args.tasks - len(set(ids)) + args.tasks - await store.vote_count(entry.id)

    # reads
    for i in range(200):
        did = await life(store, 5000 + i, ref)
        e = await store.publish(did, 8, by_user_id=5000 + i)
        for v in range(i % 7):
            await store.vote(e.id, 9000 + v)
    t = time.perf_counter()
    for p in range(20):
        await store.list_gallery(8, sort="top", page=p % 10, page_size=10)
    top = (time.perf_counter() - t) / 20
    t = time.perf_counter()
    for p in range(20):
        await store.list_history(1, page=p % 10, page_size=10)
    hist = (time.perf_counter() - t) / 20
    await store.close()

    print(f"dream life (3 write transactions), sequential: {seq * 1000:7.2f} ms  ({1 / seq:7.0f} dreams/s)")
    print(f"  reference, raw sqlite3 same SQL:             {raw * 1000:7.2f} ms  ({1 / raw:7.0f} dreams/s)")
    print(f"  ratio store / raw:                           {seq / raw:7.1f}x")
    print(
        f"{args.tasks} concurrent tasks (life + vote):            {conc * 1000:7.0f} ms total, "
        f"{conc / args.tasks * 1000:.2f} ms/task, lost: {lost}"
    )
    print(f"gallery page, top, 200 entries:                {top * 1000:7.2f} ms")
    print(f"history page:                                  {hist * 1000:7.2f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dreams", type=int, default=300)
    ap.add_argument("--tasks", type=int, default=50)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(main_async(args, Path(tmp)))


if __name__ == "__main__":
    main()
