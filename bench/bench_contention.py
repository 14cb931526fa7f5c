"""Dreams on a shared box (issue 18 section 4), run by hand: one dream's time, by its own timer,
quiet and under four kinds of load, ratios measured in one run.

    python bench/bench_contention.py                          # before (sharing off) vs after (the defaults)
    python bench/bench_contention.py --rounds 5 --candidates before,after,passive
    ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 python bench/bench_contention.py   # an AVX2 CPU

The dream: skimage's ``chelsea`` (451x300), ``mixed3``, strength ``high``, through the
real executor with its default configuration (one CPU worker process with every core).
Each candidate is a worker environment (``OMP_WAIT_POLICY``, ``GOMP_SPINCOUNT``, ...) set
when its workers are spawned, and executor settings (``cpu_share``, ``torch_threads``); every
candidate has two
executors (two dream processes). Scenarios, interleaved candidate by candidate in
every round so that drift on the box hits all of them alike:

* ``quiet``: nothing else runs;
* ``busy core``: another process spins on one core (``while True: pass``);
* ``two dreams``: the candidate's two dream processes dream at once (each's time);
* ``gallery``: the real web gallery (a seeded store, its own process, the ``dreambot web``
  app) answers ~100 requests a second (pages and pictures) from a load process.

Targets (issue 18): busy core <= 2.3x quiet, two dreams <= 2.5x each, gallery <= 1.3x.
Prints the CPU capability the workers ran under and the load average before and after;
on a shared box, measure when the 1-minute load is low.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

#: worker environments (and executor settings); every variable named in any candidate is
#: cleared for the others
CANDIDATES: dict[str, tuple[dict[str, str], dict[str, Any]]] = {
    "before": ({}, {"cpu_share": "off"}),  # a fixed thread count, libgomp's default wait (as before)
    "after": ({}, {}),  # the defaults
    "passive": ({"OMP_WAIT_POLICY": "PASSIVE"}, {"cpu_share": "off"}),
    "share+passive": ({"OMP_WAIT_POLICY": "PASSIVE"}, {}),
    "share+active": ({"OMP_WAIT_POLICY": "ACTIVE"}, {}),
    "share+spin30k": ({"GOMP_SPINCOUNT": "30000"}, {}),
    "share+spin3k": ({"GOMP_SPINCOUNT": "3000"}, {}),
    "share+spindef": ({"GOMP_SPINCOUNT": "300000"}, {}),  # libgomp's default spin, named
    "fixed1": ({}, {"cpu_share": "off", "torch_threads": 1}),
}
ENV_KEYS = sorted(
    {k for env, _ in CANDIDATES.values() for k in env}
    | {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "DREAMBOT_CPU_SHARE"}
)
SCENARIOS = ("quiet", "busy core", "two dreams", "gallery")
TARGETS = {"busy core": 2.3, "two dreams": 2.5, "gallery": 1.3}
GUILD = 900_000_000_000_000_001
SETTLE_S = 1.0  # pause before a measured dream: longer than cpu_share's window


def chelsea_png() -> bytes:
    from PIL import Image
    from skimage import data

    buf = io.BytesIO()
    Image.fromarray(data.chelsea()).convert("RGB").save(buf, format="PNG")
    return buf.getvalue()


@contextmanager
def worker_env(env: dict[str, str]):
    """``os.environ`` as the candidate's workers must see it while they are spawned."""
    saved = {k: os.environ.get(k) for k in ENV_KEYS}
    for k in ENV_KEYS:
        os.environ.pop(k, None)
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (its threads included)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------ the loads


@contextmanager
def spinner():
    """Another process keeping one core busy."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(1.5)  # long enough for a sampler's window to see it
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


@contextmanager
def gallery(rate: float, dreams: int, tree: str | None = None):
    """The web gallery in its own process (from ``tree``, another checkout, if given), and a
    load process asking it ``rate`` requests a second."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve-gallery", str(dreams), tree or str(ROOT)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    load = None
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"gallery did not start: {url!r}")
        load = subprocess.Popen(
            [sys.executable, __file__, "--load-gallery", url, str(rate)], stdout=subprocess.PIPE, text=True, env=env
        )
        time.sleep(3.0)  # the store's caches warm, the load at its rate
        yield server, load
    finally:
        for p in (load, server):
            if p is not None:
                p.terminate()
        for p in (load, server):
            if p is not None:
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()


