"""The fake server's world: users, guilds, roles, channels, members, messages, attachments.

Every object knows how to render itself as the JSON payload Discord would send
(``to_payload()``), in the shapes discord.py 2.x parses.  Objects are plain
mutable dataclasses so a test can look at (and tweak) them directly.
"""

from __future__ import annotations

import datetime as _dt
import io
import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Union

import discord

DISCORD_EPOCH_MS = 1420070400000

#: Permissions the bot gets in every channel unless a test changes ``FakeChannel.bot_permissions``.
DEFAULT_BOT_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
    add_reactions=True,
    use_external_emojis=True,
    use_application_commands=True,
).value

#: What @everyone may do in a fake guild.
DEFAULT_EVERYONE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
    add_reactions=True,
    use_application_commands=True,
).value

ALL_PERMISSIONS = discord.Permissions.all().value
ADMINISTRATOR = discord.Permissions(administrator=True).value
SEND_MESSAGES = discord.Permissions(send_messages=True).value
ATTACH_FILES = discord.Permissions(attach_files=True).value
VIEW_CHANNEL = discord.Permissions(view_channel=True).value

_counter = itertools.count()
_counter_lock = threading.Lock()


def snowflake() -> int:
    """A fresh, unique, time-ordered Discord snowflake."""
    with _counter_lock:
        n = next(_counter)
    ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
    return (ms << 22) | (1 << 17) | (n & 0x1FFFF)


def iso_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat()


