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
    **bot_kwargs: Any,
) -> AnyDreamBot:
    """A bot wired to its services.

    ``store`` defaults to ``Store.open(settings)`` (which upgrades the
    database) followed by ``recover_interrupted()``; ``executor`` defaults to
    one built from the settings. Services built here are started by the bot's
    ``setup_hook`` and closed when the bot closes; passed-in ones are left to
    the caller. ``web`` (default ``settings.web_enabled``) serves the gallery.
    """
    from bot.metrics import get_metrics

    check_dream_defaults(settings)
    metrics = metrics if metrics is not None else get_metrics()
    own_store = store is None
    if own_store:
        from bot.store import Store

        store = await Store.open(settings)
        recovered = await store.recover_interrupted()
        if recovered:
            log.warning("%d dream(s) interrupted by the last shutdown were marked failed", recovered)
    own_executor = executor is None
    if own_executor:
        from bot.executor_config import executor_config
        from dream_core.executor import create_executor

        executor = create_executor(executor_config(settings))
    bot = create_bot(settings, store=store, files=store.files, executor=executor, metrics=metrics, **bot_kwargs)
    if own_store:
        bot.add_lifecycle(stop=store.close)
    if own_executor:

        async def start_executor() -> None:
            log.info("starting the dream executor (%s backend)", settings.executor_backend)
            await executor.start()
            bot.add_lifecycle(stop=executor.close)

        bot.add_lifecycle(start=start_executor)
    if settings.web_enabled if web is None else web:
        _add_web(bot, settings, store, executor, metrics)
    return bot


def _add_web(bot: AnyDreamBot, settings: Settings, store: Any, executor: Any, metrics: Any) -> None:
    try:
        from bot.web.app import start_web
    except ImportError:
        log.warning("the web gallery is enabled but bot.web is not available; running without it")
        return

    async def start() -> None:
        runner = await start_web(store, store.files, settings=settings, executor=executor, metrics=metrics)
        bot.web_runner = runner
        bot.add_lifecycle(stop=runner.cleanup)

    bot.add_lifecycle(start=start)


async def serve_bot(settings: Settings) -> None:
    """Build the bot and run it until it is closed (Ctrl-C, SIGTERM)."""
    token = token_from(settings)
    bot = await build_bot(settings)
    async with bot:
        try:
            await bot.start(token)
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
