"""Backups of the whole store while the bot runs: ``dreambot db backup PATH`` and
``dreambot db restore PATH``.

A backup is a folder::

    PATH/dreambot-backup.json   what it holds: database kind, schema revision, counts, time
    PATH/dreambot.db            SQLite: a snapshot by SQLite's online backup API
    PATH/dreambot.pgdump        PostgreSQL: ``pg_dump --format=custom`` (see :mod:`pg_tools`)
    PATH/files/                 the content-addressed file store (pictures, results, thumbnails)

Both database copies are one consistent snapshot taken while the bot keeps writing
(one read transaction; PostgreSQL's is exported to ``pg_dump``, so the counts and
file references read here are exactly the dump's). The snapshot comes *first*, the
files after it: the store writes a file before any row refers to it and never
changes a file (its name is its sha256), so every file the snapshot refers to is
already on disk when the copy starts. Only a dream deleted meanwhile can take its
files away; the backup counts those. The folder is written under a temporary name
and renamed when complete, so an interrupted backup never looks like one.

A restore goes the other way: the files first, then the database (then the
migrations, for a backup from an older DreamBot). It refuses to replace a database
or file store that holds anything unless ``force`` is given.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Union

from sqlalchemy import inspect, pool, text
from sqlalchemy.engine import URL

from bot.store.database import async_url, create_engine_checked, safe_url
from bot.store.errors import DatabaseError, StoreError
from bot.store.files import FileStore
from bot.store.migrate import current, head, upgrade
from bot.store.pg_tools import find_pg_dump, pg_dump, pg_restore

MANIFEST = "dreambot-backup.json"
SQLITE_FILE = "dreambot.db"
PG_DUMP_FILE = "dreambot.pgdump"
FILES = "files"
FORMAT = 1
_DATA_TABLES = ("users", "presets", "dreams", "gallery_entries")
_TMP_PREFIX = ".tmp-"


class BackupError(StoreError):
    """A backup or restore that cannot be done (the message says why, in one line)."""


@dataclass(frozen=True)
class Manifest:
    """What a backup holds (``dreambot-backup.json``)."""

    format: int
    created: str
    database: str  # "sqlite" or "postgresql"
    revision: str
    dreams: int
    done: int
    presets: int
    gallery_entries: int
    files: int
    bytes: int
    missing_files: int  # referenced by the snapshot, not in the file store when copied

    @property
    def database_file(self) -> str:
        return SQLITE_FILE if self.database == "sqlite" else PG_DUMP_FILE

    def summary(self) -> str:
        return (
            f"{self.dreams} dream(s) ({self.done} finished), {self.presets} preset(s), "
            f"{self.gallery_entries} gallery entr{'y' if self.gallery_entries == 1 else 'ies'}, "
            f"{self.files} file(s) ({self.bytes / 1e6:.1f} MB)"
        )


@dataclass(frozen=True)
class _Snapshot:
    revision: str
    counts: dict[str, int]
    referenced: set[str]


# ------------------------------------------------------------------- backup
def backup(url: Union[str, URL], files_dir: Path, dest: Path) -> Manifest:
    """Copy the database at ``url`` and the file store ``files_dir`` into the new folder ``dest``."""
    dest = Path(dest).expanduser().absolute()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} already exists and is not an empty folder; back up into a new folder")
    u = async_url(url)
    kind = u.get_backend_name()
    if kind not in ("sqlite", "postgresql"):
        raise BackupError(f"backups support SQLite and PostgreSQL, not {kind}")
    if kind == "postgresql":  # before anything is written
        find_pg_dump(u, dest / PG_DUMP_FILE, then=f"then copy {files_dir} to {dest / FILES}")
    if current(u.render_as_string(hide_password=False)) is None:
        raise BackupError(f"the database at {safe_url(u)} holds no DreamBot data (not initialised); nothing to back up")
    work = dest.with_name(f"{_TMP_PREFIX}{dest.name}-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    try:
        work.mkdir(parents=True)
        if kind == "sqlite":
            snap = _sqlite_snapshot(Path(str(u.database)), work / SQLITE_FILE)
        else:
            snap = asyncio.run(_pg_snapshot(u, work / PG_DUMP_FILE))
        count, size = _copy_tree(Path(files_dir), work / FILES)
        copied = FileStore(work / FILES)
        missing = sum(1 for sha in snap.referenced if not copied.exists(sha))
        manifest = Manifest(
            format=FORMAT,
            created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            database=kind,
            revision=snap.revision,
            dreams=snap.counts["dreams"],
            done=snap.counts["done"],
            presets=snap.counts["presets"],
            gallery_entries=snap.counts["gallery_entries"],
            files=count,
            bytes=size,
            missing_files=missing,
        )
        _write_json(work / MANIFEST, asdict(manifest))
        if dest.exists():
            dest.rmdir()  # empty, checked above
        os.replace(work, dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return manifest


def _sqlite_snapshot(source: Path, out: Path) -> _Snapshot:
    if not source.is_file():
        raise BackupError(f"there is no database file at {source}")
    try:
        src = sqlite3.connect(source, timeout=30)  # only read (read-only mode cannot open a WAL file alone)
        try:
            dst = sqlite3.connect(out)
            try:
                src.backup(dst)  # all pages in one step: one read transaction, writers go on (WAL)
                dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
                ok = dst.execute("PRAGMA quick_check").fetchone()[0]
                if ok != "ok":
                    raise BackupError(f"the snapshot of {source} failed SQLite's check: {ok}")
                return _read_snapshot(dst)
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise DatabaseError(f"Cannot back up the database {source}: {exc}") from None


def _read_snapshot(con: sqlite3.Connection) -> _Snapshot:
    def one(sql: str) -> Any:
        return con.execute(sql).fetchone()[0]

    return _Snapshot(
        revision=str(one("SELECT version_num FROM alembic_version")),
        counts=_counts(one),
        referenced={
            sha
            for row in con.execute("SELECT source_sha256, guide_sha256, result_sha256 FROM dreams")
            for sha in row
            if sha
        },
    )


def _counts(one: Any) -> dict[str, int]:
    return {
        "dreams": int(one("SELECT count(*) FROM dreams")),
        "done": int(one("SELECT count(*) FROM dreams WHERE status = 'done'")),
        "presets": int(one("SELECT count(*) FROM presets")),
        "gallery_entries": int(one("SELECT count(*) FROM gallery_entries")),
    }


async def _pg_snapshot(url: URL, out: Path) -> _Snapshot:
    """Read the counts and references in one REPEATABLE READ transaction and have
    ``pg_dump`` dump what that same transaction sees (its exported snapshot)."""
    engine = create_engine_checked(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                snapshot = (await conn.execute(text("SELECT pg_export_snapshot()"))).scalar_one()

                def read(sync: Any) -> _Snapshot:
                    def one(sql: str) -> Any:
                        return sync.execute(text(sql)).scalar_one()

                    rows = sync.execute(text("SELECT source_sha256, guide_sha256, result_sha256 FROM dreams"))
                    return _Snapshot(
                        revision=str(one("SELECT version_num FROM alembic_version")),
                        counts=_counts(one),
                        referenced={sha for row in rows for sha in row if sha},
                    )

                snap = await conn.run_sync(read)
                await asyncio.to_thread(pg_dump, url, out, snapshot=snapshot)
                return snap
    finally:
        await engine.dispose()


# ------------------------------------------------------------------ restore
def read_manifest(src: Path) -> Manifest:
    """The manifest of the backup folder ``src`` (:class:`BackupError` if it is not one)."""
    try:
        data = json.loads((Path(src) / MANIFEST).read_text(encoding="utf-8"))
        manifest = Manifest(**data)
    except FileNotFoundError:
        raise BackupError(f"{src} is not a DreamBot backup (no {MANIFEST} in it)") from None
    except (OSError, ValueError, TypeError) as exc:
        raise BackupError(f"{src}/{MANIFEST} cannot be read: {exc}") from None
    if manifest.format != FORMAT:
        raise BackupError(f"{src} is a backup in format {manifest.format}; this DreamBot reads format {FORMAT}")
    if not (Path(src) / manifest.database_file).is_file():
        raise BackupError(f"{src} is incomplete: {manifest.database_file} is missing")
    return manifest


def restore(src: Path, url: Union[str, URL], files_dir: Path, *, force: bool = False) -> Manifest:
    """Restore the backup folder ``src`` into the database at ``url`` and the file store
    ``files_dir``. Stop the bot first. Without ``force``, a database or file store that holds
    anything is left alone (:class:`BackupError`)."""
    src = Path(src).expanduser().absolute()
    manifest = read_manifest(src)
    u = async_url(url)
    kind = u.get_backend_name()
    if kind != manifest.database:
        raise BackupError(
            f"{src} holds a {manifest.database} database; DREAMBOT_DATABASE_URL names a {kind} one "
            f"({safe_url(u)}). Restore into the same kind of database"
        )
    _check_revision(manifest.revision)
    if not force:
        _refuse_if_not_empty(u, Path(files_dir))
    _copy_tree(src / FILES, Path(files_dir))
    if kind == "sqlite":
        _sqlite_restore(src / SQLITE_FILE, Path(str(u.database)))
    else:
        pg_restore(u, src / PG_DUMP_FILE)
    upgrade(u.render_as_string(hide_password=False))  # a backup from an older DreamBot
    return manifest


def _check_revision(revision: str) -> None:
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from bot.store.migrate import alembic_config

    try:
        known = ScriptDirectory.from_config(alembic_config("sqlite://")).get_revision(revision) is not None
    except CommandError:
        known = False
    if not known:
        raise BackupError(
            f"the backup's schema revision {revision} is unknown to this DreamBot (latest {head()}); "
            "restore it with the DreamBot version that made it, or a newer one"
        )


def _refuse_if_not_empty(url: URL, files_dir: Path) -> None:
    rows = asyncio.run(_row_counts(url)) if current(url.render_as_string(hide_password=False)) is not None else {}
    held = [f"{n} {table.replace('_', ' ')}" for table, n in rows.items() if n]
    if any(True for _ in FileStore(files_dir).stored()):
        held.append(f"files in {files_dir}")
    if held:
        raise BackupError(
            f"not restoring over existing data ({', '.join(held)} in {safe_url(url)}); "
            "restore into an empty data folder and database, or add --force to replace them"
        )


async def _row_counts(url: URL) -> dict[str, int]:
    engine = create_engine_checked(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            return {
                t: int((await conn.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one())
                for t in _DATA_TABLES
                if t in tables
            }
    finally:
        await engine.dispose()


def _sqlite_restore(snapshot: Path, target: Path) -> None:
    """Write the snapshot into ``target`` through SQLite (its journal and WAL stay
    consistent, unlike a plain file copy over a database with a ``-wal`` file)."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        src = sqlite3.connect(f"file:{snapshot}?mode=ro", uri=True)
        try:
            dst = sqlite3.connect(target, timeout=30)
            try:
                src.backup(dst)
            finally:
                dst.close()
        finally:
            src.close()
    except (sqlite3.Error, OSError) as exc:
        raise DatabaseError(f"Cannot restore into the database {target}: {exc}") from None


