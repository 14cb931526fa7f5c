"""Executor overhead and throughput, measured against dream_core in-process in the same run.

1. Overhead: the same job (default: a 512 px photo, strength "medium") run
   in-process (decode + ``dream`` + encode) and through the executor (submit ->
   result bytes), alternately, after one warm-up each (models load once).
   Target: executor wall time under +5 % of in-process.
2. Throughput: N jobs queued at once by U users (round-robin submission), on
   the executor; reported as jobs/min and against the in-process time of the
   same jobs run back to back. Also prints the order users were served in.

Run by hand::

    python bench/bench_executor.py                 # the standard settings
    python bench/bench_executor.py --size 256 --runs 2 --jobs 12   # a busy machine
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import time


def photo_bytes(size: int) -> bytes:
    from PIL import Image
    from skimage import data

    img = Image.fromarray(data.chelsea()).convert("RGB")
    img = img.resize((size, int(size * img.height / img.width)))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=92)
    return buf.getvalue()


def in_process(image_bytes: bytes, params, device: str) -> float:
    from dream_core.engine import dream
    from dream_core.images import load_image

    t0 = time.perf_counter()
    loaded = load_image(image_bytes, max_size=params.max_size)
    result = dream(loaded.image, params, device=device)
    result.encode()
    return time.perf_counter() - t0


async def through_executor(executor, image_bytes: bytes, params, user_id: int = 1) -> tuple[float, float]:
    """(wall seconds from submit to result bytes, seconds the worker itself spent on the job)."""
    t0 = time.perf_counter()
    job = await executor.submit(image_bytes, params, user_id=user_id)
    result = await job.result()
    return time.perf_counter() - t0, result.worker_s


async def main(args: argparse.Namespace) -> None:
    import torch

    from dream_core.executor import ExecutorConfig, create_executor
    from dream_core.models import get_model
    from dream_core.params import DreamParams

    torch.set_num_threads(args.threads)
    device = args.device
    params = DreamParams(strength=args.strength, seed=1, max_size=args.size)
    image = photo_bytes(args.size)
    config = ExecutorConfig(
        backend=args.backend,
        devices=(device,),
        torch_threads=args.threads,
        max_queue=max(100, args.jobs),
        max_queued_per_user=args.jobs,
        max_queued_per_guild=args.jobs,
        max_size=max(1024, args.size),
        ray_num_cpus=args.threads,
        ray_cpus_per_actor=args.threads,
    )
    print(f"backend={args.backend} device={device} threads={args.threads} "
          f"job: {args.size} px, strength={args.strength}")

    t0 = time.perf_counter()
    get_model(params.model, device)
    print(f"in-process model load: {time.perf_counter() - t0:.2f} s")
    async with create_executor(config) as executor:
        print(f"executor start (workers ready, model warm): {time.perf_counter() - t0:.2f} s")
        # --- 1. overhead -------------------------------------------------------------
        in_process(image, params, device)  # warm-up
        await through_executor(executor, image, params)
        local_t, exec_t, ipc_t = [], [], []
        for _ in range(args.runs):  # alternate, so load changes hit both sides alike
            local_t.append(in_process(image, params, device))
            wall, worker = await through_executor(executor, image, params)
            exec_t.append(wall)
            ipc_t.append(wall - worker)
        lm, em, im = statistics.median(local_t), statistics.median(exec_t), statistics.median(ipc_t)
        print(f"\n== overhead per job (median of {args.runs}, after warm-up) ==")
        print(f"in-process : {lm:7.3f} s   runs: {', '.join(f'{t:.3f}' for t in local_t)}")
        print(f"executor   : {em:7.3f} s   runs: {', '.join(f'{t:.3f}' for t in exec_t)}")
        print(f"overhead   : {em - lm:+7.3f} s = {100 * (em - lm) / lm:+.1f} % of in-process wall   (target < +5 %)")
        print(
            f"dispatch+IPC (executor wall - worker's own time): {1000 * im:.1f} ms = {100 * im / lm:.2f} % "
            f"of in-process   runs: {', '.join(f'{1000 * t:.1f}' for t in ipc_t)} ms"
        )

        # --- 2. throughput ------------------------------------------------------------
        n_workers = len(executor.status().workers)
        tparams = DreamParams(strength=args.tstrength, seed=2, max_size=args.tsize)
        timage = photo_bytes(args.tsize)
        ref = in_process(timage, tparams, device)
        t1 = time.perf_counter()
        jobs = []
        for i in range(args.jobs):
            jobs.append(await executor.submit(timage, tparams, user_id=1 + i % args.users))
        results = await asyncio.gather(*(j.result() for j in jobs))
        wall = time.perf_counter() - t1
        busy = sum(r.worker_s for r in results)
        order = [j.user_id for j in sorted(jobs, key=lambda j: j.started_at or 0)]
        print(f"\n== throughput: {args.jobs} jobs from {args.users} users ({args.tsize} px, {args.tstrength}) ==")
        print(f"wall       : {wall:.2f} s  = {60 * args.jobs / wall:.1f} jobs/min")
        print(f"in-process : {ref:.3f} s/job -> {args.jobs * ref:.2f} s back to back")
        print(f"ratio      : {wall / (args.jobs * ref):.3f} x in-process back-to-back time")
        idle_ms = 1000 * (wall - busy / n_workers) / args.jobs
        print(f"workers    : busy {busy:.2f} s in all; idle between jobs {idle_ms:.1f} ms/job")
        print(f"start order by user: {order}")
        print(f"status     : {executor.status()}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", default="local", choices=["local", "ray"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2, help="torch threads, in-process and per worker")
    ap.add_argument("--size", type=int, default=512, help="long side of the overhead job")
    ap.add_argument("--strength", default="medium")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=20)
    ap.add_argument("--users", type=int, default=4)
    ap.add_argument("--tsize", type=int, default=160, help="long side of the throughput jobs")
    ap.add_argument("--tstrength", default="low")
    asyncio.run(main(ap.parse_args()))
