"""Processes as /proc shows them: whether one still runs, and what a process started."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path


def gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (a zombie counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True
    return state in ("Z", "X")


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (children, their children, ...)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return {p for p in found if not gone(p)}


def seconds_until_gone(pids: Iterable[int], since: float, limit_s: float) -> tuple[float, set[int]]:
    """Wait until every one of ``pids`` is gone, at most until ``since + limit_s`` (``time.monotonic``);
    the seconds since ``since`` and the pids still running, which are then killed (no stray processes)."""
    pids = set(pids)
    while any(not gone(p) for p in pids) and time.monotonic() - since < limit_s:
        time.sleep(0.02)
    delay = time.monotonic() - since
    left = {p for p in pids if not gone(p)}
    for p in left:
        os.kill(p, signal.SIGKILL)
    return delay, left
