"""`BaseExecutor`: what every backend shares — submit, fair dispatch, cancellation,
time limits, worker restarts, status and shutdown.

A backend supplies :class:`~dream_core.executor.slot.WorkerSlot` objects (one per
worker process or actor) from :meth:`BaseExecutor._create_slots`; the slots turn
the worker's messages into events with :mod:`.messages`. What ``submit`` checks
before a job waits is in :mod:`.admission`; what happens when a worker is lost
(one retry of its job, restarts, the outage notice) in :mod:`.recovery`.
Everything here runs in the caller's event loop; no torch is imported.
"""

from __future__ import annotations

import abc
import asyncio
import atexit
import contextlib
import logging
import weakref
from typing import Any, Optional

from dream_core.errors import DreamParamsError
from dream_core.executor.admission import ParamsLike, admit_params, oversized_input, time_limit
from dream_core.executor.atlas_jobs import AtlasJob, keep_renders
from dream_core.executor.clips import ClipJob
from dream_core.executor.config import ExecutorConfig
from dream_core.executor.errors import SubmitRefused, WorkerStartError
from dream_core.executor.events import Cancelled, Done, Failed, Queued, Started, Waiting
from dream_core.executor.job import Job
from dream_core.executor.priority import PriorityScheduler
from dream_core.executor.recovery import UNAVAILABLE_REASON, WORKER_LOSSES_ALLOWED, WorkerRecovery
from dream_core.executor.slot import WorkerSlot
from dream_core.executor.status import ExecutorStatus
from dream_core.executor.worker import JobSpec

__all__ = ["BaseExecutor", "ParamsLike"]

log = logging.getLogger(__name__)

SHUTDOWN_REASON = "The dream service is shutting down."


def _is_atlas(job: Job) -> bool:
    return job.atlas is not None


# --- the executor ----------------------------------------------------------------

_live_executors: weakref.WeakSet[BaseExecutor] = weakref.WeakSet()


@atexit.register
def _kill_live_executors() -> None:  # no orphans even if close() was never awaited
    for executor in list(_live_executors):
        for slot in executor._slots:
            with contextlib.suppress(Exception):  # best effort at exit
                slot.kill_now()


