"""The Discord client: :class:`DreamBot` (and its sharded twin).

The client holds the bot's services, built from the store, file store, executor
and metrics it is given: ``params_policy`` (:class:`~bot.params_policy.ParamsPolicy`),
``limits`` (:class:`~bot.limits.DreamLimits`), ``dreams``
(:class:`~bot.dream_runner.DreamRunner`), ``gallery``
(:class:`~bot.gallery_service.GalleryService`) and ``buttons``
(:class:`~bot.buttons.ButtonController`) and ``atlas``
(:class:`~bot.atlas_service.AtlasService`). ``setup_hook`` runs the start hooks
(store upgrade, executor start, web gallery...), loads the cogs,
registers the persistent buttons and syncs the slash commands (to
``settings.test_guild_id`` when set, else globally). ``close`` runs the stop
hooks in reverse order. Build one with :func:`create_bot`.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Optional

import discord
from discord import app_commands
from discord.ext import commands

from bot.atlas_cached import CachedSheets
from bot.atlas_service import AtlasService
from bot.atlas_views import ATLAS_ITEMS
from bot.buttons import ButtonController
from bot.dream_runner import DreamRunner
from bot.gallery_service import GalleryService
from bot.limits import DreamLimits
from bot.metrics import Metrics
from bot.params_policy import ParamsPolicy
from bot.replies import SORRY, UserError, send_error
from bot.settings import Settings
from bot.store.errors import StoreError
from bot.store.files import FileStore
from bot.store.service import Store
from bot.views import DYNAMIC_ITEMS, Pager
from dream_core.atlas.cache import default_cache
from dream_core.executor.base import BaseExecutor

log = logging.getLogger(__name__)

# DreamBot never joins voice: don't warn admins about missing voice libraries.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False

#: the extensions (one cog each) the bot loads
COGS: tuple[str, ...] = (
    "bot.cogs.dream",
    "bot.cogs.presets",
    "bot.cogs.history",
    "bot.cogs.gallery",
    "bot.cogs.info",
    "bot.cogs.admin",
    "bot.cogs.mydata",
    "bot.cogs.atlas",
)

Hook = Callable[[], Awaitable[Any]]


def default_intents(settings: Settings) -> discord.Intents:
    """Guilds + messages; message content only when configured (privileged)."""
    intents = discord.Intents.default()
    intents.members = False
    intents.presences = False
    intents.message_content = settings.message_content_intent
    return intents


class DreamTree(app_commands.CommandTree):
    """Command tree whose errors end as one friendly ephemeral line."""

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        original = getattr(error, "original", error)
        if isinstance(original, (UserError, StoreError)):
            await send_error(interaction, str(original))
            return
        if isinstance(error, app_commands.MissingPermissions):
            await send_error(interaction, "You need the *Manage Server* permission for that.")
            return
        if isinstance(error, app_commands.NoPrivateMessage):
            await send_error(interaction, "That only works in a server.")
            return
        if isinstance(error, app_commands.CommandOnCooldown):
            await send_error(interaction, f"Slow down — try again in {error.retry_after:.0f} s.")
            return
        if isinstance(error, app_commands.CheckFailure):
            await send_error(interaction, "You can't use that here.")
            return
        name = interaction.command.qualified_name if interaction.command else "?"
        log.error("command %s failed", name, exc_info=original)
        if interaction.response.type == discord.InteractionResponseType.deferred_channel_message:
            # don't leave a public "thinking…" behind: the error goes to the user alone
            with contextlib.suppress(discord.HTTPException):
                await interaction.delete_original_response()
        await send_error(interaction, SORRY)


class _DreamBotMixin:
    """What :class:`DreamBot` and :class:`ShardedDreamBot` share."""

    settings: Settings

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store,
        files: FileStore,
        executor: BaseExecutor,
        metrics: Optional[Metrics] = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("intents", default_intents(settings))
        for name, value in self._client_options(settings).items():
            kwargs.setdefault(name, value)
        super().__init__(  # type: ignore[call-arg]
            command_prefix=commands.when_mentioned, tree_cls=DreamTree, help_command=None, **kwargs
        )
        self.settings = settings
        self.store = store
        self.files = files
        self.executor = executor
        self.metrics = metrics
        self.params_policy = ParamsPolicy(settings, store)
        self.limits = DreamLimits(settings)
        self.dreams = DreamRunner(
            settings, store=store, files=files, executor=executor, limits=self.limits, metrics=metrics
        )
        self.gallery = GalleryService(settings, store)
        self.buttons = ButtonController(
            runner=self.dreams, policy=self.params_policy, gallery=self.gallery, store=store, files=files
        )
        self.atlas = AtlasService(
            settings,
            executor=executor,
            sheets=CachedSheets(default_cache()),
            runner=self.dreams,
            policy=self.params_policy,
            store=store,
            files=files,
        )
        self.pagers: dict[str, Pager] = {}
        self._start_hooks: list[Hook] = []
        self._stop_hooks: list[Hook] = []
        self.commands_synced = False
        self.web_runner: Any = None  # the web gallery's aiohttp AppRunner, when it runs in-process
        self.draining = False  # stopping for a restart (bot.drain): /healthz says so
        self.last_interaction = 0.0  # time.monotonic() of the newest interaction (bot.drain waits for quiet)

    def _client_options(self, settings: Settings) -> dict[str, Any]:
        """Extra discord.py client options (a default each; ``kwargs`` given to ``__init__`` win)."""
        return {}

    def add_lifecycle(self, start: Optional[Hook] = None, stop: Optional[Hook] = None) -> None:
        """Run ``start`` in ``setup_hook`` (in order) and ``stop`` on close (reverse order)."""
        if start is not None:
            self._start_hooks.append(start)
        if stop is not None:
            self._stop_hooks.append(stop)

    async def setup_hook(self) -> None:
        for hook in self._start_hooks:
            await hook()
        for name in COGS:
            await self.load_extension(name)  # type: ignore[attr-defined]
        self.add_dynamic_items(*DYNAMIC_ITEMS, *ATLAS_ITEMS)  # type: ignore[attr-defined]
        if self.settings.sync_commands:
            await self.sync_commands()

    async def sync_commands(self) -> list[app_commands.AppCommand]:
        """Register the slash commands with Discord (test guild only when configured)."""
        tree: app_commands.CommandTree = self.tree  # type: ignore[attr-defined]
        if self.settings.test_guild_id:
            guild = discord.Object(id=self.settings.test_guild_id)
            tree.copy_global_to(guild=guild)
            synced = await tree.sync(guild=guild)
            log.info("synced %d commands to guild %s", len(synced), self.settings.test_guild_id)
        else:
            synced = await tree.sync()
            log.info("synced %d global commands", len(synced))
        self.commands_synced = True
        return synced

    async def close(self) -> None:
        # whatever is still under way goes to the next start (the durable queue), not to waste
        await self.dreams.hand_over()
        try:
            await super().close()  # type: ignore[misc]
        finally:
            while self._stop_hooks:
                hook = self._stop_hooks.pop()
                try:
                    await hook()
                except Exception:
                    log.exception("error while shutting down")

    async def on_guild_join(self, guild: discord.Guild) -> None:
        """Remember the new server (its gallery starts unlisted)."""
        log.info("joined guild %s (%s)", guild.name, guild.id)
        await self.store.touch_guild(guild.id, guild.name)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        self.last_interaction = time.monotonic()

    async def on_ready(self) -> None:
        user = self.user  # type: ignore[attr-defined]
        log.info("logged in as %s (%s) in %d servers", user, getattr(user, "id", "?"), len(self.guilds))  # type: ignore[attr-defined]


class DreamBot(_DreamBotMixin, commands.Bot):
    """The single-connection DreamBot client."""


class ShardedDreamBot(_DreamBotMixin, commands.AutoShardedBot):
    """The auto-sharded DreamBot client (``settings.sharded`` / ``settings.shard_count``)."""

    def _client_options(self, settings: Settings) -> dict[str, Any]:
        return {"shard_count": settings.shard_count} if settings.shard_count else {}


AnyDreamBot = DreamBot | ShardedDreamBot


def create_bot(
    settings: Settings,
    *,
    store: Store,
    files: FileStore,
    executor: BaseExecutor,
    metrics: Optional[Metrics] = None,
    **kwargs: Any,
) -> AnyDreamBot:
    """A :class:`ShardedDreamBot` when sharding is configured, else a :class:`DreamBot`."""
    cls = ShardedDreamBot if (settings.sharded or settings.shard_count) else DreamBot
    return cls(settings, store=store, files=files, executor=executor, metrics=metrics, **kwargs)
