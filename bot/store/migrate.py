"""Schema migrations (Alembic), configured in code: the scripts are in the
top-level ``migrations/`` folder; no ``alembic.ini`` is needed.

``upgrade(url)``, ``downgrade(url, revision)`` and ``current(url)`` are what
``dreambot db upgrade|downgrade|current`` run (see :mod:`bot.store.db_cli`);
the bot calls :func:`upgrade` on start. They are blocking (called inside a
running event loop they work too, in a helper thread, but block the loop);
async code should prefer ``await upgrade_async(url)``. ``url`` may be any
SQLAlchemy URL, async (``sqlite+aiosqlite``, ``postgresql+asyncpg``) or not;
``None`` means the settings' ``resolved_database_url``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Optional, TypeVar, Union

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import pool
from sqlalchemy.engine import URL

from bot.store.database import async_url, create_engine_checked, ensure_sqlite_folder, safe_url
from bot.store.errors import DatabaseError, StoreError

log = logging.getLogger(__name__)
T = TypeVar("T")


def migrations_dir() -> Path:
    """The ``migrations/`` folder: ``DREAMBOT_MIGRATIONS_DIR``, else next to the ``bot``
    package (source checkout, editable install), else in the working directory (the
    Docker image copies it to ``/app/migrations``). Raises :class:`DatabaseError`."""
    env = os.environ.get("DREAMBOT_MIGRATIONS_DIR")
    candidates = [Path(env)] if env else []
    candidates += [Path(__file__).resolve().parents[2] / "migrations", Path.cwd() / "migrations"]
    for c in candidates:
        try:
            if _MARKER in (c / "env.py").read_text(encoding="utf-8"):
                return c
        except OSError:
            continue
    raise DatabaseError(
        "DreamBot's database migrations were not found (looked in: "
        + ", ".join(str(c) for c in candidates)
        + "). Run from the DreamBot folder or set DREAMBOT_MIGRATIONS_DIR."
    )


_MARKER = "Alembic environment for DreamBot"


def alembic_config(url: str) -> Config:
    """An Alembic :class:`Config` for ``url`` and the project's migrations."""
    full = async_url(url).render_as_string(hide_password=False)
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    # '%' would be read as interpolation by configparser
    cfg.set_main_option("sqlalchemy.url", full.replace("%", "%%"))
    cfg.attributes["database_url"] = full
    return cfg


def resolve_url(url: Optional[str]) -> str:
    """``url``, else the settings' ``resolved_database_url``."""
    if url:
        return url
    from bot.settings import get_settings

    return get_settings().resolved_database_url


def upgrade(url: Optional[str] = None, revision: str = "head") -> None:
    """Upgrade the database at ``url`` (default: the settings') to ``revision``."""
    url = resolve_url(url)
    ensure_sqlite_folder(url)
    cfg = alembic_config(url)
    with _admin_errors(url):
        _blocking(lambda: command.upgrade(cfg, revision))


def downgrade(url: Optional[str], revision: str) -> None:
    """Downgrade the database at ``url`` to ``revision`` (``"base"`` drops every table)."""
    url = resolve_url(url)
    cfg = alembic_config(url)
    with _admin_errors(url):
        _blocking(lambda: command.downgrade(cfg, revision))


def head() -> str:
    """The newest revision in ``migrations/``."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    h = script.get_current_head()
    assert h is not None
    return h


def current(url: Optional[str] = None) -> Optional[str]:
    """The revision the database at ``url`` is at (``None``: not initialised)."""
    u = async_url(resolve_url(url))
    is_file = u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:"
    if is_file and not Path(str(u.database)).expanduser().exists():
        return None  # do not create an empty file just to look
    with _admin_errors(u):
        return _blocking(lambda: asyncio.run(_current_async(u)))


async def _current_async(url: URL) -> Optional[str]:
    engine = create_engine_checked(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
    finally:
        await engine.dispose()


async def upgrade_async(url: Optional[str] = None, revision: str = "head") -> None:
    """:func:`upgrade` for async code (runs in a worker thread; the event loop keeps going)."""
    await asyncio.to_thread(upgrade, url, revision)


@contextmanager
def _admin_errors(url: Union[str, URL]) -> Iterator[None]:
    """Turn "cannot connect / cannot write" failures into one admin-readable DatabaseError."""
    from alembic.util import CommandError
    from sqlalchemy.exc import DBAPIError

    try:
        yield
    except StoreError:
        raise
    except CommandError as exc:
        raise DatabaseError(f"Migration failed: {exc}") from None
    except (DBAPIError, OSError) as exc:
        reason = getattr(exc, "orig", None) or exc
        raise DatabaseError(f"Cannot use the database at {safe_url(url)}: {reason}") from exc


def _blocking(fn: Callable[[], T]) -> T:
    """Run ``fn`` here, or in a helper thread when this thread runs an event loop
    (Alembic's async environment needs ``asyncio.run``)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dreambot-migrate") as ex:
        return ex.submit(fn).result()
