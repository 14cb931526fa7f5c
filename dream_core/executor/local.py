"""The local backend: one worker process per device on this machine.

Workers are started with the ``spawn`` multiprocessing context (never fork a
process that may hold CUDA or an event loop) and run
:func:`dream_core.executor.worker.worker_main`. Each has a duplex pipe to the
executor and a shared integer used as its cancel flag. A reader thread per
worker waits on the pipe *and* the process sentinel, so a worker that dies
(killed, segfault, out-of-memory killer) is noticed at once: its job fails with
a clear reason and the worker is restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Sequence
from typing import Any, Optional

from dream_core.cpu_share import usable_cores
from dream_core.executor.base import BaseExecutor
from dream_core.executor.child_pipe import read_until_exit
from dream_core.executor.config import ExecutorConfig
from dream_core.executor.devices import default_devices
from dream_core.executor.errors import WorkerStartError
from dream_core.executor.events import Failed, JobEvent
from dream_core.executor.job import Job
from dream_core.executor.messages import progress_event, terminal_event
from dream_core.executor.slot import WorkerSlot
from dream_core.executor.worker import JobSpec, WorkerOptions, worker_main

log = logging.getLogger(__name__)

_DEAD = "__dead__"


def cpu_threads_per_worker(devices: Sequence[str], shared: bool = False) -> Optional[int]:
    """Torch threads for each CPU worker (None when no worker is on CPU).

    One CPU worker gets every core. N CPU workers get cores/N each, so they
    never fight over cores (oversubscribed threads make every dream slower) —
    unless their dreams share the CPU (``shared``, :mod:`dream_core.cpu_share`):
    then each may use every core, and takes what the others leave free (a lone
    dream every core, two at once one each on two cores).
    """
    n_cpu = sum(1 for d in devices if not d.startswith("cuda"))
    if not n_cpu:
        return None
    cores = usable_cores()
    return cores if shared else max(1, cores // n_cpu)


def worker_options(config: ExecutorConfig, devices: Sequence[str] = ()) -> WorkerOptions:
    """What every worker is told; ``devices``: all the workers' devices (for the thread split)."""
    return WorkerOptions(
        max_bytes=config.max_attachment_bytes,
        max_pixels=config.max_pixels,
        max_size=config.max_size,
        preload_models=config.preload_models,
        model_cache_size=config.model_cache_size,
        torch_threads=config.torch_threads or cpu_threads_per_worker(devices, config.cpu_share == "auto"),
        cpu_share=config.cpu_share,
        progress_interval_s=config.progress_every_s,
        preview_size=config.preview_size,
        log_level=logging.getLogger().getEffectiveLevel(),
    )


def describe_exit(exitcode: Optional[int]) -> str:
    """'was killed by SIGKILL, possibly out of memory', 'exited with code 1', ..."""
    if exitcode is None:
        return "stopped responding"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        extra = ", possibly out of memory" if -exitcode == signal.SIGKILL else ""
        return f"was killed by {name}{extra}"
    return f"exited with code {exitcode}"


