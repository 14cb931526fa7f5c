"""The async engine and sessions behind the store.

``Database(url)`` works with any SQLAlchemy async URL (a plain ``sqlite:///`` or
``postgresql://`` URL gets the async driver: aiosqlite, asyncpg). SQLite (the default,
``sqlite+aiosqlite:///data/dreambot.db``) is tuned on every new connection:
WAL journal (readers never block the writer), foreign keys on, a busy timeout,
and write transactions that start with ``BEGIN IMMEDIATE`` (so two writers wait
for each other instead of failing with "database is locked"). Within one
process, writes are also serialised by an asyncio lock, so the event loop never
queues behind SQLite's busy handler.

Use :meth:`Database.read` for queries and :meth:`Database.write` for changes::

    async with db.write() as session:   # commits on success, rolls back on error
        session.add(...)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Optional, Union

from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from bot.store.errors import DatabaseError

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000
_BEGIN_OPTION = "dreambot_sqlite_begin"


# plain URLs get the async driver the store needs
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "mysql": "mysql+aiomysql",
    "mariadb": "mariadb+aiomysql",
}
_DRIVER_PACKAGES = {"asyncpg": "asyncpg (pip install 'dreambot[postgres]')", "aiomysql": "aiomysql"}


def safe_url(url: Union[str, URL]) -> str:
    """``url`` for messages and logs (password hidden)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - unparsable: say so without echoing secrets
        return "<unparsable URL>"


def async_url(url: Union[str, URL]) -> URL:
    """``url`` parsed, with the async driver the store uses when it names none
    (``sqlite:///x.db`` -> ``sqlite+aiosqlite:///x.db``, ``postgres://`` ->
    ``postgresql+asyncpg://``). Raises :class:`DatabaseError` for a malformed URL.

    A :class:`URL` is used as it is, never re-parsed from ``str(url)``: that string hides
    the password as ``***``, so a password-protected database would refuse the login.
    """
    from sqlalchemy.exc import ArgumentError

    if isinstance(url, URL):
        u = url
    else:
        try:
            u = make_url(url)
        except ArgumentError:
            raise DatabaseError(
                "DREAMBOT_DATABASE_URL is not a valid database URL; expected something like "
                "postgresql+asyncpg://user:password@host/dbname or sqlite+aiosqlite:////data/dreambot.db"
            ) from None
    return u.set(drivername=_ASYNC_DRIVERS.get(u.drivername, u.drivername))


def is_sqlite(url: Union[str, URL]) -> bool:
    return async_url(url).get_backend_name() == "sqlite"


def ensure_sqlite_folder(url: Union[str, URL]) -> None:
    """Create the folder of a SQLite database file (no-op for other databases)."""
    u = async_url(url)
    if u.get_backend_name() != "sqlite":
        return
    db = u.database or ""
    if db and db != ":memory:" and not db.startswith("file:"):
        folder = Path(db).expanduser().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseError(
                f"Cannot create the data folder {folder} for the database ({exc.strerror or exc}); "
                "check DREAMBOT_DATA_DIR and its permissions."
            ) from None


def create_engine_checked(url: Union[str, URL], **kwargs: Any) -> AsyncEngine:
    """``create_async_engine`` with admin-readable errors for unknown or missing drivers."""
    from sqlalchemy.exc import ArgumentError, InvalidRequestError, NoSuchModuleError

    u = async_url(url)
    try:
        return create_async_engine(u, **kwargs)
    except ModuleNotFoundError as exc:
        pkg = _DRIVER_PACKAGES.get(exc.name or "", exc.name)
        raise DatabaseError(
            f"The database driver for {safe_url(u)} is not installed: install {pkg}."
        ) from None
    except NoSuchModuleError:
        raise DatabaseError(f"Unknown database type in DREAMBOT_DATABASE_URL: {safe_url(u)}") from None
    except (InvalidRequestError, ArgumentError) as exc:
        raise DatabaseError(
            f"DREAMBOT_DATABASE_URL {safe_url(u)} cannot be used: {exc}. "
            "Use an async driver, e.g. postgresql+asyncpg:// or sqlite+aiosqlite://"
        ) from None


def _enable_wal(cur: Any) -> None:
    """Switch the file to WAL (persistent, so usually already done).

    Changing the journal mode can fail with "database is locked" at once, without
    waiting on the busy timeout, while another process is setting up the same
    fresh file; retry for up to the busy timeout.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    delay = 0.01
    while True:
        try:
            cur.execute("PRAGMA journal_mode")
            if str(cur.fetchone()[0]).lower() == "wal":
                return
            cur.execute("PRAGMA journal_mode = WAL")
            return
        except Exception as exc:  # the driver's OperationalError ("database is locked")
            if "locked" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def configure_sqlite(engine: Engine, *, foreign_keys: bool = True, begin: str = "") -> None:
    """Install the SQLite connection setup on a (sync) engine.

    Every new connection gets WAL mode, ``foreign_keys``, a busy timeout and
    ``synchronous=NORMAL``; the driver's own transaction handling is replaced by
    explicit ``BEGIN`` (``BEGIN IMMEDIATE`` on engines carrying the write option, or
    ``begin`` for every transaction), which also makes SAVEPOINTs and transactional
    DDL behave.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        try:
            dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
            cur = dbapi_connection.cursor()
            try:
                cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                _enable_wal(cur)
                cur.execute("PRAGMA synchronous = NORMAL")
                cur.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
            finally:
                cur.close()
        except BaseException:
            # the pool drops a connection whose setup failed without closing it; an
            # aiosqlite connection left open would outlive its event loop
            dbapi_connection.close()
            raise

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get(_BEGIN_OPTION, begin)
        conn.exec_driver_sql(f"BEGIN {mode}".rstrip())


class Database:
    """An async engine plus read and write session factories for one database URL."""

    def __init__(self, url: Union[str, URL], *, echo: bool = False, **engine_kwargs: Any) -> None:
        self.url = async_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            ensure_sqlite_folder(self.url)
        else:
            engine_kwargs.setdefault("pool_pre_ping", True)
        self.engine: AsyncEngine = create_engine_checked(self.url, echo=echo, **engine_kwargs)
        write_engine = self.engine
        if self.is_sqlite:
            configure_sqlite(self.engine.sync_engine)
            write_engine = self.engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
        self._reader = async_sessionmaker(self.engine, expire_on_commit=False)
        self._writer = async_sessionmaker(write_engine, expire_on_commit=False)
        self._write_lock: Optional[asyncio.Lock] = None
        self._lock_loop: Optional[asyncio.AbstractEventLoop] = None

    @classmethod
    def from_settings(cls, settings: Any = None) -> Database:
        """The database named by ``DREAMBOT_DATABASE_URL`` (default: SQLite in the data folder)."""
        if settings is None:
            from bot.settings import get_settings

            settings = get_settings()
        return cls(settings.resolved_database_url)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for queries (its transaction is rolled back at the end)."""
        async with self._reader() as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session in a write transaction: committed when the block ends, rolled back on error."""
        if not self.is_sqlite:
            async with self._writer() as session, session.begin():
                yield session
            return
        async with self._lock(), self._writer() as session, session.begin():
            yield session

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._write_lock is None or self._lock_loop is not loop:
            self._write_lock, self._lock_loop = asyncio.Lock(), loop
        return self._write_lock

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
