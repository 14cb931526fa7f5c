"""Operations endpoints: ``/healthz`` (JSON, 200 or 503) and ``/metrics`` (Prometheus text).

``/healthz`` asks the executor for its workers on every request (in-process,
cheap) and repeats the store's check for up to a second
(:class:`~bot.web.store_check.StoreCheck`): a spike of probes costs the
database one query a second, and a store that stops answering shows within a
second.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Optional

from aiohttp import web

from bot.metrics import METRICS_CONTENT_TYPE, Metrics, workers_alive
from bot.web.keys import DRAINING_KEY, EXECUTOR_KEY, METRICS_KEY, STORE_CHECK_KEY, STORE_KEY
from bot.web.store_check import STORE_PROBE_TIMEOUT_S, maybe_await

log = logging.getLogger(__name__)

async def check_executor(executor: Any, metrics: Optional[Metrics] = None) -> dict[str, Any]:
    """Ask the executor for its status; healthy when at least one worker is alive."""
    try:
        status = await maybe_await(executor.status())
    except Exception as exc:
        log.warning("health: executor status failed: %s", exc)
        return {"ok": False, "error": type(exc).__name__}
    if metrics is not None:
        metrics.update_from_executor_status(status)
    alive = workers_alive(status)
    running = status.get("running", True) if isinstance(status, dict) else getattr(status, "running", True)
    result: dict[str, Any] = {"ok": bool(alive) and running is not False, "workers_alive": alive}
    for name in ("queue_depth", "running_jobs", "worker_restarts"):
        value = status.get(name) if isinstance(status, dict) else getattr(status, name, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            result[name] = value
    workers = status.get("workers") if isinstance(status, dict) else getattr(status, "workers", None)
    if isinstance(workers, (list, tuple)):
        result["workers"] = len(workers)
    if running is False:
        result["error"] = "the executor is not running"
    elif not alive:
        result["error"] = "no executor worker is alive"
    return result


def _answer(checks: dict[str, Any]) -> tuple[int, bytes]:
    ok = all(c["ok"] for c in checks.values())
    body = {"status": "ok" if ok else "unavailable", "checks": checks}
    return (200 if ok else 503), json.dumps(body).encode()


_HEADERS = {"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store"}
DRAINING = json.dumps({"status": "draining"}).encode()


async def healthz(request: web.Request) -> web.Response:
    if request.app[DRAINING_KEY]():  # stopping for a restart: a load balancer should look elsewhere
        return web.Response(body=DRAINING, status=503, headers=_HEADERS)
    store_check = request.app[STORE_CHECK_KEY]
    store = await store_check()
    executor = request.app[EXECUTOR_KEY]
    if executor is None:  # the answer changes only with the store's check: encoded once per check
        if store_check.answer is None or store_check.answer[0] is not store:
            store_check.answer = (store, *_answer({"store": store}))
        _, status, body = store_check.answer
    else:
        status, body = _answer({"store": store, "executor": await check_executor(executor, request.app[METRICS_KEY])})
    return web.Response(body=body, status=status, headers=_HEADERS)


async def dream_counts(store: Any) -> dict[str, int]:
    """Dreams in the store by status (every status present, zeros included)."""
    from sqlalchemy import func, select

    from bot.store.models import Dream, DreamStatus

    counts = {status.value: 0 for status in DreamStatus}
    async with store.db.read() as session:
        for status, n in await session.execute(select(Dream.status, func.count()).group_by(Dream.status)):
            counts[str(status)] = int(n)
    return counts


async def metrics(request: web.Request) -> web.Response:
    collectors: Metrics = request.app[METRICS_KEY]
    executor: Any = request.app[EXECUTOR_KEY]
    if executor is not None:
        try:
            collectors.update_from_executor_status(await maybe_await(executor.status()))
        except Exception as exc:
            log.warning("metrics: executor status failed: %s", exc)
    try:
        collectors.set_dream_counts(await asyncio.wait_for(dream_counts(request.app[STORE_KEY]), STORE_PROBE_TIMEOUT_S))
    except Exception as exc:  # the scrape still answers with everything else
        log.warning("metrics: cannot count dreams: %s", exc)
    return web.Response(
        body=collectors.render(),
        headers={"Content-Type": METRICS_CONTENT_TYPE, "Cache-Control": "no-store"},
    )
