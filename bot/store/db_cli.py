"""``dreambot db upgrade|downgrade|current|delete-user|gc|backup|restore``: the database commands.

:func:`add_db_subcommands` adds them to a CLI (``bot/cli.py``). The schema commands
run :mod:`bot.store.migrate`; ``delete-user`` and ``gc`` open a :class:`Store`;
``backup`` and ``restore`` run :mod:`bot.store.backup` on the database and the file store.
Store errors end the command with one line and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.settings import get_settings
from bot.store.backup import backup, restore
from bot.store.database import Database, safe_url
from bot.store.errors import StoreError
from bot.store.files import FileStore
from bot.store.migrate import current, downgrade, head, resolve_url, upgrade, upgrade_async
from bot.store.service import Store


def _cli(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except StoreError as exc:
            print(f"dreambot db: error: {exc}", file=sys.stderr)
            return 2

    return run


def _migrate(args: argparse.Namespace, step: Callable[[str, str], object]) -> int:
    """Run ``step`` (:func:`upgrade` or :func:`downgrade`) to ``args.revision``; say where it is."""
    url = resolve_url(args.url)
    step(url, args.revision)
    print(f"database {safe_url(url)} at revision {current(url) or 'base (empty)'}")
    return 0


@_cli
def _cmd_upgrade(args: argparse.Namespace) -> int:
    return _migrate(args, upgrade)


@_cli
def _cmd_downgrade(args: argparse.Namespace) -> int:
    return _migrate(args, downgrade)


@_cli
def _cmd_current(args: argparse.Namespace) -> int:
    url = resolve_url(args.url)
    rev = current(url)
    latest = head()
    if rev is None:
        print(f"database not initialised (latest revision {latest}); run: dreambot db upgrade")
        return 1
    print(f"{rev}{' (head)' if rev == latest else f' (latest is {latest}; run: dreambot db upgrade)'}")
    return 0


def _store_command(args: argparse.Namespace, action: Callable[[Store], Awaitable[str]]) -> int:
    """Open the store (the URL from ``--url`` or the settings; files from the settings),
    run ``action(store)`` and print what it returns."""
    async def run() -> str:
        settings = get_settings()
        url = resolve_url(args.url)
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
    async def action(store: Store) -> str:
        r = await store.delete_user_data(args.user_id)
        return (
            f"deleted user {r.user_id}: {r.dreams} dream(s), {r.presets} preset(s), "
            f"{r.gallery_entries} gallery entr{'y' if r.gallery_entries == 1 else 'ies'}, "
            f"{r.votes} vote(s), {r.files} file(s)"
        )

    return _store_command(args, action)


@_cli
def _cmd_gc(args: argparse.Namespace) -> int:
    async def action(store: Store) -> str:
        n = await store.collect_garbage(min_age_s=args.min_age_hours * 3600)
        return f"removed {n} unreferenced file(s)"

    return _store_command(args, action)


@_cli
def _cmd_backup(args: argparse.Namespace) -> int:
    url = resolve_url(args.url)
    m = backup(url, get_settings().files_dir, args.path)
    print(f"backed up {safe_url(url)} (revision {m.revision}): {m.summary()} into {args.path}")
    if m.missing_files:
        print(
            f"note: {m.missing_files} file(s) the snapshot refers to were not in {get_settings().files_dir} "
            "(dreams deleted while the backup ran, or files lost before it)",
            file=sys.stderr,
        )
    return 0


@_cli
def _cmd_restore(args: argparse.Namespace) -> int:
    url = resolve_url(args.url)
    files = get_settings().files_dir
    m = restore(args.path, url, files, force=args.force)
    print(f"restored {args.path} (made {m.created}): {m.summary()} into {safe_url(url)} and {files}")
    return 0


def add_db_subcommands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    bk = sub.add_parser(
        "backup", help="copy the database and the stored images into a new folder (safe while the bot runs)"
    )
    bk.add_argument("path", type=Path, help="a new folder for the backup")
    bk.set_defaults(func=_cmd_backup)
    rs = sub.add_parser("restore", help="restore a backup folder (stop the bot first)")
    rs.add_argument("path", type=Path, help="a folder made by 'dreambot db backup'")
    rs.add_argument("--force", action="store_true", help="replace a database or file store that holds data")
    rs.set_defaults(func=_cmd_restore)
