"""The Ray backend: the same executor on Ray actors, for scale-out over GPU nodes.

One :class:`~dream_core.executor.ray_actor.DreamActor` per GPU
(``ray_gpus_per_actor`` GPUs each, fractional allowed; CPU actors when the
cluster has no GPUs), each holding its models warm. Jobs are dispatched by the
shared fair scheduler in the caller's process (same caps, fairness, retry of a
job whose worker was lost); the Ray calls are made by a driver child process
(:mod:`.ray_driver`, reached through :mod:`.ray_link`), so this process never
imports Ray and survives a cluster that dies.

Joins an existing cluster (``ray_address``: ``"auto"`` or ``"HOST:6379"`` on a
cluster node, ``"ray://HOST:10001"`` through Ray Client from anywhere) or starts
a small local Ray. An actor that dies (node lost, process killed) or stops
answering for ``ray_heartbeat_s`` while busy or idle (a hung node) is killed and
replaced; its job runs again once. While the cluster is unreachable, jobs stay
queued and the driver reconnects with back-off.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Optional

from dream_core.executor.base import BaseExecutor
from dream_core.executor.config import ExecutorConfig
from dream_core.executor.errors import WorkerStartError
from dream_core.executor.events import Failed, JobEvent
from dream_core.executor.job import Job
from dream_core.executor.local import worker_options
from dream_core.executor.messages import progress_event, terminal_event
from dream_core.executor.ray_driver import DriverSettings
from dream_core.executor.ray_link import RayDriverLink
from dream_core.executor.slot import WorkerSlot
from dream_core.executor.worker import JobSpec

log = logging.getLogger(__name__)


class RayWorker(WorkerSlot):
    """One dream actor, run through the driver process."""

    def __init__(self, name: str, link: RayDriverLink, actor_opts: dict[str, Any], start_timeout_s: float) -> None:
        super().__init__(name, "ray")
        self._link = link
        self._actor_opts = actor_opts
        self._start_timeout_s = start_timeout_s
        self._inbox: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self._ready: Optional[asyncio.Future[tuple[Any, ...]]] = None
        self.node: Optional[str] = None
        link.register(self)

    async def start(self) -> None:
        await self._link.connect()  # (re)connects when the driver is gone
        self._ready = asyncio.get_running_loop().create_future()
        self._link.send(("start", self.name, self._actor_opts))
        try:  # the driver answers within the start timeout; the margin covers a lost driver
            msg = await asyncio.wait_for(asyncio.shield(self._ready), self._start_timeout_s + 30.0)
        except asyncio.TimeoutError:
            self._link.send(("kill", self.name))
            raise WorkerStartError(f"{self.name}: the Ray driver did not answer") from None
        if msg[0] != "started":
            raise WorkerStartError(f"{self.name}: {msg[2]}")
        info = msg[2]
        self.pid, self.device, self.node = info["pid"], info["device"], info["node"]
        self.alive = True
        log.info("%s ready on %s (pid %s, node %s)", self.name, self.device, self.pid, self.node)

    # --- from the driver (in the event loop) ------------------------------------------

    def deliver(self, msg: tuple[Any, ...]) -> None:
        kind = msg[0]
        if kind in ("started", "start_failed"):
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(msg)
        elif kind == "msg":
            self._inbox.put_nowait(msg[2])
        elif kind == "lost":
            seq, cause = msg[2], msg[3]
            if self.job is not None and seq == self.job.seq:
                self._inbox.put_nowait(("lost", seq, cause))
            elif seq is None and self.job is None and self.alive:
                log.warning("%s: actor lost while idle (%s)", self.name, cause)
                self._died()

    def link_lost(self, cause: str) -> None:
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(("start_failed", self.name, cause))
        if self.job is not None:
            self._inbox.put_nowait(("lost", self.job.seq, cause))
        elif self.alive:
            self._died()

    def _died(self) -> None:
        self.alive = False
        if self.on_dead is not None:
            self.on_dead(self)

    # --- jobs -----------------------------------------------------------------------------

    async def run(self, job: Job, spec: JobSpec) -> JobEvent:
        while not self._inbox.empty():  # stale messages of an earlier job
            self._inbox.get_nowait()
        self._link.send(("run", self.name, spec))
        while True:
            msg = await self._inbox.get()
            if len(msg) < 2 or msg[1] != spec.seq:
                continue
            kind = msg[0]
            if kind == "lost":
                log.warning("%s: lost during %s: %s", self.name, job.id, msg[2])
                self.alive = False
                return Failed(str(msg[2]), "worker_died")  # the executor words it (and retries once)
            if kind == "progress":
                job.emit(progress_event(msg[2]))
            elif kind in ("done", "failed", "cancelled"):
                return terminal_event(msg, job)

    def request_cancel(self, job: Job) -> None:
        self._link.send(("cancel", self.name, job.seq))

    async def kill(self) -> None:
        self._link.send(("kill", self.name))

    def kill_now(self) -> None:
        self._link.kill_now()

    async def stop(self) -> None:
        self.alive = False
        self._link.send(("stop", self.name))


class RayExecutor(BaseExecutor):
    """Runs dreams on Ray actors (an existing cluster or a local Ray)."""

    backend = "ray"
    outage_reason = (
        "The dream cluster can't be reached right now; your dream stays queued and starts when it is back."
    )

    def __init__(self, config: ExecutorConfig) -> None:
        super().__init__(config)
        settings = DriverSettings(
            address=config.ray_address,
            namespace=config.ray_namespace,
            num_cpus=config.ray_num_cpus,
            ship_code=config.ray_ship_code,
            options=worker_options(config),
            start_timeout_s=config.worker_start_timeout_s,
            heartbeat_s=config.ray_heartbeat_s,
            log_level=logging.getLogger().getEffectiveLevel(),
        )
        self._link = RayDriverLink(settings, config.ray_connect_timeout_s)

    async def _create_slots(self) -> list[WorkerSlot]:
        cfg = self.config
        resources = await self._link.connect()
        gpus = float(resources.get("GPU", 0.0))
        per = cfg.ray_gpus_per_actor
        use_gpus = gpus > 0 and per > 0
        count = cfg.ray_actors or (max(1, int(gpus // per + 1e-9)) if use_gpus else 1)
        actor_opts: dict[str, Any] = {
            "num_cpus": cfg.ray_cpus_per_actor,
            "num_gpus": per if use_gpus else 0,
            "max_concurrency": 4,  # start/poll, cancel and info side by side
            "max_restarts": 0,  # the executor replaces dead actors itself
        }
        log.info("Ray cluster: %s; starting %d dream actor(s) with %s", resources, count, actor_opts)
        timeout = cfg.worker_start_timeout_s
        return [RayWorker(f"actor-{i}", self._link, actor_opts, timeout) for i in range(count)]

    def _unavailable(self) -> bool:
        return False  # a cluster that is down keeps the jobs queued until it is back

    async def _close_backend(self) -> None:
        await self._link.close()
