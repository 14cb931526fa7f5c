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
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Iterable, Union

import discord
import yarl
from aiohttp import web

from . import interactions as it
from .gateway import (
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MEMBERS,
    INTENT_GUILD_MESSAGES,
    INTENT_MESSAGE_CONTENT,
    GatewayConnection,
    FAKE_KEY,
    gateway_handler,
)
from .interactions import CallbackRecord, InteractionFailed, InteractionHandle, find_command_path
from .models import (
    ADMINISTRATOR,
    FakeAttachment,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeMessage,
    FakeRole,
    FakeUser,
    snowflake,
)
from .rest import DiscordError, RestApi, UploadedFile, check_components, check_embeds, invalid_form

log = logging.getLogger("tests.fakediscord")

#: What a test may pass where a file is expected: a FakeAttachment, (bytes, filename[, content_type]).
FileSpec = Union[FakeAttachment, tuple]
UserLike = Union[FakeUser, FakeMember]

MODERATOR_PERMISSIONS = discord.Permissions(
    manage_messages=True, manage_guild=True, kick_members=True, moderate_members=True
).value


@dataclass
class World:
    """The default cast made by :meth:`FakeDiscord.setup_world`."""

    guild: FakeGuild
    general: FakeChannel
    gallery: FakeChannel
    owner: FakeUser  # owns the guild
    admin: FakeUser  # has a role with Administrator
    mod: FakeUser  # has a "Moderator" role (manage messages/guild, kick, timeout)
    alice: FakeUser  # plain member
    bob: FakeUser  # plain member
    mod_role: FakeRole
    admin_role: FakeRole


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


