"""A worker lost mid-dream, through the real bot, executor and fake Discord.

The poison is simulated at the edge: the test SIGKILLs the real worker process
each time it starts one user's dream (a picture that crashes the worker would do
the same). The dream runs again once and the user is told so; the second loss
ends it with one line; other users' dreams are served meanwhile and after.
"""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from dream_core.executor import JobState, Started
from tests.bot.helpers import dream, result_done
from tests.executor.helpers import wait_until

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def kill_its_worker_at_each_start(executor, user_id: int, stop: asyncio.Event) -> int:
    """SIGKILL the worker running ``user_id``'s dream each time that dream starts; the number of kills."""
    kills: dict[object, int] = {}
    while not stop.is_set():
        for job, slot in list(executor._running.items()):
            starts = sum(isinstance(e, Started) for e in job.history)
            if job.user_id == user_id and job.state is JobState.RUNNING and kills.get(job, 0) < starts and slot.pid:
                os.kill(slot.pid, signal.SIGKILL)
                kills[job] = kills.get(job, 0) + 1
        await asyncio.sleep(0.02)
    return sum(kills.values())


async def test_a_poison_dream_is_retried_once_then_fails_with_one_line_and_others_are_served(bot_env, small_png):
    env = bot_env
    fake, w = env.fake, env.world
    stop = asyncio.Event()
    killer = asyncio.create_task(kill_its_worker_at_each_start(env.executor, w.alice.id, stop))
    try:
        poison = await dream(env, small_png, user=w.alice, iterations=30)
        other = await dream(env, small_png, user=w.bob)
        told = await poison.wait_for_original(
            lambda m: any("was lost" in v.content for v in m.history), timeout=120
        )
        await poison.wait_for(lambda h: any(m.ephemeral for m in h.messages), timeout=180)
        assert (await other.wait_for_original(result_done, timeout=180)).attachments
    finally:
        stop.set()
        kills = await killer
    assert kills == 2  # its first run and its retry; there was no third
    lost = next(v.content for v in told.history if "was lost" in v.content)
    assert lost.startswith("⏳ The worker running this dream was lost (its process was killed by SIGKILL")
    assert "it starts again, first in line, as soon as a worker is back" in lost  # one worker: it was restarting
    line = [m for m in poison.messages if m.ephemeral][-1].text
    assert "lost twice" in line and "not tried again" in line and "\n" not in line, line

    await wait_until(lambda: env.executor.status().workers_alive == 1, 120)
    after = await dream(env, small_png, user=w.alice)  # the bot goes on serving, the same user too
    await after.wait_for_original(result_done, timeout=120)
    assert not fake.bot_errors