def serve_gallery(dreams: int, tree: str) -> None:
    """(Child process) seed a store and serve the real gallery app of the checkout ``tree``; print its URL."""
    sys.path[:0] = [tree, str(Path(tree) / "bench")]
    from aiohttp import web
    from bench_web import seed_store

    from bot.metrics import Metrics
    from bot.web import create_web_app

    async def main() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            settings, store, entries = await seed_store(Path(tmp), dreams)
            app = create_web_app(store, store.files, settings=settings, metrics=Metrics())
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            Path(tmp, "entries").write_text(" ".join(map(str, entries)))
            print(f"http://127.0.0.1:{port} {tmp}", flush=True)
            await asyncio.Event().wait()

    asyncio.run(main())


def load_gallery(url: str, rate: float) -> None:
    """(Child process) ask the gallery ``rate`` requests a second, open loop: a mix of pages
    (front, gallery pages, a dream's page) and pictures (thumbnails, results)."""
    import aiohttp

    base, tmp = url.split()
    entries = [int(e) for e in Path(tmp, "entries").read_text().split()]
    rnd = random.Random(1)

    def next_url() -> str:
        r = rnd.random()
        e = rnd.choice(entries)
        if r < 0.1:
            return f"{base}/"
        if r < 0.25:
            return f"{base}/g/{GUILD}?page={rnd.randint(1, 5)}"
        if r < 0.4:
            return f"{base}/d/{e}"
        return f"{base}/img/{e}/thumb"

    async def main() -> None:
        done = 0
        async with aiohttp.ClientSession() as session:

            async def one(u: str) -> None:
                nonlocal done
                async with session.get(u) as resp:
                    await resp.read()
                done += 1

            t0 = time.perf_counter()
            n = 0
            tasks: set[asyncio.Task[None]] = set()
            while True:
                n += 1
                t = asyncio.ensure_future(one(next_url()))
                tasks.add(t)
                t.add_done_callback(tasks.discard)
                delay = t0 + n / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)

    asyncio.run(main())


# ------------------------------------------------------------------ the dreams


class Candidate:
    def __init__(self, name: str) -> None:
        self.name = name
        self.env, self.config = CANDIDATES[name]
        self.executors: list[Any] = []
        self.times: dict[str, list[float]] = {s: [] for s in SCENARIOS}
        self.cpu: dict[str, list[float]] = {s: [] for s in SCENARIOS}  # the worker's CPU seconds per dream
        self.last_cpu = 0.0

    async def start(self, stack: AsyncExitStack) -> None:
        from dream_core.executor import ExecutorConfig, create_executor

        with worker_env(self.env):
            for _ in range(2):  # two dream processes, each as a default bot's executor
                ex = create_executor(ExecutorConfig(**self.config))
                await stack.enter_async_context(ex)
                self.executors.append(ex)

    async def dream(self, image: bytes, params: Any, which: int = 0) -> float:
        pid = self.executors[which].status().workers[0].pid
        c0 = cpu_seconds(pid)
        job = await self.executors[which].submit(image, params, user_id=1 + which)
        seconds = float((await job.result()).seconds)
        self.last_cpu = cpu_seconds(pid) - c0
        return seconds

    async def record(self, scenario: str, image: bytes, params: Any) -> None:
        await asyncio.sleep(SETTLE_S)  # the last candidate's dream is not this one's load
        self.times[scenario].append(await self.dream(image, params))
        self.cpu[scenario].append(self.last_cpu)


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


