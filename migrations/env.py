"""Alembic environment for DreamBot.

The URL comes from the config (set by :mod:`bot.store.migrate`), else from the
settings; it runs through the store's async engine (plain ``sqlite:///`` and
``postgresql://`` URLs get the async driver). SQLite connections get the
store's setup (WAL, busy timeout) with foreign keys *off* during migrations,
and batch mode ("move and copy") so ALTERs work on SQLite.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection

from bot.store.database import configure_sqlite, create_engine_checked, ensure_sqlite_folder
from bot.store.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if not url:
        from bot.settings import get_settings

        url = get_settings().resolved_database_url
    return url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        # one transaction for the whole run (SQLite does transactional DDL once BEGIN
        # is ours): the lock taken when the current revision is read is held to the
        # last step, so a second migrator cannot read a half-way revision and redo a
        # step (Alembic otherwise commits each SQLite step on its own)
        transactional_ddl=True,
    )


# any constant: serialises concurrent migrators (bot and web starting together)
_PG_LOCK_KEY = 0x44524D42  # "DRMB"


def _run(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})"))
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    ensure_sqlite_folder(url)
    engine = create_engine_checked(url, poolclass=pool.NullPool)
    if engine.dialect.name == "sqlite":
        # BEGIN IMMEDIATE: a second migrator waits, then finds the work done
        configure_sqlite(engine.sync_engine, foreign_keys=False, begin="IMMEDIATE")
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    given = config.attributes.get("connection")
    if given is not None:  # a caller's open connection (tests)
        _run(given)
        return
    asyncio.run(_run_async(_url()))


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
