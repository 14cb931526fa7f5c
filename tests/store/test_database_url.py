"""A database password survives every way the store handles its URL.

SQLAlchemy's ``str(URL)`` hides the password as ``***``; a URL re-parsed from that
string logs in with the password ``***``, which a password-protected PostgreSQL
refuses ("password authentication failed"). The fast tests follow the URL through
each path (the engine, the migrations, ``current``); the slow one runs
``dreambot db upgrade`` and ``current`` against the real server that
``DREAMBOT_TEST_DATABASE_URL`` names (``.ci/postgres`` creates one with a password).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.store import Database, DatabaseError
from bot.store.database import async_url, create_engine_checked, safe_url
from bot.store.migrate import alembic_config, current, downgrade, head

from .conftest import OTHER_DATABASE

# characters that must be quoted in a URL, so quoting is checked too
PASSWORD = "s3cret p@ss%w:rd/"
URL = "postgresql://dream:s3cret%20p%40ss%25w%3Ard%2F@127.0.0.1:1/dreamtest"
ROOT = Path(__file__).resolve().parents[2]


def test_the_password_survives_async_url():
    assert make_url(URL).password == PASSWORD
    once = async_url(URL)
    assert once.drivername == "postgresql+asyncpg" and once.password == PASSWORD
    assert async_url(once).password == PASSWORD  # a URL object is not re-parsed from str()
    assert async_url(once.set(drivername="postgresql")).password == PASSWORD
    legacy = async_url(URL.replace("postgresql://", "postgres://"))
    assert legacy.drivername == "postgresql+asyncpg" and legacy.password == PASSWORD


def test_the_engines_log_in_with_the_password():
    db = Database(URL)  # Database parses once, then hands its URL object on
    try:
        assert db.engine.url.password == PASSWORD
    finally:
        db.engine.sync_engine.dispose()
    engine = create_engine_checked(make_url(URL))
    assert engine.url.password == PASSWORD and engine.url.drivername == "postgresql+asyncpg"
    engine.sync_engine.dispose()


def test_the_migrations_get_the_password():
    cfg = alembic_config(URL)
    assert make_url(cfg.attributes["database_url"]).password == PASSWORD
    assert make_url(cfg.get_main_option("sqlalchemy.url") or "").password == PASSWORD  # '%%' read back as '%'


def test_messages_never_show_the_password():
    assert PASSWORD not in safe_url(URL) and "***" in safe_url(URL)
    with pytest.raises(DatabaseError) as info:
        current(URL)  # nothing listens on port 1
    assert "s3cret" not in str(info.value) and "127.0.0.1" in str(info.value)


def _dreambot(*argv: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DREAMBOT_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *argv], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT
    )


@pytest.mark.slow
@pytest.mark.skipif(not OTHER_DATABASE, reason="set DREAMBOT_TEST_DATABASE_URL to a PostgreSQL with a password")
def test_dreambot_db_upgrade_logs_in_with_a_password():
    assert OTHER_DATABASE
    url = make_url(OTHER_DATABASE)
    if not url.password:
        pytest.skip("DREAMBOT_TEST_DATABASE_URL has no password")
    downgrade(OTHER_DATABASE, "base")
    up = _dreambot("db", "upgrade", url=OTHER_DATABASE)
    assert up.returncode == 0, up.stderr
    assert f"at revision {head()}" in up.stdout and url.password not in up.stdout
    cur = _dreambot("db", "current", url=OTHER_DATABASE)
    assert cur.returncode == 0 and f"{head()} (head)" in cur.stdout, cur.stderr

    wrong = url.set(password=url.password + "-wrong").render_as_string(hide_password=False)
    with pytest.raises(DatabaseError, match="password authentication failed") as info:
        current(wrong)
    assert url.password not in str(info.value) and "\n" not in str(info.value)
