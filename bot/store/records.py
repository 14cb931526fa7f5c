"""Plain, immutable results of store operations (no session needed to use them).

Every record is a frozen dataclass built from ORM rows inside the store; times
are timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Generic, Optional, TypeVar

from bot.store.files import FileRef
from bot.store.models import DreamStatus, GalleryVisibility
from dream_core.params import DreamParams

T = TypeVar("T")


def aware(value: Optional[datetime]) -> Optional[datetime]:
    """``value`` with the UTC zone attached when the database dropped it."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class UserInfo:
    id: int
    display_name: str
    first_seen: datetime
    last_seen: datetime
    default_preset_id: Optional[int]
    gallery_opt_out: bool


@dataclass(frozen=True)
class GuildInfo:
    id: int
    name: str
    gallery_visibility: GalleryVisibility
    unlisted_token: str
    created_at: datetime


@dataclass(frozen=True)
class GallerySummary:
    """A guild gallery as listed on the web front page."""

    guild: GuildInfo
    entries: int
    latest: Optional[datetime]


@dataclass(frozen=True)
class PresetInfo:
    id: int
    owner_id: int
    name: str
    params_data: dict[str, Any]
    shared: bool
    use_count: int
    created_at: datetime
    updated_at: datetime

    @property
    def params(self) -> DreamParams:
        """The stored parameters (validated when stored; the fields stored are the ones set)."""
        return DreamParams.trusted(self.params_data)


@dataclass(frozen=True)
class DreamInfo:
    id: int
    user_id: int
    guild_id: Optional[int]
    channel_id: Optional[int]
    message_id: Optional[int]
    result_message_id: Optional[int]
    source_url: Optional[str]
    source: Optional[FileRef]
    guide: Optional[FileRef]  # the guide image of ``/dream guide:`` (None: unguided)
    params_data: dict[str, Any]
    model: str
    seed: Optional[int]
    status: DreamStatus
    error: Optional[str]
    created_at: datetime
    started_at: Optional[datetime]
    finished_at: Optional[datetime]
    result: Optional[FileRef]
    width: Optional[int]
    height: Optional[int]
    size_bytes: Optional[int]
    seconds: Optional[float]
    is_animation: bool
    # the durable queue: how to answer in the user's message after a restart (issue 17)
    reply_token: Optional[str] = field(default=None, repr=False)
    reply_expires_at: Optional[datetime] = None
    upload_limit: Optional[int] = None
    interruptions: int = 0
    undelivered: bool = False

    @property
    def params(self) -> DreamParams:
        """The stored parameters (validated when stored; the fields stored are the ones set)."""
        return DreamParams.trusted(self.params_data)


@dataclass(frozen=True)
class GalleryItem:
    """A gallery entry with what a gallery page shows about it."""

    id: int
    guild_id: int
    dream: DreamInfo
    author_id: int
    author_name: str
    published_by: Optional[int]
    title: Optional[str]
    created_at: datetime
    hidden: bool
    votes: int


@dataclass(frozen=True)
class VoteState:
    """After a vote/unvote: whether it changed anything, and the entry's vote count."""

    entry_id: int
    votes: int
    voted: bool
    changed: bool


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing (``page`` counts from 0)."""

    items: list[T]
    page: int
    page_size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    @property
    def has_next(self) -> bool:
        return (self.page + 1) * self.page_size < self.total

    @property
    def has_prev(self) -> bool:
        return self.page > 0


@dataclass(frozen=True)
class DeletionReport:
    """What ``delete_user_data`` removed."""

    user_id: int
    dreams: int = 0
    presets: int = 0
    gallery_entries: int = 0
    votes: int = 0
    files: int = 0


# --------------------------------------------------------------------------- rows -> records
def _file_ref(sha: Optional[str], ext: Optional[str], size: Optional[int]) -> Optional[FileRef]:
    if not sha or not ext:
        return None
    from bot.store.files import CONTENT_TYPES

    return FileRef(sha, ext, int(size or 0), CONTENT_TYPES.get(ext, "application/octet-stream"))


def user_info(row: Any) -> UserInfo:
    return UserInfo(
        id=row.id,
        display_name=row.display_name or "",
        first_seen=aware(row.first_seen),  # type: ignore[arg-type]
        last_seen=aware(row.last_seen),  # type: ignore[arg-type]
        default_preset_id=row.default_preset_id,
        gallery_opt_out=bool(row.gallery_opt_out),
    )


def guild_info(row: Any) -> GuildInfo:
    return GuildInfo(
        id=row.id,
        name=row.name or "",
        gallery_visibility=GalleryVisibility(row.gallery_visibility),
        unlisted_token=row.unlisted_token,
        created_at=aware(row.created_at),  # type: ignore[arg-type]
    )


def preset_info(row: Any) -> PresetInfo:
    return PresetInfo(
        id=row.id,
        owner_id=row.owner_id,
        name=row.name,
        params_data=dict(row.params or {}),
        shared=bool(row.shared),
        use_count=int(row.use_count or 0),
        created_at=aware(row.created_at),  # type: ignore[arg-type]
        updated_at=aware(row.updated_at),  # type: ignore[arg-type]
    )


def dream_info(row: Any) -> DreamInfo:
    return DreamInfo(
        id=row.id,
        user_id=row.user_id,
        guild_id=row.guild_id,
        channel_id=row.channel_id,
        message_id=row.message_id,
        result_message_id=row.result_message_id,
        source_url=row.source_url,
        source=_file_ref(row.source_sha256, row.source_ext, row.source_size),
        guide=_file_ref(row.guide_sha256, row.guide_ext, row.guide_size),
        params_data=dict(row.params or {}),
        model=row.model,
        seed=row.seed,
        status=DreamStatus(row.status),
        error=row.error,
        created_at=aware(row.created_at),  # type: ignore[arg-type]
        started_at=aware(row.started_at),
        finished_at=aware(row.finished_at),
        result=_file_ref(row.result_sha256, row.result_ext, row.size_bytes),
        width=row.width,
        height=row.height,
        size_bytes=row.size_bytes,
        seconds=row.seconds,
        is_animation=bool(row.is_animation),
        reply_token=row.reply_token,
        reply_expires_at=aware(row.reply_expires_at),
        upload_limit=row.upload_limit,
        interruptions=int(row.interruptions or 0),
        undelivered=bool(row.undelivered),
    )
