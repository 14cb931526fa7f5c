"""Web gallery benchmark (run by hand): requests per second and latency of each route,
as ratios to a bare-aiohttp reference measured in the same run.

    python bench/bench_web.py                          # 300 and 10,000 dreams, 16 clients, 6 s a route
    python bench/bench_web.py --dreams 2000 --seconds 5 --concurrency 32
    python bench/bench_web.py --loop uvloop            # the same on uvloop (if installed)
    python bench/bench_web.py --explain                # also the query plans of the gallery's queries

For each store size it seeds a throw-away store (a real SQLite file through the
migrations, real PNG files; the first dreams through the store's API, the rest
inserted in bulk into the same tables), serves the real app on 127.0.0.1 and
hammers each route with an aiohttp client. The references, measured in the same
run and process under the same client: a bare aiohttp handler returning a fixed
page of the gallery page's size (no database, no templates, no middlewares), and
aiohttp's own ``FileResponse`` (sendfile) of a result picture. The targets
(issue 18) are ratios to the first.

Warm routes are served from the page cache; "cold" rows empty the caches before
every request (the cost of a miss: queries and rendering), one client at a time so
that the latency is the miss's own and not a queue. Client and server share one
event loop (one core), so absolute numbers are conservative; compare ratios.

Two ratios per route: of requests per second of wall time ("vs ref"), and of
requests per CPU second of this process ("CPU": server, client and database
threads together), which holds still when neighbours load a shared machine.
Rounds interleave the routes for the same reason. A target counts as met when
both ratios reach it. The load average is printed after each store size.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from PIL import Image  # noqa: E402

GUILD = 900_000_000_000_000_001
#: dreams seeded through the store's own API (the rest are inserted in bulk)
THROUGH_API = 40
#: distinct result pictures (dreams share them: the file store is content-addressed)
PICTURES = 40
USERS = 25
TARGETS = {"page": 0.5, "image": 0.4, "304": 0.7, "healthz": 0.8}


def picture(seed: int, size: int = 256) -> bytes:
    rnd = random.Random(seed)
    img = Image.new("RGB", (size, size), tuple(rnd.randrange(256) for _ in range(3)))
    img.paste(Image.effect_noise((size // 2, size // 2), 40 + seed % 50).convert("RGB"), (size // 4, size // 4))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import torch

        isa = torch.backends.cpu.get_cpu_capability()
    except Exception as exc:  # noqa: BLE001 - the bench still runs
        isa = f"unknown ({type(exc).__name__})"
    return f"{cpu}, ISA {isa}, {os.cpu_count()} CPUs"


def versions(loop_name: str) -> str:
    parts = [f"Python {platform.python_version()}", f"aiohttp {aiohttp.__version__}"]
    parts.append(f"SQLite {sqlite3.sqlite_version}")
    if loop_name == "uvloop":
        import uvloop

        parts.append(f"uvloop {uvloop.__version__}")
    else:
        parts.append("asyncio event loop")
    return ", ".join(parts)


async def seed_store(root: Path, dreams: int):
    from sqlalchemy import insert

    from bot.settings import Settings
    from bot.store import Store
    from bot.store.models import Dream, GalleryEntry, User, Vote, utcnow
    from dream_core.params import DreamParams

    settings = Settings(_env_file=None, data_dir=root)
    store = await Store.open(settings)
    await store.set_gallery_visibility(GUILD, "public", guild_name="Bench")
    source = await store.files.aput(picture(-1))
    results = [await store.files.aput(picture(i)) for i in range(PICTURES)]
    for i in range(min(dreams, THROUGH_API)):
        user = 1000 + i % USERS
        d = await store.create_dream(user, DreamParams(seed=i), guild_id=GUILD, source=source, user_name=f"user{i}")
        res = results[i % PICTURES]
        await store.mark_done(d.id, res, width=256, height=256, seconds=1.0, params=DreamParams(seed=i).resolved())
        entry = await store.publish(d.id, GUILD, by_user_id=user)
        if i % 3 == 0:
            await store.vote(entry.id, 5000 + i % 7)
    rest = range(THROUGH_API, dreams)
    if rest:
        async with store.db.write() as s:
            now = utcnow()
            voters = [{"id": 5000 + v, "display_name": f"voter{v}"} for v in range(7, 64)]
            await s.execute(insert(User).prefix_with("OR IGNORE"), voters)
            dream_rows = []
            for i in rest:
                res = results[i % PICTURES]
                dream_rows.append({
                    "user_id": 1000 + i % USERS, "guild_id": GUILD, "params": DreamParams(seed=i).resolved().explicit(),
                    "model": "googlenet", "seed": i, "status": "done", "created_at": now, "started_at": now,
                    "finished_at": now, "source_sha256": source.sha256, "source_ext": source.ext,
                    "source_size": source.size, "result_sha256": res.sha256, "result_ext": res.ext,
                    "size_bytes": res.size, "width": 256, "height": 256, "seconds": 1.0, "is_animation": False,
                })
            ids = (await s.scalars(insert(Dream).returning(Dream.id), dream_rows)).all()
            entry_rows = [
                {"guild_id": GUILD, "dream_id": d, "published_by": 1000 + i % USERS, "created_at": now, "hidden": False}
                for i, d in zip(rest, ids, strict=True)
            ]
            entry_ids = (await s.scalars(insert(GalleryEntry).returning(GalleryEntry.id), entry_rows)).all()
            votes = [
                {"entry_id": e, "user_id": 5000 + v, "created_at": now}
                for n, e in enumerate(entry_ids) if n % 3 == 0
                for v in range(n % 11)
            ]
            if votes:
                await s.execute(insert(Vote), votes)
    entries = [e.id for e in (await store.list_gallery(GUILD, page=0, page_size=100)).items]
    return settings, store, entries


async def hammer(
    session: aiohttp.ClientSession,
    urls: list[str],
    seconds: float,
    concurrency: int,
    headers: Optional[dict[str, str]] = None,
    before: Optional[Callable[[], None]] = None,
) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**12))

    async def client() -> None:
        while time.perf_counter() < deadline:
            url = urls[next(counter) % len(urls)]
            if before is not None:
                before()
            t0 = time.perf_counter()
            async with session.get(url, headers=headers) as r:
                await r.read()
                statuses[r.status] = statuses.get(r.status, 0) + 1
            latencies.append(time.perf_counter() - t0)

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return {
        "latencies": latencies,
        "elapsed": time.perf_counter() - start,
        "cpu": time.process_time() - cpu,
        "statuses": statuses,
    }


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One route's rounds together: requests per second of wall time and of this process's
    CPU time (server, client and the database threads: what a request costs, whatever the
    neighbours do), latency percentiles, statuses."""
    latencies = sorted(x for r in runs for x in r["latencies"])
    statuses: dict[int, int] = {}
    for r in runs:
        for status, n in r["statuses"].items():
            statuses[status] = statuses.get(status, 0) + n
    return {
        "rps": len(latencies) / sum(r["elapsed"] for r in runs),
        "cpu_rps": len(latencies) / max(1e-9, sum(r["cpu"] for r in runs)),
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
        "statuses": statuses,
    }


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def explain(store: Any) -> None:
    """EXPLAIN QUERY PLAN of the statements a page miss runs (SQLite)."""
    from sqlalchemy import event

    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "data_version" not in statement:
            seen.append((statement, parameters))

    engine = store.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        await store.list_gallery(GUILD, sort="recent", page=0, page_size=24)
        await store.list_gallery(GUILD, sort="top", page=4, page_size=24)
        first = (await store.list_gallery(GUILD, page=0, page_size=1)).items[0].id
        await store.get_entry(first)
        await store.list_public_covers()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    unique: dict[str, Any] = {}
    for statement, parameters in seen:
        unique.setdefault(statement, parameters)
    async with store.db.engine.connect() as conn:
        for statement, parameters in unique.items():
            print("  " + " ".join(statement.split())[:160] + " ...")
            raw = await conn.get_raw_connection()
            plan = await raw.driver_connection.execute_fetchall("EXPLAIN QUERY PLAN " + statement, parameters)
            for row in plan:
                print(f"      {row[-1]}")


