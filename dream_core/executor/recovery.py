"""`WorkerRecovery`: what the executor does when a worker is lost (part of :class:`BaseExecutor`).

A job whose worker was lost mid-dream (killed, crashed, a Ray node lost or hung)
is queued again, first in line, and told so (``Waiting(retry=True)``); the second
loss of the same job fails it (:data:`WORKER_LOSSES_ALLOWED`). A lost worker is
restarted with back-off. While no worker is up, queued jobs are told once
(``Waiting``); when every worker keeps failing to restart, waiting jobs fail and
``submit`` refuses (a backend may keep them queued instead: ``_unavailable``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Optional

from dream_core.executor.config import ExecutorConfig
from dream_core.executor.events import Failed, Waiting
from dream_core.executor.job import Job
from dream_core.executor.priority import PriorityScheduler
from dream_core.executor.slot import WorkerSlot

log = logging.getLogger(__name__)

UNAVAILABLE_REASON = "The dream workers are down and failing to restart. Please try again later."
UNAVAILABLE_AFTER = 3  # failed restarts of every worker before waiting jobs are failed
#: a job is started again once after its worker was lost; the second loss fails it
WORKER_LOSSES_ALLOWED = 1


class WorkerRecovery:
    """Retry, outage notice and restarts; mixed into :class:`~dream_core.executor.base.BaseExecutor`."""

    # the executor's state this part works on (set by BaseExecutor)
    config: ExecutorConfig
    _sched: PriorityScheduler[Job]
    _slots: list[WorkerSlot]
    _running: dict[Job, WorkerSlot]
    _closed: bool
    _worker_restarts: int
    _retried: int
    _outage: bool
    _counts: dict[str, int]

    def _pump(self) -> None:
        raise NotImplementedError

    def _spawn(self, coro: Any, name: Optional[str] = None) -> asyncio.Task[Any]:
        raise NotImplementedError

    def _retry(self, slot: WorkerSlot, job: Job, cause: str) -> None:
        """Queue a job whose worker was lost again, first in line, and say so."""
        self._running.pop(job, None)
        slot.job = None
        self._retried += 1
        if any(s.alive and s.job is None and s is not slot for s in self._slots):
            then = "it is starting again on another worker"
        elif any(s.alive and s is not slot for s in self._slots):
            then = "it starts again, first in line, when a worker is free"
        else:
            then = "it starts again, first in line, as soon as a worker is back"
        log.warning("%s: lost while running %s (%s); retrying it", slot.name, job.id, cause)
        job.emit(Waiting(f"The worker running this dream was lost ({cause}); {then}.", retry=True))
        self._sched.requeue(job, job.user_id, job.guild_id)
        if not slot.alive:
            self._restart(slot)
        self._pump()


    #: what queued jobs are told while no worker is up (a backend may say more)
    outage_reason = "No dream worker is up right now (restarting); your dream stays queued and starts when one is."

    def _check_outage(self) -> None:
        """Tell queued jobs once when no worker is up (``Waiting``); the next ``Queued`` ends it."""
        if any(s.alive for s in self._slots) or not self._slots:
            self._outage = False
            return
        if self._outage:
            return
        self._outage = True
        for job in self._sched.order():
            if not isinstance(job.history[-1], Waiting):  # e.g. a retry, already told
                job.emit(Waiting(self.outage_reason))

    def _unavailable(self) -> bool:
        """No worker alive and each failed to restart several times: nothing will run soon."""
        return bool(self._slots) and all(not s.alive and s.failed_starts >= UNAVAILABLE_AFTER for s in self._slots)

    def _fail_waiting(self) -> None:
        for job in self._sched.order():
            self._sched.remove(job)
            job.emit(Failed(UNAVAILABLE_REASON, "worker_died"))
            self._counts["failed"] += 1

    def _slot_died(self, slot: WorkerSlot) -> None:
        slot.alive = False
        if slot.job is None:  # died while idle; a busy slot is handled by _run
            log.warning("%s (pid %s) died while idle", slot.name, slot.pid)
            self._restart(slot)
        self._check_outage()

    def _restart(self, slot: WorkerSlot) -> None:
        if self._closed or slot.restarting:
            return
        slot.restarting = True
        self._worker_restarts += 1
        slot.restarts += 1
        self._spawn(self._restart_loop(slot))

    async def _restart_loop(self, slot: WorkerSlot) -> None:
        try:
            while not self._closed:
                delay = min(self.config.restart_backoff_max_s, 2.0 ** slot.failed_starts - 1.0)
                if delay > 0:
                    await asyncio.sleep(delay)
                try:
                    await slot.stop()  # reap what is left of the old worker
                    await slot.start()
                except Exception as exc:
                    slot.failed_starts += 1
                    log.error("%s: restart failed (%s); retrying", slot.name, exc)
                    if self._unavailable():
                        self._fail_waiting()
                    continue
                slot.failed_starts = 0
                log.warning("%s restarted (pid %s)", slot.name, slot.pid)
                break
        finally:
            slot.restarting = False
            if self._closed:
                await slot.stop()
            self._pump()
