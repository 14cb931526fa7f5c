"""`DreamActor`: one Ray actor that runs dream jobs, holding its models warm.

Decorated with ``ray.remote`` where it is used (:mod:`.ray_driver`). A job is
started with :meth:`DreamActor.start` and followed with :meth:`DreamActor.poll`,
which hands over the worker messages of :mod:`dream_core.executor.worker`
(progress first, the result last) as they come. Plain actor calls only: no
streaming generators, which Ray Client (``ray://``) does not support. Each
``poll`` answers within about a second even when nothing happened, so the
driver that calls it knows the actor is alive while it dreams (a heartbeat):
an actor that stops answering is a hung node.
"""

from __future__ import annotations

import os
import queue
import threading
from typing import Any

import ray

from dream_core.executor.worker import JobSpec, Message, WorkerOptions, execute_job, setup_worker

TERMINAL = ("done", "failed", "cancelled")


class DreamActor:
    """Runs one dream job at a time on one Ray worker process."""

    def __init__(self, options: WorkerOptions) -> None:
        gpu_ids = ray.get_gpu_ids()
        # Ray sets CUDA_VISIBLE_DEVICES to this actor's GPU(s): "cuda" is ours.
        self.device = "cuda" if gpu_ids else "cpu"
        self.options = options
        self.cache = setup_worker(self.device, options)
        self._cancel_seq = 0
        self._seq = 0
        self._messages: queue.Queue[Message] = queue.Queue()

    def info(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "device": self.device,
            "node": ray.get_runtime_context().get_node_id(),
            "gpus": [str(g) for g in ray.get_gpu_ids()],
        }

    def cancel(self, seq: int) -> None:
        self._cancel_seq = seq

    def start(self, spec: JobSpec) -> None:
        """Start ``spec`` in a thread; its messages wait for :meth:`poll`."""
        self._seq = spec.seq
        messages: queue.Queue[Message] = queue.Queue()
        self._messages = messages

        def work() -> None:
            try:
                out: Message = execute_job(
                    spec, self.device, self.options, messages.put, lambda: self._cancel_seq == spec.seq, self.cache
                )
            except BaseException as exc:  # never leave the poller waiting
                out = ("failed", spec.seq, f"Internal error while dreaming ({type(exc).__name__}).", "internal")
            messages.put(out)

        threading.Thread(target=work, name=f"dream-{spec.seq}", daemon=True).start()

    def poll(self, seq: int, wait_s: float) -> list[Message]:
        """The messages of job ``seq`` since the last poll; waits up to ``wait_s`` for the first."""
        if seq != self._seq:
            return [("failed", seq, "The dream actor does not know this dream (it was restarted).", "worker_died")]
        messages = self._messages
        out: list[Message] = []
        try:
            out.append(messages.get(timeout=wait_s))
            while True:
                out.append(messages.get_nowait())
        except queue.Empty:
            pass
        return out
