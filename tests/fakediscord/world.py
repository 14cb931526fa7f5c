"""World building: users, guilds, roles, channels, members, DM channels, and the default cast."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord

from .gateway import INTENT_GUILD_MEMBERS
from .models import ADMINISTRATOR, FakeChannel, FakeGuild, FakeMember, FakeRole, FakeUser, snowflake

if TYPE_CHECKING:
    from .gateway import GatewayConnection

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


class WorldMixin:
    """Part of :class:`~tests.fakediscord.server.FakeDiscord`: creating the fake world.

    Objects added while a bot is connected are announced on the gateway
    (GUILD_CREATE, CHANNEL_CREATE, GUILD_ROLE_CREATE, GUILD_MEMBER_ADD).
    """

    bot_user: FakeUser
    users: dict[int, FakeUser]
    guilds: dict[int, FakeGuild]
    channels: dict[int, FakeChannel]
    world: World | None
    connected: bool

    if TYPE_CHECKING:  # provided by FakeDiscord or its other parts
        def _conn_for(self, guild_id: int | None) -> GatewayConnection | None: ...
        async def _dispatch_if_connected(self, event: str, data: Any, intent: int = 0, *,
                                         guild_id: int | None = None) -> None: ...

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
