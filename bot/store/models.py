"""The store's tables as SQLAlchemy 2.0 typed ORM models.

Discord ids are 64-bit (``BigInteger``); surrogate keys are plain integers.
Times are stored as timezone-aware UTC (SQLite hands them back naive; the
records in :mod:`bot.store.records` put the UTC zone back). Images are not in
the database: dreams keep *references* (sha256 + extension) into the
:class:`~bot.store.files.FileStore`.

The constraint naming convention on :data:`Base.metadata` gives every index and
constraint a stable name, which Alembic needs for SQLite batch migrations.
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.expression import false as sa_false

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

PRESET_NAME_MAX = 64
TITLE_MAX = 100
DISPLAY_NAME_MAX = 100
ERROR_MAX = 1000


def utcnow() -> datetime:
    """Now, as an aware UTC datetime."""
    return datetime.now(timezone.utc)


class DreamStatus(str, enum.Enum):
    """Life of a dream: queued -> running -> done | failed | cancelled."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (DreamStatus.DONE, DreamStatus.FAILED, DreamStatus.CANCELLED)


class GalleryVisibility(str, enum.Enum):
    """Who sees a guild's gallery on the web: listed at ``/``, by secret token only, or nobody."""

    PUBLIC = "public"
    UNLISTED = "unlisted"
    OFF = "off"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    """A Discord user the bot has seen, and their personal settings."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    display_name: Mapped[str] = mapped_column(String(DISPLAY_NAME_MAX), default="")
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Not a foreign key (users <-> presets would be a cycle); the store clears it
    # when the preset goes away and ignores it when it points nowhere.
    default_preset_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    gallery_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)


class Guild(Base):
    """A Discord server and its gallery settings."""

    __tablename__ = "guilds"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(DISPLAY_NAME_MAX), default="")
    gallery_visibility: Mapped[str] = mapped_column(String(16), default=GalleryVisibility.UNLISTED.value)
    unlisted_token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Preset(Base):
    """Saved dream parameters (``DreamParams.explicit()``: the fields set), unique by name per owner."""

    __tablename__ = "presets"
    # Ids are never reused (SQLite AUTOINCREMENT): they appear in links and button ids.
    __table_args__ = (UniqueConstraint("owner_id", "name_key"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(PRESET_NAME_MAX))
    # lower-cased name: uniqueness and prefix search ignore case
    name_key: Mapped[str] = mapped_column(String(4 * PRESET_NAME_MAX), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    use_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Dream(Base):
    """One dream: the history entry and the job record."""

    __tablename__ = "dreams"
    __table_args__ = (
        Index("ix_dreams_user_id_id", "user_id", "id"),
        Index("ix_dreams_status", "status"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    guild_id: Mapped[Optional[int]] = mapped_column(
        BigInteger, ForeignKey("guilds.id", ondelete="SET NULL"), nullable=True, index=True
    )
    channel_id: Mapped[Optional[int]] = mapped_column(BigInteger, nullable=True)
    message_id: Mapped[Optional[int]] = mapped_column(BigInteger, nullable=True)
    result_message_id: Mapped[Optional[int]] = mapped_column(BigInteger, nullable=True)

    source_url: Mapped[Optional[str]] = mapped_column(String(2048), nullable=True)
    source_sha256: Mapped[Optional[str]] = mapped_column(String(64), nullable=True, index=True)
    source_ext: Mapped[Optional[str]] = mapped_column(String(8), nullable=True)
    source_size: Mapped[Optional[int]] = mapped_column(BigInteger, nullable=True)
    # the optional guide image (``/dream guide:``): kept so "Dream again" dreams with it too
    guide_sha256: Mapped[Optional[str]] = mapped_column(String(64), nullable=True, index=True)
    guide_ext: Mapped[Optional[str]] = mapped_column(String(8), nullable=True)
    guide_size: Mapped[Optional[int]] = mapped_column(BigInteger, nullable=True)

    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    model: Mapped[str] = mapped_column(String(64))
    seed: Mapped[Optional[int]] = mapped_column(BigInteger, nullable=True)

    status: Mapped[str] = mapped_column(String(16), default=DreamStatus.QUEUED.value)
    error: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True), nullable=True)

    result_sha256: Mapped[Optional[str]] = mapped_column(String(64), nullable=True, index=True)
    result_ext: Mapped[Optional[str]] = mapped_column(String(8), nullable=True)
    width: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    height: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    size_bytes: Mapped[Optional[int]] = mapped_column(BigInteger, nullable=True)
    seconds: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    is_animation: Mapped[bool] = mapped_column(Boolean, default=False)

    # The durable queue (issue 17): what a new bot process needs to resume the dream and
    # answer in the user's own message. The interaction token is a secret that Discord
    # honours for 15 minutes; it is cleared once the dream has ended.
    reply_token: Mapped[Optional[str]] = mapped_column(String(255), nullable=True)
    reply_expires_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True), nullable=True)
    upload_limit: Mapped[Optional[int]] = mapped_column(BigInteger, nullable=True)
    # times a bot process died while this dream was running (2: not tried again)
    interruptions: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # done, but the result is not yet in the user's message (Discord was down, or the bot died)
    undelivered: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())


class GalleryEntry(Base):
    """A dream published to a guild's gallery (at most once per guild)."""

    __tablename__ = "gallery_entries"
    __table_args__ = (
        UniqueConstraint("guild_id", "dream_id"),
        Index("ix_gallery_entries_guild_id_created_at", "guild_id", "created_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guild_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("guilds.id", ondelete="CASCADE"))
    dream_id: Mapped[int] = mapped_column(Integer, ForeignKey("dreams.id", ondelete="CASCADE"), index=True)
    published_by: Mapped[Optional[int]] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    title: Mapped[Optional[str]] = mapped_column(String(TITLE_MAX), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)


class Vote(Base):
    """One user's vote for one gallery entry."""

    __tablename__ = "votes"

    entry_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("gallery_entries.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
