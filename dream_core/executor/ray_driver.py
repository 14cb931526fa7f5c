"""The Ray driver: a child process of the executor that holds the Ray connection.

Ray ends a driver process when it loses its cluster ("The connection to the
plasma store is failed. Terminate the process"). So the bot is never the
driver: :func:`driver_main` runs in a child process (``spawn``), connects
(``ray.init``: a cluster address, ``ray://`` Ray Client, or a local Ray it
starts), creates the :class:`~dream_core.executor.ray_actor.DreamActor` actors
and runs jobs on them; the executor (:mod:`.ray_link`) talks to it over a
pipe. When the cluster dies the child dies or reports it, and the executor
reconnects with a fresh child while the bot and its queue live on.

One keeper thread per actor starts it, runs its jobs by polling (each poll is
a heartbeat: no answer within ``heartbeat_s`` means a hung node) and checks
it while idle. Pipe messages, executor -> driver::

    ("start", name, actor_opts)  ("run", name, JobSpec)  ("cancel", name, seq)
    ("kill", name)  ("stop", name)  ("close",)

driver -> executor::

    ("connected", resources) | ("connect_failed", reason)
    ("started", name, info) | ("start_failed", name, reason)
    ("msg", name, worker_message)       progress / done / failed / cancelled
    ("lost", name, seq | None, cause)   the actor died or hung (running ``seq``, or idle)

When the executor's end of the pipe closes (it closed, or it died) the driver
kills its actors and disconnects.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

from dream_core.executor.worker import JobSpec, Message, WorkerOptions

log = logging.getLogger(__name__)

POLL_WAIT_S = 1.0  # a poll answers within this when nothing happened
IDLE_CHECK_EVERY_S = 2.0
CLUSTER_LOST = "the connection to the Ray cluster was lost"


@dataclass(frozen=True)
class DriverSettings:
    """How the driver connects and watches its actors (picklable)."""

    address: Optional[str]  # None: start a local Ray
    namespace: str
    num_cpus: Optional[int]  # of a local Ray
    ship_code: bool
    options: WorkerOptions
    start_timeout_s: float
    heartbeat_s: float
    log_level: int = logging.WARNING


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def _lost_cause(exc: BaseException) -> str:
    from ray import exceptions

    if isinstance(exc, exceptions.GetTimeoutError):
        return "its Ray node stopped responding"
    # Unreachable actor: its node went away. The message quotes the RPC error ("Connection reset
    # by peer"), which must not read as this driver's own connection being lost: that restarts
    # the driver, and the job's retry on another node is then counted as a second loss.
    unavailable = getattr(exceptions, "ActorUnavailableError", None)
    if unavailable is not None and isinstance(exc, unavailable):
        return "its Ray node was lost"
    text = str(exc).lower()
    if "node" in text and ("died" in text or "dead" in text):
        return "its Ray node was lost"
    if "connection" in text or isinstance(exc, ConnectionError):
        return CLUSTER_LOST
    return "its Ray actor died"


class _Keeper(threading.Thread):
    """One actor: started, run and checked from this thread; killed from any."""

    def __init__(self, name: str, actor_cls: Any, settings: DriverSettings, send: Callable[[Message], None]) -> None:
        super().__init__(name=f"keeper-{name}", daemon=True)
        self.actor_name = name
        self.commands: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self.actor: Optional[Any] = None
        self._actor_cls = actor_cls
        self._settings = settings
        self._send = send

    def run(self) -> None:
        while True:
            try:
                cmd = self.commands.get(timeout=IDLE_CHECK_EVERY_S)
            except queue.Empty:
                self._check_idle()
                continue
            if cmd[0] == "start":
                self._start(cmd[1])
            elif cmd[0] == "run":
                self._run(cmd[1])
            elif cmd[0] == "stop":
                return

    def kill(self) -> None:
        import ray

        actor, self.actor = self.actor, None
        if actor is not None:
            with contextlib.suppress(Exception):  # already gone, or the connection is
                ray.kill(actor, no_restart=True)

    def cancel(self, seq: int) -> None:
        if self.actor is not None:
            with contextlib.suppress(Exception):
                self.actor.cancel.remote(seq)

    def _start(self, actor_opts: dict[str, Any]) -> None:
        import ray
        from ray.exceptions import GetTimeoutError

        self.kill()
        s = self._settings
        actor = self.actor = self._actor_cls.options(**actor_opts).remote(s.options)
        try:
            info = ray.get(actor.info.remote(), timeout=s.start_timeout_s)
        except GetTimeoutError:
            self.kill()
            reason = f"Ray actor not ready within {s.start_timeout_s:.0f} s (not enough free CPUs/GPUs in the cluster?)"
            self._send(("start_failed", self.actor_name, reason))
            return
        except Exception as exc:
            self.kill()
            self._send(("start_failed", self.actor_name, f"Ray actor failed to start: {first_line(exc)}"))
            return
        if self.actor is actor:
            self._send(("started", self.actor_name, info))
        else:  # killed (stopped) while starting
            self._send(("start_failed", self.actor_name, "stopped while starting"))

    def _run(self, spec: JobSpec) -> None:
        import ray

        from dream_core.executor.ray_actor import TERMINAL

        actor = self.actor
        try:
            if actor is None:
                raise RuntimeError("no actor")
            # started before the first poll (a threaded actor runs calls side by side, in any order)
            ray.get(actor.start.remote(spec), timeout=self._settings.heartbeat_s)
            while True:
                batch = ray.get(actor.poll.remote(spec.seq, POLL_WAIT_S), timeout=self._settings.heartbeat_s)
                for msg in batch:
                    self._send(("msg", self.actor_name, msg))
                    if msg[0] in TERMINAL:
                        return
        except Exception as exc:
            cause = "it was stopped" if actor is None or self.actor is not actor else _lost_cause(exc)
            if "responding" in cause:
                cause += f" for {self._settings.heartbeat_s:g} s"
            log.warning("%s: lost during job %s: %s (%s)", self.actor_name, spec.seq, cause, first_line(exc))
            self._send(("lost", self.actor_name, spec.seq, cause))  # first: a kill can take seconds
            self.kill()
            if cause == CLUSTER_LOST:
                os._exit(3)  # a fresh driver reconnects (Ray Client does not come back by itself)

    def _check_idle(self) -> None:
        import ray

        actor = self.actor
        if actor is None:
            return
        try:
            ray.get(actor.info.remote(), timeout=self._settings.heartbeat_s)
        except Exception as exc:
            if self.actor is not actor:
                return  # killed meanwhile
            log.warning("%s: lost while idle: %s", self.actor_name, first_line(exc))
            cause = _lost_cause(exc)
            self._send(("lost", self.actor_name, None, cause))
            self.kill()
            if cause == CLUSTER_LOST:
                os._exit(3)


def _connect(settings: DriverSettings) -> None:
    import ray

    kwargs: dict[str, Any] = {"namespace": settings.namespace, "logging_level": logging.WARNING}
    if settings.ship_code:
        import dream_core

        kwargs["runtime_env"] = {"py_modules": [os.path.dirname(dream_core.__file__)]}
    if settings.address:
        ray.init(address=settings.address, **kwargs)
    else:
        ray.init(num_cpus=settings.num_cpus, include_dashboard=False, **kwargs)


def driver_main(conn: Any, settings: DriverSettings) -> None:
    """Entry point of the driver process (``spawn``)."""
    # Ray Client waits this long for a lost connection to come back before it gives up
    # (default 30 s); a connection down for a heartbeat is a lost cluster.
    os.environ.setdefault("RAY_CLIENT_RECONNECT_GRACE_PERIOD", str(max(1, round(settings.heartbeat_s))))
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s ray-driver: %(message)s")
    lock = threading.Lock()

    def send(msg: Message) -> None:
        try:
            with lock:
                conn.send(msg)
        except (OSError, ValueError):  # the executor is gone: nothing left to do
            os._exit(0)

    try:
        _connect(settings)
        import ray

        from dream_core.executor.ray_actor import DreamActor

        resources = {k: float(v) for k, v in ray.cluster_resources().items()}
    except Exception as exc:
        send(("connect_failed", first_line(exc)))
        return
    send(("connected", resources))
    actor_cls = ray.remote(DreamActor)
    keepers: dict[str, _Keeper] = {}
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            break
        op, name = msg[0], msg[1] if len(msg) > 1 else ""
        if op == "close":
            break
        keeper = keepers.get(name)
        if op == "start":
            if keeper is None:
                keeper = keepers[name] = _Keeper(name, actor_cls, settings, send)
                keeper.start()
            keeper.commands.put(("start", msg[2]))
        elif keeper is None:
            continue
        elif op == "run":
            keeper.commands.put(("run", msg[2]))
        elif op == "cancel":
            keeper.cancel(msg[2])
        elif op == "kill":
            keeper.kill()
        elif op == "stop":
            keeper.kill()
            keeper.commands.put(("stop",))
            del keepers[name]
    for keeper in keepers.values():
        keeper.kill()
    with contextlib.suppress(Exception):
        ray.shutdown()
    with contextlib.suppress(OSError, ValueError):
        conn.close()
