"""What every part of the :class:`~bot.store.service.Store` shares: the database,
the file store, the limits, and small helpers used inside write transactions."""

from __future__ import annotations

import logging
import secrets
from typing import Any, Optional, cast

from sqlalchemy import delete, or_, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.database import Database
from bot.store.errors import NotFound
from bot.store.files import FileStore
from bot.store.models import DISPLAY_NAME_MAX, Dream, GalleryEntry, Guild, User, Vote, utcnow

log = logging.getLogger(__name__)


# the columns through which a dream refers to stored files
_FILE_COLUMNS = (Dream.source_sha256, Dream.guide_sha256, Dream.result_sha256)


def new_gallery_token() -> str:
    """An unguessable token for an unlisted gallery URL (192 random bits)."""
    return secrets.token_urlsafe(24)


async def run_count(s: AsyncSession, stmt: Any) -> int:
    """Execute an UPDATE/DELETE and return how many rows it touched."""
    result = await s.execute(stmt)
    return int(cast("CursorResult[Any]", result).rowcount or 0)


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

    async def _delete_dreams_where(self, s: AsyncSession, where: Any) -> tuple[int, int, int, set[str]]:
        """Delete the dreams matching ``where`` with their gallery entries and those entries'
        votes. Returns (dreams, entries, votes, file shas those dreams referenced)."""
        shas: set[str] = set()
        for row in await s.execute(select(*_FILE_COLUMNS).where(where)):
            shas.update(x for x in row if x)
        dream_ids = select(Dream.id).where(where)
        entry_ids = select(GalleryEntry.id).where(GalleryEntry.dream_id.in_(dream_ids))
        votes = await run_count(s, delete(Vote).where(Vote.entry_id.in_(entry_ids)))
        entries = await run_count(s, delete(GalleryEntry).where(GalleryEntry.dream_id.in_(dream_ids)))
        dreams = await run_count(s, delete(Dream).where(where))
        return dreams, entries, votes, shas

    async def _unreferenced(self, s: AsyncSession, shas: set[str]) -> set[str]:
        """Those of ``shas`` no dream refers to any more (call inside the deleting transaction)."""
        await s.flush()
        return shas - await self._referenced(s, shas)

    async def _referenced(self, s: AsyncSession, shas: set[str]) -> set[str]:
        """Those of ``shas`` that some dream refers to (as input, guide or result)."""
        used: set[str] = set()
        todo = sorted(shas)
        for i in range(0, len(todo), 300):
            chunk = todo[i : i + 300]
            rows = await s.execute(select(*_FILE_COLUMNS).where(or_(*(c.in_(chunk) for c in _FILE_COLUMNS))))
            for row in rows:
                used.update(x for x in row if x)
        return used & shas

    def _remove_files(self, shas: set[str]) -> int:
        """Delete files (and their thumbnails); a file that cannot be removed is logged, not raised."""
        removed = 0
        for sha in sorted(shas):
            try:
                if self.files.delete(sha):
                    removed += 1
            except OSError as exc:
                log.warning("could not delete file %s: %s", sha, exc)
        return removed

    @staticmethod
    def _missing(what: str) -> NotFound:
        return NotFound(f"{what} was not found")
