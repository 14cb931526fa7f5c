"""The gallery's page cache: what it rendered (and which pictures it may serve), kept
until the database changes.

Every value is stored with the change token (:mod:`bot.store.changes`) read
*before* it was computed, and is used only while the watcher still returns an
equal token: a commit anywhere (the bot, another ``dreambot web`` process, the
CLI) makes every value older than it a miss. A value computed while a commit
lands is tagged with the token from before that commit, so it is never reused
afterwards. Hidden, unpublished and deleted entries, votes, renamed users and
changed visibility therefore show on the next request (SQLite) or within half a
second (PostgreSQL).

Concurrent misses of one key under one token share one computation (a link
posted in a big server brings a spike of identical requests: the store sees one
query). The cache is a bounded LRU: a request can only add entries for
well-formed keys, and the oldest go first.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from bot.store.changes import ChangeWatcher

V = TypeVar("V")

#: entries kept by default (pages are 5-30 kB: up to ~30 MB of pages)
DEFAULT_ENTRIES = 1024


@dataclass(frozen=True)
class CachedPage:
    """A rendered page: its body, its headers (content type, caching, robots) and a
    strong ETag derived from the body, for conditional requests."""

    body: bytes
    headers: Mapping[str, str]
    etag: str = field(default="")

    @classmethod
    def of(cls, body: bytes, headers: Mapping[str, str]) -> CachedPage:
        digest = hashlib.blake2b(body, digest_size=16).hexdigest()
        return cls(body, dict(headers), f'"{digest}"')


class PageCache(Generic[V]):
    """A versioned LRU: ``await cache.get(key, build)`` returns the value stored for ``key``
    while the database has not changed since it was built, else ``await build()`` (once
    for all concurrent callers) and keeps it. Every value belongs to the token of the
    moment: when the token moves, they all go at once (tokens never come back)."""

    def __init__(self, watcher: ChangeWatcher, *, max_entries: int = DEFAULT_ENTRIES) -> None:
        self.watcher = watcher
        self.max_entries = max_entries
        self._token: object = object()
        self._entries: OrderedDict[Hashable, V] = OrderedDict()
        self._building: dict[tuple[Hashable, object], asyncio.Future[V]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every value (the next request of each key computes it again)."""
        self._entries.clear()

    async def get(self, key: Hashable, build: Callable[[], Awaitable[V]]) -> V:
        token = await self.watcher.token()
        if token != self._token:
            self._token = token
            self._entries.clear()
        elif key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key]
        flight = (key, token)
        pending = self._building.get(flight)
        if pending is None:
            pending = asyncio.ensure_future(self._build(key, token, build))
            self._building[flight] = pending
            pending.add_done_callback(lambda f: self._done(flight, f))
        # shielded: a client that goes away does not cancel the others' computation
        return await asyncio.shield(pending)

    async def _build(self, key: Hashable, token: object, build: Callable[[], Awaitable[V]]) -> V:
        value = await build()
        if token == self._token:  # else the database changed meanwhile: not for keeping
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def _done(self, flight: tuple[Hashable, object], future: asyncio.Future[V]) -> None:
        self._building.pop(flight, None)
        if not future.cancelled():
            future.exception()  # retrieved: every waiter may have gone
