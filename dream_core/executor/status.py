"""`ExecutorStatus`: a snapshot of an executor, for ``/status`` commands and metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass(frozen=True)
class WorkerInfo:
    """One worker process (local) or actor (Ray)."""

    name: str
    device: str
    alive: bool
    pid: Optional[int] = None
    job_id: Optional[str] = None  # the job it runs now
    restarts: int = 0
    jobs_done: int = 0


@dataclass(frozen=True)
class ExecutorStatus:
    backend: str
    running: bool  # started and not closed
    queue_depth: int  # jobs waiting
    running_jobs: int
    per_user: dict[int, int] = field(default_factory=dict)  # waiting + running jobs per user
    per_guild: dict[int, int] = field(default_factory=dict)  # waiting + running jobs per guild
    workers: tuple[WorkerInfo, ...] = ()
    workers_alive: int = 0
    worker_restarts: int = 0
    jobs_done: int = 0
    jobs_failed: int = 0
    jobs_cancelled: int = 0
    jobs_retried: int = 0  # started again after their worker was lost
