"""What the dream code needs from the rest of the bot, as typed protocols.

The :class:`~bot.dream_runner.DreamRunner`, the button controller, the params
policy and the gallery service depend on these small interfaces rather than on
the concrete store, file store, executor or metrics (and never on the Discord
client), so each can be built and tested on its own and none imports
:mod:`bot.app`. The real objects (:class:`bot.store.Store`,
:class:`bot.store.files.FileStore`, :class:`dream_core.executor.BaseExecutor`,
:class:`bot.metrics.Metrics`, :class:`bot.settings.Settings`) satisfy them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Optional, Protocol, Union

from bot.store.files import FileRef
from bot.store.records import DeletionReport, DreamInfo, GalleryItem, GuildInfo, PresetInfo, VoteState
from dream_core.executor.clips import ClipJob
from dream_core.executor.events import JobEvent
from dream_core.params import DreamParams


class RunnerSettings(Protocol):
    """The settings the dream runner reads."""

    @property
    def followup_window_s(self) -> float: ...
    @property
    def progress_edit_interval_s(self) -> float: ...
    @property
    def progress_previews(self) -> bool: ...


class DreamRecords(Protocol):
    """The store's dream records: history rows through ``queued -> running -> done|failed|cancelled``."""

    async def create_dream(
        self,
        user_id: int,
        params: Union[DreamParams, dict[str, Any], str],
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
    ) -> DreamInfo: ...

    async def mark_running(self, dream_id: int) -> DreamInfo: ...

    async def mark_done(
        self,
        dream_id: int,
        result: FileRef,
        *,
        width: int,
        height: int,
        seconds: float,
        is_animation: bool = False,
        params: Union[DreamParams, dict[str, Any], None] = None,
        model: Optional[str] = None,
        seed: Optional[int] = None,
        undelivered: bool = False,
    ) -> DreamInfo: ...

    async def mark_delivered(self, dream_id: int) -> None: ...

    async def hand_over(self, dream_id: int) -> bool: ...

    async def mark_failed(self, dream_id: int, error: str) -> DreamInfo: ...

    async def mark_cancelled(self, dream_id: int, reason: Optional[str] = None) -> DreamInfo: ...

    async def set_dream_messages(
        self,
        dream_id: int,
        *,
        channel_id: Optional[int] = None,
        message_id: Optional[int] = None,
        result_message_id: Optional[int] = None,
    ) -> DreamInfo: ...

    async def get_dream(self, dream_id: int) -> DreamInfo: ...

    async def delete_dream(self, dream_id: int, *, by_user_id: Optional[int] = None) -> DeletionReport: ...


class PresetRecords(Protocol):
    """The store's presets."""

    async def get_preset(self, user_id: int, name: str) -> PresetInfo: ...

    async def use_preset(self, preset_id: int) -> int: ...

    async def get_default_preset(self, user_id: int) -> Optional[PresetInfo]: ...

    async def create_preset(
        self,
        owner_id: int,
        name: str,
        params: Union[DreamParams, dict[str, Any], str],
        *,
        shared: bool = False,
        owner_name: Optional[str] = None,
    ) -> PresetInfo: ...

    async def update_preset(
        self,
        owner_id: int,
        name: str,
        *,
        params: Union[DreamParams, dict[str, Any], str, None] = None,
        new_name: Optional[str] = None,
        shared: Optional[bool] = None,
    ) -> PresetInfo: ...


class GalleryRecords(Protocol):
    """The store's guild galleries and votes."""

    async def get_dream(self, dream_id: int) -> DreamInfo: ...

    async def touch_guild(self, guild_id: int, name: Optional[str] = None) -> GuildInfo: ...

    async def publish(
        self,
        dream_id: int,
        guild_id: int,
        *,
        by_user_id: int,
        moderator: bool = False,
        title: Optional[str] = None,
        guild_name: Optional[str] = None,
    ) -> GalleryItem: ...

    async def has_voted(self, entry_id: int, user_id: int) -> bool: ...

    async def vote(self, entry_id: int, user_id: int, *, user_name: Optional[str] = None) -> VoteState: ...

    async def unvote(self, entry_id: int, user_id: int) -> VoteState: ...


class Files(Protocol):
    """The content-addressed image store."""

    async def aput(self, data: bytes, ext: Optional[str] = None) -> FileRef: ...

    async def aread(self, sha256: str) -> bytes: ...


class JobHandle(Protocol):
    """One submitted dream (:class:`dream_core.executor.Job`)."""

    @property
    def started_at(self) -> Optional[float]: ...

    def events(self) -> AsyncIterator[JobEvent]: ...

    async def cancel(self) -> bool: ...


class DreamExecutor(Protocol):
    """Where dreams run (:class:`dream_core.executor.BaseExecutor`)."""

    async def submit(
        self,
        image_bytes: Optional[bytes],
        params: Any = None,
        *,
        user_id: int,
        guild_id: Optional[int] = None,
        guide_bytes: Optional[bytes] = None,
        timeout_s: Optional[float] = None,
        clip: Optional[ClipJob] = None,
    ) -> JobHandle: ...


class DreamMetrics(Protocol):
    """The counters the dream runner feeds (:class:`bot.metrics.Metrics`)."""

    def job(self, status: str) -> None: ...

    def job_done(self, seconds: Optional[float] = None) -> None: ...

    def observe_interaction(self, seconds: float, command: str = "other") -> None: ...
