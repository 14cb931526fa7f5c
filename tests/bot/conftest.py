"""Bot fixtures: ONE fake Discord, store, executor and running bot for all of tests/bot.

The real discord.py client (``bot.app.DreamBot``) talks to the fake Discord
server of ``tests.fakediscord`` over HTTP and a websocket; dreams run on the
real local executor (one CPU worker, the bundled model) and are recorded in a
real SQLite file upgraded through the real Alembic migrations (or, with
``DREAMBOT_TEST_DATABASE_URL`` set, in that database, emptied first, as the store
tests do). Dreams are made cheap through ``settings.default_params`` (one octave,
two iterations, 96 px), atlas sheets through ``settings.atlas_size`` and ``atlas_steps`` (32 px a filter, 8 steps).
Package scope: the worker process and the bot are gone before other areas' tests run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest_asyncio

from tests.fakediscord import FakeDiscord, World

CHEAP = {"octaves": 1, "iterations": 2, "max_size": 96, "noise_size": 64, "tile_size": 128}
#: pixels per filter and steps of the tests' /atlas renders (the defaults, 128 px and the renderer's
#: steps, are checked in tests/bot/test_atlas_parts.py)
ATLAS_SIZE = 32
ATLAS_STEPS = 8


@dataclass
class BotEnv:
    fake: FakeDiscord
    world: World
    bot: Any
    store: Any
    executor: Any
    settings: Any
    stack: contextlib.AsyncExitStack

    async def start_bot(self, settings: Any = None) -> Any:
        """Build a fresh bot on the session's store and executor and connect it."""
        from bot.metrics import Metrics
        from bot.runner import build_bot

        bot = await build_bot(
            settings or self.settings, store=self.store, executor=self.executor, metrics=Metrics(), resume=True
        )
        self.bot = await self.stack.enter_async_context(self.fake.run_bot(bot, timeout=60))
        return self.bot

    async def restart(self, settings: Any = None) -> Any:
        """Close the running bot (as a clean process exit would: unfinished dreams are
        handed over) and start a new one, which resumes them."""
        await self.bot.close()
        return await self.start_bot(settings)


def make_settings(data_dir, **overrides: Any):
    from bot.settings import Settings

    values: dict[str, Any] = dict(
        data_dir=data_dir,
        database_url=None,
        default_params=CHEAP,
        atlas_size=ATLAS_SIZE,
        atlas_steps=ATLAS_STEPS,
        user_cooldown_s=0,
        guild_concurrent_jobs=3,
        max_queued_per_user=3,
        progress_edit_interval_s=0.2,
        executor_backend="local",
        executor_devices="cpu",
        test_guild_id=None,
        web_enabled=False,
        metrics_port=0,  # no metrics listener on a fixed port in tests
        message_content_intent=True,
    )
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def bot_env(tmp_path_factory) -> AsyncIterator[BotEnv]:
    from bot.executor_config import executor_config
    from bot.store import Store
    from dream_core.executor import create_executor

    other_database = os.environ.get("DREAMBOT_TEST_DATABASE_URL")
    if other_database:
        from bot.store.migrate import downgrade

        downgrade(other_database, "base")
    settings = make_settings(tmp_path_factory.mktemp("botdata"), database_url=other_database or None)
    store = await Store.open(settings)  # upgrades the fresh SQLite file through the migrations
    await store.claim_unfinished()
    executor = create_executor(executor_config(settings, torch_threads=1))
    await executor.start()
    try:
        async with FakeDiscord() as fake, contextlib.AsyncExitStack() as stack:
            world = fake.setup_world()
            env = BotEnv(fake, world, None, store, executor, settings, stack)
            await env.start_bot()
            yield env
    finally:
        await executor.close()
        await store.close()