class FakeDiscord:
    """A fake Discord (REST + gateway + CDN) that a real discord.py client talks to.

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

    # ================================================================== world building
    def add_user(self, name: str, *, bot: bool = False) -> FakeUser:
        user = FakeUser(id=snowflake(), name=name, bot=bot)
        self.users[user.id] = user
        return user

    def add_guild(self, name: str = "Dream Guild", *, owner: FakeUser | None = None) -> FakeGuild:
        owner = owner or self.add_user(f"{name.lower().replace(' ', '_')}_owner")
        guild = FakeGuild(id=snowflake(), name=name, owner_id=owner.id)
        self.guilds[guild.id] = guild
        guild.members[owner.id] = FakeMember(user=owner, guild=guild)
        guild.members[self.bot_user.id] = FakeMember(user=self.bot_user, guild=guild)
        conn = self._conn_for(guild.id)
        if conn is not None:
            asyncio.ensure_future(conn.dispatch("GUILD_CREATE", conn.guild_payload(guild)))
        return guild

    def add_role(self, guild: FakeGuild, name: str, permissions: int | discord.Permissions = 0) -> FakeRole:
        value = permissions.value if isinstance(permissions, discord.Permissions) else permissions
        role = FakeRole(id=snowflake(), guild_id=guild.id, name=name, permissions=value, position=len(guild.roles))
        guild.roles.append(role)
        if self.connected:
            asyncio.ensure_future(self._dispatch_if_connected(
                "GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": role.to_payload()}, guild_id=guild.id))
        return role

    def add_channel(self, guild: FakeGuild, name: str = "general", *, type: int = 0,
                    bot_permissions: int | discord.Permissions | None = None) -> FakeChannel:
        if isinstance(bot_permissions, discord.Permissions):
            bot_permissions = bot_permissions.value
        channel = FakeChannel(id=snowflake(), name=name, guild=guild, type=type, position=len(guild.channels),
                              bot_permissions=bot_permissions)
        guild.channels.append(channel)
        self.channels[channel.id] = channel
        if self.connected:
            asyncio.ensure_future(self._dispatch_if_connected("CHANNEL_CREATE", channel.to_payload(),
                                                              guild_id=guild.id))
        return channel

    def add_member(self, guild: FakeGuild, user: FakeUser, *, roles: Iterable[FakeRole] = (),
                   nick: str | None = None) -> FakeMember:
        member = FakeMember(user=user, guild=guild, roles=list(roles), nick=nick)
        guild.members[user.id] = member
        if self.connected:
            data = member.to_payload()
            data["guild_id"] = str(guild.id)
            asyncio.ensure_future(self._dispatch_if_connected("GUILD_MEMBER_ADD", data, INTENT_GUILD_MEMBERS,
                                                              guild_id=guild.id))
        return member

    def dm_channel(self, user: FakeUser) -> FakeChannel:
        """The DM channel between the bot and ``user`` (created on first use)."""
        for ch in self.channels.values():
            if ch.type == 1 and ch.recipients == [user]:
                return ch
        ch = FakeChannel(id=snowflake(), name=f"dm-{user.name}", guild=None, type=1, recipients=[user])
        self.channels[ch.id] = ch
        return ch

    def setup_world(self) -> World:
        """Create a default guild with #general and #gallery, and users owner/admin/mod/alice/bob.

        Call before :meth:`run_bot` so the bot sees it in GUILD_CREATE.
        """
        owner = self.add_user("owner")
        guild = self.add_guild("Dream Guild", owner=owner)
        admin_role = self.add_role(guild, "Admin", ADMINISTRATOR)
        mod_role = self.add_role(guild, "Moderator", MODERATOR_PERMISSIONS)
        general = self.add_channel(guild, "general")
        gallery = self.add_channel(guild, "gallery")
        admin, mod, alice, bob = (self.add_user(n) for n in ("admin", "mod", "alice", "bob"))
        self.add_member(guild, admin, roles=[admin_role])
        self.add_member(guild, mod, roles=[mod_role])
        self.add_member(guild, alice)
        self.add_member(guild, bob)
        self.world = World(guild=guild, general=general, gallery=gallery, owner=owner, admin=admin, mod=mod,
                           alice=alice, bob=bob, mod_role=mod_role, admin_role=admin_role)
        return self.world

    def inject_error(self, method: str, path: str, status: int, *, code: int = 0, message: str = "",
                     times: int = 1, retry_after: float = 0.05) -> None:
        """Answer the next ``times`` requests ``METHOD`` whose API path matches regex ``path``
        (searched in e.g. ``/channels/123/messages`` or ``/webhooks/<app>/<token>/messages/@original``)
        with an error instead of handling them.  429 is a proper rate limit (discord.py
        waits ``retry_after`` and retries); 5xx are retried by discord.py too (slowly)."""
        self._injected.append([method.upper(), re.compile(path), status, code, message, times, retry_after])

    def _take_injected_error(self, method: str, full_path: str) -> web.Response | None:
        from .rest import API, json_response

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

    # ================================================================== files & messages
    def host_file(self, data: bytes, filename: str, content_type: str | None = None) -> str:
        """Serve ``data`` on the fake CDN; return its URL (e.g. for an ``image_url`` option)."""
        return self.make_attachment((data, filename, content_type) if content_type else (data, filename)).url

    def make_attachment(self, spec: FileSpec, channel: FakeChannel | None = None, *,
                        ephemeral: bool = False) -> FakeAttachment:
        """Host a file on the fake CDN. ``spec``: FakeAttachment or (bytes, filename[, content_type])."""
        if isinstance(spec, FakeAttachment):
            if spec.id not in self.attachments:
                self._host(spec, channel)
            return spec
        data, filename, *rest = spec
        import mimetypes

        ctype = rest[0] if rest else mimetypes.guess_type(filename)[0]
        att = FakeAttachment(id=snowflake(), filename=filename, data=bytes(data), content_type=ctype,
                             ephemeral=ephemeral)
        self._host(att, channel)
        return att

    def _host(self, att: FakeAttachment, channel: FakeChannel | None) -> None:
        cid = channel.id if channel is not None else 0
        att.url = f"{self.base_url}/attachments/{cid}/{att.id}/{att.filename}"
        self.attachments[att.id] = att

    def new_message(self, channel: FakeChannel, author: FakeUser, **fields: Any) -> FakeMessage:
        msg = FakeMessage(id=snowflake(), channel=channel, author=author, **fields)
        self.messages[msg.id] = msg
        return msg

    def channel_history(self, channel: FakeChannel) -> list[FakeMessage]:
        """Visible (not deleted, not ephemeral) messages of ``channel``, oldest first."""
        return [m for m in self._history.get(channel.id, []) if not m.deleted and not m.ephemeral]

    def bot_messages(self, channel: FakeChannel | None = None) -> list[FakeMessage]:
        """Messages the bot authored (any channel, or one), oldest first; ephemeral ones included."""
        return [m for m in self.messages.values() if m.author is self.bot_user and not m.deleted
                and (channel is None or m.channel is channel)]

    async def wait_for_message(self, channel: FakeChannel | None = None,
                               predicate: Callable[[FakeMessage], Any] | None = None, *,
                               author: FakeUser | None = None, timeout: float = 10.0) -> FakeMessage:
        """Wait for a (visible) message in ``channel`` (any channel if None) by ``author`` (default: the bot)
        that satisfies ``predicate``; return the newest such message."""
        author = author or self.bot_user

        def find() -> FakeMessage | None:
            for m in reversed(list(self.messages.values())):
                if (m.author is author and not m.deleted and not m.ephemeral
                        and (channel is None or m.channel is channel) and (predicate is None or predicate(m))):
                    return m
            return None

        return await self.wait_for(find, timeout=timeout, what="a matching channel message")

    def apply_message_payload(self, msg: FakeMessage, payload: dict[str, Any], files: list[UploadedFile], *,
                              creating: bool) -> None:
        """Apply a create/edit payload (JSON part) and uploaded files to ``msg``, Discord-style."""
        for f in files:
            if len(f.data) > self.upload_limit:
                raise DiscordError(413, 40005, "Request entity too large")
        if "content" in payload:
            content = payload["content"] or ""
            if len(content) > 2000:
                raise invalid_form("content must be 2000 or fewer characters")
            msg.content = content
        if "embeds" in payload or "embed" in payload:
            embeds = payload.get("embeds") or ([payload["embed"]] if payload.get("embed") else [])
            check_embeds(embeds)
            msg.embeds = list(embeds)
        if "components" in payload:
            comps = payload["components"] or []
            check_components(comps)
            msg.components = list(comps)
        uploaded = {f.index: f for f in files}
        if "attachments" in payload and payload["attachments"] is not None:
            kept: list[FakeAttachment] = []
            existing = {str(a.id): a for a in msg.attachments}
            for item in payload["attachments"]:
                aid = str(item.get("id"))
                if aid in existing:
                    kept.append(existing[aid])
                elif aid.isdigit() and int(aid) in uploaded:
                    f = uploaded.pop(int(aid))
                    att = self.make_attachment((f.data, item.get("filename") or f.filename, f.content_type),
                                               msg.channel)
                    att.description = item.get("description")
                    kept.append(att)
                else:
                    raise invalid_form(f"attachment id {aid} refers to nothing")
            kept += [self.make_attachment((f.data, f.filename, f.content_type), msg.channel)
                     for f in uploaded.values()]
            msg.attachments = kept
        elif files:
            msg.attachments = msg.attachments + [
                self.make_attachment((f.data, f.filename, f.content_type), msg.channel) for f in files
            ]
        if len(msg.attachments) > 10:
            raise invalid_form("more than 10 attachments")
        if creating and not (msg.content or msg.embeds or msg.attachments or msg.components
                             or payload.get("sticker_ids") or payload.get("poll")):
            raise DiscordError(400, 50006, "Cannot send an empty message")
        if not creating:
            msg.flags &= ~FakeMessage.LOADING  # an edit turns the "thinking" placeholder into the answer
            msg.edited_timestamp = discord.utils.utcnow().isoformat()
            if not (msg.content or msg.embeds or msg.attachments or msg.components):
                raise DiscordError(400, 50006, "Cannot send an empty message")
        msg.snapshot(self.now())

    def payload_for_bot(self, msg: FakeMessage) -> dict[str, Any]:
        """``msg`` as the bot receives it: without content if it lacks the message content intent."""
        data = msg.to_payload()
        if (
            msg.author is not self.bot_user
            and msg.channel.guild is not None
            and not self._last_intents & INTENT_MESSAGE_CONTENT
            and f"<@{self.bot_user.id}>" not in msg.content
        ):
            data.update(content="", embeds=[], attachments=[], components=[])
        return data

    async def publish_message(self, msg: FakeMessage) -> None:
        """Put ``msg`` in its channel's history and tell the bot (MESSAGE_CREATE)."""
        if msg.ephemeral:
            return
        self._history.setdefault(msg.channel.id, []).append(msg)
        intent = INTENT_DIRECT_MESSAGES if msg.channel.guild is None else INTENT_GUILD_MESSAGES
        await self._dispatch_if_connected("MESSAGE_CREATE", self.payload_for_bot(msg), intent,
                                          guild_id=msg.channel.guild_id)
        self._touch()

    async def publish_edit(self, msg: FakeMessage) -> None:
        if not msg.ephemeral:
            intent = INTENT_DIRECT_MESSAGES if msg.channel.guild is None else INTENT_GUILD_MESSAGES
            await self._dispatch_if_connected("MESSAGE_UPDATE", self.payload_for_bot(msg), intent,
                                              guild_id=msg.channel.guild_id)
        self._touch()

    async def delete_message(self, msg: FakeMessage) -> None:
        msg.deleted = True
        if not msg.ephemeral:
            data: dict[str, Any] = {"id": str(msg.id), "channel_id": str(msg.channel.id)}
            if msg.channel.guild is not None:
                data["guild_id"] = str(msg.channel.guild.id)
            intent = INTENT_DIRECT_MESSAGES if msg.channel.guild is None else INTENT_GUILD_MESSAGES
            await self._dispatch_if_connected("MESSAGE_DELETE", data, intent, guild_id=msg.channel.guild_id)
        self._touch()

    async def post_message(self, channel: FakeChannel, content: str = "", *, user: FakeUser | None = None,
                           attachments: Iterable[FileSpec] = (), embeds: list[dict[str, Any]] | None = None,
                           reply_to: FakeMessage | None = None) -> FakeMessage:
        """A user posts a message (with optional attachments) in ``channel``; the bot gets MESSAGE_CREATE."""
        user = user or self._default_user()
        msg = self.new_message(channel, user, content=content, embeds=list(embeds or []))
        msg.attachments = [self.make_attachment(a, channel) for a in attachments]
        if reply_to is not None:
            msg.type = 19
            msg.message_reference = {"message_id": str(reply_to.id), "channel_id": str(channel.id)}
        msg.snapshot(self.now())
        await self.publish_message(msg)
        return msg

    async def react(self, message: FakeMessage, emoji: str, *, user: FakeUser | None = None) -> None:
        """A user adds a (unicode) reaction; the bot gets MESSAGE_REACTION_ADD."""
        user = user or self._default_user()
        message.reactions.setdefault(emoji, set()).add(user.id)
        data: dict[str, Any] = {"user_id": str(user.id), "channel_id": str(message.channel.id),
                                "message_id": str(message.id), "emoji": {"id": None, "name": emoji},
                                "message_author_id": str(message.author.id), "burst": False, "type": 0}
        if message.channel.guild is not None:
            data["guild_id"] = str(message.channel.guild.id)
            member = message.channel.guild.members.get(user.id)
            if member is not None:
                data["member"] = member.to_payload()
        await self._dispatch_if_connected("MESSAGE_REACTION_ADD", data, (1 << 10) | (1 << 13),
                                          guild_id=message.channel.guild_id)

    # ================================================================== interactions: sending
    def _default_user(self) -> FakeUser:
        if self.world is None:
            raise ValueError("pass user=... (or call setup_world() for default users)")
        return self.world.alice

    def _default_channel(self) -> FakeChannel:
        if self.world is None:
            raise ValueError("pass channel=... (or call setup_world() for default channels)")
        return self.world.general

    def commands_for(self, guild: FakeGuild | None) -> list[dict[str, Any]]:
        """Commands a user sees in ``guild`` (guild commands first, then global)."""
        cmds = list(self.guild_commands.get(guild.id, [])) if guild else []
        names = {(c["name"], c["type"]) for c in cmds}
        return cmds + [c for c in self.global_commands if (c["name"], c["type"]) not in names]

    def command(self, name: str, *, guild: FakeGuild | None = None, type: int = 1) -> dict[str, Any]:
        """The synced definition of a command as seen in ``guild`` (default: the world's guild).

        Raises KeyError listing the synced names."""
        if guild is None and self.world is not None:
            guild = self.world.guild
        for c in self.commands_for(guild):
            if c["name"] == name and c["type"] == type:
                return c
        have = [c["name"] for c in self.commands_for(guild)]
        raise KeyError(f"command {name!r} (type {type}) not synced; have {have}")

    def _check_can_use(self, cmd: dict[str, Any], user: FakeUser, channel: FakeChannel) -> None:
        perms = cmd.get("default_member_permissions")
        if perms is None or channel.guild is None:
            if channel.guild is None and (cmd.get("dm_permission") is False
                                          or (cmd.get("contexts") is not None and 1 not in cmd["contexts"])):
                raise InteractionFailed(f"/{cmd['name']} is not available in DMs")
            return
        member = channel.guild.member(user)
        if int(perms) & ~member.permissions:
            raise InteractionFailed(f"{user.name} cannot see /{cmd['name']} (needs permissions {perms})")

    def _interaction_payload(self, itype: int, data: dict[str, Any] | None, user: FakeUser, channel: FakeChannel,
                             message: FakeMessage | None) -> InteractionHandle:
        iid = snowflake()
        token = f"itok.{iid}.{secrets.token_urlsafe(24)}"
        guild = channel.guild
        ch = channel.to_payload()
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": itype,
            "token": token,
            "version": 1,
            "locale": "en-US",
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": self.upload_limit,
            "app_permissions": str(channel.effective_bot_permissions),
            "channel_id": str(channel.id),
            "channel": ch,
        }
        if data is not None:
            payload["data"] = data
        if guild is not None:
            member = guild.member(user)
            ch["permissions"] = str(member.permissions)
            payload.update(
                guild_id=str(guild.id),
                guild={"id": str(guild.id), "locale": guild.locale, "features": []},
                guild_locale=guild.locale,
                member=member.to_payload(with_permissions=True),
                authorizing_integration_owners={"0": str(guild.id)},
                context=0,
            )
        else:
            payload.update(user=user.to_payload(), authorizing_integration_owners={"0": "0"}, context=1)
        if message is not None:
            payload["message"] = message.to_payload()
        handle = InteractionHandle(fake=self, id=iid, token=token, type=itype, payload=payload, user=user,
                                   channel=channel, message=message)
        return handle

    async def send_interaction(self, handle: InteractionHandle, *, wait_ack: bool = True) -> InteractionHandle:
        """Dispatch INTERACTION_CREATE for ``handle``; by default wait until the bot acknowledges it.

        Raises :class:`InteractionFailed` ("This interaction failed" in the Discord client)
        if no acknowledgement arrives within :attr:`ack_deadline`.
        """
        self.interactions[handle.id] = handle
        self.interactions_by_token[handle.token] = handle
        handle.dispatched_at = self.now()
        await self.dispatch("INTERACTION_CREATE", handle.payload,
                            guild_id=handle.channel.guild_id if handle.channel else None)
        if wait_ack:
            limit = (self.ack_deadline or 10.0) + 0.5
            try:
                await self.wait_for(lambda: handle.acked or handle.errors, timeout=limit,
                                    what=f"the bot to acknowledge interaction {handle.id}")
            except TimeoutError:
                raise InteractionFailed(
                    f"the bot did not acknowledge interaction {handle.id} within {self.ack_deadline}s "
                    f"(users see 'This interaction failed')") from None
            if not handle.acked:
                if handle.late_by is not None:
                    raise InteractionFailed(
                        f"the bot acknowledged interaction {handle.id} after {handle.late_by:.2f}s; Discord allows "
                        f"{self.ack_deadline}s (answered 10062 Unknown interaction; users see 'This interaction "
                        f"failed')")
                raise InteractionFailed(f"interaction {handle.id} failed: {handle.errors}")
        return handle

    def _build_options(self, defs: list[dict[str, Any]], given: dict[str, Any], channel: FakeChannel,
                       resolved: dict[str, dict[str, Any]], *, focused: str | None, validate: bool
                       ) -> list[dict[str, Any]]:
        by_name = {d["name"]: d for d in defs}
        out: list[dict[str, Any]] = []
        for name, value in given.items():
            d = by_name.get(name)
            if d is None:
                raise KeyError(f"no option {name!r}; options are {list(by_name)}")
            t = d["type"]
            opt: dict[str, Any] = {"name": name, "type": t}
            if name == focused:
                opt.update(value=str(value), focused=True)
                out.append(opt)
                continue
            opt["value"] = self._option_value(d, value, channel, resolved, validate)
            out.append(opt)
        if validate and focused is None:
            missing = [d["name"] for d in defs if d.get("required") and d["name"] not in given]
            if missing:
                raise InteractionFailed(f"required options missing: {missing}")
        return out

    def _option_value(self, d: dict[str, Any], value: Any, channel: FakeChannel,
                      resolved: dict[str, dict[str, Any]], validate: bool) -> Any:
        t, name = d["type"], d["name"]
        guild = channel.guild
        if t in (it.STRING, it.INTEGER, it.NUMBER, it.BOOLEAN):
            value = {it.STRING: str, it.INTEGER: int, it.NUMBER: float, it.BOOLEAN: bool}[t](value)
            if validate:
                choices = d.get("choices")
                if choices and value not in [c["value"] for c in choices]:
                    raise InteractionFailed(f"{name}={value!r} is not one of the choices {choices}")
                if t == it.STRING and not d.get("min_length", 0) <= len(value) <= d.get("max_length", 6000):
                    raise InteractionFailed(f"{name}: length out of range")
                if t in (it.INTEGER, it.NUMBER):
                    if "min_value" in d and value < d["min_value"] or "max_value" in d and value > d["max_value"]:
                        raise InteractionFailed(f"{name}={value} out of range [{d.get('min_value')}, "
                                                f"{d.get('max_value')}]")
            return value
        if t == it.ATTACHMENT:
            att = self.make_attachment(value, channel, ephemeral=True)
            resolved.setdefault("attachments", {})[str(att.id)] = att.to_payload()
            return str(att.id)
        if t == it.USER or (t == it.MENTIONABLE and isinstance(value, (FakeUser, FakeMember))):
            user = value.user if isinstance(value, FakeMember) else value
            resolved.setdefault("users", {})[str(user.id)] = user.to_payload()
            if guild is not None and user.id in guild.members:
                resolved.setdefault("members", {})[str(user.id)] = guild.members[user.id].to_payload(
                    with_user=False, with_permissions=True)
            return str(user.id)
        if t in (it.ROLE, it.MENTIONABLE):
            resolved.setdefault("roles", {})[str(value.id)] = value.to_payload()
            return str(value.id)
        if t == it.CHANNEL:
            data = value.to_payload()
            data["permissions"] = str(value.effective_bot_permissions)
            resolved.setdefault("channels", {})[str(value.id)] = data
            return str(value.id)
        raise ValueError(f"unsupported option type {t}")

    def _command_data(self, command: str, options: dict[str, Any] | None, channel: FakeChannel, *,
                      focused: str | None, validate: bool, user: FakeUser) -> dict[str, Any]:
        cmds = self.commands_for(channel.guild)
        top, subs, leaf = find_command_path(cmds, command)
        if validate:
            self._check_can_use(top, user, channel)
        resolved: dict[str, dict[str, Any]] = {}
        opts = self._build_options(leaf.get("options", []), dict(options or {}), channel, resolved,
                                   focused=focused, validate=validate)
        for sub in reversed(subs):  # wrap leaf options in (group ->) subcommand options
            kind = it.SUB_COMMAND if sub == subs[-1] else it.SUB_COMMAND_GROUP
            opts = [{"name": sub, "type": kind, "options": opts}]
        data: dict[str, Any] = {"id": top["id"], "name": top["name"], "type": 1, "options": opts}
        if resolved:
            data["resolved"] = resolved
        if top.get("guild_id"):
            data["guild_id"] = top["guild_id"]
        return data

    async def slash(self, command: str, options: dict[str, Any] | None = None, *, user: UserLike | None = None,
                    channel: FakeChannel | None = None, attachments: dict[str, FileSpec] | None = None,
                    validate: bool = True, wait_ack: bool = True) -> InteractionHandle:
        """A user runs ``/command`` (``"group sub"`` for subcommands) with ``options``.

        Option values: str/int/float/bool, FakeUser/FakeMember, FakeChannel, FakeRole, and for
        attachment options a FakeAttachment or ``(bytes, filename[, content_type])`` (also
        accepted via ``attachments={name: ...}``).  With ``validate`` the server refuses (raises
        :class:`InteractionFailed`) what the Discord client would not send: unknown commands
        or options, missing required options, values outside choices/ranges, commands the
        user lacks ``default_member_permissions`` for.
        """
        user = self._user(user)
        channel = channel or self._default_channel()
        opts = dict(options or {})
        opts.update(attachments or {})
        data = self._command_data(command, opts, channel, focused=None, validate=validate, user=user)
        handle = self._interaction_payload(it.APPLICATION_COMMAND, data, user, channel, None)
        return await self.send_interaction(handle, wait_ack=wait_ack)

    async def autocomplete(self, command: str, options: dict[str, Any], focused: str, *,
                           user: UserLike | None = None, channel: FakeChannel | None = None,
                           timeout: float | None = None) -> list[dict[str, Any]]:
        """A user types in option ``focused`` (its current text is ``options[focused]``); return the choices."""
        user = self._user(user)
        channel = channel or self._default_channel()
        opts = dict(options)
        opts.setdefault(focused, "")
        data = self._command_data(command, opts, channel, focused=focused, validate=False, user=user)
        handle = self._interaction_payload(it.AUTOCOMPLETE, data, user, channel, None)
        await self.send_interaction(handle, wait_ack=False)
        await handle.wait_for(lambda h: h.acked or h.errors, timeout=timeout or (self.ack_deadline or 5.0) + 0.5)
        if handle.choices is None:
            raise InteractionFailed(f"autocomplete for {command}.{focused} got {handle.callbacks} {handle.errors}")
        return handle.choices

    async def click(self, message: FakeMessage, custom_id: str, *, user: UserLike | None = None,
                    values: list[Any] | None = None, wait_ack: bool = True) -> InteractionHandle:
        """A user clicks the button (or picks ``values`` in the select) ``custom_id`` on ``message``."""
        user = self._user(user)
        comp = message.component(custom_id)
        if comp.get("disabled"):
            raise InteractionFailed(f"component {custom_id!r} is disabled")
        ctype = comp["type"]
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": ctype}
        if ctype in (3, 5, 6, 7, 8):
            resolved: dict[str, dict[str, Any]] = {}
            vals: list[str] = []
            for v in values or []:
                if ctype == 3:
                    allowed = [o["value"] for o in comp.get("options", [])]
                    if v not in allowed:
                        raise InteractionFailed(f"{v!r} is not an option of {custom_id!r}: {allowed}")
                    vals.append(v)
                else:
                    kind = {5: it.USER, 6: it.ROLE, 8: it.CHANNEL}.get(ctype, it.MENTIONABLE)
                    vals.append(self._option_value({"type": kind, "name": custom_id}, v, message.channel,
                                                   resolved, False))
            if not comp.get("min_values", 1) <= len(vals) <= comp.get("max_values", 1):
                raise InteractionFailed(f"{custom_id!r} needs {comp.get('min_values', 1)}-"
                                        f"{comp.get('max_values', 1)} values, got {len(vals)}")
            data["values"] = vals
            if resolved:
                data["resolved"] = resolved
        elif ctype != 2:
            raise InteractionFailed(f"component {custom_id!r} (type {ctype}) is not clickable")
        elif comp.get("style") == 5:
            raise InteractionFailed(f"{custom_id!r} is a link button")
        handle = self._interaction_payload(it.MESSAGE_COMPONENT, data, user, message.channel, message)
        return await self.send_interaction(handle, wait_ack=wait_ack)

    async def message_command(self, name: str, message: FakeMessage, *, user: UserLike | None = None,
                              wait_ack: bool = True) -> InteractionHandle:
        """A user runs the message context-menu command ``name`` ("Apps" > name) on ``message``."""
        user = self._user(user)
        cmd = self.command(name, guild=message.channel.guild, type=3)
        self._check_can_use(cmd, user, message.channel)
        data: dict[str, Any] = {"id": cmd["id"], "name": name, "type": 3, "target_id": str(message.id),
                                "resolved": {"messages": {str(message.id): message.to_payload()}}}
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        handle = self._interaction_payload(it.APPLICATION_COMMAND, data, user, message.channel, None)
        handle.message = message
        return await self.send_interaction(handle, wait_ack=wait_ack)

    async def user_command(self, name: str, target: UserLike, *, user: UserLike | None = None,
                           channel: FakeChannel | None = None, wait_ack: bool = True) -> InteractionHandle:
        """A user runs the user context-menu command ``name`` on ``target``."""
        user = self._user(user)
        target = self._user(target)
        channel = channel or self._default_channel()
        cmd = self.command(name, guild=channel.guild, type=2)
        self._check_can_use(cmd, user, channel)
        resolved: dict[str, dict[str, Any]] = {}
        self._option_value({"type": it.USER, "name": "target"}, target, channel, resolved, False)
        data: dict[str, Any] = {"id": cmd["id"], "name": name, "type": 2, "target_id": str(target.id),
                                "resolved": resolved}
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        handle = self._interaction_payload(it.APPLICATION_COMMAND, data, user, channel, None)
        return await self.send_interaction(handle, wait_ack=wait_ack)

    async def submit_modal(self, modal: dict[str, Any], values: dict[str, Any], *, user: UserLike | None = None,
                           channel: FakeChannel | None = None, message: FakeMessage | None = None,
                           wait_ack: bool = True) -> InteractionHandle:
        """A user fills the ``modal`` the bot opened (``values``: custom_id -> text / list) and submits."""
        user = self._user(user)
        channel = channel or (message.channel if message else self._default_channel())
        remaining = dict(values)

        def fill(comp: dict[str, Any]) -> dict[str, Any] | None:
            t = comp.get("type")
            if t == 1:
                return {"type": 1, "components": [x for x in map(fill, comp.get("components", [])) if x]}
            if t == 18:
                inner = fill(comp["component"])
                return {"type": 18, "id": comp.get("id", 0), "component": inner} if inner else None
            cid = comp.get("custom_id")
            if cid is None:
                return None
            if t == 4:
                value = str(remaining.pop(cid, comp.get("value") or ""))
                if comp.get("required", True) and not value:
                    raise InteractionFailed(f"modal field {cid!r} is required")
                if len(value) > comp.get("max_length", 4000) or len(value) < comp.get("min_length", 0):
                    raise InteractionFailed(f"modal field {cid!r}: length out of range")
                return {"type": 4, "custom_id": cid, "value": value, "id": comp.get("id", 0)}
            vals = remaining.pop(cid, [])
            return {"type": t, "custom_id": cid, "values": list(vals), "id": comp.get("id", 0)}

        components = [x for x in map(fill, modal.get("components", [])) if x]
        if remaining:
            raise KeyError(f"modal {modal.get('custom_id')!r} has no fields {list(remaining)}")
        data = {"custom_id": modal["custom_id"], "components": components}
        handle = self._interaction_payload(it.MODAL_SUBMIT, data, user, channel, message)
        return await self.send_interaction(handle, wait_ack=wait_ack)

    def _user(self, user: UserLike | None) -> FakeUser:
        if user is None:
            return self._default_user()
        return user.user if isinstance(user, FakeMember) else user

    # ================================================================== interactions: the bot's answers
    def _response_message(self, handle: InteractionHandle, flags: int) -> FakeMessage:
        msg_type = 0
        if handle.type == it.APPLICATION_COMMAND:
            msg_type = 20 if handle.payload["data"].get("type", 1) == 1 else 23
        assert handle.channel is not None
        msg = self.new_message(handle.channel, self.bot_user, flags=flags, type=msg_type,
                               webhook_id=self.application_id, application_id=self.application_id)
        msg.interaction_metadata = {
            "id": str(handle.id),
            "type": handle.type,
            "user": handle.user.to_payload(),
            "authorizing_integration_owners": handle.payload.get("authorizing_integration_owners", {}),
        }
        if handle.type == it.APPLICATION_COMMAND:
            msg.interaction_metadata["name"] = handle.payload["data"]["name"]
        return msg

    async def handle_callback(self, handle: InteractionHandle, payload: dict[str, Any],
                              files: list[UploadedFile]) -> dict[str, Any]:
        delay = self.now() - handle.dispatched_at
        if handle.callbacks:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        if self.ack_deadline is not None and delay > self.ack_deadline:
            handle.late_by = delay
            raise DiscordError(404, 10062, "Unknown interaction")
        ctype = int(payload.get("type", 0))
        data = payload.get("data") or {}
        allowed = {
            it.APPLICATION_COMMAND: {4, 5, 9, 10, 12},
            it.MESSAGE_COMPONENT: {4, 5, 6, 7, 9, 10, 12},
            it.MODAL_SUBMIT: {4, 5, 6, 7, 10},
            it.AUTOCOMPLETE: {8},
        }[handle.type]
        if handle.type == it.MODAL_SUBMIT and handle.message is None:
            allowed = {4, 5, 10}
        if ctype not in allowed:
            raise DiscordError(400, 40043, f"Interaction response type {ctype} is not valid for interaction "
                                           f"type {handle.type}")
        record = CallbackRecord(type=ctype, data=data, delay=delay)
        message: FakeMessage | None = None
        flags = int(data.get("flags") or 0)
        if ctype == 4:
            message = self._response_message(handle, flags & (64 | 4 | 4096 | 32768))
            self.apply_message_payload(message, data, files, creating=True)
            handle.original = message
        elif ctype == 5:
            message = self._response_message(handle, (flags & 64) | 128)
            message.snapshot(self.now())
            handle.original = message
        elif ctype == 6:
            handle.original = handle.message
        elif ctype == 7:
            assert handle.message is not None
            self.apply_message_payload(handle.message, data, files, creating=False)
            handle.original = message = handle.message
        elif ctype == 8:
            choices = data.get("choices", [])
            if len(choices) > 25:
                raise invalid_form("more than 25 autocomplete choices")
            for c in choices:
                if not 1 <= len(c.get("name", "")) <= 100 or len(str(c.get("value", ""))) > 100:
                    raise invalid_form(f"autocomplete choice {c!r}: name/value must be 1-100 characters")
        elif ctype == 9:
            if not data.get("custom_id") or not data.get("title") or not data.get("components"):
                raise invalid_form("modal needs custom_id, title and components")
            if len(data["title"]) > 45:
                raise invalid_form("modal title longer than 45 characters")
        record.files = list(message.attachments) if message is not None and files else []
        handle.callbacks.append(record)
        handle.activity += 1
        if message is not None:
            if ctype == 7:
                await self.publish_edit(message)
            else:
                await self.publish_message(message)
        self._touch()
        interaction: dict[str, Any] = {
            "id": str(handle.id),
            "type": handle.type,
            "response_message_loading": ctype == 5,
            "response_message_ephemeral": bool(flags & 64),
        }
        result: dict[str, Any] = {"interaction": interaction}
        if message is not None:
            interaction["response_message_id"] = str(message.id)
            result["resource"] = {"type": ctype, "message": message.to_payload()}
        return result

    async def handle_followup(self, handle: InteractionHandle, payload: dict[str, Any],
                              files: list[UploadedFile]) -> FakeMessage:
        if not handle.callbacks:
            raise DiscordError(404, 10015, "Unknown Webhook")
        original = handle.original
        if original is not None and original.loading and not original.deleted and handle.callbacks[0].type == 5:
            # Discord: the first follow-up after a "thinking" defer replaces the placeholder.
            self.apply_message_payload(original, payload, files, creating=False)
            handle.followups.append(original)
            handle.activity += 1
            await self.publish_edit(original)
            return original
        flags = int(payload.get("flags") or 0) & (64 | 4 | 4096 | 32768)
        msg = self._response_message(handle, flags)
        self.apply_message_payload(msg, payload, files, creating=True)
        handle.followups.append(msg)
        handle.activity += 1
        await self.publish_message(msg)
        return msg