def walk_components(components: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every component in a (possibly nested: rows, containers, sections, labels) component tree."""
    for comp in components or []:
        yield comp
        yield from walk_components(comp.get("components", []))
        for key in ("accessory", "component"):
            if isinstance(comp.get(key), dict):
                yield from walk_components([comp[key]])


@dataclass(eq=False)
class FakeUser:
    id: int
    name: str
    bot: bool = False
    global_name: str | None = None

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    def to_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.name,
            "global_name": self.global_name,
            "discriminator": "0",
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
            "flags": 0,
        }


@dataclass(eq=False)
class FakeRole:
    id: int
    guild_id: int
    name: str
    permissions: int = 0
    position: int = 0

    def to_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }


@dataclass(eq=False)
class FakeMember:
    user: FakeUser
    guild: FakeGuild
    roles: list[FakeRole] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=iso_now)

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def permissions(self) -> int:
        """Guild-level permissions (owner and administrator get everything)."""
        if self.guild.owner_id == self.user.id:
            return ALL_PERMISSIONS
        value = self.guild.everyone_role.permissions
        for role in self.roles:
            value |= role.permissions
        if value & ADMINISTRATOR:
            return ALL_PERMISSIONS
        return value

    def to_payload(self, *, with_user: bool = True, with_permissions: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "roles": [str(r.id) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.to_payload()
        if with_permissions:
            data["permissions"] = str(self.permissions)
        return data


@dataclass(eq=False)
class FakeChannel:
    id: int
    name: str
    guild: FakeGuild | None
    type: int = 0  # 0 text, 1 DM, 2 voice, 4 category, 5 news, 11 public thread
    position: int = 0
    topic: str | None = None
    nsfw: bool = False
    #: What the bot may do here; ``None`` means :data:`DEFAULT_BOT_PERMISSIONS`.
    bot_permissions: int | None = None
    recipients: list[FakeUser] = field(default_factory=list)  # DMs only

    @property
    def guild_id(self) -> int | None:
        return self.guild.id if self.guild else None

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    @property
    def effective_bot_permissions(self) -> int:
        if self.guild is None:
            return DEFAULT_BOT_PERMISSIONS
        value = DEFAULT_BOT_PERMISSIONS if self.bot_permissions is None else self.bot_permissions
        return ALL_PERMISSIONS if value & ADMINISTRATOR else value

    def to_payload(self) -> dict[str, Any]:
        if self.type == 1:
            return {
                "id": str(self.id),
                "type": 1,
                "last_message_id": None,
                "recipients": [u.to_payload() for u in self.recipients],
            }
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [],
            "parent_id": None,
            "nsfw": self.nsfw,
            "topic": self.topic,
            "rate_limit_per_user": 0,
            "last_message_id": None,
            "flags": 0,
        }
        if self.guild is not None:
            data["guild_id"] = str(self.guild.id)
        return data


@dataclass(eq=False)
class FakeGuild:
    id: int
    name: str
    owner_id: int
    everyone_role: FakeRole = field(init=False)
    roles: list[FakeRole] = field(default_factory=list)
    channels: list[FakeChannel] = field(default_factory=list)
    members: dict[int, FakeMember] = field(default_factory=dict)
    locale: str = "en-US"

    def __post_init__(self) -> None:
        self.everyone_role = FakeRole(
            id=self.id, guild_id=self.id, name="@everyone", permissions=DEFAULT_EVERYONE_PERMISSIONS
        )
        self.roles.insert(0, self.everyone_role)

    def member(self, user: FakeUser | int) -> FakeMember:
        uid = user if isinstance(user, int) else user.id
        try:
            return self.members[uid]
        except KeyError:
            raise KeyError(f"user {uid} is not a member of guild {self.name!r}") from None

    def channel(self, name: str) -> FakeChannel:
        for ch in self.channels:
            if ch.name == name:
                return ch
        raise KeyError(f"no channel {name!r} in guild {self.name!r}")

    def to_payload(self, *, members_for: int | None = None) -> dict[str, Any]:
        """GUILD_CREATE payload; ``members_for=bot_id`` lists only the bot (no GUILD_MEMBERS intent)."""
        members = [m for m in self.members.values() if members_for is None or m.id == members_for]
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [r.to_payload() for r in self.roles],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": self.locale,
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "max_members": 500000,
            # GUILD_CREATE extras
            "joined_at": iso_now(),
            "large": False,
            "unavailable": False,
            "member_count": len(self.members),
            "voice_states": [],
            "members": [m.to_payload() for m in members],
            "channels": [c.to_payload() for c in self.channels],
            "threads": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }


@dataclass(eq=False)
class FakeAttachment:
    """A file on the fake CDN: uploaded by a test user or by the bot."""

    id: int
    filename: str
    data: bytes
    content_type: str | None
    url: str = ""
    description: str | None = None
    ephemeral: bool = False
    _dims: tuple[int, int] | None | bool = field(default=False, repr=False)

    @property
    def size(self) -> int:
        return len(self.data)

    def image(self):  # -> PIL.Image.Image
        """The attachment decoded with PIL (raises if it is not an image)."""
        from PIL import Image

        img = Image.open(io.BytesIO(self.data))
        img.load()
        return img

    def _dimensions(self) -> tuple[int, int] | None:
        if self._dims is False:
            self._dims = None
            if (self.content_type or "").startswith("image/"):
                try:
                    from PIL import Image

                    with Image.open(io.BytesIO(self.data)) as img:
                        self._dims = img.size
                except Exception:
                    pass
        return self._dims  # type: ignore[return-value]

    def to_payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": self.url,
            "proxy_url": self.url,
            "content_type": self.content_type,
            "description": self.description,
            "ephemeral": self.ephemeral,
        }
        dims = self._dimensions()
        if dims is not None:
            data["width"], data["height"] = dims
        return data


@dataclass(eq=False)
class MessageVersion:
    """One state of a message (the original post or an edit), kept in ``FakeMessage.history``."""

    at: float
    content: str
    embeds: list[dict[str, Any]]
    components: list[dict[str, Any]]
    attachments: list[FakeAttachment]
    flags: int


@dataclass(eq=False)
class FakeMessage:
    """A message in a channel (or an ephemeral interaction response).

    ``content``/``embeds``/``components``/``attachments`` are the latest state;
    ``history`` has every version (first = as posted).  ``text`` joins content and
    embed text for easy ``in`` assertions.
    """

    id: int
    channel: FakeChannel
    author: FakeUser
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[FakeAttachment] = field(default_factory=list)
    flags: int = 0
    type: int = 0
    timestamp: str = field(default_factory=iso_now)
    edited_timestamp: str | None = None
    deleted: bool = False
    interaction_metadata: dict[str, Any] | None = None
    webhook_id: int | None = None
    application_id: int | None = None
    message_reference: dict[str, Any] | None = None
    reactions: dict[str, set[int]] = field(default_factory=dict)
    history: list[MessageVersion] = field(default_factory=list)

    EPHEMERAL = 64
    LOADING = 128

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & self.EPHEMERAL)

    @property
    def loading(self) -> bool:
        """True while this is a deferred "Bot is thinking..." placeholder."""
        return bool(self.flags & self.LOADING)

    @property
    def edits(self) -> list[MessageVersion]:
        return self.history[1:]

    @property
    def text(self) -> str:
        parts = [self.content]
        for e in self.embeds:
            parts += [e.get("title") or "", e.get("description") or ""]
            for f in e.get("fields", []):
                parts += [f.get("name", ""), f.get("value", "")]
            if e.get("footer"):
                parts.append(e["footer"].get("text", ""))
        return "\n".join(p for p in parts if p)

    @property
    def embed(self) -> dict[str, Any] | None:
        return self.embeds[0] if self.embeds else None

    def all_components(self) -> list[dict[str, Any]]:
        """Flattened components (buttons, selects, ...), rows and containers included."""
        return list(walk_components(self.components))

    def component(self, custom_id: str) -> dict[str, Any]:
        for comp in walk_components(self.components):
            if comp.get("custom_id") == custom_id:
                return comp
        ids = [c.get("custom_id") for c in walk_components(self.components) if c.get("custom_id")]
        raise KeyError(f"message {self.id} has no component {custom_id!r}; it has {ids}")

    def custom_ids(self) -> list[str]:
        return [c["custom_id"] for c in walk_components(self.components) if c.get("custom_id")]

    def buttons(self) -> list[dict[str, Any]]:
        return [c for c in walk_components(self.components) if c.get("type") == 2]

    def image(self, index: int = 0):
        """Attachment ``index`` decoded with PIL."""
        return self.attachments[index].image()

    def embed_image(self, index: int = 0) -> FakeAttachment | None:
        """The attachment that embed ``index``'s image shows (``attachment://name``), or None.

        None also when the embed points at a file name the message does not carry
        (Discord then shows no image)."""
        if index >= len(self.embeds):
            return None
        url = (self.embeds[index].get("image") or {}).get("url") or ""
        if not url.startswith("attachment://"):
            return None
        name = url[len("attachment://"):]
        return next((a for a in self.attachments if a.filename == name), None)

    def snapshot(self, at: float) -> None:
        self.history.append(
            MessageVersion(
                at=at,
                content=self.content,
                embeds=list(self.embeds),
                components=list(self.components),
                attachments=list(self.attachments),
                flags=self.flags,
            )
        )

    def to_payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "channel_id": str(self.channel.id),
            "author": self.author.to_payload(),
            "content": self.content,
            "timestamp": self.timestamp,
            "edited_timestamp": self.edited_timestamp,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [a.to_payload() for a in self.attachments],
            "embeds": self.embeds,
            "components": self.components,
            "pinned": False,
            "type": self.type,
            "flags": self.flags,
            "reactions": [
                {"emoji": {"id": None, "name": name}, "count": len(users), "me": False, "burst_colors": [],
                 "count_details": {"normal": len(users), "burst": 0}, "me_burst": False, "burst_count": 0}
                for name, users in self.reactions.items()
                if users
            ],
        }
        guild = self.channel.guild
        if guild is not None:
            data["guild_id"] = str(guild.id)
            member = guild.members.get(self.author.id)
            if member is not None and self.webhook_id is None:
                data["member"] = member.to_payload(with_user=False)
        if self.webhook_id is not None:
            data["webhook_id"] = str(self.webhook_id)
        if self.application_id is not None:
            data["application_id"] = str(self.application_id)
        if self.interaction_metadata is not None:
            data["interaction_metadata"] = self.interaction_metadata
        if self.message_reference is not None:
            data["message_reference"] = self.message_reference
        return data


#: What a test may pass where a file is expected: a FakeAttachment, or (bytes, filename[, content_type]).
FileSpec = Union[FakeAttachment, tuple]
#: A user, given as the user or as their guild membership.
UserLike = Union[FakeUser, FakeMember]
