"""The dream executor: runs dream jobs away from the caller's event loop.

The bot never runs torch in its event loop. It submits jobs here; they run in
worker processes (local backend, one per GPU or one CPU worker) or on Ray
actors (ray backend) that keep models warm. Which backend is a configuration
detail: the interface is the same.

Usage::

    from dream_core.executor import ExecutorConfig, SubmitRefused, create_executor
    from dream_core.executor import Queued, Started, JobProgress, Done, Failed, Cancelled

    async with create_executor(ExecutorConfig(backend="local")) as executor:
        try:
            job = await executor.submit(image_bytes, params, user_id=42, guild_id=7)
        except SubmitRefused as exc:        # queue/user/server cap: exc.reason, exc.code
            ...
        async for event in job.events():    # every event, in order, ends with a terminal one
            match event:
                case Queued(position=p): ...                # 1 = next; re-sent as it moves
                case Started(worker=w, device=d): ...
                case Waiting(reason=why, retry=r): ...      # worker lost (r: runs again) / none up
                case JobProgress(fraction=f, eta_s=eta, preview=png): ...  # png at octave ends
                case Done(result=r): ...
                case Failed(reason=why, kind=k): ...        # one user-readable line
                case Cancelled(): ...
        result = await job.result()         # JobResult; raises JobFailed(reason) / JobCancelled
        await job.cancel()                  # queued: at once; running: within ~one dream step
        executor.status()                   # ExecutorStatus: queue depth, running, per user, workers

API
---
``create_executor(config: ExecutorConfig) -> BaseExecutor``
    The backend named by ``config.backend`` ("local" | "ray"). ``await
    executor.start()`` (workers up, models warm; raises WorkerStartError with
    an admin-readable reason) / ``await executor.close()``, or ``async with``.
    The bot builds the config from its settings with
    ``bot.executor_config.executor_config(settings)``.
    Scripts that start a local executor need ``if __name__ == "__main__":``
    (workers are started with ``spawn``).
``await executor.submit(image_bytes | None, params=None, *, user_id, guild_id=None, guide_bytes=None,
timeout_s=None, clip=None) -> Job``
    ``image_bytes`` None dreams from noise. ``params``: :class:`DreamParams`,
    dict or JSON; it is resolved at once (``job.params.seed`` is known).
    Raises :class:`SubmitRefused` at once when the global queue, the user's or
    the server's cap of *waiting* jobs is reached, or the executor is not
    running. Bad input bytes (:class:`DreamInputError`) and bad params
    (:class:`DreamParamsError`, e.g. an unknown layer) end the job with
    ``Failed(reason)`` — never an exception from ``submit``. ``clip``
    (:class:`ClipJob`): ``image_bytes`` is an animation or a video the caller
    checked with ``dream_core.clips.decode.probe_clip``; the worker dreams it
    frame by frame (``JobProgress.frame``/``frames``) into a GIF, WebP or MP4
    that fits ``clip.max_bytes``; the time limit grows with the frames up to
    ``config.clip_timeout_max_s``.
``await executor.submit_atlas(atlas: AtlasJob, *, user_id, guild_id=None) -> Job``
    An atlas render (:mod:`.atlas_jobs`): a sheet of filters, or one filter large with
    its diversity images; ``Done.result.data`` is the PNG. The same events, progress
    and Cancel as a dream. Atlas jobs wait in their own line behind every dream: one
    never starts while a dream waits, and at most ``config.atlas_max_running`` (1) run
    at once (:mod:`.priority`).
``Job``: ``id``, ``params``, ``user_id``, ``guild_id``, ``state`` (JobState),
    ``position``, ``events()``, ``result()``, ``cancel()``, ``wait()``,
    ``done``, ``history``.
``JobResult``: ``data`` (PNG, or WebP for animations), ``format``, ``width``,
    ``height``, ``params`` (resolved), ``model``, ``seed``, ``seconds``,
    ``notes``, ``is_animation``, ``frames``, ``input_size``, ``device``,
    ``queued_s``.
``executor.status() -> ExecutorStatus``: ``queue_depth``, ``running_jobs``,
    ``per_user``/``per_guild`` (waiting + running), ``workers``
    (:class:`WorkerInfo`: name, device, pid, alive, job_id, restarts),
    ``workers_alive``, ``worker_restarts``, ``jobs_done/failed/cancelled``.

Scheduling (:mod:`.scheduler`, shared by both backends): fair round-robin over
users with waiting jobs; caps ``max_queue``, ``max_queued_per_user``,
``max_queued_per_guild`` count waiting (not yet started) jobs.

Faults: a per-job time limit (``job_timeout_s``) fails the job with a clear
reason; a worker that dies mid-job (killed, segfault, OOM killer, a Ray node
lost or hung) is restarted and its job runs again once, first in line
(``Waiting(retry=True)``); a second loss fails the job with one line; queued
jobs go on. While no worker is up, queued jobs are told (``Waiting``); the Ray
backend keeps them queued until the cluster is back. CUDA out-of-memory is
retried once with halved ``tile_size``. Closing ends every
worker process (also at interpreter exit).

Modules: :mod:`.config` (ExecutorConfig), :mod:`.events` (events, JobResult),
:mod:`.job` (Job), :mod:`.scheduler`, :mod:`.status`, :mod:`.errors`,
:mod:`.base` (shared executor logic), :mod:`.recovery` (lost workers: retry, restarts),
:mod:`.admission` (what ``submit`` checks), :mod:`.atlas_jobs` (AtlasJob),
:mod:`.priority` (dreams before atlas jobs),
:mod:`.slot` (WorkerSlot, one worker as the executor sees it), :mod:`.messages`
(worker messages as events), :mod:`.worker` (the torch side),
:mod:`.local` (worker processes), :mod:`.ray_backend` (Ray actors: :mod:`.ray_actor`,
:mod:`.ray_driver` the driver process, :mod:`.ray_link` its pipe).
"""

from __future__ import annotations

from typing import Any

from dream_core.executor.atlas_jobs import AtlasJob
from dream_core.executor.base import BaseExecutor
from dream_core.executor.clips import ClipJob
from dream_core.executor.config import ExecutorConfig
from dream_core.executor.errors import ExecutorError, JobCancelled, JobFailed, SubmitRefused, WorkerStartError
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
from dream_core.executor.job import Job, JobState
from dream_core.executor.status import ExecutorStatus, WorkerInfo

__all__ = [
    "AtlasJob",
    "BaseExecutor",
    "Cancelled",
    "ClipJob",
    "Done",
    "ExecutorConfig",
    "ExecutorError",
    "ExecutorStatus",
    "Failed",
    "Job",
    "JobCancelled",
    "JobEvent",
    "JobFailed",
    "JobProgress",
    "JobResult",
    "JobState",
    "Queued",
    "Started",
    "SubmitRefused",
    "WorkerInfo",
    "Waiting",
    "WorkerStartError",
    "create_executor",
    "is_terminal",
]


def create_executor(config: ExecutorConfig | None = None, **overrides: Any) -> BaseExecutor:
    """The executor for ``config.backend`` (not started: ``await start()`` or ``async with``)."""
    config = config or ExecutorConfig()
    if overrides:
        config = config.model_copy(update=overrides)
        config = ExecutorConfig.model_validate(config.model_dump())
    if config.backend == "local":
        from dream_core.executor.local import LocalExecutor

        return LocalExecutor(config)
    if config.backend == "ray":
        from dream_core.executor.ray_backend import RayExecutor

        return RayExecutor(config)
    raise ValueError(f"unknown executor backend {config.backend!r} (use 'local' or 'ray')")