async def run(args: argparse.Namespace) -> None:
    from dream_core.params import DreamParams

    names = [n.strip() for n in args.candidates.split(",") if n.strip()]
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        raise SystemExit(f"unknown candidates {unknown}; known: {', '.join(CANDIDATES)}")
    scenarios = [s for s in SCENARIOS if s in args.scenarios.split(",")] if args.scenarios else list(SCENARIOS)
    image = chelsea_png()
    params = DreamParams(layer="mixed3", strength="high", seed=1)
    cands = [Candidate(n) for n in names]
    isa = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.backends.cpu.get_cpu_capability(), torch.get_num_threads())"],
        capture_output=True,
        text=True,
    ).stdout.split()
    print(f"CPU capability {isa[0]} ({os.environ.get('ATEN_CPU_CAPABILITY', 'native')}), "
          f"oneDNN ISA cap {os.environ.get('ONEDNN_MAX_CPU_ISA', 'none')}, torch threads {isa[1]}, "
          f"cores {len(os.sched_getaffinity(0))}; load {os.getloadavg()[0]:.2f} at start")  # fmt: skip
    print("dream: chelsea 451x300, mixed3, high; by the dream's own timer; candidates: "
          + "; ".join(f"{c.name} {c.env or '(defaults)'}{c.config or ''}" for c in cands))  # fmt: skip
    t_all = time.perf_counter()
    async with AsyncExitStack() as stack:
        for c in cands:
            await c.start(stack)
        for c in cands:  # warm-up: the first dream of every process
            for i in range(2):
                await c.dream(image, params, i)
        print(f"workers ready and warm in {time.perf_counter() - t_all:.0f} s; load {os.getloadavg()[0]:.2f}")
        for r in range(args.rounds):
            order = cands if r % 2 == 0 else cands[::-1]
            for scenario in scenarios:
                if scenario == "quiet":
                    for c in order:
                        await c.record("quiet", image, params)
                elif scenario == "busy core":
                    with spinner():
                        for c in order:
                            await c.record("busy core", image, params)
                elif scenario == "two dreams":
                    for c in order:
                        await asyncio.sleep(SETTLE_S)
                        a, b = await asyncio.gather(c.dream(image, params, 0), c.dream(image, params, 1))
                        c.times["two dreams"] += [a, b]
                elif scenario == "gallery":
                    with gallery(args.rate, args.dreams, args.gallery_tree) as (server, load):
                        s0, l0, w0 = cpu_seconds(server.pid), cpu_seconds(load.pid), time.perf_counter()
                        for c in order:
                            await c.record("gallery", image, params)
                        w = time.perf_counter() - w0
                        print(f"  round {r + 1} gallery: server {(cpu_seconds(server.pid) - s0) / w:.2f} cores, "
                              f"load process {(cpu_seconds(load.pid) - l0) / w:.2f} cores")  # fmt: skip
            line = ", ".join(
                f"{c.name} " + "/".join(f"{c.times[s][-1]:.2f}" for s in scenarios if c.times[s]) for c in cands
            )
            print(f"  round {r + 1} ({'/'.join(scenarios)} s): {line}; load {os.getloadavg()[0]:.2f}")

    print(f"\nmedians of {args.rounds} rounds (two dreams: both processes' times), seconds and x own quiet")
    print(f"{'candidate':16s} " + " ".join(f"{s:>18s}" for s in scenarios))
    ref_quiet = median(cands[0].times["quiet"]) if "quiet" in scenarios else float("nan")
    for c in cands:
        q = median(c.times["quiet"])
        cells = []
        for s in scenarios:
            m = median(c.times[s])
            cells.append(f"{m:6.2f} s" + (f" ({m / q:4.2f}x)" if s != "quiet" else f" ({m / ref_quiet:4.2f}x)"))
        print(f"{c.name:16s} " + " ".join(f"{cell:>18s}" for cell in cells))
        cpu = [f"{median(c.cpu[s]):6.2f} CPU s" if c.cpu[s] else "" for s in scenarios]
        print(f"{'':16s} " + " ".join(f"{cell:>18s}" for cell in cpu))
    print("(quiet column: x the first candidate's quiet; targets: "
          + ", ".join(f"{s} <= {t}x" for s, t in TARGETS.items()) + ")")  # fmt: skip
    print(f"{time.perf_counter() - t_all:.0f} s in all; load {os.getloadavg()[0]:.2f} at the end")


def main() -> None:
    if len(sys.argv) > 3 and sys.argv[1] == "--serve-gallery":
        return serve_gallery(int(sys.argv[2]), sys.argv[3])
    if len(sys.argv) > 3 and sys.argv[1] == "--load-gallery":
        return load_gallery(sys.argv[2], float(sys.argv[3]))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--candidates", default="before,after", help=f"from: {', '.join(CANDIDATES)}")
    ap.add_argument("--scenarios", default="", help=f"default all: {','.join(SCENARIOS)}")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rate", type=float, default=100.0, help="gallery requests per second")
    ap.add_argument("--dreams", type=int, default=300, help="dreams in the gallery's store")
    ap.add_argument("--gallery-tree", help="serve the gallery of this checkout (e.g. another branch's "
                    "'git archive' export) instead of this one's")  # fmt: skip
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="dreambot-contention-")
    # one tuning for every candidate (measured by the first worker, read by the others)
    os.environ.setdefault("DREAMBOT_AUTOTUNE_CACHE", os.path.join(tmp, "autotune.json"))
    os.environ.setdefault("DREAMBOT_LOG_LEVEL", "WARNING")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
