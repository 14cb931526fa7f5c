"""Messages and files: the CDN, channel histories, applying create/edit payloads, user posts."""

from __future__ import annotations

import mimetypes
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import discord

from .gateway import INTENT_DIRECT_MESSAGES, INTENT_GUILD_MESSAGES, INTENT_MESSAGE_CONTENT
from .models import FakeAttachment, FakeChannel, FakeMessage, FakeUser, FileSpec, snowflake
from .rest import DiscordError, UploadedFile, check_components, check_embeds, invalid_form

if TYPE_CHECKING:
    from .world import World


class MessagesMixin:
    """Part of :class:`~tests.fakediscord.server.FakeDiscord`: files, messages and channel history."""

    base_url: str
    bot_user: FakeUser
    messages: dict[int, FakeMessage]
    attachments: dict[int, FakeAttachment]
    _history: dict[int, list[FakeMessage]]
    _last_intents: int
    upload_limit: int
    world: World | None

    if TYPE_CHECKING:  # provided by FakeDiscord or its other parts
        def now(self) -> float: ...
        def _touch(self) -> None: ...
        def _default_user(self) -> FakeUser: ...
        async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0,
                           what: str = "condition") -> Any: ...
        async def _dispatch_if_connected(self, event: str, data: Any, intent: int = 0, *,
                                         guild_id: int | None = None) -> None: ...

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
