"""Has anything been committed to the database since I last looked?

Caches in front of the store (the web gallery's pages and picture lookups)
keep what they computed with the *change token* they read before computing
it, and use it only while :meth:`ChangeWatcher.token` still returns an equal
token. The token is the database's own record of commits, so every writer
counts without cooperating: the bot, a separate ``dreambot web`` process,
``dreambot db delete-user``, an admin's SQL:

- **SQLite**: ``PRAGMA data_version`` on a read-only connection of the
  watcher's own. It changes whenever *another* connection (of this process or
  any other) commits to the file. It is read from shared memory (the WAL
  index), a few microseconds, so it is checked on every call: a change shows
  at once.
- **PostgreSQL**: the text of ``pg_current_snapshot()`` (``txid_current_snapshot()``
  before PostgreSQL 13): its ``xmax`` moves when a writing transaction starts and
  its in-progress list loses every transaction that ends, so it differs from
  one look to the next whenever some transaction committed in between. It
  costs a round trip, so it is read at most every :data:`POSTGRES_POLL_S`
  seconds (one query for all concurrent callers).
- Anything else (an in-memory SQLite database, other servers): a new token on
  every call, that is, no caching.

Any commit counts, not only those that touch the gallery (the cluster's other
databases too, on PostgreSQL): the watcher is never wrong, only sometimes
cautious.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any, Optional

log = logging.getLogger(__name__)

#: how often a PostgreSQL watcher asks the server (a change shows within this)
POSTGRES_POLL_S = 0.5


class ChangeWatcher:
    """Base class: a token that differs whenever the database changed. This one
    knows nothing, so every token is new (callers never reuse what they computed)."""

    async def token(self) -> object:
        return object()

    def close(self) -> None:
        """Release what the watcher holds (idempotent)."""


class SqliteDataVersion(ChangeWatcher):
    """``PRAGMA data_version`` of a private read-only connection to a SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._conn: Optional[sqlite3.Connection] = None

    def _connect(self) -> sqlite3.Connection:
        # read-only, and never waits on a lock: a busy file reads as "changed"
        conn = sqlite3.connect(
            f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=0, check_same_thread=False
        )
        conn.isolation_level = None  # autocommit: no read transaction outlives the statement
        return conn

    def version(self) -> object:
        """The current token (blocking, microseconds: the WAL index is shared memory)."""
        try:
            if self._conn is None:
                self._conn = self._connect()
            # fetchall: the statement runs to its end, so no read lock is left holding back checkpoints
            rows = self._conn.execute("PRAGMA data_version").fetchall()
            return int(rows[0][0])
        except sqlite3.Error as exc:
            log.debug("change watcher: %s: %s", self.path.name, exc)
            self.close()
            return object()

    async def token(self) -> object:
        return self.version()

    def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()


class PostgresSnapshot(ChangeWatcher):
    """The server's current snapshot, read at most every ``poll_s`` seconds."""

    QUERIES = ("SELECT pg_current_snapshot()::text", "SELECT txid_current_snapshot()::text")

    def __init__(self, engine: Any, *, poll_s: float = POSTGRES_POLL_S) -> None:
        self.engine = engine
        self.poll_s = poll_s
        self._token: object = object()
        self._read_at = float("-inf")
        self._pending: Optional[asyncio.Future[object]] = None
        self._query = 0

    async def _read(self) -> object:
        from sqlalchemy import text
        from sqlalchemy.exc import ProgrammingError

        async with self.engine.connect() as conn:
            while True:
                try:
                    return str(await conn.scalar(text(self.QUERIES[self._query])))
                except ProgrammingError:  # no such function: before PostgreSQL 13
                    if self._query + 1 >= len(self.QUERIES):
                        raise
                    await conn.rollback()
                    self._query += 1

    async def token(self) -> object:
        if time.monotonic() - self._read_at < self.poll_s:
            return self._token
        if self._pending is None:
            self._pending = asyncio.ensure_future(self._refresh())
        return await asyncio.shield(self._pending)

    async def _refresh(self) -> object:
        started = time.monotonic()
        try:
            self._token = await self._read()
            self._read_at = started  # the token is no older than the moment we asked
        except Exception as exc:  # unreachable server: no caching until it answers
            log.debug("change watcher: %s", exc)
            self._token = object()
        finally:
            self._pending = None
        return self._token


def watcher_for(database: Any) -> ChangeWatcher:
    """The watcher for a :class:`~bot.store.database.Database` (or anything with ``url``
    and ``engine``): by its backend, see the module's docstring."""
    url = database.url
    backend = url.get_backend_name()
    if backend == "sqlite":
        name = url.database or ""
        if name and name != ":memory:" and not name.startswith("file:") and Path(name).is_file():
            return SqliteDataVersion(Path(name))
        return ChangeWatcher()
    if backend == "postgresql":
        return PostgresSnapshot(database.engine)
    return ChangeWatcher()
