"""The Ray backend: the same executor on Ray actors, for scale-out over GPU nodes.

One :class:`DreamActor` per GPU (``ray_gpus_per_actor`` GPUs each, fractional
allowed; CPU actors when the cluster has no GPUs), each holding its models
warm. Jobs are dispatched by the shared fair scheduler in the caller's process
(same caps and fairness as the local backend); a job runs as a Ray *streaming
generator* (``num_returns="streaming"``) that yields the worker messages of
:mod:`dream_core.executor.worker` — progress first, the encoded result last.

Joins an existing cluster (``ray_address="auto"`` or ``"ray://head:10001"``) or
starts a small local Ray (``include_dashboard=False``). A dead actor (node
lost, process killed) fails its job with a clear reason and is replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import threading
from typing import Any, Optional

import ray
from ray.exceptions import GetTimeoutError, RayError

from dream_core.executor.base import BaseExecutor
from dream_core.executor.config import ExecutorConfig
from dream_core.executor.errors import WorkerStartError
from dream_core.executor.events import Failed, JobEvent
from dream_core.executor.job import Job
from dream_core.executor.local import worker_options
from dream_core.executor.messages import progress_event, terminal_event
from dream_core.executor.slot import WorkerSlot
from dream_core.executor.worker import JobSpec, Message, WorkerOptions, execute_job, setup_worker

log = logging.getLogger(__name__)

_HEALTH_EVERY_S = 2.0


class DreamActor:
    """Runs dream jobs on one Ray worker (decorated with ``ray.remote`` at use)."""

    def __init__(self, options: WorkerOptions) -> None:
        gpu_ids = ray.get_gpu_ids()
        # Ray sets CUDA_VISIBLE_DEVICES to this actor's GPU(s): "cuda" is ours.
        self.device = "cuda" if gpu_ids else "cpu"
        self.options = options
        self.cache = setup_worker(self.device, options)
        self._cancel_seq = 0

    def info(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "device": self.device,
            "node": ray.get_runtime_context().get_node_id(),
            "gpus": [str(g) for g in ray.get_gpu_ids()],
        }

    def cancel(self, seq: int) -> None:
        self._cancel_seq = seq

    def run(self, spec: JobSpec):  # a generator: called with num_returns="streaming"
        messages: queue.Queue[tuple[str, Any]] = queue.Queue()

        def work() -> None:
            try:
                out: Message = execute_job(
                    spec,
                    self.device,
                    self.options,
                    lambda m: messages.put(("msg", m)),
                    lambda: self._cancel_seq == spec.seq,
                    self.cache,
                )
            except BaseException as exc:  # never leave the generator waiting
                out = ("failed", spec.seq, f"Internal error while dreaming ({type(exc).__name__}).", "internal")
            messages.put(("end", out))

        threading.Thread(target=work, name=f"dream-{spec.seq}", daemon=True).start()
        while True:
            tag, msg = messages.get()
            yield msg
            if tag == "end":
                return


class RayWorker(WorkerSlot):
    """One dream actor."""

    def __init__(
        self, name: str, actor_cls: Any, options: WorkerOptions, actor_opts: dict[str, Any], start_timeout_s: float
    ) -> None:
        super().__init__(name, "ray")
        self._actor_cls = actor_cls
        self._options = options
        self._actor_opts = actor_opts
        self._start_timeout_s = start_timeout_s
        self._actor: Optional[Any] = None
        self._health: Optional[asyncio.Task[None]] = None
        self.node: Optional[str] = None

    async def start(self) -> None:
        self._actor = self._actor_cls.options(**self._actor_opts).remote(self._options)
        try:
            info = await asyncio.wait_for(self._actor.info.remote(), self._start_timeout_s)
        except (asyncio.TimeoutError, GetTimeoutError):
            self._kill_actor()
            raise WorkerStartError(
                f"{self.name}: Ray actor not ready within {self._start_timeout_s:.0f} s "
                "(not enough free CPUs/GPUs in the cluster?)"
            ) from None
        except RayError as exc:
            self._kill_actor()
            raise WorkerStartError(f"{self.name}: Ray actor failed to start: {_first_line(exc)}") from None
        self.pid, self.device, self.node = info["pid"], info["device"], info["node"]
        self.alive = True
        self._health = asyncio.get_running_loop().create_task(self._watch())
        log.info("%s ready on %s (pid %s, node %s)", self.name, self.device, self.pid, self.node)

    async def _watch(self) -> None:
        """Notice an actor that dies while idle (a busy one is noticed by its job)."""
        actor = self._actor
        while self.alive and actor is self._actor:
            await asyncio.sleep(_HEALTH_EVERY_S)
            if self.job is not None or not self.alive or actor is not self._actor:
                continue
            try:
                assert actor is not None
                await asyncio.wait_for(actor.info.remote(), 30.0)
            except (RayError, asyncio.TimeoutError) as exc:
                if actor is self._actor and self.job is None and self.alive:
                    log.warning("%s: actor lost (%s)", self.name, _first_line(exc))
                    self.alive = False
                    self._kill_actor()
                    if self.on_dead is not None:
                        self.on_dead(self)
                return

    async def run(self, job: Job, spec: JobSpec) -> JobEvent:
        assert self._actor is not None
        try:
            gen = self._actor.run.options(num_returns="streaming").remote(spec)
            async for ref in gen:
                msg = await ref
                if msg[0] == "progress":
                    job.emit(progress_event(msg[2]))
                elif msg[0] in ("done", "failed", "cancelled"):
                    return terminal_event(msg, job)
            return Failed("The dream worker ended without a result.", "internal")
        except RayError as exc:
            log.warning("%s: actor failed during %s: %s", self.name, job.id, _first_line(exc))
            self.alive = False
            self._kill_actor()
            return Failed(
                "The dream worker crashed while working on this dream (its Ray actor died); "
                "it has been restarted. Please try again.",
                "worker_died",
            )

    def request_cancel(self, job: Job) -> None:
        if self._actor is not None:
            self._actor.cancel.remote(job.seq)

    async def kill(self) -> None:
        self._kill_actor()

    def kill_now(self) -> None:
        self._kill_actor()

    async def stop(self) -> None:
        self.alive = False
        if self._health is not None:
            self._health.cancel()
        self._kill_actor()
        self._actor = None

    def _kill_actor(self) -> None:
        if self._actor is not None:
            with contextlib.suppress(Exception):  # already gone, or Ray shut down
                ray.kill(self._actor, no_restart=True)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


class RayExecutor(BaseExecutor):
    """Runs dreams on Ray actors (an existing cluster or a local Ray)."""

    backend = "ray"

    def __init__(self, config: ExecutorConfig) -> None:
        super().__init__(config)
        self._owns_ray = False

    def _init_ray(self) -> None:
        if ray.is_initialized():
            return
        cfg = self.config
        kwargs: dict[str, Any] = {"namespace": cfg.ray_namespace, "logging_level": logging.WARNING}
        if cfg.ray_ship_code:
            import dream_core

            kwargs["runtime_env"] = {"py_modules": [os.path.dirname(dream_core.__file__)]}
        if cfg.ray_address:
            ray.init(address=cfg.ray_address, **kwargs)
        else:
            ray.init(num_cpus=cfg.ray_num_cpus, include_dashboard=False, **kwargs)
        self._owns_ray = True

    async def _create_slots(self) -> list[WorkerSlot]:
        cfg = self.config
        try:
            # Off the event loop: connecting/starting Ray takes seconds. (Ray then
            # warns that it set no SIGTERM handler; close() shuts it down.)
            await asyncio.to_thread(self._init_ray)
        except Exception as exc:
            where = cfg.ray_address or "a local Ray"
            raise WorkerStartError(f"could not connect to {where}: {_first_line(exc)}") from None
        resources = ray.cluster_resources()
        gpus = float(resources.get("GPU", 0.0))
        per = cfg.ray_gpus_per_actor
        use_gpus = gpus > 0 and per > 0
        count = cfg.ray_actors or (max(1, int(gpus // per + 1e-9)) if use_gpus else 1)
        actor_opts: dict[str, Any] = {
            "num_cpus": cfg.ray_cpus_per_actor,
            "num_gpus": per if use_gpus else 0,
            "max_concurrency": 2,  # run() and cancel()/info() side by side
            "max_restarts": 0,  # the executor replaces dead actors itself
        }
        actor_cls = ray.remote(DreamActor)
        options = worker_options(cfg)
        log.info("Ray cluster: %s; starting %d dream actor(s) with %s", resources, count, actor_opts)
        timeout = cfg.worker_start_timeout_s
        return [RayWorker(f"actor-{i}", actor_cls, options, actor_opts, timeout) for i in range(count)]

    async def _close_backend(self) -> None:
        if self._owns_ray and ray.is_initialized():
            ray.shutdown()
            self._owns_ray = False
