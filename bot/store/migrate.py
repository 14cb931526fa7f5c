"""Schema migrations (Alembic), configured in code: the scripts are in the
top-level ``migrations/`` folder; no ``alembic.ini`` is needed.

``upgrade(url)``, ``downgrade(url, revision)`` and ``current(url)`` are what
``dreambot db upgrade|downgrade|current`` run (see :func:`add_db_subcommands`);
the bot calls :func:`upgrade` on start. They are blocking (called inside a
running event loop they work too, in a helper thread, but block the loop);
async code should prefer ``await upgrade_async(url)``. ``url`` may be any
SQLAlchemy URL, async (``sqlite+aiosqlite``, ``postgresql+asyncpg``) or not;
``None`` means the settings' ``resolved_database_url``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator, Optional, TypeVar, Union

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


def _url(url: Optional[str]) -> str:
    if url:
        return url
    from bot.settings import get_settings

    return get_settings().resolved_database_url


def upgrade(url: Optional[str] = None, revision: str = "head") -> None:
    """Upgrade the database at ``url`` (default: the settings') to ``revision``."""
    url = _url(url)
    ensure_sqlite_folder(url)
    cfg = alembic_config(url)
    with _admin_errors(url):
        _blocking(lambda: command.upgrade(cfg, revision))


def downgrade(url: Optional[str], revision: str) -> None:
    """Downgrade the database at ``url`` to ``revision`` (``"base"`` drops every table)."""
    url = _url(url)
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
    u = async_url(_url(url))
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        if not Path(u.database).expanduser().exists():
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


# ---------------------------------------------------------------------------- CLI
def _cli(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except StoreError as exc:
            print(f"dreambot db: error: {exc}", file=sys.stderr)
            return 2

    return run


@_cli
def _cmd_upgrade(args: argparse.Namespace) -> int:
    url = _url(args.url)
    upgrade(url, args.revision)
    print(f"database {safe_url(url)} at revision {current(url)}")
    return 0


@_cli
def _cmd_downgrade(args: argparse.Namespace) -> int:
    url = _url(args.url)
    downgrade(url, args.revision)
    print(f"database {safe_url(url)} at revision {current(url) or 'base (empty)'}")
    return 0


@_cli
def _cmd_current(args: argparse.Namespace) -> int:
    url = _url(args.url)
    rev = current(url)
    latest = head()
    if rev is None:
        print(f"database not initialised (latest revision {latest}); run: dreambot db upgrade")
        return 1
    print(f"{rev}{' (head)' if rev == latest else f' (latest is {latest}; run: dreambot db upgrade)'}")
    return 0


def _store_command(args: argparse.Namespace, action: Callable[[Any], Awaitable[str]]) -> int:
    """Open the store (the URL from ``--url`` or the settings; files from the settings),
    run ``action(store)`` and print what it returns."""
    from bot.settings import get_settings
    from bot.store.database import Database
    from bot.store.files import FileStore
    from bot.store.service import Store

    async def run() -> str:
        settings = get_settings()
        url = _url(args.url)
        await upgrade_async(url)
        store = Store(Database(url), FileStore(settings.files_dir), max_presets_per_user=settings.max_presets_per_user)
        try:
            return await action(store)
        finally:
            await store.close()

    print(asyncio.run(run()))
    return 0


@_cli
def _cmd_delete_user(args: argparse.Namespace) -> int:
    async def action(store: Any) -> str:
        r = await store.delete_user_data(args.user_id)
        return (
            f"deleted user {r.user_id}: {r.dreams} dream(s), {r.presets} preset(s), "
            f"{r.gallery_entries} gallery entr{'y' if r.gallery_entries == 1 else 'ies'}, "
            f"{r.votes} vote(s), {r.files} file(s)"
        )

    return _store_command(args, action)


@_cli
def _cmd_gc(args: argparse.Namespace) -> int:
    async def action(store: Any) -> str:
        n = await store.collect_garbage(min_age_s=args.min_age_hours * 3600)
        return f"removed {n} unreferenced file(s)"

    return _store_command(args, action)


def add_db_subcommands(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add ``db upgrade|downgrade|current|delete-user|gc`` to a CLI's subcommands (each
    sets ``func``, returning an exit status)."""
    db = subparsers.add_parser("db", help="manage the database schema (migrations)")
    db.add_argument("--url", default=None, help="SQLAlchemy URL (default: DREAMBOT_DATABASE_URL or the data folder)")
    sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = sub.add_parser("upgrade", help="create or upgrade the tables (default: to the latest revision)")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=_cmd_upgrade)
    down = sub.add_parser("downgrade", help="go back to a revision ('-1', a revision id, or 'base')")
    down.add_argument("revision")
    down.set_defaults(func=_cmd_downgrade)
    cur = sub.add_parser("current", help="show the database's revision")
    cur.set_defaults(func=_cmd_current)
    rm = sub.add_parser(
        "delete-user", help="delete everything of one Discord user (dreams, presets, votes, files)"
    )
    rm.add_argument("user_id", type=int, help="the user's Discord id")
    rm.set_defaults(func=_cmd_delete_user)
    gc = sub.add_parser("gc", help="delete stored images that no dream refers to")
    gc.add_argument("--min-age-hours", type=float, default=1.0, help="keep files younger than this (default 1)")
    gc.set_defaults(func=_cmd_gc)