# -------------------------------------------------------------------- files
def _files_under(root: Path) -> Iterator[Path]:
    """Every regular file under ``root`` (relative), temporary files left out."""
    if not root.is_dir():
        return
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(_TMP_PREFIX))
        for name in sorted(names):
            if not name.startswith(_TMP_PREFIX):
                yield (Path(folder) / name).relative_to(root)


def _copy_tree(source: Path, target: Path) -> tuple[int, int]:
    """Copy the file store ``source`` into ``target``: each file through a temporary name
    and a rename, so no reader sees a partial file; a stored file of the same size is the
    same file (its name is its content's hash) and is kept. A file deleted while the copy
    runs is skipped. Returns (files, bytes) now in ``target`` from ``source``."""
    count = size = 0
    for rel in _files_under(source):
        src, dst = source / rel, target / rel
        try:
            n = src.stat().st_size
            if not (rel.parts[0] != "thumbs" and dst.is_file() and dst.stat().st_size == n):
                dst.parent.mkdir(parents=True, exist_ok=True)
                tmp = dst.with_name(f"{_TMP_PREFIX}{dst.name}")
                shutil.copyfile(src, tmp)
                os.replace(tmp, dst)
        except FileNotFoundError:
            continue  # deleted meanwhile (a dream deleted during the backup)
        except OSError as exc:
            raise BackupError(f"cannot copy {src} to {dst}: {exc.strerror or exc}") from None
        count, size = count + 1, size + n
    return count, size


def _write_json(path: Path, data: dict[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
