"""`FairScheduler`: the waiting line shared by every backend.

Fair between users: the next job comes from the user with waiting jobs who
was served longest ago (a user never served comes first), so one user with
ten jobs does not hold up another user's single job — each user gets a turn
per round. Jobs of one user keep their order. A job put back after its worker
was lost (:meth:`FairScheduler.requeue`) starts next, ahead of every other.

Caps (checked by :meth:`FairScheduler.check` / :meth:`push`): waiting jobs in
total, per user and per guild (``guild_id=None``, a DM, has no guild cap).
Beyond a cap, :class:`SubmitRefused` is raised with a clear reason.

Pure bookkeeping: no asyncio, no processes; callers serialise access.
"""

from __future__ import annotations

import itertools
from collections import Counter, deque
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from typing import Generic, Optional, TypeVar

from dream_core.executor.errors import SubmitRefused

T = TypeVar("T", bound=Hashable)

_MAX_REMEMBERED_USERS = 10_000


@dataclass
class _Entry(Generic[T]):
    item: T
    user_id: int
    guild_id: Optional[int]
    seq: int = field(default=0)
    first: bool = False  # queued again after its worker was lost: next to start


class FairScheduler(Generic[T]):
    """Round-robin over users with waiting jobs, with queue caps."""

    def __init__(self, max_queue: int, max_per_user: int, max_per_guild: int) -> None:
        self.max_queue = max_queue
        self.max_per_user = max_per_user
        self.max_per_guild = max_per_guild
        self._queues: dict[int, deque[_Entry[T]]] = {}
        self._entries: dict[T, _Entry[T]] = {}
        self._guild_counts: Counter[int] = Counter()
        self._last_served: dict[int, int] = {}
        self._seq = itertools.count()
        self._served = itertools.count()

    # --- caps -----------------------------------------------------------------

    def check(self, user_id: int, guild_id: Optional[int]) -> None:
        """Raise :class:`SubmitRefused` if one more job of this user/guild would break a cap."""
        if len(self._entries) >= self.max_queue:
            raise SubmitRefused(
                f"The dream queue is full ({len(self._entries)} waiting). Please try again in a few minutes.",
                code="queue_full",
            )
        mine = len(self._queues.get(user_id, ()))
        if mine >= self.max_per_user:
            raise SubmitRefused(
                f"You already have {mine} dream{'s' if mine != 1 else ''} waiting "
                f"(the limit is {self.max_per_user}). Wait for one to start, or cancel one.",
                code="user_limit",
            )
        if guild_id is not None and self._guild_counts[guild_id] >= self.max_per_guild:
            raise SubmitRefused(
                f"This server already has {self._guild_counts[guild_id]} dreams waiting "
                f"(the limit is {self.max_per_guild}). Please try again when some are done.",
                code="guild_limit",
            )

    # --- queue ----------------------------------------------------------------

    def push(self, item: T, user_id: int, guild_id: Optional[int]) -> int:
        """Add a job (after checking the caps); return its 1-based position."""
        if item in self._entries:
            raise ValueError(f"{item!r} is already queued")
        self.check(user_id, guild_id)
        entry = _Entry(item, user_id, guild_id, next(self._seq))
        self._queues.setdefault(user_id, deque()).append(entry)
        self._entries[item] = entry
        if guild_id is not None:
            self._guild_counts[guild_id] += 1
        return self.position(item) or 0

    def requeue(self, item: T, user_id: int, guild_id: Optional[int]) -> None:
        """Put a job that was running back in the line, first (its worker was lost); no caps apply."""
        if item in self._entries:
            raise ValueError(f"{item!r} is already queued")
        entry = _Entry(item, user_id, guild_id, -next(self._seq), first=True)
        self._queues.setdefault(user_id, deque()).appendleft(entry)
        self._entries[item] = entry
        if guild_id is not None:
            self._guild_counts[guild_id] += 1

    def pop(self) -> Optional[T]:
        """Take the next job to start (None when nothing waits)."""
        user = self._next_user()
        if user is None:
            return None
        entry = self._queues[user].popleft()
        self._forget(entry)
        self._last_served[user] = next(self._served)
        if len(self._last_served) > _MAX_REMEMBERED_USERS:
            self._prune_memory()
        return entry.item

    def remove(self, item: T) -> bool:
        """Drop a waiting job (cancelled); False if it was not waiting."""
        entry = self._entries.get(item)
        if entry is None:
            return False
        self._queues[entry.user_id].remove(entry)
        self._forget(entry)
        return True

    def order(self) -> list[T]:
        """Waiting jobs in the order they would start if nothing else arrived."""
        users = sorted(self._queues, key=self._user_key)
        out: list[T] = []
        depth = max((len(q) for q in self._queues.values()), default=0)
        for r in range(depth):
            for u in users:
                q = self._queues[u]
                if r < len(q):
                    out.append(q[r].item)
        return out

    def positions(self) -> dict[T, int]:
        """Every waiting job with its 1-based position."""
        return {item: i for i, item in enumerate(self.order(), start=1)}

    def position(self, item: T) -> Optional[int]:
        return self.positions().get(item)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, item: object) -> bool:
        return item in self._entries

    def __iter__(self) -> Iterator[T]:
        return iter(self.order())

    def per_user(self) -> dict[int, int]:
        """Waiting jobs per user."""
        return {u: len(q) for u, q in self._queues.items()}

    def per_guild(self) -> dict[int, int]:
        """Waiting jobs per guild."""
        return {g: n for g, n in self._guild_counts.items() if n}

    # --- internals ----------------------------------------------------------------

    def _user_key(self, user: int) -> tuple[bool, int, int]:
        head = self._queues[user][0]
        return (not head.first, self._last_served.get(user, -1), head.seq)

    def _next_user(self) -> Optional[int]:
        if not self._queues:
            return None
        return min(self._queues, key=self._user_key)

    def _forget(self, entry: _Entry[T]) -> None:
        del self._entries[entry.item]
        if not self._queues[entry.user_id]:
            del self._queues[entry.user_id]
        if entry.guild_id is not None:
            self._guild_counts[entry.guild_id] -= 1
            if self._guild_counts[entry.guild_id] <= 0:
                del self._guild_counts[entry.guild_id]

    def _prune_memory(self) -> None:
        idle = sorted((u for u in self._last_served if u not in self._queues), key=self._last_served.__getitem__)
        for u in idle[: len(idle) // 2]:
            del self._last_served[u]
