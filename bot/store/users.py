"""Users: who the bot has seen, their gallery opt-out, and deleting everything of
one user on request. (The default-preset setting lives with the presets.)"""

from __future__ import annotations

import logging
from typing import Optional

from sqlalchemy import delete, select, update

from bot.store.base import StoreBase, run_count
from bot.store.models import Dream, GalleryEntry, Preset, User, Vote, utcnow
from bot.store.records import DeletionReport, UserInfo, user_info

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

    async def delete_user_data(self, user_id: int) -> DeletionReport:
        """Delete everything of one user: their dreams (and those dreams' gallery entries
        and votes), presets, votes, settings, and image files no other dream uses.

        Other users' data stays: entries this user published of *other* people's
        dreams remain (without a publisher); other users' defaults that pointed at
        this user's presets are cleared. Raises nothing when the user is unknown.
        """
        async with self.db.write() as s:
            n_dreams, entries, votes, shas = await self._delete_dreams_where(s, Dream.user_id == user_id)
            votes += await run_count(s, delete(Vote).where(Vote.user_id == user_id))
            await s.execute(
                update(GalleryEntry).where(GalleryEntry.published_by == user_id).values(published_by=None)
            )
            own_presets = select(Preset.id).where(Preset.owner_id == user_id)
            await s.execute(
                update(User).where(User.default_preset_id.in_(own_presets)).values(default_preset_id=None)
            )
            n_presets = await run_count(s, delete(Preset).where(Preset.owner_id == user_id))
            await s.execute(delete(User).where(User.id == user_id))
            unused = await self._unreferenced(s, shas)
        removed = self._remove_files(unused)
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
