"""Users: who the bot has seen, their settings (default preset, gallery opt-out),
and deleting everything of one user on request."""

from __future__ import annotations

import logging
from typing import Optional

from sqlalchemy import delete, or_, select, update

from bot.store.base import StoreBase
from bot.store.errors import NotFound
from bot.store.models import Dream, GalleryEntry, Preset, User, Vote, utcnow
from bot.store.records import DeletionReport, PresetInfo, UserInfo, preset_info, user_info

log = logging.getLogger(__name__)


class UserOps(StoreBase):
    async def touch_user(self, user_id: int, display_name: Optional[str] = None) -> UserInfo:
        """Record that ``user_id`` was seen (created on first sight; name and last-seen updated)."""
        async with self.db.write() as s:
            user = await self._ensure_user(s, user_id, display_name)
            user.last_seen = utcnow()
            await s.flush()
            return user_info(user)

    async def get_user(self, user_id: int) -> UserInfo:
        """The user (:class:`NotFound` if the bot never saw them)."""
        async with self.db.read() as s:
            user = await s.get(User, user_id)
            if user is None:
                raise self._missing("That user")
            return user_info(user)

    async def set_gallery_opt_out(self, user_id: int, opt_out: bool) -> UserInfo:
        """Keep (``True``) or stop keeping the user's dreams out of every gallery.

        While opted out, their published entries are not listed and their dreams
        cannot be published.
        """
        async with self.db.write() as s:
            user = await self._ensure_user(s, user_id)
            user.gallery_opt_out = bool(opt_out)
            await s.flush()
            return user_info(user)

    async def set_default_preset(self, user_id: int, name: Optional[str]) -> Optional[PresetInfo]:
        """Make preset ``name`` (own first, then shared) the user's default; ``None`` clears it.

        Raises :class:`NotFound` when no such preset is visible to the user.
        """
        async with self.db.write() as s:
            user = await self._ensure_user(s, user_id)
            if name is None:
                user.default_preset_id = None
                return None
            preset = await self._find_preset(s, user_id, name)  # type: ignore[attr-defined]
            user.default_preset_id = preset.id
            return preset_info(preset)

    async def get_default_preset(self, user_id: int) -> Optional[PresetInfo]:
        """The user's default preset, or ``None`` (none set, or it is gone or no longer shared)."""
        async with self.db.read() as s:
            user = await s.get(User, user_id)
            if user is None or user.default_preset_id is None:
                return None
            preset = await s.get(Preset, user.default_preset_id)
            if preset is None or (preset.owner_id != user_id and not preset.shared):
                return None
            return preset_info(preset)

    async def delete_user_data(self, user_id: int) -> DeletionReport:
        """Delete everything of one user: their dreams (and those dreams' gallery entries
        and votes), presets, votes, settings, and image files no other dream uses.

        Other users' data stays: entries this user published of *other* people's
        dreams remain (without a publisher); other users' defaults that pointed at
        this user's presets are cleared. Raises nothing when the user is unknown.
        """
        async with self.db.write() as s:
            dreams = (await s.execute(select(Dream).where(Dream.user_id == user_id))).scalars().all()
            dream_ids = [d.id for d in dreams]
            shas = {sha for d in dreams for sha in (d.source_sha256, d.result_sha256) if sha}
            preset_ids = list((await s.scalars(select(Preset.id).where(Preset.owner_id == user_id))).all())
            entry_ids: list[int] = []
            if dream_ids:
                entry_ids = list(
                    (await s.scalars(select(GalleryEntry.id).where(GalleryEntry.dream_id.in_(dream_ids)))).all()
                )
            votes = 0
            if entry_ids:
                votes += (await s.execute(delete(Vote).where(Vote.entry_id.in_(entry_ids)))).rowcount or 0
            votes += (await s.execute(delete(Vote).where(Vote.user_id == user_id))).rowcount or 0
            entries = 0
            if entry_ids:
                entries = (
                    await s.execute(delete(GalleryEntry).where(GalleryEntry.id.in_(entry_ids)))
                ).rowcount or 0
            await s.execute(
                update(GalleryEntry).where(GalleryEntry.published_by == user_id).values(published_by=None)
            )
            n_dreams = 0
            if dream_ids:
                n_dreams = (await s.execute(delete(Dream).where(Dream.id.in_(dream_ids)))).rowcount or 0
            if preset_ids:
                await s.execute(
                    update(User).where(User.default_preset_id.in_(preset_ids)).values(default_preset_id=None)
                )
            n_presets = (await s.execute(delete(Preset).where(Preset.owner_id == user_id))).rowcount or 0
            await s.execute(delete(User).where(User.id == user_id))
            await s.flush()
            still_used: set[str] = set()
            if shas:
                rows = await s.execute(
                    select(Dream.source_sha256, Dream.result_sha256).where(
                        or_(Dream.source_sha256.in_(shas), Dream.result_sha256.in_(shas))
                    )
                )
                for src, res in rows:
                    still_used.update(x for x in (src, res) if x)
        removed = 0
        for sha in sorted(shas - still_used):
            try:
                if self.files.delete(sha):
                    removed += 1
            except OSError as exc:  # a file we cannot remove must not undo the deletion
                log.warning("could not delete file %s: %s", sha, exc)
        report = DeletionReport(
            user_id=user_id,
            dreams=n_dreams,
            presets=n_presets,
            gallery_entries=entries,
            votes=votes,
            files=removed,
        )
        log.info("deleted data of user %s: %s", user_id, report)
        return report
