"""PostgreSQL's own tools for backups: ``pg_dump`` and ``pg_restore``.

They are run with the connection details of the store's URL in their environment
(``PGHOST``, ``PGPORT``, ``PGUSER``, ``PGDATABASE`` and ``PGPASSWORD``, never on the
command line, where ``ps`` would show the password). Where a tool is not installed,
:class:`PgToolMissing` says, in one line, what to install and the command to run by hand.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Optional, Union

from sqlalchemy.engine import URL

from bot.store.database import async_url
from bot.store.errors import DatabaseError

# URL query parameters that libpq reads from the environment as well
_QUERY_ENV = {
    "host": "PGHOST",  # ?host=/run/postgresql: a Unix socket
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
}
_INSTALL = (
    "install the PostgreSQL client tools (Debian: apt-get install postgresql-client, "
    "the server's major version or newer)"
)


class PgToolMissing(DatabaseError):
    """``pg_dump`` or ``pg_restore`` is not on ``PATH``; the message says what to run instead."""


def pg_env(url: Union[str, URL]) -> dict[str, str]:
    """The libpq environment variables for ``url`` (the password included)."""
    u = async_url(url)
    env = {"PGHOST": u.host, "PGPORT": str(u.port) if u.port else None, "PGUSER": u.username}
    env["PGDATABASE"], env["PGPASSWORD"] = u.database, u.password
    for key, var in _QUERY_ENV.items():
        value = u.query.get(key)
        if isinstance(value, str):
            env[var] = value
    return {k: v for k, v in env.items() if v}


def connection_flags(url: Union[str, URL]) -> list[str]:
    """``-h HOST -p PORT -U USER`` for a command an admin runs by hand (no password)."""
    u = async_url(url)
    flags = []
    if u.host:
        flags += ["-h", u.host]
    if u.port:
        flags += ["-p", str(u.port)]
    if u.username:
        flags += ["-U", u.username]
    return flags


def _tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise PgToolMissing(f"{name} was not found on PATH: {_INSTALL}, or run by hand: {hint}")
    return path


def _run(argv: list[str], url: Union[str, URL], what: str) -> None:
    env = {**os.environ, **pg_env(url)}
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise DatabaseError(f"{what} could not be started: {exc}") from None
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit status {done.returncode}"
        raise DatabaseError(f"{what} failed: {reason}")


def _dump_options(out: Path) -> list[str]:
    return ["--format=custom", "--no-owner", "--no-privileges", "--file", str(out)]


def find_pg_dump(url: Union[str, URL], out: Path, *, then: str = "") -> str:
    """The path of ``pg_dump``; else :class:`PgToolMissing` naming the command that dumps
    the database at ``url`` into ``out`` by hand (and ``then``, what to do next)."""
    hint = shlex.join(["pg_dump", *_dump_options(out), *connection_flags(url), async_url(url).database or ""])
    return _tool("pg_dump", hint + (f", {then}" if then else ""))


def pg_dump(url: Union[str, URL], out: Path, *, snapshot: Optional[str] = None) -> None:
    """Dump the database at ``url`` into ``out`` (custom format, without owners and grants,
    so it restores into a database owned by another user). ``snapshot``: an exported
    snapshot (``pg_export_snapshot()``) to dump exactly what that transaction sees."""
    exe = find_pg_dump(url, out)
    argv = [exe, *_dump_options(out), *([f"--snapshot={snapshot}"] if snapshot else [])]
    _run([*argv, async_url(url).database or ""], url, "pg_dump")


def pg_restore(url: Union[str, URL], dump: Path) -> None:
    """Restore ``dump`` into the database at ``url``, replacing the tables it holds, in one
    transaction (a failure leaves the database as it was)."""
    options = ["--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error"]
    options += ["--dbname", async_url(url).database or ""]
    exe = _tool("pg_restore", shlex.join(["pg_restore", *options, *connection_flags(url), str(dump)]))
    _run([exe, *options, str(dump)], url, "pg_restore")
