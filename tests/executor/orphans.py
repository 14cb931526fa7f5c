"""Processes for the orphan tests (``python -m tests.executor.orphans ROLE ...``).

``owner PNG``: a process that owns a real local executor (two CPU workers), starts
a long dream of a 1600 px picture on one (the other idles), prints its own pid once the dream reports
progress, and then blocks its event loop: only a kill ends it.

``blocked``: a process that starts the parent watcher and then blocks its main
thread (as a long dream step or model load does), printing its pid.
``blocked-poll``: the same with the watcher's polling fallback (no pidfd).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

#: a dream whose every step takes seconds (1600 px, one thread): the worker is caught inside one
LONG_BIG = {"octaves": 1, "iterations": 500, "jitter": 8, "max_size": 1600}


async def _own_an_executor(png: Path) -> None:
    from dream_core.executor import JobProgress, create_executor
    from tests.executor.helpers import make_config

    ex = create_executor(make_config("local", devices=("cpu", "cpu"), progress_every_s=0.25))
    await ex.start()
    job = await ex.submit(png.read_bytes(), LONG_BIG, user_id=1)
    async for ev in job.events():
        if isinstance(ev, JobProgress):
            break
    print(os.getpid(), flush=True)
    time.sleep(300)


def _blocked(poll: bool) -> None:
    from dream_core.executor import parent_watch

    if poll:
        parent_watch._open_pidfd = lambda pid: None  # as on a kernel without pidfd_open
    parent_watch.exit_with_parent(os.getppid(), poll_s=0.5)
    print(os.getpid(), flush=True)
    time.sleep(300)


if __name__ == "__main__":
    role = sys.argv[1]
    if role == "owner":
        asyncio.run(_own_an_executor(Path(sys.argv[2])))
    else:
        _blocked(poll=role == "blocked-poll")
