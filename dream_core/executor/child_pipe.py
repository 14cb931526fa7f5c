"""The reader loop of a child process's pipe: every message to the caller's event loop, then its end.

Worker processes (:mod:`.local`) and the Ray driver process (:mod:`.ray_link`) each
talk to the executor over a pipe, read by a thread that hands each message to the
event loop and, once the child is gone, one last ``(dead_kind, exit_code)``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from multiprocessing.connection import wait as mp_wait
from typing import Any

__all__ = ["read_until_exit"]


def read_until_exit(
    loop: asyncio.AbstractEventLoop,
    proc: Any,  # noqa: ANN401 - a multiprocessing process (spawn context)
    conn: Any,  # noqa: ANN401 - its end of the pipe
    deliver: Callable[[tuple[Any, ...]], None],
    dead_kind: str,
) -> None:
    """Run in a thread: call ``deliver(msg)`` on ``loop`` for every message ``proc`` sends, in
    order, including those still in the pipe when it exits; then ``deliver((dead_kind, exit code))``."""

    def post(msg: tuple[Any, ...]) -> None:
        with contextlib.suppress(RuntimeError):  # loop closed: nobody is listening any more
            loop.call_soon_threadsafe(deliver, msg)

    while True:
        try:
            ready = mp_wait([conn, proc.sentinel])
        except (OSError, ValueError):
            break
        if conn in ready:
            try:
                msg = conn.recv()
            except (EOFError, OSError, ValueError):
                break
            post(msg)
            continue
        with contextlib.suppress(EOFError, OSError, ValueError):  # the child exited: drain what it sent
            while conn.poll():
                post(conn.recv())
        break
    proc.join(5.0)
    post((dead_kind, proc.exitcode))
