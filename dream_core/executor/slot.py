"""`WorkerSlot`: one worker (a process or a Ray actor) as the executor sees it.

A backend supplies its slots from :meth:`BaseExecutor._create_slots`. A slot runs
one job at a time: :meth:`WorkerSlot.run` ships a :class:`JobSpec`, turns the
worker's messages into events (:mod:`.messages`) and returns the terminal event;
if the worker dies it marks itself dead and returns a ``Failed``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Optional

from dream_core.executor.events import JobEvent
from dream_core.executor.job import Job
from dream_core.executor.status import WorkerInfo
from dream_core.executor.worker import JobSpec


class WorkerSlot(abc.ABC):
    """One worker (process or actor) that runs one job at a time."""

    def __init__(self, name: str, device: str) -> None:
        self.name = name
        self.device = device
        self.pid: Optional[int] = None
        self.alive = False
        self.job: Optional[Job] = None
        self.restarting = False
        self.restarts = 0
        self.failed_starts = 0
        self.jobs_done = 0
        #: set by the executor: called (in the loop) when the worker dies while idle
        self.on_dead: Optional[Callable[[WorkerSlot], None]] = None

    @abc.abstractmethod
    async def start(self) -> None:
        """Start the worker and wait until it is ready (models warm). Raise WorkerStartError."""

    @abc.abstractmethod
    async def run(self, job: Job, spec: JobSpec) -> JobEvent:
        """Run ``spec``; emit progress on ``job``; return Done/Failed/Cancelled. Never hangs
        once the worker is dead (set ``alive = False`` then)."""

    @abc.abstractmethod
    def request_cancel(self, job: Job) -> None:
        """Ask the running job to stop at its next dream step."""

    @abc.abstractmethod
    async def kill(self) -> None:
        """Kill the worker hard; a pending :meth:`run` then returns."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop the worker cleanly (at close)."""

    def kill_now(self) -> None:  # noqa: B027 - optional: a backend without a process to kill keeps this no-op
        """Synchronous last-resort kill (interpreter exit)."""

    def info(self) -> WorkerInfo:
        return WorkerInfo(
            name=self.name,
            device=self.device,
            alive=self.alive,
            pid=self.pid,
            job_id=self.job.id if self.job else None,
            restarts=self.restarts,
            jobs_done=self.jobs_done,
        )
