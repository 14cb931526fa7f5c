"""``dreambot run``: the bot, its executor, its store and (optionally) the web gallery.

:func:`run_bot` is the blocking entry point. :func:`build_bot` assembles a
ready-to-start bot whose lifecycle hooks start the executor (and the web
gallery) in ``setup_hook`` — i.e. only after Discord accepted the token — and
stop everything on close. Problems a server admin can fix end as one
:class:`BotStartError` line (missing or wrong token, intents not enabled).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Optional

import aiohttp
import discord

from bot.app import AnyDreamBot, create_bot
from bot.settings import Settings
from dream_core.errors import DreamError

log = logging.getLogger(__name__)


class BotStartError(DreamError, RuntimeError):
    """The bot cannot start; ``str(exc)`` says what to fix, in one line."""


MISSING_TOKEN = (
    "DISCORD_TOKEN is not set: put your bot's token (Discord Developer Portal -> your app -> Bot -> Reset Token) "
    "in the DISCORD_TOKEN environment variable or in .env"
)
WRONG_TOKEN = (
    "Discord rejected the token in DISCORD_TOKEN (wrong, or reset since): copy a fresh one from the "
    "Developer Portal -> your app -> Bot"
)
INTENTS_MISSING = (
    "Discord refused the Message Content intent: enable it in the Developer Portal -> your app -> Bot -> "
    "Privileged Gateway Intents, or set DREAMBOT_MESSAGE_CONTENT_INTENT=false"
)


def token_from(settings: Settings) -> str:
    """The Discord token, or :class:`BotStartError` when it is missing."""
    token = settings.discord_token.get_secret_value().strip() if settings.discord_token else ""
    if not token:
        raise BotStartError(MISSING_TOKEN)
    return token


def check_dream_defaults(settings: Settings) -> None:
    """Fail fast when DREAMBOT_DEFAULT_MODEL / DREAMBOT_DEFAULT_PARAMS would break every dream."""
    from dream_core.catalog import CATALOG
    from dream_core.errors import DreamParamsError
    from dream_core.params import parse_params

    if settings.default_model not in CATALOG:
        raise BotStartError(
            f"DREAMBOT_DEFAULT_MODEL={settings.default_model!r} is not a model; choose one of {', '.join(CATALOG)}"
        )
    try:
        parse_params({"model": settings.default_model, **settings.default_params})  # checks model and layer too
    except DreamParamsError as exc:
        raise BotStartError(f"DREAMBOT_DEFAULT_PARAMS: {exc}") from None


async def build_bot(
    settings: Settings,
    *,
    store: Any = None,
    executor: Any = None,
    metrics: Any = None,
    web: Optional[bool] = None,
    resume: Optional[bool] = None,
    **bot_kwargs: Any,
) -> AnyDreamBot:
    """A bot wired to its services.

    ``store`` defaults to ``Store.open(settings)`` (which upgrades the
    database); ``executor`` defaults to one built from the settings. Services
    built here are started by the bot's ``setup_hook`` and closed when the bot
    closes; passed-in ones are left to the caller. ``web`` (default
    ``settings.web_enabled``) serves the gallery. ``resume`` (default: when the
    store is the bot's own) claims the dreams the last process left and, once
    connected, resumes them (:mod:`bot.resume`).
    """
    from bot.metrics import get_metrics

    check_dream_defaults(settings)
    metrics = metrics if metrics is not None else get_metrics()
    own_store = store is None
    if own_store:
        from bot.store import Store

        store = await Store.open(settings)
    plan = await store.claim_unfinished() if (own_store if resume is None else resume) else None
    own_executor = executor is None
    if own_executor:
        from bot.executor_config import executor_config
        from dream_core.executor import create_executor

        executor = create_executor(executor_config(settings))
    bot = create_bot(settings, store=store, files=store.files, executor=executor, metrics=metrics, **bot_kwargs)
    if own_store:
        bot.add_lifecycle(stop=store.close)
    web_enabled = settings.web_enabled if web is None else web
    if web_enabled:
        # registered before the executor's: the gallery (and /healthz) stops after it, last
        bot.add_lifecycle(stop=lambda: _stop_web(bot))
    if own_executor:

        async def start_executor() -> None:
            log.info("starting the dream executor (%s backend)", settings.executor_backend)
            await executor.start()
            bot.add_lifecycle(stop=executor.close)

        bot.add_lifecycle(start=start_executor)
    if web_enabled:
        _add_web(bot, settings, store, executor, metrics)
    if plan:
        _add_resume(bot, plan)
    return bot


def _add_web(bot: AnyDreamBot, settings: Settings, store: Any, executor: Any, metrics: Any) -> None:
    try:
        from bot.web.app import start_web
    except ImportError:
        log.warning("the web gallery is enabled but bot.web is not available; running without it")
        return

    async def start() -> None:
        bot.web_runner = await start_web(
            store, store.files, settings=settings, executor=executor, metrics=metrics, draining=lambda: bot.draining
        )

    bot.add_lifecycle(start=start)


async def _stop_web(bot: AnyDreamBot) -> None:
    runner, bot.web_runner = bot.web_runner, None
    if runner is not None:
        await runner.cleanup()


def _add_resume(bot: AnyDreamBot, plan: Any) -> None:
    """Once connected (channels known), resume what the last process left."""
    from bot.resume import DreamResumer

    resumer = DreamResumer(bot, bot.dreams, bot.params_policy, bot.store)

    async def resume_when_ready() -> None:
        await bot.wait_until_ready()
        try:
            await resumer.run(plan)
        except Exception:
            log.exception("resuming the dreams of the last process failed")

    async def start() -> None:
        task = asyncio.create_task(resume_when_ready(), name="resume-dreams")
        bot.add_lifecycle(stop=lambda: _cancel(task, resumer))

    bot.add_lifecycle(start=start)


async def _cancel(task: asyncio.Task[None], resumer: Any) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await resumer.close()


async def serve_bot(settings: Settings) -> None:
    """Build the bot and run it until it is closed; SIGTERM and SIGINT drain it first
    (:func:`bot.drain.drain`): running dreams get ``shutdown_grace_s`` to finish, the
    rest is handed to the next start."""
    from bot.drain import drain, stop_signals

    token = token_from(settings)
    bot = await build_bot(settings)
    async with bot, stop_signals() as stopping:
        running = asyncio.create_task(bot.start(token), name="discord-client")
        stop = asyncio.create_task(stopping.wait(), name="stop-signal")
        await asyncio.wait({running, stop}, return_when=asyncio.FIRST_COMPLETED)
        if not running.done():
            await drain(bot, settings.shutdown_grace_s)
            await bot.close()
        stop.cancel()
        try:
            await running
        except discord.LoginFailure:
            raise BotStartError(WRONG_TOKEN) from None
        except discord.PrivilegedIntentsRequired:
            raise BotStartError(INTENTS_MISSING) from None
        except (aiohttp.ClientConnectorError, discord.GatewayNotFound) as exc:
            raise BotStartError(f"cannot reach Discord ({exc}); check this machine's network and DNS") from None


def run_bot(settings: Settings) -> int:
    """Run DreamBot until interrupted. Raises :class:`BotStartError` (one line) on setup problems."""
    token_from(settings)  # fail before touching the database or starting workers
    try:
        asyncio.run(serve_bot(settings))
    except KeyboardInterrupt:
        log.info("stopped")
    return 0
