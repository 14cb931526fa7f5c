"""A deploy, a restart or a crash loses no one's dream (issue 17).

Each test runs the real ``dreambot run`` (:class:`tests.fakediscord.bot_process.BotProcess`:
its own process, its own store and executor workers, the defaults users get) against
the fake Discord in the test's process, and restarts it the way operators do:
SIGTERM (a deploy, ``docker compose up``), ``kill -9`` (an OOM kill, a lost host).
What users see is read from their own messages in the fake Discord.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import pytest

from tests.bot.helpers import result_done
from tests.fakediscord import FakeDiscord
from tests.fakediscord.bot_process import BotProcess

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(900)]

#: what users type: a quick dream, and one that runs long enough to be caught mid-way
SHORT = {"octaves": 1, "iterations": 2}
MEDIUM = {"octaves": 1, "iterations": 300}  # ~4 s on 2 quiet cores
LONG = {"octaves": 2, "iterations": 150}  # 2-10 s on 2 quiet cores (AMX-AVX2): caught mid-way by a signal
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
        first = BotProcess(fake, data, env={"DREAMBOT_SHUTDOWN_GRACE_S": "0"})
        try:
            await first.started(START_S)
            # LONG took 2.3 s on an AMX CPU, about the time the first progress edit and the two
            # other asks take: a longer one here, and the signal with no grace
            running = await ask(fake, w.alice, small_png, **{**LONG, "iterations": 350})
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


async def test_kill_9_mid_dream_and_a_dream_the_bot_died_under_twice(tmp_path, small_png):
    """``kill -9`` (an OOM kill, a lost host) with a dream running and one queued: no
    clean-up runs, yet the next start resumes both in their users' messages. A poison dream
    (it takes the whole process down again) is not tried a third time: the next start fails
    it with one line instead of crash-looping, and serves the dream behind it and new ones."""
    async with FakeDiscord() as fake:
        w = fake.setup_world()
        data = tmp_path / "data"
        poison = behind = None
        for attempt in range(2):
            bot = BotProcess(fake, data, name=f"try{attempt}")
            try:
                await bot.started(START_S)
                if poison is None:
                    poison = await ask(fake, w.alice, small_png, **LONG)
                    await poison.wait_for_original(dreaming, timeout=DREAM_S)  # admitted first
                    behind = await ask(fake, w.bob, small_png, **SHORT)
                    await behind.wait_for_original(waiting, timeout=60)
                else:  # resumed in the user's own message, in the original order
                    await poison.wait_for_original(lambda m: "Resumed" in m.content and dreaming(m), timeout=DREAM_S)
                    await behind.wait_for_original(lambda m: "Resumed after a restart" in m.content, timeout=60)
                    assert not result_done(behind.original)
                await poison.wait_for_original(dreaming, timeout=DREAM_S)
                await bot.kill()  # the "poison" kills the process while it runs
            finally:
                await bot.close()
        last = BotProcess(fake, data, name="last")
        try:
            await last.started(START_S)
            await fake.wait_for(lambda: poison.followups, timeout=60, what="the one line")
            line = poison.followups[-1]
            assert line.ephemeral and "won't try it a third time" in line.content
            assert poison.original.deleted  # no progress bar left behind
            await behind.wait_for_original(result_done, timeout=DREAM_S)
            assert no_live_cancel(behind) and f"<@{w.bob.id}>" in behind.original.content
            fresh = await ask(fake, w.alice, small_png, **SHORT)
            await fresh.wait_for_original(result_done, timeout=DREAM_S)
            assert last.returncode is None  # still serving
        finally:
            await last.close()


async def test_a_dream_asked_for_while_draining_is_done_after_the_restart(tmp_path, small_png):
    """A running dream finishes inside the grace period and is posted before the process
    exits; a /dream during the drain gets the one line, and is dreamed after the start.
    (The grace period is raised from 25 s so that a loaded test machine can't turn the
    finish into a hand-over; the hand-over has its own test above.)"""
    async with FakeDiscord() as fake:
        w = fake.setup_world()
        data = tmp_path / "data"
        first = BotProcess(fake, data, env={"DREAMBOT_SHUTDOWN_GRACE_S": "180"})
        try:
            await first.started(START_S)
            running = await ask(fake, w.alice, small_png, **MEDIUM)
            await running.wait_for_original(lambda m: waiting(m) or dreaming(m), timeout=DREAM_S)  # submitted
            first.signal(signal.SIGTERM)
            await wait_log(first, "draining")
            late = await ask(fake, w.bob, small_png, **SHORT)
            await late.wait_for_original(lambda m: "restarting" in m.content, timeout=30)
            assert "your dream is queued and will start in a moment" in late.original.content
            assert await first.wait(200) == 0
            assert result_done(running.original)  # finished inside the grace period, and posted
        finally:
            await first.close()
        second = BotProcess(fake, data, name="second")
        try:
            await second.started(START_S)
            await late.wait_for_original(result_done, timeout=DREAM_S)
        finally:
            await second.close()


async def test_a_result_finished_during_a_discord_outage_reaches_the_user_after(tmp_path, small_png):
    """Discord's API answers 503 for 35 s around the end of a dream: the result is kept and
    posted into the user's message once Discord is back. (discord.py itself retries a 5xx
    for ~25 s, 1+3+5+7+9 s, before the bot sees the error: the outage must outlast that.)"""
    async with FakeDiscord() as fake:
        w = fake.setup_world()
        bot = BotProcess(fake, tmp_path / "data")
        try:
            await bot.started(START_S)
            h = await ask(fake, w.alice, small_png, **SHORT)
            fake.outage(35)
            await wait_log(bot, "could not post its result", timeout=DREAM_S)
            await h.wait_for_original(result_done, timeout=DREAM_S)
            assert f"<@{w.alice.id}>" in h.original.content
        finally:
            await bot.close()


async def test_a_dream_resumed_after_its_token_expired_is_posted_to_the_channel(tmp_path, small_png):
    """The bot was down longer than Discord honours the interaction (15 minutes): the
    resumed dream's result goes to the channel as a message that mentions its user, and
    no progress bar is left behind."""
    async with FakeDiscord() as fake:
        w = fake.setup_world()
        data = tmp_path / "data"
        first = BotProcess(fake, data)
        try:
            await first.started(START_S)
            h = await ask(fake, w.alice, small_png, **LONG)
            await h.wait_for_original(dreaming, timeout=DREAM_S)
            await first.kill()
        finally:
            await first.close()
        fake.expire(h)  # the restart took more than 15 minutes
        second = BotProcess(fake, data, name="second")
        try:
            await second.started(START_S)
            posted = await fake.wait_for(
                lambda: [m for m in fake.bot_messages(w.general) if result_done(m) and m is not h.original],
                timeout=DREAM_S, what="the result in the channel",
            )
            assert f"<@{w.alice.id}>" in posted[-1].content and posted[-1].webhook_id is None
            assert h.original.deleted or no_live_cancel(h)
        finally:
            await second.close()
