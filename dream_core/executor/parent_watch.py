"""A worker process ends itself when the process that started it is gone.

A bot killed with ``kill -9`` (or by the out-of-memory killer) runs no
clean-up: its worker processes would live on holding a model, memory and the
GPU. :func:`exit_with_parent` starts a daemon thread that ends this process with
``os._exit`` as soon as its parent dies, whatever the main thread is doing (a
dream step, loading a model, encoding a clip).

The thread waits on a pidfd of the parent (Linux 5.3+: readable the moment the
parent exits, no polling) and otherwise checks ``os.getppid()`` every
``poll_s``. ``prctl(PR_SET_PDEATHSIG)`` is not used: it fires when the *thread*
that started the worker exits, and the executor starts workers from a thread
pool.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
from typing import Optional

log = logging.getLogger(__name__)

#: the exit status of a worker that ended because its parent was gone
ORPHAN_EXIT_CODE = 3


def exit_with_parent(parent_pid: int, poll_s: float = 0.5) -> threading.Thread:
    """Start the watcher thread: this process exits once ``parent_pid`` is no longer its parent."""
    thread = threading.Thread(target=_watch, args=(parent_pid, poll_s), name="parent-watch", daemon=True)
    thread.start()
    return thread


def _watch(parent_pid: int, poll_s: float) -> None:
    pidfd = _open_pidfd(parent_pid)
    try:
        while os.getppid() == parent_pid:
            if pidfd is None:
                threading.Event().wait(poll_s)
            else:
                select.select([pidfd], [], [], poll_s)  # readable when the parent has exited
    finally:
        if pidfd is not None:
            with contextlib.suppress(OSError):
                os.close(pidfd)
    with contextlib.suppress(Exception):  # stderr may be gone with the parent
        log.warning("parent process %d is gone; worker %d exits", parent_pid, os.getpid())
    os._exit(ORPHAN_EXIT_CODE)


def _open_pidfd(pid: int) -> Optional[int]:
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None:
        return None
    try:
        return int(pidfd_open(pid))
    except OSError:  # an old kernel, a sandbox, or the parent is already gone (the loop sees that)
        return None
