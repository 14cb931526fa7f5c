"""FakeDiscord: a Discord API + gateway on 127.0.0.1 for driving a real discord.py client.

See the package docstring (``tests/fakediscord/__init__.py``) for how tests use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import discord
import yarl
from aiohttp import web

from .actions import UserActionsMixin
from .gateway import FAKE_KEY, GatewayConnection, gateway_handler
from .interactions import InteractionHandle
from .messages import MessagesMixin
from .models import FakeAttachment, FakeChannel, FakeGuild, FakeMessage, FakeUser, snowflake
from .responses import ResponsesMixin
from .rest import RestApi
from .world import World, WorldMixin

log = logging.getLogger("tests.fakediscord")


#: Open fakes, oldest first; discord.py points at the last one.
_ACTIVE: list[FakeDiscord] = []
_ORIGINALS: dict[str, Any] = {}


def _apply_patches() -> None:
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

    if not _ORIGINALS:
        _ORIGINALS.update(base=Route.BASE, gateway=DiscordWebSocket.DEFAULT_GATEWAY)
    if _ACTIVE:
        Route.BASE = _ACTIVE[-1].api_base  # type: ignore[misc]
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(_ACTIVE[-1].gateway_url)
    else:
        Route.BASE = _ORIGINALS["base"]  # type: ignore[misc]
        DiscordWebSocket.DEFAULT_GATEWAY = _ORIGINALS["gateway"]


class _ErrorCollector(logging.Handler):
    def __init__(self, sink: list[logging.LogRecord]) -> None:
        super().__init__(level=logging.ERROR)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith("tests.fakediscord"):
            self.sink.append(record)


class FakeDiscord(WorldMixin, MessagesMixin, UserActionsMixin, ResponsesMixin):
    """A fake Discord (REST + gateway + CDN) that a real discord.py client talks to.

    This module holds its state, lifecycle, bot runner, gateway glue and waiting;
    the rest lives in the mixins: world building (``world.py``), messages and files
    (``messages.py``), user actions (``actions.py``), the bot's answers (``responses.py``).

    Use as ``async with FakeDiscord() as fake:``; it listens on 127.0.0.1 on a free
    port and, while open, points discord.py's ``Route.BASE`` and the gateway URL at itself.
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        bot_name: str = "DreamBot",
        ack_deadline: float | None = 3.0,
        upload_limit: int = 10 * 1024 * 1024,
        token_lifetime: float = 15 * 60,
    ) -> None:
        #: The bot token this fake accepts (unique per instance unless given).
        self.token = token or f"fake-bot-token-{secrets.token_hex(6)}"
        #: Seconds the bot has to acknowledge an interaction (Discord: 3). ``None`` disables the check.
        self.ack_deadline = ack_deadline
        #: Max bytes per uploaded file (Discord's default for unboosted guilds: 10 MiB).
        self.upload_limit = upload_limit
        #: Seconds an interaction token works for follow-ups/edits (Discord: 15 min); see expire().
        self.token_lifetime = token_lifetime
        self.bot_user = FakeUser(id=snowflake(), name=bot_name, bot=True)
        self.application_id = self.bot_user.id
        self.app_owner = FakeUser(id=snowflake(), name="appowner")
        self.users: dict[int, FakeUser] = {self.bot_user.id: self.bot_user, self.app_owner.id: self.app_owner}
        self.guilds: dict[int, FakeGuild] = {}
        self.channels: dict[int, FakeChannel] = {}
        self.messages: dict[int, FakeMessage] = {}
        self.attachments: dict[int, FakeAttachment] = {}
        self._history: dict[int, list[FakeMessage]] = {}
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}
        self.sync_count = 0
        self.interactions: dict[int, InteractionHandle] = {}
        self.interactions_by_token: dict[str, InteractionHandle] = {}
        #: (method, path, status) of every HTTP request the bot made.
        self.requests: list[tuple[str, str, int]] = []
        #: Discord-style errors the server answered (dicts with method/path/status/code/message).
        self.http_errors: list[dict[str, Any]] = []
        #: "METHOD /path" of requests no fake route handles (answered 404). Should stay empty.
        self.unhandled_routes: list[str] = []
        #: Attachments the bot downloaded from the fake CDN.
        self.downloads: list[FakeAttachment] = []
        #: (channel_id, time) of typing indicators the bot triggered.
        self.typing: list[tuple[int, float]] = []
        #: ERROR log records (outside this package) while a bot ran via :meth:`run_bot`.
        self.bot_errors: list[logging.LogRecord] = []
        self.gateway_connections: list[GatewayConnection] = []
        self._injected: list[list[Any]] = []
        self._outage: tuple[float, int] = (0.0, 503)  # (until, status): see outage()
        #: (event name, data) of every gateway DISPATCH sent to the bot.
        self.dispatched: list[tuple[str, Any]] = []
        self.identify_payload: dict[str, Any] | None = None
        self._last_intents = 0
        self._shards: dict[int, GatewayConnection] = {}
        self._changed = asyncio.Event()
        self._bot_task: asyncio.Task[Any] | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.world: World | None = None

    # ================================================================== lifecycle
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    async def start(self) -> FakeDiscord:
        rest = RestApi(self)
        app = web.Application(middlewares=[rest.middleware], client_max_size=256 * 1024 * 1024)
        app[FAKE_KEY] = self
        app.router.add_get("/gateway", gateway_handler)
        app.router.add_routes(rest.routes())
        app.router.add_route("*", "/{tail:.*}", rest.unhandled)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.patch_discord()
        return self

    def patch_discord(self) -> None:
        """Point discord.py (REST, webhooks, gateway) at this server until :meth:`close`.

        The targets are class attributes, so they are process-wide: the newest open
        FakeDiscord wins, and closing one re-points discord.py at the newest still open
        (or at Discord when none is).  A bot started on an older fake keeps its gateway
        connection but would send new REST calls to the newer fake meanwhile.
        """
        if self not in _ACTIVE:
            _ACTIVE.append(self)
        _apply_patches()

    async def close(self) -> None:
        for conn in list(self.gateway_connections):
            if conn.open:
                await conn.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self in _ACTIVE:
            _ACTIVE.remove(self)
            _apply_patches()

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    # ================================================================== running a bot
    @contextlib.asynccontextmanager
    async def run_bot(
        self, client: discord.Client, *, timeout: float = 15.0, wait_ready: bool = True
    ) -> AsyncIterator[discord.Client]:
        """Start ``client`` against this server; yield once it is connected (and ready); close it after.

        The client logs in with :attr:`token`, identifies on the gateway, receives
        READY and a GUILD_CREATE per registered guild.  discord.py waits
        ``guild_ready_timeout`` (2 s) after the last guild before ``on_ready``; this
        lowers it to 0.1 s.  ERROR log records during the run go to :attr:`bot_errors`.
        """
        client._connection.guild_ready_timeout = min(client._connection.guild_ready_timeout, 0.1)
        collector = _ErrorCollector(self.bot_errors)
        root = logging.getLogger()
        root.addHandler(collector)
        self._bot_task = asyncio.create_task(client.start(self.token), name="fake-discord-bot")
        try:
            await self.wait_for(lambda: self._shards, timeout=timeout, what="bot to identify")
            if wait_ready:
                await self.wait_for(client.is_ready, timeout=timeout, what="bot to be ready")
            yield client
        finally:
            with contextlib.suppress(Exception):
                await client.close()
            task, self._bot_task = self._bot_task, None
            if task is not None:
                try:
                    await asyncio.wait_for(task, timeout=5)
                except (asyncio.CancelledError, asyncio.TimeoutError):
                    pass
                except Exception:
                    log.exception("bot task ended with an error")
            root.removeHandler(collector)

    def _gateway_ready(self, conn: GatewayConnection) -> None:
        self._shards[conn.shard_id] = conn
        self._touch()

    def _gateway_closed(self, conn: GatewayConnection) -> None:
        if self._shards.get(conn.shard_id) is conn:
            del self._shards[conn.shard_id]
        self._touch()

    def _session(self, session_id: str | None) -> GatewayConnection | None:
        return next((c for c in self.gateway_connections if c.session_id == session_id and c.identified), None)

    def _conn_for(self, guild_id: int | None) -> GatewayConnection | None:
        return next((c for c in self._shards.values() if c.open and c.owns(guild_id)), None)

    @property
    def connected(self) -> bool:
        return any(c.open for c in self._shards.values())

    async def drop_connection(self, code: int = 4000) -> None:
        """Close the bot's gateway websocket(s) like a network blip (4000: the client resumes)."""
        for conn in list(self._shards.values()):
            await conn.ws.close(code=code, message=b"fake disconnect")

    @property
    def intents(self) -> discord.Intents:
        """Intents the bot identified with."""
        return discord.Intents._from_value(self._last_intents)

    async def dispatch(self, event: str, data: Any, *, guild_id: int | None = None) -> None:
        """Send a raw gateway DISPATCH to the bot (the shard that owns ``guild_id``)."""
        conn = self._conn_for(guild_id)
        if conn is None:
            raise RuntimeError(f"no bot is connected to the fake gateway (dispatching {event})")
        await conn.dispatch(event, data)

    async def _dispatch_if_connected(self, event: str, data: Any, intent: int = 0, *,
                                     guild_id: int | None = None) -> None:
        conn = self._conn_for(guild_id)
        if conn is not None and (not intent or conn.intents & intent):
            await conn.dispatch(event, data)

    # ================================================================== waiting
    def now(self) -> float:
        return time.monotonic()

    def _touch(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def activity_counter(self, handle: InteractionHandle) -> int:
        return handle.activity

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
        """Wait until ``predicate()`` is truthy (re-checked on every server event); return its value.

        Raises TimeoutError after ``timeout`` seconds, or the bot's exception if the bot task crashed.
        """
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            task = self._bot_task
            if task is not None and task.done():
                exc = None if task.cancelled() else task.exception()
                raise RuntimeError(f"the bot stopped while waiting for {what}") from exc
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
            event = self._changed
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(event.wait(), timeout=min(remaining, 0.25))

    def inject_error(self, method: str, path: str, status: int, *, code: int = 0, message: str = "",
                     times: int = 1, retry_after: float = 0.05) -> None:
        """Answer the next ``times`` requests ``METHOD`` whose API path matches regex ``path``
        (searched in e.g. ``/channels/123/messages`` or ``/webhooks/<app>/<token>/messages/@original``)
        with an error instead of handling them.  429 is a proper rate limit (discord.py
        waits ``retry_after`` and retries); 5xx are retried by discord.py too (slowly)."""
        self._injected.append([method.upper(), re.compile(path), status, code, message, times, retry_after])

    def outage(self, seconds: float, status: int = 503) -> None:
        """Discord's API is down for the next ``seconds``: every REST and webhook request is
        answered ``status`` (the gateway and the CDN stay up)."""
        self._outage = (time.monotonic() + seconds, status)

    def _take_injected_error(self, method: str, full_path: str) -> web.Response | None:
        from .rest import API, json_response

        until, status = self._outage
        if full_path.startswith(API) and time.monotonic() < until:
            return json_response({"message": "Service Unavailable (outage)", "code": 0}, status=status)
        path = full_path[len(API):] if full_path.startswith(API) else full_path
        for rule in self._injected:
            m, pattern, status, code, message, times, retry_after = rule
            if m == method and pattern.search(path):
                rule[5] -= 1
                if rule[5] <= 0:
                    self._injected.remove(rule)
                if status == 429:
                    resp = json_response({"message": "You are being rate limited.", "retry_after": retry_after,
                                          "global": False}, status=429)
                    resp.headers.update({"Via": "1.1 google", "Retry-After": str(retry_after),
                                         "X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0",
                                         "X-RateLimit-Reset-After": str(retry_after), "X-RateLimit-Scope": "user"})
                    return resp
                return json_response({"message": message or f"injected {status}", "code": code}, status=status)
        return None

    def assert_clean(self) -> None:
        """Fail if the bot used a route the fake lacks, or logged an ERROR."""
        assert not self.unhandled_routes, f"bot used routes the fake lacks: {self.unhandled_routes}"
        errors = [f"{r.name}: {r.getMessage()}" for r in self.bot_errors]
        assert not errors, f"the bot logged errors: {errors}"

    def expire(self, handle: InteractionHandle) -> None:
        """Make ``handle``'s token invalid now, as if its 15 minutes had passed (webhook calls -> 401 50027)."""
        handle.dispatched_at -= self.token_lifetime + 1