class LocalWorker(WorkerSlot):
    """A worker process bound to one device."""

    def __init__(self, name: str, device: str, options: WorkerOptions, start_timeout_s: float) -> None:
        super().__init__(name, device)
        self._options = options
        self._start_timeout_s = start_timeout_s
        self._ctx = multiprocessing.get_context("spawn")
        self._proc: Optional[Any] = None
        self._conn: Optional[Any] = None
        self._cancel_seq: Optional[Any] = None
        self._inbox: Optional[asyncio.Queue[tuple[Any, ...]]] = None
        self._ready: Optional[asyncio.Future[tuple[Any, ...]]] = None
        self._generation = 0

    # --- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._generation += 1
        gen = self._generation
        parent_conn, child_conn = self._ctx.Pipe(duplex=True)
        cancel_seq = self._ctx.Value("q", 0, lock=False)
        proc = self._ctx.Process(
            target=worker_main,
            args=(child_conn, cancel_seq, self.device, self._options, os.getpid()),
            name=f"dreambot-{self.name}",
            daemon=True,
        )
        self._inbox = asyncio.Queue()
        self._ready = loop.create_future()
        await asyncio.to_thread(proc.start)
        child_conn.close()
        self._proc, self._conn, self._cancel_seq = proc, parent_conn, cancel_seq
        self.pid = proc.pid
        threading.Thread(
            target=read_until_exit,
            args=(loop, proc, parent_conn, functools.partial(self._deliver, gen), _DEAD),
            name=f"{self.name}-reader",
            daemon=True,
        ).start()
        try:
            msg = await asyncio.wait_for(asyncio.shield(self._ready), self._start_timeout_s)
        except asyncio.TimeoutError:
            self._kill_proc()
            raise WorkerStartError(f"{self.name} did not become ready within {self._start_timeout_s:.0f} s") from None
        if msg[0] != "ready":
            self._kill_proc()
            raise WorkerStartError(f"{self.name} on {self.device} failed to start: {msg[1]}")
        self.alive = True
        log.info("%s ready on %s (pid %s)", self.name, self.device, self.pid)

    async def stop(self) -> None:
        proc, conn = self._proc, self._conn
        self.alive = False
        if proc is None:
            return
        if proc.is_alive() and conn is not None:
            with contextlib.suppress(OSError, ValueError):
                conn.send(("stop",))
        await asyncio.to_thread(proc.join, 5.0)
        if proc.is_alive():
            proc.terminate()
            await asyncio.to_thread(proc.join, 2.0)
        if proc.is_alive():
            proc.kill()
            await asyncio.to_thread(proc.join, 2.0)
        self._proc = None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()

    async def kill(self) -> None:
        self._kill_proc()

    def kill_now(self) -> None:
        self._kill_proc()

    def _kill_proc(self) -> None:
        proc = self._proc
        if proc is not None and proc.is_alive():
            log.warning("killing %s (pid %s)", self.name, proc.pid)
            proc.kill()

    # --- jobs ---------------------------------------------------------------------------

    def request_cancel(self, job: Job) -> None:
        if self._cancel_seq is not None:
            self._cancel_seq.value = job.seq

    async def run(self, job: Job, spec: JobSpec) -> JobEvent:
        assert self._inbox is not None and self._conn is not None
        # Drop stale messages of an earlier job (e.g. one that ended during a cancel).
        while not self._inbox.empty():
            stale = self._inbox.get_nowait()
            if stale[0] == _DEAD:
                self._inbox.put_nowait(stale)
                break
        with contextlib.suppress(OSError, ValueError):  # the worker died; its death message follows
            await asyncio.to_thread(self._conn.send, ("job", spec))
        while True:
            msg = await self._inbox.get()
            kind = msg[0]
            if kind == _DEAD:
                self.alive = False
                return Failed(f"its process {describe_exit(msg[1])}", "worker_died")  # the executor words it
            if len(msg) < 2 or msg[1] != spec.seq:
                continue
            if kind == "progress":
                job.emit(progress_event(msg[2]))
            elif kind in ("done", "failed", "cancelled"):
                return terminal_event(msg, job)

    # --- the reader thread ---------------------------------------------------------

    def _deliver(self, gen: int, msg: tuple[Any, ...]) -> None:
        if gen != self._generation:
            return  # a message from a previous process of this slot
        kind = msg[0]
        if kind in ("ready", "start_failed"):
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(msg)
            return
        if kind == _DEAD:
            was_alive = self.alive
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(("start_failed", f"worker {describe_exit(msg[1])} while starting"))
            self.alive = False
            if self.job is not None:
                assert self._inbox is not None
                self._inbox.put_nowait(msg)
            elif was_alive and self.on_dead is not None:
                log.warning("%s: worker %s", self.name, describe_exit(msg[1]))
                self.on_dead(self)
            return
        if self._inbox is not None:
            self._inbox.put_nowait(msg)


class LocalExecutor(BaseExecutor):
    """Runs dreams in worker processes on this machine (one per device)."""

    backend = "local"

    async def _create_slots(self) -> list[WorkerSlot]:
        devices = self.config.devices
        if not devices:
            devices = await asyncio.to_thread(default_devices)
        options = worker_options(self.config, devices)
        return [
            LocalWorker(f"worker-{i}-{dev.replace(':', '')}", dev, options, self.config.worker_start_timeout_s)
            for i, dev in enumerate(devices)
        ]

