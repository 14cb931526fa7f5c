"""Prometheus metrics of the DreamBot service.

All collectors live in one dedicated :class:`~prometheus_client.CollectorRegistry`
owned by a :class:`Metrics` object, so tests (and several apps in one process)
never collide in the global registry. The bot, the executor wiring and the web
app share the process-wide instance from :func:`get_metrics`; ``/metrics`` in
the web gallery renders it in the Prometheus text format.

What is measured:

``dreambot_jobs_total{status}``
    dream jobs by how they ended or moved on: ``submitted``, ``refused``,
    ``done``, ``failed``, ``cancelled``.
``dreambot_queue_depth``
    jobs waiting for a worker (set by the executor wiring, or refreshed from
    ``executor.status()`` on every scrape).
``dreambot_dream_seconds``
    histogram of the time a worker spent on a finished dream.
``dreambot_worker_restarts_total``
    executor workers restarted after a crash, hang or out-of-memory.
``dreambot_workers_alive``
    live executor workers (refreshed on scrape when an executor is attached).
``dreambot_dreams{status}``
    dreams in the database by status (queued, running, done, failed,
    cancelled), refreshed by ``/metrics`` on each scrape: meaningful in any
    process that serves the gallery, even ``dreambot web`` on its own.
``dreambot_discord_interaction_seconds{command}``
    histogram of the time from a Discord interaction's creation to the bot's
    first response (the latency users feel before "thinking...").
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Optional

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from dream_core.executor.status import ExecutorStatus

log = logging.getLogger(__name__)

#: the ``status`` label values of ``dreambot_jobs_total``
JOB_STATUSES: tuple[str, ...] = ("submitted", "refused", "done", "failed", "cancelled")

#: buckets for dream durations: a few seconds on a GPU up to many minutes on a CPU
DREAM_SECONDS_BUCKETS: tuple[float, ...] = (1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 900, 1800, float("inf"))

#: buckets for Discord interaction latency (Discord wants a reply within 3 s)
INTERACTION_SECONDS_BUCKETS: tuple[float, ...] = (
    0.05,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    1.5,
    2.0,
    2.5,
    3.0,
    5.0,
    float("inf"),
)

#: the Content-Type of :meth:`Metrics.render`'s output
METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """The service's collectors, in their own registry.

    Calls are cheap and thread-safe (prometheus-client collectors are), so the
    bot's event loop and executor threads may call them directly.
    """

    def __init__(self, registry: Optional[CollectorRegistry] = None, *, namespace: str = "dreambot") -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.jobs = Counter("jobs", "Dream jobs by status.", ["status"], namespace=namespace, registry=r)
        for status in JOB_STATUSES:  # export zeros so dashboards see every series from the start
            self.jobs.labels(status=status)
        self.queue_depth = Gauge("queue_depth", "Dream jobs waiting for a worker.", namespace=namespace, registry=r)
        self.dream_seconds = Histogram(
            "dream_seconds",
            "Seconds a worker spent on a finished dream.",
            namespace=namespace,
            buckets=DREAM_SECONDS_BUCKETS,
            registry=r,
        )
        self.worker_restarts = Counter(
            "worker_restarts", "Executor workers restarted.", namespace=namespace, registry=r
        )
        self.workers_alive = Gauge("workers_alive", "Live executor workers.", namespace=namespace, registry=r)
        self.interaction_seconds = Histogram(
            "discord_interaction_seconds",
            "Seconds from a Discord interaction's creation to the bot's first response.",
            ["command"],
            namespace=namespace,
            buckets=INTERACTION_SECONDS_BUCKETS,
            registry=r,
        )
        self.dreams = Gauge(
            "dreams",
            "Dreams recorded in the store, by status (refreshed from the database on each scrape).",
            ["status"],
            namespace=namespace,
            registry=r,
        )
        self._lock = threading.Lock()
        self._synced_restarts = 0

    # --- jobs -----------------------------------------------------------------
    def job(self, status: str) -> None:
        """Count one job moving to ``status`` (one of :data:`JOB_STATUSES`)."""
        if status not in JOB_STATUSES:
            raise ValueError(f"unknown job status {status!r}; expected one of {', '.join(JOB_STATUSES)}")
        self.jobs.labels(status=status).inc()

    def job_submitted(self) -> None:
        self.job("submitted")

    def job_refused(self) -> None:
        self.job("refused")

    def job_done(self, seconds: Optional[float] = None) -> None:
        """Count a finished dream and, when known, observe its duration."""
        self.job("done")
        if seconds is not None:
            self.observe_dream(seconds)

    def job_failed(self) -> None:
        self.job("failed")

    def job_cancelled(self) -> None:
        self.job("cancelled")

    def observe_dream(self, seconds: float) -> None:
        self.dream_seconds.observe(max(0.0, float(seconds)))

    # --- executor -------------------------------------------------------------
    def set_queue_depth(self, depth: int) -> None:
        self.queue_depth.set(max(0, int(depth)))

    def set_workers_alive(self, alive: int) -> None:
        self.workers_alive.set(max(0, int(alive)))

    def worker_restarted(self, count: int = 1) -> None:
        self.worker_restarts.inc(count)

    def update_from_executor_status(self, status: ExecutorStatus) -> None:
        """Refresh the queue depth, live workers and worker restarts from ``executor.status()``."""
        self.set_queue_depth(status.queue_depth)
        self.set_workers_alive(status.workers_alive)
        self.sync_worker_restarts(status.worker_restarts)

    def sync_worker_restarts(self, total: int) -> None:
        """Advance ``worker_restarts`` to an executor's cumulative count (never backwards).

        Use either this (``/metrics`` does it on every scrape when an executor is
        attached) or :meth:`worker_restarted` for the same executor, not both.
        """
        with self._lock:
            if total > self._synced_restarts:
                self.worker_restarts.inc(total - self._synced_restarts)
                self._synced_restarts = total

    def set_dream_counts(self, counts: Mapping[str, int]) -> None:
        """Set ``dreambot_dreams{status}`` from a ``{status: count}`` mapping."""
        for status, count in counts.items():
            self.dreams.labels(status=status).set(max(0, int(count)))

    # --- Discord --------------------------------------------------------------
    def observe_interaction(self, seconds: float, command: str = "other") -> None:
        """Record the latency of one Discord interaction (``command``: its name)."""
        self.interaction_seconds.labels(command=command or "other").observe(max(0.0, float(seconds)))

    def observe_interaction_since(self, created_at: datetime, command: str = "other") -> float:
        """Record the latency of an interaction created at ``created_at`` (aware UTC, e.g.
        ``interaction.created_at``) and answered now; returns the seconds observed."""
        if created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=timezone.utc)
        seconds = (datetime.now(timezone.utc) - created_at).total_seconds()
        self.observe_interaction(seconds, command)
        return max(0.0, seconds)

    @contextmanager
    def time_interaction(self, command: str = "other") -> Iterator[None]:
        """``with metrics.time_interaction("dream"): await interaction.response.defer()``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.observe_interaction(time.perf_counter() - start, command)

    # --- export ---------------------------------------------------------------
    def render(self) -> bytes:
        """Every collector in the Prometheus text exposition format."""
        return generate_latest(self.registry)


def workers_alive(status: ExecutorStatus) -> int:
    """How many workers an ``executor.status()`` value reports alive."""
    return status.workers_alive


_default: Optional[Metrics] = None


def get_metrics() -> Metrics:
    """The process-wide :class:`Metrics` (created on first use)."""
    global _default
    if _default is None:
        _default = Metrics()
    return _default
