"""What the web gallery may show, read from the store.

This is the one place that decides visibility. A guild's gallery is reachable
when its visibility is ``public``, or ``unlisted`` and the request carries the
guild's secret token (``?key=``, compared in constant time). Inside a
reachable gallery only published, non-hidden entries of finished dreams whose
author has not opted out are shown (the store's ``get_entry`` /
``list_gallery`` already leave hidden and opted-out entries out). Everything
else is ``None`` here and a 404 for the visitor, whatever the reason.

Dream pages and pictures are addressed by *gallery entry* id: the same dream
published in two servers has two pages, each under its own gallery's rules.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

from bot.store import DreamStatus, FileMissing, GalleryVisibility, GuildInfo, NotFound, StoreError
from bot.web.urls import file_version
from dream_core.params import DreamParams

log = logging.getLogger(__name__)

#: long side of grid thumbnails, in pixels (sharp on 2x screens at 4 columns)
THUMB_PX = 480
#: what an author with no known display name is shown as
ANONYMOUS = "a dreamer"


@dataclass(frozen=True)
class GalleryInfo:
    """A reachable guild gallery. ``key`` is set for unlisted galleries (links must carry it)."""

    guild_id: int
    name: str
    unlisted: bool
    key: Optional[str]
    dream_count: int = 0
    cover_entry_id: Optional[int] = None
    cover_version: Optional[str] = None


@dataclass(frozen=True)
class DreamTile:
    """One thumbnail of a gallery grid."""

    id: int
    author: str
    title: Optional[str]
    score: int
    is_animation: bool
    thumb_width: int
    thumb_height: int
    version: str  # of the result file: thumbnails are made from it


@dataclass(frozen=True)
class DreamDetail:
    """Everything a dream's page shows."""

    id: int
    guild_id: int
    author: str
    title: Optional[str]
    score: int
    created_at: Optional[datetime]
    params: DreamParams
    model: str
    seconds: Optional[float]
    width: int
    height: int
    is_animation: bool
    is_video: bool
    has_source: bool
    source_is_video: bool  # an MP4/WebM clip was dreamed: the original plays in a <video>
    source_ext: Optional[str]
    source_width: Optional[int]
    source_height: Optional[int]
    result_version: str
    source_version: Optional[str]


@dataclass(frozen=True)
class ImageFile:
    """A picture the gallery may serve: its sha256 (the ETag), content type and location."""

    sha256: str
    content_type: str
    path: Path
    private: bool  # from an unlisted gallery: not for shared caches
    pinned: bool  # asked for with the right ?v=: the bytes behind the URL can never change

    async def read(self) -> bytes:
        """The file's bytes (:class:`~bot.store.FileMissing` if it is gone)."""
        try:
            return await asyncio.to_thread(self.path.read_bytes)
        except FileNotFoundError:
            raise FileMissing("the picture is no longer stored") from None


