"""No orphans: every process an executor started ends within seconds of a ``kill -9`` of its owner.

Real processes throughout (issue 17 §3): the owner runs a real local executor, one
worker mid-dream and one idle; nothing of the owner's runs after the kill (no
``close()``), so the workers must notice on their own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.executor.processes import descendants, gone, seconds_until_gone

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def kill_and_time(owner: subprocess.Popen, pids: set[int], limit_s: float) -> float:
    """``kill -9`` the owner; seconds until all of ``pids`` are gone (any left are killed after ``limit_s``)."""
    t0 = time.monotonic()
    owner.send_signal(signal.SIGKILL)
    owner.wait(10)
    delay, left = seconds_until_gone(pids, t0, limit_s)
    assert not left, f"still running {delay:.1f} s after their owner was killed: {sorted(left)}"
    return delay


@pytest.mark.slow  # starts processes
@pytest.mark.parametrize("role", ["blocked", "blocked-poll"])
def test_a_process_whose_main_thread_is_busy_exits_when_its_parent_dies(role):
    """The watcher thread ends the process even while its main thread never returns (a long
    dream step, a model load): with a pidfd, and with the polling fallback."""
    parent = subprocess.Popen(
        [sys.executable, "-c",
         f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-m', 'tests.executor.orphans', {role!r}]); "
         "time.sleep(300)"],
        stdout=subprocess.PIPE, cwd=ROOT, env=ENV,
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        time.sleep(0.3)
        assert not gone(child)
        delay = kill_and_time(parent, {child}, limit_s=3.0)
        assert delay < (0.5 if role == "blocked" else 1.5), delay
    finally:
        if parent.poll() is None:
            parent.kill()


@pytest.mark.slow  # an executor with two worker processes
def test_every_worker_exits_within_seconds_when_the_executor_process_is_killed(tmp_path, sample_image):
    """One worker mid-dream (inside a 1600 px step: seconds long), one idle; the owner is killed with SIGKILL.
    Every process it started (both workers and multiprocessing's resource tracker) is gone
    within 3 s; the measured delay is printed."""
    png = tmp_path / "in.png"
    sample_image.resize((1600, 1600 * sample_image.height // sample_image.width)).save(png)
    owner = subprocess.Popen(
        [sys.executable, "-m", "tests.executor.orphans", "owner", str(png)],
        stdout=subprocess.PIPE, cwd=ROOT, env=ENV,
    )
    try:
        assert owner.stdout is not None
        line = owner.stdout.readline()
        assert line.strip(), "the owner did not get its dream going"
        pids = descendants(owner.pid)
        assert len(pids) >= 2, pids
        time.sleep(0.5)  # well inside a dream step
        delay = kill_and_time(owner, pids, limit_s=3.0)
        print(f"every process of the killed executor gone after {delay:.2f} s")
    finally:
        if owner.poll() is None:
            owner.kill()
