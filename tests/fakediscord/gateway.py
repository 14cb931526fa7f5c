"""The fake gateway websocket: HELLO, heartbeats, IDENTIFY -> READY + GUILD_CREATE, RESUME, dispatches.

Speaks Discord gateway v10 JSON.  When the client asks for ``compress=zlib-stream``
(discord.py does by default) frames are sent as one shared zlib stream with a
``Z_SYNC_FLUSH`` after each payload, exactly like Discord; otherwise as text.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import zlib
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from .server import FakeDiscord

log = logging.getLogger("tests.fakediscord.gateway")

DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE, VOICE, RESUME, RECONNECT, REQUEST_MEMBERS, INVALID_SESSION, HELLO, ACK = (
    0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11
)

HEARTBEAT_INTERVAL_MS = 41250

FAKE_KEY: web.AppKey[FakeDiscord] = web.AppKey("fake", object)  # type: ignore[arg-type]

# Intent bits used to filter dispatches
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_GUILD_MESSAGE_REACTIONS = 1 << 10
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_DIRECT_MESSAGE_REACTIONS = 1 << 13
INTENT_MESSAGE_CONTENT = 1 << 15


class GatewayConnection:
    """One websocket session with the bot."""

    def __init__(self, fake: FakeDiscord, ws: web.WebSocketResponse, compress: str | None) -> None:
        self.fake = fake
        self.ws = ws
        self.seq = 0
        self.session_id = secrets.token_hex(16)
        self.intents: int = 0
        self.identified = False
        self.shard_id = 0
        self.shard_count = 1
        self.received: list[dict[str, Any]] = []  # every payload the client sent
        self._compressor = zlib.compressobj() if compress == "zlib-stream" else None
        self._send_lock = asyncio.Lock()

    @property
    def compressed(self) -> bool:
        """Whether this session uses zlib-stream transport compression."""
        return self._compressor is not None

    @property
    def open(self) -> bool:
        return not self.ws.closed

    async def send(self, op: int, d: Any, t: str | None = None) -> None:
        async with self._send_lock:
            payload: dict[str, Any] = {"op": op, "d": d, "s": None, "t": t}
            if op == DISPATCH:
                self.seq += 1
                payload["s"] = self.seq
            text = json.dumps(payload)
            if self.ws.closed:
                return
            try:
                if self._compressor is not None:
                    data = self._compressor.compress(text.encode()) + self._compressor.flush(zlib.Z_SYNC_FLUSH)
                    await self.ws.send_bytes(data)
                else:
                    await self.ws.send_str(text)
            except (ConnectionResetError, RuntimeError) as exc:  # client went away mid-send
                log.debug("gateway send failed: %s", exc)

    async def dispatch(self, event: str, data: Any) -> None:
        self.fake.dispatched.append((event, data))
        await self.send(DISPATCH, data, event)

    async def run(self) -> None:
        await self.send(HELLO, {"heartbeat_interval": HEARTBEAT_INTERVAL_MS, "_trace": ["fake-gateway"]})
        async for msg in self.ws:
            if msg.type == WSMsgType.TEXT:
                await self._handle(json.loads(msg.data))
            elif msg.type == WSMsgType.BINARY:
                await self._handle(json.loads(zlib.decompress(msg.data)))
            elif msg.type == WSMsgType.ERROR:
                log.debug("gateway ws error: %s", self.ws.exception())
                break

    async def _handle(self, msg: dict[str, Any]) -> None:
        self.received.append(msg)
        op, d = msg.get("op"), msg.get("d")
        if op == HEARTBEAT:
            await self.send(ACK, None)
        elif op == IDENTIFY:
            await self._identify(d)
        elif op == RESUME:
            if d.get("token") != self.fake.token:
                await self.ws.close(code=4004, message=b"Authentication failed.")
                return
            previous = self.fake._session(d.get("session_id"))
            if previous is None:
                await self.send(INVALID_SESSION, False)
                return
            self.identified = True
            self.intents, self.shard_id, self.shard_count = previous.intents, previous.shard_id, previous.shard_count
            self.session_id = previous.session_id
            self.seq = int(d.get("seq") or previous.seq)
            self.fake._gateway_ready(self)
            await self.dispatch("RESUMED", {"_trace": ["fake-gateway"]})
        elif op == REQUEST_MEMBERS:
            await self._request_members(d)
        elif op in (PRESENCE, VOICE):
            pass
        else:
            log.warning("fake gateway: unknown op %r: %r", op, msg)
            self.fake.unhandled_routes.append(f"GATEWAY op={op}")
        self.fake._touch()

    async def _identify(self, d: dict[str, Any]) -> None:
        if d.get("token") != self.fake.token:
            await self.ws.close(code=4004, message=b"Authentication failed.")
            return
        self.intents = int(d.get("intents", 0))
        self.shard_id, self.shard_count = (int(x) for x in (d.get("shard") or [0, 1]))
        self.fake._last_intents = self.intents
        self.fake.identify_payload = d
        guilds = [g for g in self.fake.guilds.values() if self.owns(g.id)]
        await self.dispatch(
            "READY",
            {
                "v": 10,
                "user": self.fake.bot_user.to_payload(),
                "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
                "session_id": self.session_id,
                "resume_gateway_url": self.fake.gateway_url,
                "shard": [self.shard_id, self.shard_count],
                "application": {"id": str(self.fake.application_id), "flags": 0},
                "private_channels": [],
                "relationships": [],
                "user_settings": {},
                "_trace": ["fake-gateway"],
            },
        )
        self.identified = True
        for g in guilds:
            await self.dispatch("GUILD_CREATE", self.guild_payload(g))
        self.fake._gateway_ready(self)

    def owns(self, guild_id: int | None) -> bool:
        """Whether ``guild_id``'s events go to this shard (DMs go to shard 0), as Discord routes them."""
        if guild_id is None:
            return self.shard_id == 0
        return (guild_id >> 22) % self.shard_count == self.shard_id

    def guild_payload(self, guild) -> dict[str, Any]:
        """GUILD_CREATE for ``guild``: all members only with the GUILD_MEMBERS intent (as on Discord)."""
        everyone = self.intents & INTENT_GUILD_MEMBERS
        return guild.to_payload(members_for=None if everyone else self.fake.bot_user.id)

    async def _request_members(self, d: dict[str, Any]) -> None:
        guild = self.fake.guilds.get(int(d["guild_id"]))
        members = list(guild.members.values()) if guild else []
        if d.get("user_ids"):
            wanted = {int(u) for u in (d["user_ids"] if isinstance(d["user_ids"], list) else [d["user_ids"]])}
            members = [m for m in members if m.id in wanted]
        elif d.get("query"):
            members = [m for m in members if m.user.name.lower().startswith(str(d["query"]).lower())]
        limit = int(d.get("limit") or 0)
        if limit:
            members = members[:limit]
        chunk: dict[str, Any] = {
            "guild_id": d["guild_id"],
            "members": [m.to_payload() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
        }
        if d.get("nonce") is not None:
            chunk["nonce"] = d["nonce"]
        await self.dispatch("GUILD_MEMBERS_CHUNK", chunk)


async def gateway_handler(request: web.Request) -> web.WebSocketResponse:
    fake: FakeDiscord = request.app[FAKE_KEY]
    ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
    await ws.prepare(request)
    if request.query.get("v") not in (None, "10"):
        await ws.close(code=4012, message=b"Invalid API version")
        return ws
    conn = GatewayConnection(fake, ws, request.query.get("compress"))
    fake.gateway_connections.append(conn)
    try:
        await conn.run()
    finally:
        fake._gateway_closed(conn)
    return ws