class BaseExecutor(WorkerRecovery, abc.ABC):
    """The executor interface (see :mod:`dream_core.executor`)."""

    backend = "base"

    def __init__(self, config: ExecutorConfig) -> None:
        self.config = config
        self._sched: PriorityScheduler[Job] = PriorityScheduler(
            config.max_queue, config.max_queued_per_user, config.max_queued_per_guild, is_low=_is_atlas
        )
        self._slots: list[WorkerSlot] = []
        self._running: dict[Job, WorkerSlot] = {}
        self._stopping: dict[Job, str] = {}  # running jobs asked to stop -> the reason
        self._timed_out: set[Job] = set()  # running jobs stopped by their time limit
        self._tasks: set[asyncio.Task[Any]] = set()
        self._started = False
        self._closed = False
        self._worker_restarts = 0
        self._counts = {"done": 0, "failed": 0, "cancelled": 0}
        self._retried = 0
        self._outage = False  # no worker up: queued jobs were told (Waiting)

    # --- lifecycle --------------------------------------------------------------

    async def __aenter__(self) -> BaseExecutor:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Start the workers and wait until each is ready (models loaded)."""
        if self._started:
            return
        if self._closed:
            raise WorkerStartError("this executor was closed; create a new one")
        self._slots = list(await self._create_slots())
        for slot in self._slots:
            slot.on_dead = self._slot_died
        _live_executors.add(self)
        results = await asyncio.gather(*(s.start() for s in self._slots), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            await asyncio.gather(*(s.stop() for s in self._slots), return_exceptions=True)
            await self._close_backend()
            _live_executors.discard(self)
            self._closed = True
            err = errors[0]
            raise err if isinstance(err, WorkerStartError) else WorkerStartError(f"worker failed to start: {err}")
        self._started = True
        log.info(
            "%s executor started: %s",
            self.backend,
            ", ".join(f"{s.name} ({s.device}, pid {s.pid})" for s in self._slots),
        )
        self._pump()

    async def close(self) -> None:
        """Cancel waiting jobs, stop running ones and end every worker."""
        if self._closed:
            return
        self._closed = True
        for job in self._sched.order():
            self._sched.remove(job)
            job.emit(Cancelled(SHUTDOWN_REASON))
            self._counts["cancelled"] += 1
        for job, slot in list(self._running.items()):
            self._stopping[job] = SHUTDOWN_REASON
            slot.request_cancel(job)
        runs = [t for t in self._tasks if t.get_name().startswith("dream-run")]
        if runs:  # running jobs stop at their next dream step
            await asyncio.wait(runs, timeout=min(5.0, self.config.cancel_grace_s))
        await asyncio.gather(*(s.stop() for s in self._slots), return_exceptions=True)
        runs = [t for t in runs if not t.done()]
        if runs:
            await asyncio.wait(runs, timeout=5.0)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:  # let restarts in progress reap what they started
            await asyncio.wait(list(self._tasks), timeout=5.0)
        for job in list(self._running):
            job.emit(Cancelled(SHUTDOWN_REASON))
        self._running.clear()
        self._stopping.clear()
        self._timed_out.clear()
        await self._close_backend()
        _live_executors.discard(self)
        log.info("%s executor closed", self.backend)

    @abc.abstractmethod
    async def _create_slots(self) -> list[WorkerSlot]:
        """Backend: make (not start) the worker slots."""

    async def _close_backend(self) -> None:  # noqa: B027 - optional hook, a no-op unless a backend needs it
        """Backend: release anything beyond the slots."""

    # --- jobs ---------------------------------------------------------------------

    async def submit(
        self,
        image_bytes: Optional[bytes],
        params: ParamsLike = None,
        *,
        user_id: int,
        guild_id: Optional[int] = None,
        guide_bytes: Optional[bytes] = None,
        timeout_s: Optional[float] = None,
        clip: Optional[ClipJob] = None,
    ) -> Job:
        """Queue a dream. Raises :class:`SubmitRefused` at once beyond a cap.

        ``image_bytes`` None dreams from noise. ``params``: DreamParams, a dict
        or JSON; invalid params give a job that is already ``Failed``.
        ``timeout_s`` overrides ``config.job_timeout_s`` for this job.
        ``clip``: ``image_bytes`` is an animation or a video, dreamed frame by
        frame (:mod:`.clips`); its time limit grows with the frame count up to
        ``config.clip_timeout_max_s``, and a zoom animation is refused.
        """
        if clip is not None and image_bytes is None:
            raise ValueError("a clip job needs the clip's bytes")
        if not self._started or self._closed:
            raise SubmitRefused("The dream service is not running right now.", code="closed")
        if self._unavailable():
            raise SubmitRefused(UNAVAILABLE_REASON, code="unavailable")
        p, failure = admit_params(self.config, params, clip)
        job = Job(
            p,
            user_id=user_id,
            guild_id=guild_id,
            image_bytes=image_bytes,
            guide_bytes=guide_bytes,
            timeout_s=time_limit(self.config, p, timeout_s, clip),
            on_cancel=self._request_cancel,
            clip=clip,
        )
        failure = failure or oversized_input(self.config, image_bytes, guide_bytes)
        return self._enqueue(job, failure)

    async def submit_atlas(self, atlas: AtlasJob, *, user_id: int, guild_id: Optional[int] = None) -> Job:
        """Queue an atlas render (a sheet of filters, or one filter large) behind every dream.

        Same :class:`Job`, events and Cancel as a dream; ``Done.result.data`` is the PNG.
        Raises :class:`SubmitRefused` at once beyond a cap; an atlas job that names no such
        layer or filter is already ``Failed`` (kind ``params``). At most
        ``config.atlas_max_running`` run at once, and one never starts while a dream waits.
        """
        if not self._started or self._closed:
            raise SubmitRefused("The dream service is not running right now.", code="closed")
        if self._unavailable():
            raise SubmitRefused(UNAVAILABLE_REASON, code="unavailable")
        failure: Optional[Failed] = None
        try:
            target = atlas.check()
            params, failure = admit_params(self.config, {"model": target.model, "layer": atlas.spec}, None)
        except DreamParamsError as exc:  # AtlasInputError: one line
            params, failure = admit_params(self.config, None, None)[0], Failed(str(exc), "params")
        job = Job(
            params,
            user_id=user_id,
            guild_id=guild_id,
            image_bytes=None,
            guide_bytes=None,
            timeout_s=self.config.job_timeout_s,
            on_cancel=self._request_cancel,
            atlas=atlas,
        )
        return self._enqueue(job, failure)

    def _enqueue(self, job: Job, failure: Optional[Failed]) -> Job:
        """End ``job`` with ``failure``, or put it in its line (raises SubmitRefused past a cap)."""
        if failure is not None:
            job.emit(failure)
            self._counts["failed"] += 1
            return job
        position = self._sched.push(job, job.user_id, job.guild_id)  # raises SubmitRefused
        job.emit(Queued(position))
        if self._outage:
            job.emit(Waiting(self.outage_reason))
        self._pump()
        return job

    def _request_cancel(self, job: Job) -> None:
        if job.done:
            return
        if self._sched.remove(job):
            job.emit(Cancelled())
            self._counts["cancelled"] += 1
            self._publish_positions()
            return
        slot = self._running.get(job)
        if slot is None:
            return
        if job not in self._stopping:
            self._stopping[job] = "cancelled"
            slot.request_cancel(job)
            self._spawn(self._kill_if_stuck(slot, job, "did not stop after cancel"))

    def status(self) -> ExecutorStatus:
        """A snapshot: queue depth, running jobs, per-user/guild counts, workers, restarts."""
        per_user = dict(self._sched.per_user())
        per_guild = dict(self._sched.per_guild())
        for job in self._running:
            per_user[job.user_id] = per_user.get(job.user_id, 0) + 1
            if job.guild_id is not None:
                per_guild[job.guild_id] = per_guild.get(job.guild_id, 0) + 1
        workers = tuple(s.info() for s in self._slots)
        return ExecutorStatus(
            backend=self.backend,
            running=self._started and not self._closed,
            queue_depth=len(self._sched),
            running_jobs=len(self._running),
            per_user=per_user,
            per_guild=per_guild,
            workers=workers,
            workers_alive=sum(1 for w in workers if w.alive),
            worker_restarts=self._worker_restarts,
            jobs_done=self._counts["done"],
            jobs_failed=self._counts["failed"],
            jobs_cancelled=self._counts["cancelled"],
            jobs_retried=self._retried,
        )

    # --- dispatch -------------------------------------------------------------------

    def _spawn(self, coro: Any, name: Optional[str] = None) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _pump(self) -> None:
        """Start waiting jobs on idle workers; refresh queue positions."""
        if not self._started or self._closed:
            return
        self._check_outage()
        for slot in self._slots:
            if not slot.alive or slot.restarting or slot.job is not None:
                continue
            atlas_running = sum(1 for j in self._running if j.atlas is not None)
            job = self._sched.pop(low_allowed=atlas_running < self.config.atlas_max_running)
            if job is None:
                break
            slot.job = job
            self._running[job] = slot
            job.emit(Started(slot.name, slot.device))
            self._spawn(self._run(slot, job), name=f"dream-run-{job.id}")
        if not self._outage:  # while no worker is up, the jobs' last word stays the Waiting line
            self._publish_positions()

    def _publish_positions(self) -> None:
        for job, position in self._sched.positions().items():
            job.emit(Queued(position))

    async def _run(self, slot: WorkerSlot, job: Job) -> None:
        spec = JobSpec(job.seq, job.params.to_wire(), job.image_bytes, job.guide_bytes, job.clip, job.atlas)
        watchdog = self._spawn(self._watchdog(slot, job))
        try:
            outcome = await slot.run(job, spec)
        except asyncio.CancelledError:
            outcome = Cancelled(SHUTDOWN_REASON)
        except Exception as exc:  # a backend bug must not wedge the slot
            log.exception("%s: job %s crashed the dispatcher", slot.name, job.id)
            outcome = Failed(f"Internal error in the dream service ({type(exc).__name__}).", "internal")
            await slot.kill()
            slot.alive = False
        finally:
            watchdog.cancel()
        if not isinstance(outcome, Done):
            if job in self._timed_out:
                smaller = "a shorter clip" if job.clip is not None else "a smaller image"
                smaller = "fewer filters or a smaller size" if job.atlas is not None else smaller
                outcome = Failed(
                    f"The {'atlas render' if job.atlas is not None else 'dream'} took longer than its "
                    f"{job.timeout_s:g} s time limit and was stopped. "
                    f"Try {smaller} or fewer iterations.",
                    "timeout",
                )
            elif job in self._stopping:
                outcome = Cancelled(self._stopping[job])
        self._stopping.pop(job, None)
        self._timed_out.discard(job)
        if isinstance(outcome, Failed) and outcome.kind == "worker_died":
            job.workers_lost += 1
            if job.workers_lost <= WORKER_LOSSES_ALLOWED and not self._closed:
                self._retry(slot, job, outcome.reason)
                return
            outcome = Failed(
                f"The dream worker was lost twice while working on this dream ({outcome.reason}), so it was "
                "not tried again: this picture or these settings may be what stops it.",
                "worker_died",
            )
        job.emit(outcome)
        key = "done" if isinstance(outcome, Done) else "failed" if isinstance(outcome, Failed) else "cancelled"
        self._counts[key] += 1
        if isinstance(outcome, Done):
            slot.jobs_done += 1
            if outcome.result.renders:
                self._spawn(self._keep_renders(outcome.result.renders))
        self._running.pop(job, None)
        slot.job = None
        if not slot.alive:
            self._restart(slot)
        self._pump()

    async def _keep_renders(self, renders: tuple[tuple[str, bytes], ...]) -> None:
        try:
            await asyncio.to_thread(keep_renders, renders)
        except Exception as exc:  # noqa: BLE001 - the cache is an optimisation: the result was delivered
            log.warning("could not keep %d atlas renders in the local cache: %s", len(renders), exc)

    async def _watchdog(self, slot: WorkerSlot, job: Job) -> None:
        await asyncio.sleep(job.timeout_s)
        if job.done or slot.job is not job:
            return
        log.warning("%s: job %s exceeded its %.0f s limit; stopping it", slot.name, job.id, job.timeout_s)
        self._timed_out.add(job)
        slot.request_cancel(job)
        await self._kill_if_stuck(slot, job, "did not stop after its time limit")

    async def _kill_if_stuck(self, slot: WorkerSlot, job: Job, why: str) -> None:
        await asyncio.sleep(self.config.cancel_grace_s)
        if not job.done and slot.job is job and slot.alive:
            grace = self.config.cancel_grace_s
            log.warning("%s: job %s %s within %.0f s; killing the worker", slot.name, job.id, why, grace)
            await slot.kill()