async def bench_size(dreams: int, args: argparse.Namespace) -> list[tuple[str, dict[str, Any], float]]:
    from bot.metrics import Metrics
    from bot.web import create_web_app
    from bot.web.keys import FILE_BYTES_KEY, PAGES_KEY, PICTURES_KEY

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        settings, store, entries = await seed_store(Path(tmp), dreams)
        print(f"\n== {dreams} dreams (seeded in {time.perf_counter() - t0:.1f} s)")
        if args.explain:
            await explain(store)
        app = create_web_app(store, store.files, settings=settings, metrics=Metrics())
        runner, base = await serve(app)
        rows: list[tuple[str, dict[str, Any], float]] = []
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/g/{GUILD}") as r:
                page = await r.read()
            entry = entries[len(entries) // 2]
            async with session.get(f"{base}/d/{entry}") as r:
                dream_page = await r.text()
                page_etag = r.headers["ETag"]
            version = dream_page.split(f"/img/{entry}/result?v=")[1].split('"')[0]
            result_url = f"{base}/img/{entry}/result?v={version}"
            async with session.get(result_url) as r:
                etag = r.headers["ETag"]
                picture_bytes = len(await r.read())
            await session.get(f"{base}/img/{entry}/thumb")  # make the thumbnail once
            found = await app[PICTURES_KEY].get((entry, "result", None, version), lambda: _never())

            reference_app = web.Application()

            async def fixed(request: web.Request) -> web.Response:
                return web.Response(body=page, content_type="text/html")

            async def file(request: web.Request) -> web.FileResponse:
                return web.FileResponse(found.path, headers={"Content-Type": found.content_type})

            reference_app.router.add_get("/", fixed)
            reference_app.router.add_get("/file", file)
            ref_runner, ref_base = await serve(reference_app)

            def cold() -> None:
                app[PAGES_KEY].clear()
                app[PICTURES_KEY].clear()

            def cold_bytes() -> None:
                cold()
                app[FILE_BYTES_KEY].clear()

            deep = max(1, min(5, len(entries) // 24))
            last_page = max(1, -(-dreams // settings.web_page_size))
            dream_urls = [f"{base}/d/{e}" for e in entries]
            routes: list[tuple[str, str, list[str], Optional[dict[str, str]], Optional[Callable[[], None]], int]] = [
                ("reference (fixed page, bare aiohttp)", "ref", [f"{ref_base}/"], None, None, args.concurrency),
                ("reference FileResponse (sendfile)", "info", [f"{ref_base}/file"], None, None, args.concurrency),
                ("/ (front page)", "page", [f"{base}/"], None, None, args.concurrency),
                ("/g/<guild> page 1, recent", "page", [f"{base}/g/{GUILD}"], None, None, args.concurrency),
                (f"/g/<guild> page {deep}, top", "page", [f"{base}/g/{GUILD}?sort=top&page={deep}"], None, None,
                 args.concurrency),
                ("/d/<entry>", "page", [f"{base}/d/{entry}"], None, None, args.concurrency),
                ("/d/<entry> 304", "304", [f"{base}/d/{entry}"], {"If-None-Match": page_etag}, None,
                 args.concurrency),
                ("/img/<entry>/result 200", "image", [result_url], None, None, args.concurrency),
                ("/img/<entry>/result 304", "304", [result_url], {"If-None-Match": etag}, None, args.concurrency),
                ("/img/<entry>/thumb 200", "image", [f"{base}/img/{entry}/thumb"], None, None, args.concurrency),
                ("/healthz", "healthz", [f"{base}/healthz"], None, None, args.concurrency),
                ("cold / (front page)", "cold", [f"{base}/"], None, cold, 1),
                ("cold /g/<guild> page 1, recent", "cold", [f"{base}/g/{GUILD}"], None, cold, 1),
                (f"cold /g/<guild> page {last_page}, top", "cold",
                 [f"{base}/g/{GUILD}?sort=top&page={last_page}"], None, cold, 1),
                ("cold /d/<entry>", "cold", dream_urls, None, cold, 1),
                ("cold /img/<entry>/result (file read)", "cold", [result_url], None, cold_bytes, 1),
            ]
            if args.only:  # the reference always runs: the ratios need it
                routes = routes[:1] + [r for r in routes[1:] if any(word in r[0] for word in args.only)]
            print(f"page {len(page)} bytes, picture {picture_bytes} bytes; {args.concurrency} concurrent clients "
                  f"(cold rows: 1), {args.seconds:g} s per route in {args.rounds} interleaved rounds")
            print(f"{'route':40s} {'req/s':>7s} {'req/CPUs':>7s} {'p50 ms':>7s} {'p95 ms':>7s} "
                  f"{'vs ref':>6s} {'CPU':>6s} {'target':>7s}  statuses")
            # rounds interleave the routes, so that a neighbour's load on a shared machine
            # falls on the reference and the routes alike
            runs: list[list[dict[str, Any]]] = [[] for _ in routes]
            share = args.seconds / args.rounds
            for _ in range(args.rounds):
                for i, (_name, _kind, urls, headers, before, concurrency) in enumerate(routes):
                    runs[i].append(await hammer(session, urls, share, concurrency, headers, before))
            ref = summary(runs[0])
            for (name, kind, *_rest), route_runs in zip(routes, runs, strict=True):
                r = summary(route_runs)
                ratio, cpu_ratio = r["rps"] / ref["rps"], r["cpu_rps"] / ref["cpu_rps"]
                if kind in TARGETS:
                    met = min(ratio, cpu_ratio) >= TARGETS[kind]
                    target = f">={TARGETS[kind]:.1f}" + (" " if met else "!")
                elif kind == "cold":
                    target = "p95<=50" if r["p95_ms"] <= 50 else "p95>50!"
                else:
                    target = ""
                print(f"{name:40s} {r['rps']:7.0f} {r['cpu_rps']:7.0f} {r['p50_ms']:7.1f} {r['p95_ms']:7.1f} "
                      f"{ratio:6.2f} {cpu_ratio:6.2f} {target:>7s}  {r['statuses']}")
                rows.append((name, r, ratio))
            await ref_runner.cleanup()
        await runner.cleanup()
        await store.close()
        return rows


async def _never() -> Any:
    raise AssertionError("the picture was looked up just before")


async def main(args: argparse.Namespace) -> None:
    print(machine())
    print(versions(args.loop))
    for dreams in args.dreams:
        await bench_size(dreams, args)
        print("load average (1, 5, 15 min): " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))


def run() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dreams", type=int, nargs="+", default=[300, 10_000])
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=6, help="interleaved rounds (each route gets seconds/rounds a round)")
    ap.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    ap.add_argument("--only", nargs="+", metavar="WORD", help="only the routes whose name contains a WORD")
    ap.add_argument("--explain", action="store_true", help="print the query plans of a page miss's queries")
    args = ap.parse_args()
    coro: Awaitable[None] = main(args)
    if args.loop == "uvloop":
        import uvloop

        uvloop.run(coro)  # type: ignore[arg-type]
    else:
        asyncio.run(coro)  # type: ignore[arg-type]


if __name__ == "__main__":
    run()
