"""A deploy, a restart or a crash loses no one's dream (issue 17).

Each test runs the real ``dreambot run`` (:class:`tests.fakediscord.bot_process.BotProcess`:
its own process, its own store and executor workers, the defaults users get) against
the fake Discord in the test's process, and restarts it the way operators do:
SIGTERM (a deploy, ``docker compose up``), ``kill -9`` (an OOM kill, a lost host).
What users see is read from their own messages in the fake Discord.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.bot.helpers import result_done
from tests.fakediscord import FakeDiscord
from tests.fakediscord.bot_process import BotProcess

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(900)]

#: what users type: a quick dream, and one that runs long enough to be caught mid-way
SHORT = {"octaves": 1, "iterations": 2}
LONG = {"octaves": 2, "iterations": 120}
START_S = 240  # a fresh machine calibrates the model on the first start
DREAM_S = 300


def dreaming(message: Any) -> bool:
    return "Dreaming" in message.content


def waiting(message: Any) -> bool:
    return "In the queue" in message.content


def ever(handle: Any, text: str) -> bool:
    """Whether the user's message ever said ``text`` (any of its versions)."""
    msg = handle.original
    return msg is not None and any(text in v.content for v in [*msg.history, msg])


def no_live_cancel(handle: Any) -> bool:
    return not any(c.startswith("dream:cancel:") for c in handle.original.custom_ids())


async def ask(fake: FakeDiscord, user: Any, png: bytes, **options: Any) -> Any:
    return await fake.slash("dream", options, user=user, attachments={"image": (png, "cat.png", "image/png")})


async def wait_log(bot: BotProcess, text: str, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while text not in bot.log():
        assert asyncio.get_running_loop().time() < deadline, f"{text!r} not logged:\n{bot.log()[-3000:]}"
        await asyncio.sleep(0.05)


async def test_sigterm_hands_running_and_queued_dreams_to_the_next_start(tmp_path, small_png):
    """One dream running and two queued when a deploy sends SIGTERM (grace too short for
    them): the bot exits cleanly, no message is left with a live progress bar, and after
    the start every user gets the result in the same message, resumed in order."""
    async with FakeDiscord() as fake:
        w = fake.setup_world()
        data = tmp_path / "data"
        first = BotProcess(fake, data, env={"DREAMBOT_SHUTDOWN_GRACE_S": "1"})
        try:
            await first.started(START_S)
            running = await ask(fake, w.alice, small_png, **LONG)
            await running.wait_for_original(dreaming, timeout=DREAM_S)
            queued = [await ask(fake, user, small_png, **SHORT) for user in (w.bob, w.owner)]
            for h in queued:
                await h.wait_for_original(waiting, timeout=60)
            assert await first.terminate(timeout=60) == 0
        finally:
            await first.close()
        handles = [running, *queued]
        for h in handles:
            assert "restarting" in h.original.content, h.original.content
            assert no_live_cancel(h)
        second = BotProcess(fake, data, name="second")
        try:
            await second.started(START_S)
            for h in handles:
                await h.wait_for_original(result_done, timeout=DREAM_S)
                assert ever(h, "Resumed after a restart")
                assert f"<@{h.user.id}>" in h.original.content  # the result, in the user's own message
            # resumed in their original order: alice's (the running one) first
            done = [result_time(h) for h in handles]
            assert done == sorted(done), done
        finally:
            await second.close()
        assert not fake.unhandled_routes


def result_time(handle: Any) -> float:
    """When the user's message first showed the result."""
    return min(v.at for v in handle.original.history if v.attachments and "<@" in v.content)