def _fit(width: Optional[int], height: Optional[int], box: int) -> tuple[int, int]:
    """``width x height`` scaled to fit in ``box`` (never enlarged); a square if unknown."""
    if not width or not height:
        return box, box
    scale = min(1.0, box / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


class GalleryReader:
    """Read-only, visibility-checked access to the store for the web pages."""

    def __init__(self, store: Any, files: Any, *, page_size: int = 24) -> None:
        self.store = store
        self.files = files
        self.page_size = page_size

    # --------------------------------------------------------------- galleries
    @staticmethod
    def _reachable(guild: GuildInfo, key: Optional[str]) -> Optional[GalleryInfo]:
        vis = GalleryVisibility(guild.gallery_visibility)
        name = guild.name or f"Server {guild.id}"
        if vis is GalleryVisibility.PUBLIC:
            return GalleryInfo(guild.id, name, unlisted=False, key=None)
        if (
            vis is GalleryVisibility.UNLISTED
            and key
            and secrets.compare_digest(key.encode(), guild.unlisted_token.encode())
        ):
            return GalleryInfo(guild.id, name, unlisted=True, key=guild.unlisted_token)
        return None

    async def public_galleries(self) -> list[GalleryInfo]:
        """The public galleries that have dreams to show, for the front page, each with a
        cover (its top entry)."""
        out = []
        for summary, cover in await self.store.list_public_covers():
            g = summary.guild
            result = cover.dream.result
            out.append(
                GalleryInfo(
                    g.id,
                    g.name or f"Server {g.id}",
                    False,
                    None,
                    summary.entries,
                    cover.id if result is not None else None,
                    file_version(result.sha256) if result is not None else None,
                )
            )
        return out

    async def gallery(self, guild_id: int, key: Optional[str]) -> Optional[GalleryInfo]:
        """The guild's gallery if this request may see it."""
        try:
            guild = await self.store.get_guild(guild_id)
        except NotFound:
            return None
        return self._reachable(guild, key)

    async def gallery_by_token(self, token: str) -> Optional[GalleryInfo]:
        """The gallery an unlisted link ``/u/<token>`` stands for."""
        try:
            guild = await self.store.guild_by_token(token)
        except NotFound:
            return None
        return self._reachable(guild, token)

    async def dreams(self, guild_id: int, *, sort: str, page: int) -> tuple[list[DreamTile], int]:
        """Page ``page`` (1-based) of a gallery the caller already found reachable; and the total."""
        listing = await self.store.list_gallery(guild_id, sort=sort, page=page - 1, page_size=self.page_size)
        tiles = []
        for item in listing.items:
            d = item.dream
            if d.result is None:
                continue
            tw, th = _fit(d.width, d.height, THUMB_PX)
            tiles.append(
                DreamTile(
                    id=item.id,
                    author=item.author_name or ANONYMOUS,
                    title=item.title,
                    score=item.votes,
                    is_animation=d.is_animation,
                    thumb_width=tw,
                    thumb_height=th,
                    version=file_version(d.result.sha256),
                )
            )
        return tiles, listing.total

    # ------------------------------------------------------------------ dreams
    async def _entry(self, entry_id: int, key: Optional[str]) -> Optional[tuple[Any, GalleryInfo]]:
        try:
            item = await self.store.get_entry(entry_id)  # hidden / opted out: NotFound
        except NotFound:
            return None
        if item.hidden or item.dream.result is None or item.dream.status is not DreamStatus.DONE:
            return None
        info = await self.gallery(item.guild_id, key)
        if info is None:
            return None
        return item, info

    async def dream(self, entry_id: int, key: Optional[str]) -> Optional[tuple[DreamDetail, GalleryInfo]]:
        """A dream's page data, if this request may see it."""
        found = await self._entry(entry_id, key)
        if found is None:
            return None
        item, info = found
        d = item.dream
        try:
            params = d.params
        except StoreError:
            params = DreamParams()
        except ValueError:  # stored params from an older version that no longer validate
            params = DreamParams()
        has_source = d.source is not None
        return (
            DreamDetail(
                id=item.id,
                guild_id=item.guild_id,
                author=item.author_name or ANONYMOUS,
                title=item.title,
                score=item.votes,
                created_at=item.created_at,
                params=params,
                model=d.model,
                seconds=d.seconds,
                width=d.width or 0,
                height=d.height or 0,
                is_animation=d.is_animation,
                is_video=d.result.content_type.startswith("video/"),
                has_source=has_source,
                source_is_video=d.source is not None and d.source.content_type.startswith("video/"),
                source_ext=d.source.ext if d.source is not None else None,
                # a dream keeps its original's aspect ratio: the result's size is the layout hint
                source_width=d.width if has_source else None,
                source_height=d.height if has_source else None,
                result_version=file_version(d.result.sha256),
                source_version=file_version(d.source.sha256) if d.source is not None else None,
            ),
            info,
        )

    async def image(
        self, entry_id: int, kind: str, key: Optional[str], version: Optional[str] = None
    ) -> Optional[ImageFile]:
        """The ``result``, ``source`` or ``thumb`` picture of an entry, if this request may see it.

        ``version`` (``?v=``) must match the original file (the result, for
        thumbnails) when given: a stale link never shows other bytes.
        """
        found = await self._entry(entry_id, key)
        if found is None:
            return None
        item, info = found
        d = item.dream
        ref = d.source if kind == "source" else d.result
        if ref is None:
            return None
        if version is not None and version != file_version(ref.sha256):
            return None
        try:
            if kind == "thumb":  # made on first use, then cached by the file store
                ref = await asyncio.to_thread(self._thumbnail_ref, ref.sha256)
            path = self.files.path_for(ref.sha256, ref.ext)  # computed from the validated sha only
        except StoreError as exc:  # FileMissing, or a file that cannot be thumbnailed
            log.warning("gallery: no %s picture for entry %s: %s", kind, entry_id, exc)
            return None
        if not ref.content_type.startswith(("image/", "video/")):
            return None
        return ImageFile(ref.sha256, ref.content_type, path, private=info.unlisted, pinned=version is not None)

    def _thumbnail_ref(self, sha256: str) -> Any:
        return self.files.ref(self.files.thumbnail(sha256, THUMB_PX))
