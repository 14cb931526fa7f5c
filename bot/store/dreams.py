"""Dreams: the history and job record of every dream, through its life
``queued -> running -> done | failed | cancelled``."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Optional, Union

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.base import StoreBase, clip
from bot.store.errors import InvalidTransition, NotAllowed, NotFound, StoreError
from bot.store.files import FileRef
from bot.store.models import ERROR_MAX, Dream, DreamStatus, utcnow
from bot.store.records import DeletionReport, DreamInfo, Page, dream_info
from dream_core.errors import DreamParamsError
from dream_core.params import DreamParams, parse_params

log = logging.getLogger(__name__)

_ACTIVE = (DreamStatus.QUEUED.value, DreamStatus.RUNNING.value)


def _params_data(params: Union[DreamParams, dict, str]) -> tuple[dict, DreamParams]:
    """What is stored of ``params``: the fields that were set (never strength preset
    fill-ins or server clamps), and the validated params. A ``DreamParams`` is trusted."""
    try:
        model = params if isinstance(params, DreamParams) else parse_params(params)
    except DreamParamsError as exc:
        raise StoreError(f"Invalid dream parameters: {exc}") from None
    return model.explicit(), model


class DreamOps(StoreBase):
    async def create_dream(
        self,
        user_id: int,
        params: Union[DreamParams, dict, str],
        *,
        guild_id: Optional[int] = None,
        channel_id: Optional[int] = None,
        message_id: Optional[int] = None,
        source: Optional[FileRef] = None,
        source_url: Optional[str] = None,
        guide: Optional[FileRef] = None,
        user_name: Optional[str] = None,
        guild_name: Optional[str] = None,
        reply_token: Optional[str] = None,
        reply_expires_at: Optional[datetime] = None,
        upload_limit: Optional[int] = None,
    ) -> DreamInfo:
        """Record a new dream as ``queued`` (user and guild rows are created as needed).

        ``source`` is the input image already put in the file store (``None`` for a
        dream from noise); ``source_url`` where it came from (e.g. the attachment URL);
        ``guide`` the guide image, also already in the file store (``None``: unguided).
        ``reply_token`` / ``reply_expires_at`` / ``upload_limit``: the interaction that asked
        for it, so a restarted bot can resume it and answer in the same message.
        """
        data, model = _params_data(params)
        async with self.db.write() as s:
            await self._ensure_user(s, user_id, user_name)
            if guild_id is not None:
                await self._ensure_guild(s, guild_id, guild_name)
            dream = Dream(
                user_id=user_id,
                guild_id=guild_id,
                channel_id=channel_id,
                message_id=message_id,
                source_url=clip(source_url, 2048),
                source_sha256=source.sha256 if source else None,
                source_ext=source.ext if source else None,
                source_size=source.size if source else None,
                guide_sha256=guide.sha256 if guide else None,
                guide_ext=guide.ext if guide else None,
                guide_size=guide.size if guide else None,
                params=data,
                model=model.model,
                seed=model.seed,
                status=DreamStatus.QUEUED.value,
                reply_token=reply_token,
                reply_expires_at=reply_expires_at,
                upload_limit=upload_limit,
            )
            s.add(dream)
            await s.flush()
            return dream_info(dream)

    async def mark_running(self, dream_id: int) -> DreamInfo:
        """``queued -> running`` (sets the start time). Raises :class:`InvalidTransition`."""
        async with self.db.write() as s:
            dream = await self._dream_for_update(s, dream_id, allowed=(DreamStatus.QUEUED.value,), to="start")
            dream.status = DreamStatus.RUNNING.value
            dream.started_at = utcnow()
            await s.flush()
            return dream_info(dream)

    async def mark_done(
        self,
        dream_id: int,
        result: FileRef,
        *,
        width: int,
        height: int,
        seconds: float,
        is_animation: bool = False,
        params: Optional[Union[DreamParams, dict, str]] = None,
        model: Optional[str] = None,
        seed: Optional[int] = None,
        undelivered: bool = False,
    ) -> DreamInfo:
        """``queued|running -> done`` with the result file and its size; ``params`` (as the
        dream ran: what was set plus the seed), ``model`` and ``seed`` replace what was
        recorded when given. ``undelivered``: the result still has to reach the user
        (``mark_delivered`` once it has; a restarted bot posts it)."""
        data = _params_data(params) if params is not None else None
        async with self.db.write() as s:
            dream = await self._dream_for_update(s, dream_id, allowed=_ACTIVE, to="finish")
            now = utcnow()
            dream.status = DreamStatus.DONE.value
            dream.started_at = dream.started_at or now
            dream.finished_at = now
            dream.result_sha256 = result.sha256
            dream.result_ext = result.ext
            dream.size_bytes = int(result.size)
            dream.width = int(width)
            dream.height = int(height)
            dream.seconds = float(seconds)
            dream.is_animation = bool(is_animation)
            dream.error = None
            dream.undelivered = bool(undelivered)
            if not undelivered:
                dream.reply_token = None
            if data is not None:
                dream.params = data[0]
                dream.model = data[1].model
                dream.seed = data[1].seed
            if model is not None:
                dream.model = model
            if seed is not None:
                dream.seed = seed
            await s.flush()
            return dream_info(dream)

    async def mark_failed(self, dream_id: int, error: str) -> DreamInfo:
        """``queued|running -> failed`` with a user-readable reason."""
        async with self.db.write() as s:
            dream = await self._dream_for_update(s, dream_id, allowed=_ACTIVE, to="fail")
            dream.status = DreamStatus.FAILED.value
            dream.error = clip(str(error) or "failed", ERROR_MAX)
            dream.finished_at = utcnow()
            dream.reply_token = None
            await s.flush()
            return dream_info(dream)

    async def mark_cancelled(self, dream_id: int, reason: Optional[str] = None) -> DreamInfo:
        """``queued|running -> cancelled`` (``reason`` optional, e.g. who cancelled)."""
        async with self.db.write() as s:
            dream = await self._dream_for_update(s, dream_id, allowed=_ACTIVE, to="cancel")
            dream.status = DreamStatus.CANCELLED.value
            dream.error = clip(reason, ERROR_MAX)
            dream.finished_at = utcnow()
            dream.reply_token = None
            await s.flush()
            return dream_info(dream)

    async def set_dream_messages(
        self,
        dream_id: int,
        *,
        channel_id: Optional[int] = None,
        message_id: Optional[int] = None,
        result_message_id: Optional[int] = None,
    ) -> DreamInfo:
        """Remember the Discord channel / request message / result message of a dream
        (``None`` = keep)."""
        async with self.db.write() as s:
            dream = await s.get(Dream, dream_id)
            if dream is None:
                raise self._missing("That dream")
            if channel_id is not None:
                dream.channel_id = channel_id
            if message_id is not None:
                dream.message_id = message_id
            if result_message_id is not None:
                dream.result_message_id = result_message_id
            await s.flush()
            return dream_info(dream)

    async def get_dream(self, dream_id: int) -> DreamInfo:
        """One dream (:class:`NotFound` if unknown)."""
        async with self.db.read() as s:
            dream = await s.get(Dream, dream_id)
            if dream is None:
                raise self._missing("That dream")
            return dream_info(dream)

    async def list_history(
        self,
        user_id: int,
        *,
        page: int = 0,
        page_size: int = 10,
        statuses: Optional[Iterable[Union[DreamStatus, str]]] = None,
    ) -> Page[DreamInfo]:
        """A user's dreams, newest first, one page (``page`` from 0); optionally only some statuses."""
        page = max(0, int(page))
        page_size = max(1, min(int(page_size), 100))
        cond = [Dream.user_id == user_id]
        if statuses is not None:
            cond.append(Dream.status.in_([DreamStatus(x).value for x in statuses]))
        async with self.db.read() as s:
            total = int(await s.scalar(select(func.count()).select_from(Dream).where(*cond)) or 0)
            rows = await s.scalars(
                select(Dream).where(*cond).order_by(Dream.id.desc()).offset(page * page_size).limit(page_size)
            )
            return Page([dream_info(d) for d in rows], page, page_size, total)

    async def delete_dream(self, dream_id: int, *, by_user_id: Optional[int] = None) -> DeletionReport:
        """Delete one dream from history, with its gallery entries, their votes, and its
        image files (input, guide, result) when no other dream uses them. With ``by_user_id``, only its author may
        (:class:`NotAllowed`); :class:`NotFound` if it does not exist. A dream still queued
        or running is refused (:class:`InvalidTransition`): cancel it first."""
        async with self.db.write() as s:
            dream = await s.get(Dream, dream_id)
            if dream is None:
                raise self._missing("That dream")
            if by_user_id is not None and dream.user_id != by_user_id:
                raise NotAllowed("Only the dream's author can delete it.")
            if dream.status in _ACTIVE:
                raise InvalidTransition("This dream is still in progress; cancel it first.")
            user_id = dream.user_id
            s.expunge(dream)
            n, entries, votes, shas = await self._delete_dreams_where(s, Dream.id == dream_id)
            unused = await self._unreferenced(s, shas)
        removed = self._remove_files(unused)
        return DeletionReport(user_id=user_id, dreams=n, gallery_entries=entries, votes=votes, files=removed)

    # ------------------------------------------------------------------ helpers
    async def _dream_for_update(
        self, s: AsyncSession, dream_id: int, *, allowed: tuple[str, ...], to: str
    ) -> Dream:
        dream = await s.get(Dream, dream_id, with_for_update=True)
        if dream is None:
            raise self._missing("That dream")
        if dream.status not in allowed:
            raise InvalidTransition(f"Dream {dream_id} is already {dream.status}; it cannot {to} now.")
        return dream


__all__ = ["DreamOps", "NotFound"]
