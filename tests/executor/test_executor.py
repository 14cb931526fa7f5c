"""Behaviour of the executor, shared by both backends (real workers, real model)."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import time

import pytest
from PIL import Image

from dream_core.executor import (
    Cancelled,
    Done,
    Failed,
    JobCancelled,
    JobFailed,
    JobProgress,
    Queued,
    Started,
    SubmitRefused,
    Waiting,
)
from tests.executor.helpers import LONG, MEDIUM, QUICK, wait_running, wait_until

pytestmark = pytest.mark.asyncio(loop_scope="session")


def worker_pid(executor, job) -> int:
    for w in executor.status().workers:
        if w.job_id == job.id:
            assert w.pid
            return w.pid
    raise AssertionError(f"{job.id} is not running on any worker")


async def test_events_arrive_in_order_and_result_decodes(executor, small_png):
    job = await executor.submit(small_png, {**QUICK, "iterations": 3}, user_id=1, guild_id=10)
    events = [ev async for ev in job.events()]

    assert isinstance(events[0], Queued) and events[0].position == 1
    assert isinstance(events[1], Started)
    progress = [ev for ev in events if isinstance(ev, JobProgress)]
    assert progress, events
    assert [p.fraction for p in progress] == sorted(p.fraction for p in progress)
    assert progress[-1].fraction == pytest.approx(1.0) and progress[-1].eta_s == pytest.approx(0.0, abs=0.5)
    previews = [p.preview for p in progress if p.preview]
    assert previews, "the octave's end carries a preview"
    assert Image.open(io.BytesIO(previews[0])).format == "PNG"
    assert isinstance(events[-1], Done) and len(events) == 2 + len(progress) + 1

    result = await job.result()
    img = Image.open(io.BytesIO(result.data))
    assert img.format == "PNG" and img.size == (result.width, result.height)
    assert max(img.size) == 96
    assert result.format == "png" and not result.is_animation
    assert result.seed == job.params.seed and result.params.iterations == 3
    assert result.model == "efficientnet-lite0" and result.seconds > 0
    assert job.done and executor.status().running_jobs == 0


async def test_dream_from_noise(executor):
    job = await executor.submit(None, {**QUICK, "noise_size": 64}, user_id=1)
    result = await job.result()
    assert (result.width, result.height) == (64, 64)
    assert any("noise" in n for n in result.notes)


async def test_bad_input_and_params_fail_with_one_line_reason(executor, small_png):
    bad_image = await executor.submit(b"definitely not a picture", QUICK, user_id=2)
    unknown_layer = await executor.submit(small_png, {**QUICK, "layer": "mixed99"}, user_id=2)
    out_of_range = await executor.submit(small_png, {**QUICK, "octaves": 99}, user_id=2)

    ev = await bad_image.wait()
    assert isinstance(ev, Failed) and ev.kind == "input" and "not an image" in ev.reason
    ev = await unknown_layer.wait()
    assert isinstance(ev, Failed) and ev.kind == "params"
    assert "mixed99" in ev.reason and "valid:" in ev.reason and "\n" not in ev.reason
    ev = await out_of_range.wait()
    assert isinstance(ev, Failed) and ev.kind == "params" and ev.reason.startswith("octaves:")
    with pytest.raises(JobFailed, match="not an image"):
        await bad_image.result()


async def test_fair_between_users(executor, small_png):
    alice, bob = 101, 102
    a_jobs = [await executor.submit(small_png, QUICK, user_id=alice, guild_id=10) for _ in range(5)]
    b_job = await executor.submit(small_png, QUICK, user_id=bob, guild_id=10)
    assert b_job.position == 1  # right after Alice's running job
    await asyncio.gather(*(j.result() for j in [*a_jobs, b_job]))

    started = sorted([*a_jobs, b_job], key=lambda j: j.started_at)
    assert started[0] is a_jobs[0] and started[1] is b_job
    assert started[2:] == a_jobs[1:]  # Alice's own jobs keep their order
    # Alice's last job: 4th in line, 5th once Bob's job went ahead, then moving up to 1.
    positions = [ev.position for ev in a_jobs[4].history if isinstance(ev, Queued)]
    assert positions == [4, 5, 4, 3, 2, 1]


async def test_caps_refuse_at_once_with_clear_reasons(executor, small_png):
    blocker = await executor.submit(small_png, LONG, user_id=200)
    await wait_running(blocker)
    waiting = [await executor.submit(small_png, QUICK, user_id=201, guild_id=50) for _ in range(6)]
    with pytest.raises(SubmitRefused) as refused:
        await executor.submit(small_png, QUICK, user_id=201, guild_id=50)
    assert refused.value.code == "user_limit" and "6 dreams waiting" in refused.value.reason

    waiting.append(await executor.submit(small_png, QUICK, user_id=202, guild_id=50))
    with pytest.raises(SubmitRefused) as refused:
        await executor.submit(small_png, QUICK, user_id=203, guild_id=50)
    assert refused.value.code == "guild_limit" and "server" in refused.value.reason

    waiting.append(await executor.submit(small_png, QUICK, user_id=203, guild_id=None))
    with pytest.raises(SubmitRefused) as refused:
        await executor.submit(small_png, QUICK, user_id=204, guild_id=51)
    assert refused.value.code == "queue_full" and "queue is full" in refused.value.reason

    status = executor.status()
    assert status.queue_depth == 8 and status.running_jobs == 1
    assert status.per_user[201] == 6 and status.per_user[200] == 1 and status.per_guild[50] == 7

    for job in waiting:
        assert await job.cancel()
    assert await blocker.cancel()
    assert executor.status().queue_depth == 0


async def test_cancel_queued_and_running(executor, small_png):
    restarts = executor.status().worker_restarts
    running = await executor.submit(small_png, LONG, user_id=300)
    queued = await executor.submit(small_png, QUICK, user_id=301)
    await wait_running(running)
    pid = worker_pid(executor, running)

    assert await queued.cancel()
    assert [type(ev) for ev in queued.history] == [Queued, Cancelled]
    with pytest.raises(JobCancelled):
        await queued.result()

    t0 = time.monotonic()
    assert await running.cancel()
    assert time.monotonic() - t0 < 5.0  # stopped at the next dream step, not killed
    assert isinstance(running.history[-1], Cancelled)
    status = executor.status()
    assert status.worker_restarts == restarts and pid in {w.pid for w in status.workers}
    assert not await running.cancel()  # already over

    after = await executor.submit(small_png, QUICK, user_id=300)
    assert isinstance(await after.wait(), Done)


async def test_job_over_its_time_limit_fails(executor, small_png):
    job = await executor.submit(small_png, LONG, user_id=400, timeout_s=1.5)
    ev = await asyncio.wait_for(job.wait(), 60)
    assert isinstance(ev, Failed) and ev.kind == "timeout"
    assert "1.5 s time limit" in ev.reason
    assert job.finished_at - job.started_at < 10


async def kill_its_worker_each_time_it_runs(executor, job, times: int) -> int:
    """The poison: SIGKILL the worker (process or actor) running ``job`` at its first dream step, ``times`` times."""
    killed, armed = 0, False
    async for ev in job.events():
        if isinstance(ev, Started):
            armed = True
        elif isinstance(ev, JobProgress) and armed and killed < times:
            os.kill(worker_pid(executor, job), signal.SIGKILL)
            killed, armed = killed + 1, False
    return killed


async def test_a_worker_lost_mid_dream_is_retried_once_first_in_line(executor, small_png):
    before = executor.status()
    victim = await executor.submit(small_png, MEDIUM, user_id=500)
    queued = await executor.submit(small_png, QUICK, user_id=501)
    killer = asyncio.create_task(kill_its_worker_each_time_it_runs(executor, victim, 1))

    ev = await asyncio.wait_for(victim.wait(), 180)
    assert await killer == 1
    assert isinstance(ev, Done), ev
    kinds = [type(e) for e in victim.history]
    assert kinds.count(Started) == 2 and kinds.count(Waiting) == 1
    (told,) = [e for e in victim.history if isinstance(e, Waiting)]
    assert told.retry and told.reason.startswith("The worker running this dream was lost (") and "\n" not in told.reason
    assert kinds.index(Waiting) < len(kinds) - kinds[::-1].index(Started) - 1  # told before it started again

    assert isinstance(await asyncio.wait_for(queued.wait(), 120), Done)  # queued work goes on
    assert queued.started_at > victim.started_at  # the retried dream went first
    status = executor.status()
    assert status.worker_restarts == before.worker_restarts + 1 and status.jobs_retried == before.jobs_retried + 1
    await wait_until(lambda: executor.status().workers_alive == len(status.workers), 120)


async def test_a_poison_job_is_retried_once_then_fails_with_one_line_and_others_go_on(executor, small_png):
    poison = await executor.submit(small_png, MEDIUM, user_id=510)
    other = await executor.submit(small_png, QUICK, user_id=511)
    killer = asyncio.create_task(kill_its_worker_each_time_it_runs(executor, poison, 5))

    ev = await asyncio.wait_for(poison.wait(), 180)
    assert await killer == 2  # killed on its first run and on its retry; never started a third time
    assert isinstance(ev, Failed) and ev.kind == "worker_died", ev
    assert ev.reason.startswith("The dream worker was lost twice while working on this dream (")
    assert "not tried again" in ev.reason and "\n" not in ev.reason
    assert [type(e) for e in poison.history].count(Started) == 2

    assert isinstance(await asyncio.wait_for(other.wait(), 120), Done)
    after = await executor.submit(small_png, QUICK, user_id=510)
    assert isinstance(await asyncio.wait_for(after.wait(), 120), Done)
    await wait_until(lambda: executor.status().running_jobs == 0)
