"""`Job`: the caller's handle on one submitted dream.

Created by ``BaseExecutor.submit``; lives in the caller's event loop. Every event
is kept, so any number of consumers may iterate :meth:`Job.events` (each sees
the whole stream from the start) and :meth:`Job.result` may be awaited at any
time, before or after the job ended.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import time
from collections.abc import AsyncIterator, Callable
from typing import Optional

from dream_core.executor.atlas_jobs import AtlasJob
from dream_core.executor.clips import ClipJob
from dream_core.executor.errors import JobCancelled, JobFailed
from dream_core.executor.events import (
    Cancelled,
    Done,
    Failed,
    JobEvent,
    JobProgress,
    JobResult,
    Queued,
    Started,
    Waiting,
    is_terminal,
)
from dream_core.params import DreamParams

_ids = itertools.count(1)


class JobState(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Job:
    """One dream job. Use ``events()``, ``result()`` and ``cancel()``.

    The executor that made it passes ``on_cancel`` (called by :meth:`cancel` while the
    job has not ended) and feeds it events with :meth:`emit`; the job knows nothing
    else of the executor.
    """

    def __init__(
        self,
        params: DreamParams,
        *,
        user_id: int,
        guild_id: Optional[int],
        image_bytes: Optional[bytes],
        guide_bytes: Optional[bytes],
        timeout_s: float,
        on_cancel: Callable[[Job], None],
        clip: Optional[ClipJob] = None,
        atlas: Optional[AtlasJob] = None,
    ) -> None:
        self.seq: int = next(_ids)
        self.id: str = f"job-{self.seq}"
        self.params = params  # resolved: the seed is known from the start
        self.user_id = user_id
        self.guild_id = guild_id
        self.timeout_s = timeout_s
        self.submitted_at = time.time()
        self.started_at: Optional[float] = None
        self.finished_at: Optional[float] = None
        self.state = JobState.QUEUED
        self.position: Optional[int] = None
        self.worker: Optional[str] = None
        self.workers_lost = 0  # times a worker died while running this job (the executor retries once)
        self._on_cancel = on_cancel
        # the inputs, for the executor to ship to a worker (dropped once the job ended)
        self.image_bytes = image_bytes
        self.guide_bytes = guide_bytes
        self.clip = clip  # set: image_bytes is an animation or a video
        self.atlas = atlas  # set: an atlas render (no image), in the atlas line behind dreams
        self._events: list[JobEvent] = []
        self._changed = asyncio.Event()
        self._started_mono: Optional[float] = None

    def __repr__(self) -> str:
        return f"<Job {self.id} user={self.user_id} {self.state.value}>"

    # --- public -------------------------------------------------------------

    @property
    def done(self) -> bool:
        """True once a terminal event (Done/Failed/Cancelled) was emitted."""
        return self.state in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)

    @property
    def history(self) -> tuple[JobEvent, ...]:
        """Every event so far, in order."""
        return tuple(self._events)

    async def events(self) -> AsyncIterator[JobEvent]:
        """Yield every event of the job, from the first, ending after the terminal one."""
        i = 0
        while True:
            while i < len(self._events):
                event = self._events[i]
                i += 1
                yield event
                if is_terminal(event):
                    return
            waiter = self._changed
            await waiter.wait()

    async def wait(self) -> JobEvent:
        """Wait for the end; return the terminal event (never raises for failures)."""
        while not self.done:
            await self._changed.wait()
        return self._events[-1]

    async def result(self) -> JobResult:
        """The result; raises :class:`JobFailed` (with ``reason``) or :class:`JobCancelled`."""
        event = await self.wait()
        if isinstance(event, Done):
            return event.result
        if isinstance(event, Failed):
            raise JobFailed(event.reason, kind=event.kind)
        assert isinstance(event, Cancelled)
        raise JobCancelled(event.reason)

    async def cancel(self) -> bool:
        """Cancel the job (queued: at once; running: within about one dream step).

        Returns False when the job had already ended. Waits until it has.
        """
        if self.done:
            return False
        self._on_cancel(self)
        await self.wait()
        return isinstance(self._events[-1], Cancelled)

    # --- executor side ------------------------------------------------------

    def emit(self, event: JobEvent) -> None:
        """Record the next event (the executor's side); ignored once the job ended."""
        if self.done:
            return
        if isinstance(event, Queued):
            if event.position == self.position and self._events:
                return
            self.position = event.position
        elif isinstance(event, Started):
            self.state = JobState.RUNNING
            self.position = None
            self.worker = event.worker
            self.started_at = time.time()
            self._started_mono = time.monotonic()
        elif isinstance(event, Waiting):
            self.position = None  # the next Queued is shown again
            if event.retry:  # queued again after its worker was lost
                self.state = JobState.QUEUED
                self.worker = None
                self._started_mono = None
        elif isinstance(event, JobProgress):
            if event.eta_s is None and self._started_mono is not None and event.fraction > 0:
                elapsed = time.monotonic() - self._started_mono
                eta = elapsed * (1.0 - event.fraction) / event.fraction
                event = JobProgress(**{**event.__dict__, "eta_s": max(0.0, eta)})
        elif isinstance(event, Done):
            self.state = JobState.DONE
        elif isinstance(event, Failed):
            self.state = JobState.FAILED
        elif isinstance(event, Cancelled):
            self.state = JobState.CANCELLED
        if self.done:
            self.finished_at = time.time()
            self.image_bytes = self.guide_bytes = None
        self._events.append(event)
        old, self._changed = self._changed, asyncio.Event()
        old.set()
