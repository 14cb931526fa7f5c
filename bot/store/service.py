"""`Store`: the one object the bot and the web gallery use for persistence.

It combines the per-concept operations (:mod:`users`, :mod:`guilds`,
:mod:`presets`, :mod:`dreams`, :mod:`gallery`, :mod:`atlas_dreams`) over one :class:`Database` and one
:class:`FileStore`. Every method is ``async``, runs in its own transaction and
returns plain frozen records (:mod:`bot.store.records`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Optional

from bot.store.atlas_dreams import AtlasDreamOps
from bot.store.database import Database
from bot.store.dreams import DreamOps
from bot.store.errors import DatabaseError
from bot.store.files import FileStore
from bot.store.gallery import GalleryOps
from bot.store.guilds import GuildOps
from bot.store.presets import PresetOps
from bot.store.resume import ResumeOps
from bot.store.users import UserOps

log = logging.getLogger(__name__)


def _mtime(path: Any) -> float:
    try:
        return float(path.stat().st_mtime)
    except OSError:
        return float("inf")  # vanished: nothing to collect


class Store(UserOps, GuildOps, PresetOps, DreamOps, ResumeOps, GalleryOps, AtlasDreamOps):
    """Presets, dream history, galleries, votes, users and guild settings.

    ``Store(database, files, max_presets_per_user=25)``; or ``await Store.open()``
    to build one from the settings (and upgrade the schema first).
    """

    def __init__(self, database: Database, files: FileStore, *, max_presets_per_user: int = 25) -> None:
        super().__init__(database, files, max_presets_per_user=max_presets_per_user)

    @classmethod
    async def open(cls, settings: Any = None, *, migrate: bool = True) -> Store:
        """A store for ``settings`` (default: :func:`bot.settings.get_settings`): the database
        at ``resolved_database_url`` (upgraded to the latest schema when ``migrate``) and the
        file store in ``files_dir`` (leftover temporary files removed)."""
        if settings is None:
            from bot.settings import get_settings

            settings = get_settings()
        url = settings.resolved_database_url
        if migrate:
            from bot.store.migrate import upgrade_async

            await upgrade_async(url)
        files = FileStore(settings.files_dir)
        await asyncio.to_thread(files.cleanup_temp)
        return cls(Database(url), files, max_presets_per_user=settings.max_presets_per_user)

    async def collect_garbage(self, *, min_age_s: float = 3600.0) -> int:
        """Delete stored files no dream refers to (inputs or results of dreams that were
        never recorded, e.g. after a crash), with their thumbnails. Files younger than
        ``min_age_s`` are kept: they may belong to a dream being recorded right now
        (storing existing bytes again refreshes their age). Returns how many were deleted."""
        cutoff = time.time() - min_age_s
        files = await asyncio.to_thread(lambda: [(sha, _mtime(p)) for sha, p in self.files.stored()])
        candidates = {sha for sha, mtime in files if mtime < cutoff}
        if not candidates:
            return 0
        async with self.db.read() as s:
            used = await self._referenced(s, {sha for sha, _ in files})
        keep = set(used)
        for sha in used:
            keep.update(self.files.thumbnails_of(sha))
        removed = await asyncio.to_thread(self._remove_files, candidates - keep)
        if removed:
            log.info("collected %d unreferenced file(s)", removed)
        return removed

    async def ping(self) -> None:
        """A trivial query (for health checks); raises :class:`DatabaseError` when the database
        does not answer."""
        from sqlalchemy import text
        from sqlalchemy.exc import DBAPIError

        try:
            async with self.db.read() as s:
                await s.execute(text("SELECT 1"))
        except (DBAPIError, OSError) as exc:
            raise DatabaseError(f"The database does not answer: {getattr(exc, 'orig', None) or exc}") from exc

    async def close(self) -> None:
        """Release the database connections."""
        await self.db.dispose()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: Optional[BaseException]) -> None:
        await self.close()
