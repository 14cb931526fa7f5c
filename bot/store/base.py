"""What every part of the :class:`~bot.store.service.Store` shares: the database,
the file store, the limits, and small helpers used inside write transactions."""

from __future__ import annotations

import secrets
from typing import Optional

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.database import Database
from bot.store.errors import NotFound
from bot.store.files import FileStore
from bot.store.models import DISPLAY_NAME_MAX, Guild, User, utcnow


def new_gallery_token() -> str:
    """An unguessable token for an unlisted gallery URL (192 random bits)."""
    return secrets.token_urlsafe(24)


def clip(text: Optional[str], limit: int) -> Optional[str]:
    if text is None:
        return None
    return text if len(text) <= limit else text[: limit - 1] + "…"


class StoreBase:
    """Holds the :class:`Database`, the :class:`FileStore` and the limits."""

    def __init__(self, database: Database, files: FileStore, *, max_presets_per_user: int = 25) -> None:
        self.db = database
        self.files = files
        self.max_presets_per_user = max_presets_per_user

    async def _ensure_user(self, s: AsyncSession, user_id: int, display_name: Optional[str] = None) -> User:
        """The user row (created if new; name and last-seen refreshed when a name is given)."""
        user = await s.get(User, user_id)
        if user is None:
            try:
                async with s.begin_nested():
                    user = User(id=user_id, display_name=clip(display_name, DISPLAY_NAME_MAX) or "")
                    s.add(user)
            except IntegrityError:  # created concurrently (non-SQLite databases)
                user = await s.get(User, user_id)
                if user is None:  # pragma: no cover
                    raise
        elif display_name is not None:
            user.display_name = clip(display_name, DISPLAY_NAME_MAX) or ""
            user.last_seen = utcnow()
        return user

    async def _ensure_guild(self, s: AsyncSession, guild_id: int, name: Optional[str] = None) -> Guild:
        """The guild row (created if new, with a fresh unlisted token; name refreshed if given)."""
        guild = await s.get(Guild, guild_id)
        if guild is None:
            try:
                async with s.begin_nested():
                    guild = Guild(
                        id=guild_id,
                        name=clip(name, DISPLAY_NAME_MAX) or "",
                        unlisted_token=new_gallery_token(),
                    )
                    s.add(guild)
            except IntegrityError:
                guild = await s.get(Guild, guild_id)
                if guild is None:  # pragma: no cover
                    raise
        elif name is not None and name != guild.name:
            guild.name = clip(name, DISPLAY_NAME_MAX) or ""
        return guild

    @staticmethod
    def _missing(what: str) -> NotFound:
        return NotFound(f"{what} was not found")
