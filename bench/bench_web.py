"""Web gallery benchmark (run by hand): requests per second and latency of each route.

    python bench/bench_web.py                    # 300 dreams, 16 concurrent clients, 3 s per route
    python bench/bench_web.py --dreams 2000 --seconds 5 --concurrency 32

Seeds a throw-away store (real SQLite file through the migrations, real PNG
files) with one public gallery, serves the real app on 127.0.0.1 and hammers
each route with an aiohttp client. The reference, measured in the same run and
process under the same client, is a bare aiohttp handler returning a fixed
page of the same size as the gallery page (no database, no templates): the
ratio says what the gallery's own work costs on top of aiohttp itself.
Client and server share one event loop (one core), so absolute numbers are
conservative; compare ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from PIL import Image  # noqa: E402

GUILD = 900_000_000_000_000_001


def picture(seed: int, size: int = 256) -> bytes:
    rnd = random.Random(seed)
    img = Image.new("RGB", (size, size), tuple(rnd.randrange(256) for _ in range(3)))
    img.paste(Image.effect_noise((size // 2, size // 2), 40 + seed % 50).convert("RGB"), (size // 4, size // 4))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


async def seed_store(root: Path, dreams: int):
    from bot.settings import Settings
    from bot.store import Store
    from dream_core.params import DreamParams

    settings = Settings(_env_file=None, data_dir=root)
    store = await Store.open(settings)
    await store.set_gallery_visibility(GUILD, "public", guild_name="Bench")
    entries = []
    source = await store.files.aput(picture(-1))
    for i in range(dreams):
        user = 1000 + i % 25
        d = await store.create_dream(
            user, DreamParams(seed=i), guild_id=GUILD, source=source, user_name=f"user{i % 25}"
        )
        res = await store.files.aput(picture(i))
        await store.mark_done(d.id, res, width=256, height=256, seconds=1.0, params=DreamParams(seed=i).resolved())
        entry = await store.publish(d.id, GUILD, by_user_id=user)
        entries.append(entry.id)
        if i % 3 == 0:
            await store.vote(entry.id, 5000 + i % 7)
    return settings, store, entries


async def hammer(session: aiohttp.ClientSession, url: str, seconds: float, concurrency: int, headers=None):
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            async with session.get(url, headers=headers) as r:
                await r.read()
                statuses[r.status] = statuses.get(r.status, 0) + 1
            latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
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


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dreams", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()

    from bot.metrics import Metrics
    from bot.web import create_web_app

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        settings, store, entries = await seed_store(Path(tmp), args.dreams)
        print(f"seeded {args.dreams} dreams in {time.perf_counter() - t0:.1f} s")
        app = create_web_app(store, store.files, settings=settings, metrics=Metrics())
        runner, base = await serve(app)

        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/g/{GUILD}") as r:
                page = await r.read()
            reference_app = web.Application()

            async def fixed(request: web.Request) -> web.Response:
                return web.Response(body=page, content_type="text/html")

            reference_app.router.add_get("/", fixed)
            ref_runner, ref_base = await serve(reference_app)

            entry = entries[len(entries) // 2]
            async with session.get(f"{base}/d/{entry}") as r:
                dream_page = await r.text()
            thumb = dream_page.split(f"/img/{entry}/result?v=")[1].split('"')[0]
            result_url = f"{base}/img/{entry}/result?v={thumb}"
            async with session.get(result_url) as r:
                etag = r.headers["ETag"]
            await session.get(f"{base}/img/{entry}/thumb")  # make the thumbnail once

            routes = [
                ("reference (fixed page, bare aiohttp)", f"{ref_base}/", None),
                ("/ (front page)", f"{base}/", None),
                ("/g/<guild> page 1, recent", f"{base}/g/{GUILD}", None),
                ("/g/<guild> page 5, top", f"{base}/g/{GUILD}?sort=top&page=5", None),
                ("/d/<entry>", f"{base}/d/{entry}", None),
                ("/img/<entry>/result 200", result_url, None),
                ("/img/<entry>/result 304", result_url, {"If-None-Match": etag}),
                ("/img/<entry>/thumb 200", f"{base}/img/{entry}/thumb", None),
                ("/healthz", f"{base}/healthz", None),
                ("/metrics", f"{base}/metrics", None),
            ]
            print(f"{args.concurrency} concurrent clients, {args.seconds:.0f} s per route, page {len(page)} bytes")
            print(f"{'route':40s} {'req/s':>8s} {'p50 ms':>8s} {'p95 ms':>8s} {'vs ref':>7s}  statuses")
            ref_rps = None
            for name, url, headers in routes:
                r = await hammer(session, url, args.seconds, args.concurrency, headers)
                ref_rps = ref_rps or r["rps"]
                print(
                    f"{name:40s} {r['rps']:8.0f} {r['p50_ms']:8.1f} {r['p95_ms']:8.1f} "
                    f"{r['rps'] / ref_rps:7.2f}  {r['statuses']}"
                )
            await ref_runner.cleanup()
        await runner.cleanup()
        await store.close()


if __name__ == "__main__":
    asyncio.run(main())
