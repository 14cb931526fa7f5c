"""The fake REST API (``/api/v10/...``) and CDN (``/attachments/...``) routes.

Handlers parse what discord.py sends (JSON or multipart ``payload_json`` + ``files[n]``),
validate it the way Discord does where a bot bug would show (empty messages, too
long content, too many embeds/choices, double acknowledgement, late
acknowledgement, missing permissions, oversized files) and answer with Discord's
JSON error shapes, so discord.py raises the same exceptions it would in production.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .models import ATTACH_FILES, SEND_MESSAGES, VIEW_CHANNEL, FakeMessage, snowflake, walk_components

if TYPE_CHECKING:
    from .interactions import InteractionHandle
    from .server import FakeDiscord

log = logging.getLogger("tests.fakediscord.rest")

API = "/api/v10"
COMMAND_NAME_RE = re.compile(r"^[-_\w]{1,32}$")


def json_response(data: Any, status: int = 200) -> web.Response:
    """JSON with exactly ``Content-Type: application/json`` (discord.py compares the header verbatim)."""
    return web.Response(body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"})


class DiscordError(Exception):
    """Raised inside a handler; becomes a Discord-shaped JSON error response."""

    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def response(self) -> web.Response:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return json_response(body, status=self.status)


def invalid_form(message: str) -> DiscordError:
    errors = {"_errors": [{"code": "BASE_TYPE_INVALID", "message": message}]}
    return DiscordError(400, 50035, "Invalid Form Body", errors)


@dataclass
class UploadedFile:
    index: int
    filename: str
    content_type: str | None
    data: bytes


async def read_body(request: web.Request) -> tuple[dict[str, Any], list[UploadedFile]]:
    """JSON body, or multipart ``payload_json`` + ``files[n]`` parts."""
    ctype = request.content_type
    if ctype.startswith("multipart/"):
        payload: dict[str, Any] = {}
        files: list[UploadedFile] = []
        reader = await request.multipart()
        async for part in reader:
            name = part.name or ""
            if name == "payload_json":
                payload = json.loads(await part.text())
            else:
                m = re.fullmatch(r"files\[(\d+)\]|file(\d*)", name)
                if not m:
                    raise invalid_form(f"unexpected multipart field {name!r}")
                index = int(m.group(1) or m.group(2) or 0)
                filename = part.filename or f"file{index}"
                data = await part.read(decode=False)
                guessed = mimetypes.guess_type(filename)[0]
                sent = part.headers.get("Content-Type")
                content_type = guessed or (sent if sent and sent != "application/octet-stream" else None)
                files.append(UploadedFile(index, filename, content_type, bytes(data)))
        return payload, files
    raw = await request.read()
    if not raw:
        return {}, []
    try:
        return json.loads(raw), []
    except json.JSONDecodeError:
        raise DiscordError(400, 50109, "The request body contains invalid JSON.") from None


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true")


class RestApi:
    """Route handlers, bound to one :class:`FakeDiscord`."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    # ------------------------------------------------------------------ wiring
    def routes(self) -> list[web.RouteDef]:
        a = API
        return [
            web.get(a + "/gateway", self.get_gateway),
            web.get(a + "/gateway/bot", self.get_gateway_bot),
            web.get(a + "/users/@me", self.get_me),
            web.post(a + "/users/@me/channels", self.create_dm),
            web.get(a + "/users/{user_id:\\d+}", self.get_user),
            web.get(a + "/oauth2/applications/@me", self.get_application),
            web.get(a + "/applications/@me", self.get_application),
            web.get(a + "/applications/{app_id}/commands", self.get_commands),
            web.put(a + "/applications/{app_id}/commands", self.put_commands),
            web.post(a + "/applications/{app_id}/commands", self.upsert_command),
            web.get(a + "/applications/{app_id}/commands/{cmd_id}", self.get_command),
            web.patch(a + "/applications/{app_id}/commands/{cmd_id}", self.edit_command),
            web.delete(a + "/applications/{app_id}/commands/{cmd_id}", self.delete_command),
            web.get(a + "/applications/{app_id}/guilds/{guild_id}/commands", self.get_commands),
            web.put(a + "/applications/{app_id}/guilds/{guild_id}/commands", self.put_commands),
            web.post(a + "/applications/{app_id}/guilds/{guild_id}/commands", self.upsert_command),
            web.get(a + "/applications/{app_id}/guilds/{guild_id}/commands/{cmd_id}", self.get_command),
            web.patch(a + "/applications/{app_id}/guilds/{guild_id}/commands/{cmd_id}", self.edit_command),
            web.delete(a + "/applications/{app_id}/guilds/{guild_id}/commands/{cmd_id}", self.delete_command),
            web.get(a + "/guilds/{guild_id}", self.get_guild),
            web.get(a + "/guilds/{guild_id}/channels", self.get_guild_channels),
            web.get(a + "/guilds/{guild_id}/roles", self.get_guild_roles),
            web.get(a + "/guilds/{guild_id}/members", self.list_members),
            web.get(a + "/guilds/{guild_id}/members/{user_id}", self.get_member),
            web.get(a + "/channels/{channel_id}", self.get_channel),
            web.get(a + "/channels/{channel_id}/messages", self.get_messages),
            web.post(a + "/channels/{channel_id}/messages", self.create_message),
            web.post(a + "/channels/{channel_id}/messages/bulk-delete", self.bulk_delete),
            web.get(a + "/channels/{channel_id}/messages/{message_id}", self.get_message),
            web.patch(a + "/channels/{channel_id}/messages/{message_id}", self.edit_message),
            web.delete(a + "/channels/{channel_id}/messages/{message_id}", self.delete_message),
            web.put(a + "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self.add_reaction),
            web.delete(a + "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{user}",
                       self.remove_reaction),
            web.post(a + "/channels/{channel_id}/typing", self.typing),
            web.post(a + "/interactions/{interaction_id}/{token}/callback", self.interaction_callback),
            web.post(a + "/webhooks/{app_id}/{token}", self.create_followup),
            web.get(a + "/webhooks/{app_id}/{token}/messages/{message_id}", self.get_webhook_message),
            web.patch(a + "/webhooks/{app_id}/{token}/messages/{message_id}", self.edit_webhook_message),
            web.delete(a + "/webhooks/{app_id}/{token}/messages/{message_id}", self.delete_webhook_message),
            web.get("/attachments/{channel_id}/{attachment_id}/{filename}", self.download_attachment),
        ]

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        fake = self.fake
        path = request.path
        needs_auth = path.startswith(API) and not (
            path.startswith(API + "/webhooks/") or path.startswith(API + "/interactions/")
        )
        try:
            if needs_auth and request.headers.get("Authorization") != f"Bot {fake.token}":
                raise DiscordError(401, 0, "401: Unauthorized")
            injected = fake._take_injected_error(request.method, path)
            if injected is not None:
                await request.read()
                resp = injected
                fake.http_errors.append({"method": request.method, "path": path, "status": resp.status,
                                         "code": None, "message": "injected"})
            else:
                resp = await handler(request)
        except DiscordError as exc:
            resp = exc.response()
            fake.http_errors.append({"method": request.method, "path": path, "status": exc.status,
                                     "code": exc.code, "message": exc.message})
        fake.requests.append((request.method, path, resp.status))
        fake._touch()
        return resp

    async def unhandled(self, request: web.Request) -> web.Response:
        route = f"{request.method} {request.path}"
        log.warning("fake discord: unhandled route %s", route)
        self.fake.unhandled_routes.append(route)
        return json_response({"message": "404: Not Found", "code": 0}, status=404)

    # ------------------------------------------------------------------ helpers
    def _channel(self, request: web.Request):
        try:
            return self.fake.channels[int(request.match_info["channel_id"])]
        except (KeyError, ValueError):
            raise DiscordError(404, 10003, "Unknown Channel") from None

    def _message(self, request: web.Request, channel=None) -> FakeMessage:
        channel = channel or self._channel(request)
        try:
            msg = self.fake.messages[int(request.match_info["message_id"])]
        except (KeyError, ValueError):
            raise DiscordError(404, 10008, "Unknown Message") from None
        if msg.deleted or msg.channel is not channel or msg.ephemeral:
            raise DiscordError(404, 10008, "Unknown Message")
        return msg

    def _guild(self, request: web.Request):
        try:
            return self.fake.guilds[int(request.match_info["guild_id"])]
        except (KeyError, ValueError):
            raise DiscordError(404, 10004, "Unknown Guild") from None

    def _require(self, channel, perm: int, what: str) -> None:
        if channel.guild is not None and not channel.effective_bot_permissions & perm:
            raise DiscordError(403, 50013, f"Missing Permissions ({what})")

    def _handle_for(self, request: web.Request) -> InteractionHandle:
        token = request.match_info["token"]
        handle = self.fake.interactions_by_token.get(token)
        if handle is None or str(self.fake.application_id) != request.match_info["app_id"]:
            raise DiscordError(404, 10015, "Unknown Webhook")
        if handle.elapsed() > self.fake.token_lifetime:
            handle.errors.append({"route": request.method, "status": 401, "code": 50027,
                                  "message": "Invalid Webhook Token"})
            raise DiscordError(401, 50027, "Invalid Webhook Token")
        return handle

    def _handle_message(self, request: web.Request, handle: InteractionHandle) -> FakeMessage:
        mid = request.match_info["message_id"]
        if mid == "@original":
            if handle.original is None or handle.original.deleted:
                raise DiscordError(404, 10008, "Unknown Message")
            return handle.original
        for m in handle.messages:
            if str(m.id) == mid and not m.deleted:
                return m
        raise DiscordError(404, 10008, "Unknown Message")

    def _json(self, data: Any, status: int = 200) -> web.Response:
        return json_response(data, status=status)

    # ------------------------------------------------------------------ session
    async def get_gateway(self, request: web.Request) -> web.Response:
        return self._json({"url": self.fake.gateway_url})

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        return self._json({
            "url": self.fake.gateway_url,
            "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1},
        })

    async def get_me(self, request: web.Request) -> web.Response:
        data = self.fake.bot_user.to_payload()
        data.update({"verified": True, "mfa_enabled": False, "locale": "en-US", "email": None})
        return self._json(data)

    async def get_user(self, request: web.Request) -> web.Response:
        user = self.fake.users.get(int(request.match_info["user_id"]))
        if user is None:
            raise DiscordError(404, 10013, "Unknown User")
        return self._json(user.to_payload())

    async def create_dm(self, request: web.Request) -> web.Response:
        payload, _ = await read_body(request)
        user = self.fake.users.get(int(payload.get("recipient_id", 0)))
        if user is None:
            raise DiscordError(404, 10013, "Unknown User")
        return self._json(self.fake.dm_channel(user).to_payload())

    async def get_application(self, request: web.Request) -> web.Response:
        f = self.fake
        return self._json({
            "id": str(f.application_id),
            "name": f.bot_user.name,
            "icon": None,
            "description": "Fake application",
            "summary": "",
            "type": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": 0,
            "owner": f.app_owner.to_payload(),
            "team": None,
            "bot": f.bot_user.to_payload(),
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "tags": [],
        })

    # ------------------------------------------------------------------ app commands
    def _command_list(self, request: web.Request) -> list[dict[str, Any]]:
        if request.match_info["app_id"] != str(self.fake.application_id):
            raise DiscordError(403, 50001, "Missing Access")
        gid = request.match_info.get("guild_id")
        if gid is None:
            return self.fake.global_commands
        if int(gid) not in self.fake.guilds:
            raise DiscordError(403, 50001, "Missing Access")
        return self.fake.guild_commands.setdefault(int(gid), [])

    def _validate_command(self, cmd: dict[str, Any]) -> None:
        ctype = cmd.get("type", 1)
        name = cmd.get("name", "")
        if ctype == 1:
            if not COMMAND_NAME_RE.match(name) or name != name.lower():
                raise invalid_form(f"command name {name!r} is invalid")
            desc = cmd.get("description", "")
            if not 1 <= len(desc) <= 100:
                raise invalid_form(f"command {name!r}: description must be 1-100 characters")
        elif not 1 <= len(name) <= 32:
            raise invalid_form(f"context menu name {name!r} must be 1-32 characters")
        self._validate_options(name, cmd.get("options", []))

    def _validate_options(self, where: str, options: list[dict[str, Any]]) -> None:
        if len(options) > 25:
            raise invalid_form(f"{where}: more than 25 options")
        seen_optional = False
        for opt in options:
            oname = opt.get("name", "")
            if not COMMAND_NAME_RE.match(oname) or oname != oname.lower():
                raise invalid_form(f"{where}: option name {oname!r} is invalid")
            if not 1 <= len(opt.get("description", "")) <= 100:
                raise invalid_form(f"{where}.{oname}: description must be 1-100 characters")
            if opt["type"] in (1, 2):
                self._validate_options(f"{where} {oname}", opt.get("options", []))
                continue
            if opt.get("required"):
                if seen_optional:
                    raise invalid_form(f"{where}: required option {oname!r} after an optional one")
            else:
                seen_optional = True
            choices = opt.get("choices") or []
            if len(choices) > 25:
                raise invalid_form(f"{where}.{oname}: more than 25 choices")
            if choices and opt.get("autocomplete"):
                raise invalid_form(f"{where}.{oname}: choices and autocomplete are exclusive")

    def _store_command(self, cmd: dict[str, Any], guild_id: str | None, old: dict[str, Any] | None) -> dict[str, Any]:
        self._validate_command(cmd)
        stored = dict(cmd)
        stored.setdefault("type", 1)
        stored.setdefault("description", "")
        stored["id"] = old["id"] if old else str(snowflake())
        stored["application_id"] = str(self.fake.application_id)
        stored["version"] = str(snowflake())
        stored.setdefault("default_member_permissions", None)
        stored.setdefault("nsfw", False)
        if guild_id is not None:
            stored["guild_id"] = guild_id
        return stored

    async def get_commands(self, request: web.Request) -> web.Response:
        return self._json(self._command_list(request))

    async def put_commands(self, request: web.Request) -> web.Response:
        target = self._command_list(request)
        payload, _ = await read_body(request)
        if not isinstance(payload, list):
            raise invalid_form("expected a list of commands")
        gid = request.match_info.get("guild_id")
        by_key = {(c["name"], c.get("type", 1)): c for c in target}
        new = [self._store_command(c, gid, by_key.get((c["name"], c.get("type", 1)))) for c in payload]
        keys = [(c["name"], c["type"]) for c in new]
        if len(set(keys)) != len(keys):
            raise invalid_form("duplicate command names")
        target[:] = new
        self.fake.sync_count += 1
        return self._json(new)

    async def upsert_command(self, request: web.Request) -> web.Response:
        target = self._command_list(request)
        payload, _ = await read_body(request)
        gid = request.match_info.get("guild_id")
        key = (payload.get("name"), payload.get("type", 1))
        old = next((c for c in target if (c["name"], c["type"]) == key), None)
        stored = self._store_command(payload, gid, old)
        if old is not None:
            target[target.index(old)] = stored
        else:
            target.append(stored)
        return self._json(stored, status=200 if old else 201)

    def _find_command(self, request: web.Request) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        target = self._command_list(request)
        cid = request.match_info["cmd_id"]
        for c in target:
            if c["id"] == cid:
                return target, c
        raise DiscordError(404, 10063, "Unknown application command")

    async def get_command(self, request: web.Request) -> web.Response:
        return self._json(self._find_command(request)[1])

    async def edit_command(self, request: web.Request) -> web.Response:
        target, cmd = self._find_command(request)
        payload, _ = await read_body(request)
        merged = {**cmd, **payload}
        stored = self._store_command(merged, request.match_info.get("guild_id"), cmd)
        target[target.index(cmd)] = stored
        return self._json(stored)

    async def delete_command(self, request: web.Request) -> web.Response:
        target, cmd = self._find_command(request)
        target.remove(cmd)
        return web.Response(status=204)

    # ------------------------------------------------------------------ guilds & channels
    async def get_guild(self, request: web.Request) -> web.Response:
        data = self._guild(request).to_payload()
        for key in ("members", "channels", "threads", "presences", "voice_states", "joined_at", "large"):
            data.pop(key, None)
        return self._json(data)

    async def get_guild_channels(self, request: web.Request) -> web.Response:
        return self._json([c.to_payload() for c in self._guild(request).channels])

    async def get_guild_roles(self, request: web.Request) -> web.Response:
        return self._json([r.to_payload() for r in self._guild(request).roles])

    async def list_members(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        limit = int(request.query.get("limit", 1))
        after = int(request.query.get("after", 0))
        members = sorted((m for m in guild.members.values() if m.id > after), key=lambda m: m.id)[:limit]
        return self._json([m.to_payload() for m in members])

    async def get_member(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        member = guild.members.get(int(request.match_info["user_id"]))
        if member is None:
            raise DiscordError(404, 10007, "Unknown Member")
        return self._json(member.to_payload())

    async def get_channel(self, request: web.Request) -> web.Response:
        return self._json(self._channel(request).to_payload())

    async def typing(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        self.fake.typing.append((channel.id, self.fake.now()))
        return web.Response(status=204)

    # ------------------------------------------------------------------ channel messages
    async def get_messages(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        self._require(channel, VIEW_CHANNEL, "view channel")
        q = request.query
        limit = max(1, min(100, int(q.get("limit", 50))))
        msgs = [m for m in self.fake.channel_history(channel)]  # oldest first
        if "before" in q:
            msgs = [m for m in msgs if m.id < int(q["before"])]
            msgs = msgs[-limit:]
        elif "after" in q:
            msgs = [m for m in msgs if m.id > int(q["after"])][:limit]
        elif "around" in q:
            around = int(q["around"])
            older = [m for m in msgs if m.id <= around][-(limit // 2 + 1):]
            newer = [m for m in msgs if m.id > around][: limit - len(older)]
            msgs = older + newer
        else:
            msgs = msgs[-limit:]
        msgs.sort(key=lambda m: m.id, reverse=True)  # Discord returns newest first
        return self._json([self.fake.payload_for_bot(m) for m in msgs])

    async def get_message(self, request: web.Request) -> web.Response:
        msg = self._message(request)
        return self._json(self.fake.payload_for_bot(msg))

    async def create_message(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        payload, files = await read_body(request)
        self._require(channel, VIEW_CHANNEL, "view channel")
        self._require(channel, SEND_MESSAGES, "send messages")
        if files:
            self._require(channel, ATTACH_FILES, "attach files")
        msg = self.fake.new_message(channel, self.fake.bot_user)
        if payload.get("message_reference"):
            ref = dict(payload["message_reference"])
            ref.setdefault("channel_id", str(channel.id))
            msg.message_reference = ref
            msg.type = 19
        self.fake.apply_message_payload(msg, payload, files, creating=True)
        msg.flags = int(payload.get("flags") or 0) & ~(64 | 128)
        await self.fake.publish_message(msg)
        return self._json(msg.to_payload())

    async def edit_message(self, request: web.Request) -> web.Response:
        msg = self._message(request)
        if msg.author is not self.fake.bot_user:
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        payload, files = await read_body(request)
        self.fake.apply_message_payload(msg, payload, files, creating=False)
        await self.fake.publish_edit(msg)
        return self._json(msg.to_payload())

    async def delete_message(self, request: web.Request) -> web.Response:
        msg = self._message(request)
        if msg.author is not self.fake.bot_user:
            self._require(msg.channel, 1 << 13, "manage messages")
        await self.fake.delete_message(msg)
        return web.Response(status=204)

    async def bulk_delete(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        self._require(channel, 1 << 13, "manage messages")
        payload, _ = await read_body(request)
        for mid in payload.get("messages", []):
            msg = self.fake.messages.get(int(mid))
            if msg is not None and msg.channel is channel:
                await self.fake.delete_message(msg)
        return web.Response(status=204)

    async def add_reaction(self, request: web.Request) -> web.Response:
        msg = self._message(request)
        self._require(msg.channel, 1 << 6, "add reactions")
        emoji = request.match_info["emoji"]
        msg.reactions.setdefault(emoji, set()).add(self.fake.bot_user.id)
        return web.Response(status=204)

    async def remove_reaction(self, request: web.Request) -> web.Response:
        msg = self._message(request)
        who = request.match_info["user"]
        uid = self.fake.bot_user.id if who == "@me" else int(who)
        msg.reactions.get(request.match_info["emoji"], set()).discard(uid)
        return web.Response(status=204)

    async def download_attachment(self, request: web.Request) -> web.Response:
        att = self.fake.attachments.get(int(request.match_info["attachment_id"]))
        if att is None or att.filename != request.match_info["filename"]:
            return web.Response(status=404, text="Not Found")
        self.fake.downloads.append(att)
        return web.Response(body=att.data, content_type=att.content_type or "application/octet-stream")

    # ------------------------------------------------------------------ interactions
    async def interaction_callback(self, request: web.Request) -> web.Response:
        fake = self.fake
        handle = fake.interactions.get(int(request.match_info["interaction_id"]))
        payload, files = await read_body(request)
        if handle is None or handle.token != request.match_info["token"]:
            raise DiscordError(404, 10062, "Unknown interaction")
        try:
            result = await fake.handle_callback(handle, payload, files)
        except DiscordError as exc:
            handle.errors.append({"route": "callback", "status": exc.status, "code": exc.code, "message": exc.message})
            raise
        if not _truthy(request.query.get("with_response")):
            return web.Response(status=204)
        return self._json(result)

    async def create_followup(self, request: web.Request) -> web.Response:
        handle = self._handle_for(request)
        payload, files = await read_body(request)
        try:
            msg = await self.fake.handle_followup(handle, payload, files)
        except DiscordError as exc:
            handle.errors.append({"route": "followup", "status": exc.status, "code": exc.code, "message": exc.message})
            raise
        if _truthy(request.query.get("wait")):
            return self._json(msg.to_payload())
        return web.Response(status=204)

    async def get_webhook_message(self, request: web.Request) -> web.Response:
        handle = self._handle_for(request)
        return self._json(self._handle_message(request, handle).to_payload())

    async def edit_webhook_message(self, request: web.Request) -> web.Response:
        handle = self._handle_for(request)
        try:
            msg = self._handle_message(request, handle)
            payload, files = await read_body(request)
            self.fake.apply_message_payload(msg, payload, files, creating=False)
        except DiscordError as exc:
            handle.errors.append({"route": "edit", "status": exc.status, "code": exc.code, "message": exc.message})
            raise
        handle.activity += 1
        await self.fake.publish_edit(msg)
        return self._json(msg.to_payload())

    async def delete_webhook_message(self, request: web.Request) -> web.Response:
        handle = self._handle_for(request)
        msg = self._handle_message(request, handle)
        await self.fake.delete_message(msg)
        handle.activity += 1
        return web.Response(status=204)


def check_components(components: list[dict[str, Any]]) -> None:
    """Discord's limits on message components that a bot can plausibly break."""
    top_rows = [c for c in components if c.get("type") == 1]
    if len(top_rows) > 5:
        raise invalid_form("more than 5 action rows")
    seen: set[str] = set()
    for comp in walk_components(components):
        cid = comp.get("custom_id")
        if cid is not None:
            if not 1 <= len(cid) <= 100:
                raise invalid_form(f"custom_id {cid[:40]!r}... must be 1-100 characters")
            if cid in seen:
                raise invalid_form(f"duplicate custom_id {cid!r}")
            seen.add(cid)
        if comp.get("type") == 1 and len(comp.get("components", [])) > 5:
            raise invalid_form("more than 5 components in an action row")
        if comp.get("type") == 2:
            if len(comp.get("label") or "") > 80:
                raise invalid_form("button label longer than 80 characters")
            if comp.get("style") == 5 and not comp.get("url"):
                raise invalid_form("link button without url")
            if comp.get("style") != 5 and comp.get("style") != 6 and cid is None:
                raise invalid_form("button without custom_id")
        if comp.get("type") == 3:
            opts = comp.get("options", [])
            if not 1 <= len(opts) <= 25:
                raise invalid_form("select menus need 1-25 options")


def check_embeds(embeds: list[dict[str, Any]]) -> None:
    if len(embeds) > 10:
        raise invalid_form("more than 10 embeds")
    total = 0
    for e in embeds:
        if len(e.get("title") or "") > 256:
            raise invalid_form("embed title longer than 256")
        if len(e.get("description") or "") > 4096:
            raise invalid_form("embed description longer than 4096")
        fields = e.get("fields", [])
        if len(fields) > 25:
            raise invalid_form("more than 25 embed fields")
        for f in fields:
            if not f.get("name") or not f.get("value"):
                raise invalid_form("embed field name and value are required")
            if len(f["name"]) > 256 or len(f["value"]) > 1024:
                raise invalid_form("embed field too long")
        total += len(e.get("title") or "") + len(e.get("description") or "")
        total += sum(len(f.get("name", "")) + len(f.get("value", "")) for f in fields)
        total += len((e.get("footer") or {}).get("text", "")) + len((e.get("author") or {}).get("name", ""))
    if total > 6000:
        raise invalid_form("embeds longer than 6000 characters in total")
