"""`PriorityScheduler`: dreams first, atlas work after, in two fair lines.

Atlas jobs (:mod:`.atlas_jobs`) render feature visualisations; a whole layer
can take minutes, and a dream must never wait behind one. So they wait in a
line of their own: :meth:`PriorityScheduler.pop` hands out a waiting dream
whenever there is one, an atlas job only when no dream waits and fewer than
``low_max_running`` atlas jobs run (``ExecutorConfig.atlas_max_running``, 1 by
default). A running atlas job is not stopped for a dream that arrives later;
it is the next free worker that goes to the dream. Each line is a
:class:`~dream_core.executor.scheduler.FairScheduler` (round-robin over users,
with the same caps, counted per line). Queue positions count the dreams ahead.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import Generic, Optional, TypeVar

from dream_core.executor.scheduler import FairScheduler

T = TypeVar("T", bound=Hashable)


class PriorityScheduler(Generic[T]):
    """Two :class:`FairScheduler` lines: high (dreams) before low (``is_low``: atlas jobs)."""

    def __init__(
        self, max_queue: int, max_per_user: int, max_per_guild: int, *, is_low: Callable[[T], bool],
    ) -> None:
        self.high: FairScheduler[T] = FairScheduler(max_queue, max_per_user, max_per_guild)
        self.low: FairScheduler[T] = FairScheduler(max_queue, max_per_user, max_per_guild)
        self._is_low = is_low

    def _line(self, item: T) -> FairScheduler[T]:
        return self.low if self._is_low(item) else self.high

    def push(self, item: T, user_id: int, guild_id: Optional[int]) -> int:
        """Add a job (after its line's caps); return its 1-based position among all waiting jobs."""
        self._line(item).push(item, user_id, guild_id)
        return self.position(item) or 0

    def requeue(self, item: T, user_id: int, guild_id: Optional[int]) -> None:
        """A job whose worker was lost: first in its line again."""
        self._line(item).requeue(item, user_id, guild_id)

    def pop(self, low_allowed: bool = True) -> Optional[T]:
        """The next dream; else, when ``low_allowed``, the next atlas job; else None."""
        item = self.high.pop()
        if item is None and low_allowed:
            item = self.low.pop()
        return item

    def remove(self, item: T) -> bool:
        return self.high.remove(item) or self.low.remove(item)

    def order(self) -> list[T]:
        """Waiting jobs in the order they would start: every dream, then atlas jobs."""
        return self.high.order() + self.low.order()

    def positions(self) -> dict[T, int]:
        return {item: i for i, item in enumerate(self.order(), start=1)}

    def position(self, item: T) -> Optional[int]:
        return self.positions().get(item)

    def __len__(self) -> int:
        return len(self.high) + len(self.low)

    def __contains__(self, item: object) -> bool:
        return item in self.high or item in self.low

    def __iter__(self) -> Iterator[T]:
        return iter(self.order())

    def per_user(self) -> dict[int, int]:
        out = self.high.per_user()
        for user, n in self.low.per_user().items():
            out[user] = out.get(user, 0) + n
        return out

    def per_guild(self) -> dict[int, int]:
        out = self.high.per_guild()
        for guild, n in self.low.per_guild().items():
            out[guild] = out.get(guild, 0) + n
        return out


__all__ = ["PriorityScheduler"]
