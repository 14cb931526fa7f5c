"""The store's health check for ``/healthz``: its trivial query, at most once a second."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from typing import Any, Optional

log = logging.getLogger(__name__)

#: a health probe of the store slower than this counts as a failure
STORE_PROBE_TIMEOUT_S = 5.0
#: how long a store check's result is repeated before the store is asked again
STORE_CHECK_TTL_S = 1.0


async def maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


async def ping_store(store: Any) -> None:
    """The trivial query: ``store.ping()`` if the store has one, else ``SELECT 1``."""
    ping = getattr(store, "ping", None)
    if ping is not None:
        await maybe_await(ping())
        return
    from sqlalchemy import text

    async with store.db.read() as session:
        await session.execute(text("SELECT 1"))


async def check_store(store: Any) -> dict[str, Any]:
    """Run the store's trivial query; ``{"ok": bool, "ms": float, "error"?: str}``."""
    start = time.perf_counter()
    try:
        await asyncio.wait_for(ping_store(store), STORE_PROBE_TIMEOUT_S)
    except Exception as exc:  # any failure means unhealthy; say why
        log.warning("health: store unreachable: %s", exc)
        # the type only: messages of database errors can name paths and hosts
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "ms": round((time.perf_counter() - start) * 1000, 2)}


class StoreCheck:
    """:func:`check_store`, its result repeated for ``ttl_s`` seconds (one query for all
    concurrent probes). ``await check()`` -> ``{"ok": ..., ...}``."""

    def __init__(self, store: Any, *, ttl_s: float = STORE_CHECK_TTL_S) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self._result: dict[str, Any] = {}
        self._checked_at = float("-inf")
        self._pending: Optional[asyncio.Future[dict[str, Any]]] = None
        #: ``/healthz``'s encoded answer for the last result: ``(result, status, body)``
        self.answer: Optional[tuple[dict[str, Any], int, bytes]] = None

    async def __call__(self) -> dict[str, Any]:
        if time.monotonic() - self._checked_at < self.ttl_s:
            return self._result
        if self._pending is None:
            self._pending = asyncio.ensure_future(self._check())
        return await asyncio.shield(self._pending)

    async def _check(self) -> dict[str, Any]:
        started = time.monotonic()
        try:
            self._result = await check_store(self.store)
            self._checked_at = started
        finally:
            self._pending = None
        return self._result
