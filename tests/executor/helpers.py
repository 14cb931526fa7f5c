"""Helpers shared by the executor tests."""

from __future__ import annotations

import asyncio

from dream_core.executor import ExecutorConfig, JobProgress, is_terminal


def make_config(backend: str, **overrides) -> ExecutorConfig:
    base = dict(
        backend=backend,
        devices=("cpu",),
        torch_threads=1,
        max_queue=8,
        max_queued_per_user=6,
        max_queued_per_guild=7,
        job_timeout_s=120.0,
        cancel_grace_s=8.0,
        progress_every_s=0.0,
        ray_num_cpus=2,
        worker_start_timeout_s=180.0,
    )
    base.update(overrides)
    return ExecutorConfig(**base)


# Small, quick dreams; a "long" one runs for many seconds unless stopped.
QUICK = {"octaves": 1, "iterations": 2, "jitter": 8}
LONG = {"octaves": 1, "iterations": 500, "jitter": 8}
MEDIUM = {"octaves": 1, "iterations": 40, "jitter": 8}  # a few seconds: long enough to be killed mid-dream


async def wait_until(predicate, timeout: float = 30.0, every: float = 0.05) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(every)


async def wait_running(job, timeout: float = 60.0) -> None:
    """Until the job reported its first dream step (the worker is inside the dream)."""
    async def first_progress() -> None:
        async for ev in job.events():
            if isinstance(ev, JobProgress):
                return
            assert not is_terminal(ev), ev

    await asyncio.wait_for(first_progress(), timeout)
