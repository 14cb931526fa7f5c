"""Limits on starting a dream: a cooldown per user, dreams in progress per user and
per server, and the image and clip checks (:class:`~bot.attachments.ImageLimits`)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Optional, Protocol

from bot.attachments import ImageLimits
from bot.clip_input import ClipSettings, clip_limits
from bot.replies import UserError

#: beyond this many remembered users, cooldowns that are over are forgotten
_FORGET_AFTER = 10_000


class LimitSettings(ClipSettings, Protocol):
    """The settings the limits read (``max_pixels`` and the clip bounds come from :class:`ClipSettings`)."""

    @property
    def user_cooldown_s(self) -> float: ...
    @property
    def max_queued_per_user(self) -> int: ...
    @property
    def guild_concurrent_jobs(self) -> int: ...
    @property
    def max_attachment_bytes(self) -> int: ...
    @property
    def allow_private_image_urls(self) -> bool: ...


class Running(Protocol):
    """A dream in progress, as far as limits care."""

    @property
    def user_id(self) -> int: ...
    @property
    def guild_id(self) -> Optional[int]: ...


class DreamLimits:
    """Decides whether a user may start another dream now. One per bot."""

    def __init__(self, settings: LimitSettings) -> None:
        self.settings = settings
        self._last_start: dict[int, float] = {}

    @property
    def image_limits(self) -> ImageLimits:
        s = self.settings
        return ImageLimits(s.max_attachment_bytes, s.max_pixels, s.allow_private_image_urls, clip_limits(s))

    def started(self, user_id: int) -> None:
        """A dream of ``user_id`` starts now: the cooldown runs from here."""
        self._last_start[user_id] = time.monotonic()

    def check(self, user_id: int, guild_id: Optional[int], running: Iterable[Running]) -> None:
        """Cooldown per user, dreams in progress per user and per server (``running``).
        Raises :class:`UserError` saying what to wait for."""
        s = self.settings
        if len(self._last_start) > _FORGET_AFTER:
            horizon = time.monotonic() - s.user_cooldown_s
            self._last_start = {u: t for u, t in self._last_start.items() if t > horizon}
        last = self._last_start.get(user_id)
        if last is not None and s.user_cooldown_s > 0:
            wait = last + s.user_cooldown_s - time.monotonic()
            if wait > 0:
                raise UserError(f"Easy there — you can start another dream in {max(1, round(wait))} s.")
        active = list(running)
        mine = sum(1 for a in active if a.user_id == user_id)
        if mine >= s.max_queued_per_user:
            raise UserError(
                f"You already have {s.max_queued_per_user} dreams going. Wait for one to finish (or cancel one)."
            )
        if guild_id is not None:
            in_guild = sum(1 for a in active if a.guild_id == guild_id)
            if in_guild >= s.guild_concurrent_jobs:
                raise UserError(
                    f"This server already has {in_guild} dreams going (the limit is {s.guild_concurrent_jobs}). "
                    "Try again in a moment."
                )
