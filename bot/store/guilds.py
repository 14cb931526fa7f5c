"""Guilds: their names and gallery visibility (public / unlisted by token / off)."""

from __future__ import annotations

from typing import Optional, Union

from sqlalchemy import func, select

from bot.store.base import StoreBase, new_gallery_token
from bot.store.errors import NotFound, StoreError
from bot.store.models import Dream, GalleryEntry, GalleryVisibility, Guild, User
from bot.store.records import GallerySummary, GuildInfo, aware, guild_info


class GuildOps(StoreBase):
    async def touch_guild(self, guild_id: int, name: Optional[str] = None) -> GuildInfo:
        """The guild's record, created on first sight (gallery ``unlisted``, with a fresh token)."""
        async with self.db.write() as s:
            guild = await self._ensure_guild(s, guild_id, name)
            await s.flush()
            return guild_info(guild)

    async def get_guild(self, guild_id: int) -> GuildInfo:
        """The guild (:class:`NotFound` if unknown)."""
        async with self.db.read() as s:
            guild = await s.get(Guild, guild_id)
            if guild is None:
                raise self._missing("That server")
            return guild_info(guild)

    async def set_gallery_visibility(
        self, guild_id: int, visibility: Union[GalleryVisibility, str], *, guild_name: Optional[str] = None
    ) -> GuildInfo:
        """Set who sees the guild's gallery on the web: ``public`` (listed at ``/``),
        ``unlisted`` (only by its token URL) or ``off``. The caller checks permissions."""
        try:
            vis = GalleryVisibility(visibility)
        except ValueError:
            raise StoreError("visibility must be public, unlisted or off") from None
        async with self.db.write() as s:
            guild = await self._ensure_guild(s, guild_id, guild_name)
            guild.gallery_visibility = vis.value
            await s.flush()
            return guild_info(guild)

    async def rotate_gallery_token(self, guild_id: int) -> GuildInfo:
        """Give the guild a new unlisted token (old links stop working)."""
        async with self.db.write() as s:
            guild = await self._ensure_guild(s, guild_id)
            guild.unlisted_token = new_gallery_token()
            await s.flush()
            return guild_info(guild)

    async def guild_by_token(self, token: str) -> GuildInfo:
        """The guild whose gallery is reachable with ``token``: visibility ``unlisted`` or
        ``public`` and the token matches; else :class:`NotFound`."""
        if not token or len(token) > 64:
            raise self._missing("That gallery")
        async with self.db.read() as s:
            guild = await s.scalar(select(Guild).where(Guild.unlisted_token == token))
            if guild is None or guild.gallery_visibility == GalleryVisibility.OFF.value:
                raise self._missing("That gallery")
            return guild_info(guild)

    async def list_public_galleries(self) -> list[GallerySummary]:
        """Public guild galleries for the web front page, most recently active first
        (counts exclude hidden entries and opted-out authors)."""
        async with self.db.read() as s:
            counts = (
                select(
                    GalleryEntry.guild_id.label("guild_id"),
                    func.count(GalleryEntry.id).label("n"),
                    func.max(GalleryEntry.created_at).label("latest"),
                )
                .join(Dream, Dream.id == GalleryEntry.dream_id)
                .join(User, User.id == Dream.user_id)
                .where(GalleryEntry.hidden.is_(False), User.gallery_opt_out.is_(False))
                .group_by(GalleryEntry.guild_id)
                .subquery()
            )
            rows = await s.execute(
                select(Guild, counts.c.n, counts.c.latest)
                .outerjoin(counts, counts.c.guild_id == Guild.id)
                .where(Guild.gallery_visibility == GalleryVisibility.PUBLIC.value)
                .order_by(counts.c.latest.desc().nulls_last(), Guild.name, Guild.id)
            )
            return [
                GallerySummary(guild=guild_info(g), entries=int(n or 0), latest=aware(latest))
                for g, n, latest in rows
            ]


__all__ = ["GuildOps", "NotFound"]
