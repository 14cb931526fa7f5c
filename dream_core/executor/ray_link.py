"""`RayDriverLink`: the executor's end of the pipe to its Ray driver process.

The driver (:mod:`.ray_driver`) is a ``spawn`` child that holds the Ray
connection, so Ray can never end the bot's own process. A reader thread waits
on the pipe *and* the child's sentinel: the driver's messages go to the slot
they name (in the event loop), and when the child dies (the cluster was lost;
Ray ends its driver then) every slot is told at once. :meth:`connect` starts a
fresh child when there is none: the slots' restarts (with back-off) reconnect
to a cluster that comes back. No Ray is imported in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import multiprocessing
import threading
from typing import Any, Optional, Protocol

from dream_core.executor.child_pipe import read_until_exit
from dream_core.executor.errors import WorkerStartError
from dream_core.executor.ray_driver import CLUSTER_LOST, DriverSettings, driver_main

log = logging.getLogger(__name__)

_DEAD = "__dead__"
CONNECT_RETRY_S = 3.0


class LinkedSlot(Protocol):
    name: str

    def deliver(self, msg: tuple[Any, ...]) -> None: ...

    def link_lost(self, cause: str) -> None: ...


class RayDriverLink:
    """Starts the driver process on demand, forwards messages both ways."""

    def __init__(self, settings: DriverSettings, connect_timeout_s: float) -> None:
        self.settings = settings
        self.connect_timeout_s = connect_timeout_s
        self.resources: dict[str, float] = {}
        self._ctx = multiprocessing.get_context("spawn")
        self._proc: Optional[Any] = None
        self._conn: Optional[Any] = None
        self._send_lock = threading.Lock()
        self._lock: Optional[asyncio.Lock] = None
        self._connected: Optional[asyncio.Future[tuple[Any, ...]]] = None
        self._slots: dict[str, LinkedSlot] = {}
        self._generation = 0
        self.connects = 0

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive() and self._conn is not None

    def register(self, slot: LinkedSlot) -> None:
        self._slots[slot.name] = slot

    async def connect(self) -> dict[str, float]:
        """A connected driver (started if there is none); its cluster's resources. Raises WorkerStartError."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.alive:
                return self.resources
            await self._reap()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.connect_timeout_s
            while True:  # a cluster that is still starting refuses clients for a while: a fresh driver tries again
                try:
                    return await self._start(max(1.0, deadline - loop.time()))
                except WorkerStartError as exc:
                    if loop.time() + CONNECT_RETRY_S >= deadline:
                        raise
                    log.warning("%s; trying again", exc)
                await asyncio.sleep(CONNECT_RETRY_S)

    async def _start(self, timeout_s: float) -> dict[str, float]:
        loop = asyncio.get_running_loop()
        self._generation += 1
        gen = self._generation
        parent_conn, child_conn = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(target=driver_main, args=(child_conn, self.settings), name="dreambot-ray-driver")
        self._connected = loop.create_future()
        await asyncio.to_thread(proc.start)
        child_conn.close()
        self._proc, self._conn = proc, parent_conn
        threading.Thread(
            target=read_until_exit,
            args=(loop, proc, parent_conn, functools.partial(self._deliver, gen), _DEAD),
            name="ray-driver-reader",
            daemon=True,
        ).start()
        where = self.settings.address or "a local Ray"
        try:
            msg = await asyncio.wait_for(asyncio.shield(self._connected), timeout_s)
        except asyncio.TimeoutError:
            msg = ("connect_failed", f"no answer within {timeout_s:.0f} s")
        if msg[0] != "connected":
            await self._reap()
            raise WorkerStartError(f"could not connect to {where}: {msg[1]}")
        self.resources = dict(msg[1])
        self.connects += 1
        log.info("Ray driver (pid %s) connected to %s: %s", proc.pid, where, self.resources)
        return self.resources

    def send(self, msg: tuple[Any, ...]) -> None:
        conn = self._conn
        if conn is None:
            return  # no driver: the slots were (or are being) told
        with self._send_lock, contextlib.suppress(OSError, ValueError):
            conn.send(msg)

    async def close(self, timeout_s: float = 15.0) -> None:
        """Ask the driver to kill its actors and disconnect; wait for it (then kill it)."""
        self.send(("close",))
        await self._reap(timeout_s)

    def kill_now(self) -> None:
        """At interpreter exit: close if the driver answers within a few seconds, else kill it."""
        proc = self._proc
        if proc is None:
            return
        self.send(("close",))
        proc.join(5.0)
        if proc.is_alive():
            proc.kill()

    async def _reap(self, timeout_s: float = 5.0) -> None:
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        self._generation += 1  # the old reader's news is stale from now on
        if proc is not None:
            await asyncio.to_thread(proc.join, timeout_s)
            if proc.is_alive():
                log.warning("Ray driver (pid %s) did not exit; killing it", proc.pid)
                proc.kill()
                await asyncio.to_thread(proc.join, 5.0)
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()

    # --- the reader thread ---------------------------------------------------------

    def _deliver(self, gen: int, msg: tuple[Any, ...]) -> None:
        if gen != self._generation:
            return
        kind = msg[0]
        if kind in ("connected", "connect_failed"):
            if self._connected is not None and not self._connected.done():
                self._connected.set_result(msg)
            return
        if kind == _DEAD:
            log.warning("Ray driver ended (exit code %s): %s", msg[1], CLUSTER_LOST)
            if self._connected is not None and not self._connected.done():
                self._connected.set_result(("connect_failed", f"the Ray driver exited (code {msg[1]})"))
            if self._conn is not None:
                with contextlib.suppress(OSError):
                    self._conn.close()
            self._proc, self._conn = None, None
            for slot in list(self._slots.values()):
                slot.link_lost(CLUSTER_LOST)
            return
        named = self._slots.get(msg[1])
        if named is not None:
            named.deliver(msg)
