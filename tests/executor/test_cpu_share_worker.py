"""A CPU worker with the default settings shares the box: while another process keeps a core
busy, its dream runs on one thread (torch's OpenMP helper thread stays idle) instead of
splitting every operator over both cores and waiting, spinning, for the one that is preempted."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dream_core.executor import ExecutorConfig, create_executor
from dream_core.params import DreamParams
from tests.images import png_bytes

pytestmark = [
    pytest.mark.slow,  # starts a worker process and a spinning one
    pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores"),
]


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of each thread of ``pid``."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(task.name)] = (int(fields[11]) + int(fields[12])) / tick
    return out


@pytest.mark.asyncio(loop_scope="session")
async def test_a_busy_core_leaves_the_dream_one_thread(sample_image):
    img = sample_image.copy()
    img.thumbnail((320, 320))
    picture = png_bytes(img)
    params = DreamParams(octaves=2, iterations=24, seed=3, max_size=320)  # >= 0.5 s on fast CPUs
    async with create_executor(ExecutorConfig(max_size=320)) as ex:  # the defaults a bot's worker gets
        worker = ex.status().workers[0]
        assert worker.device == "cpu"
        await (await ex.submit(picture, params, user_id=1)).result()  # warm: models, tunings
        spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            time.sleep(1.5)  # a second of the sampler's window sees it
            before = thread_cpu(worker.pid)
            result = await (await ex.submit(picture, params, user_id=1)).result()
            after = thread_cpu(worker.pid)
        finally:
            spin.kill()
            spin.wait()
    used = sorted((after[t] - before.get(t, 0.0) for t in after), reverse=True)
    # the dream ran, on its main thread (most of its time: it is not waiting for a second one)
    assert result.seconds > 0 and used[0] > 0.5 * result.seconds, (used, result.seconds)
    # Split over two threads (sharing off), the second would have done about half the work
    # and spun waiting for the first: here it does next to nothing.
    assert used[1] < 0.25 * used[0], used
