"""The Ray backend as the README deploys it: a real multi-node cluster reached through Ray Client.

One cluster for the module, started with the ``ray`` command (``ray start --head``
plus two ``ray start --address`` worker nodes with 1 CPU each, on 127.0.0.1, token
authentication on); the executor joins it with the documented
``ray_address="ray://HEAD:10001"`` and otherwise default settings. Then the faults
of a real cluster, in order: a worker node killed mid-dream, a hung node
(SIGSTOP), the whole cluster lost and started again, and a clean close. Every
process of the cluster is killed when the module ends, whatever happened.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import pytest_asyncio

from dream_core.executor import Done, ExecutorConfig, JobProgress, Started, Waiting, create_executor
from tests.executor.helpers import MEDIUM, QUICK, wait_running, wait_until
from tests.executor.ray_cluster import RayCluster, gone

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(420)]

#: what the tests measured, printed at the end of the module (pytest -s shows it)
MEASURED: dict[str, float] = {}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = RayCluster(tmp_path_factory.mktemp("ray"))
    saved = {k: os.environ.get(k) for k in c.auth_env}
    try:
        c.start(nodes=2)
        os.environ.update(c.auth_env)  # what the bot's environment has (.env): the driver inherits it
        yield c
    finally:
        c.destroy()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if MEASURED:
            print("\nRay cluster measurements:", ", ".join(f"{k} {v:.1f} s" for k, v in MEASURED.items()))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def executor(cluster):
    # The documented settings: the backend, the Ray Client address, one CPU actor per node
    # (a cluster without GPUs gets 1 actor by default; the README's DREAMBOT_RAY_ACTORS).
    config = ExecutorConfig(
        backend="ray", ray_address=cluster.client_address, ray_actors=2, torch_threads=1, progress_every_s=0.0
    )
    ex = create_executor(config)
    await ex.start()
    yield ex
    await ex.close()


def slot_of(executor, job):
    for slot in executor._slots:
        if slot.job is job:
            return slot
    raise AssertionError(f"{job.id} is not running")


async def first_event(job, kind, after: int = 0):
    """The first event of ``kind`` in the job's stream after its ``after`` first events."""
    i = 0
    async for ev in job.events():
        i += 1
        if i > after and isinstance(ev, kind):
            return ev
    raise AssertionError(f"{job.id} ended without {kind.__name__}: {job.history[-1]}")


async def test_dreams_run_on_actors_on_two_nodes_through_ray_client(executor, small_png):
    nodes = {slot.node for slot in executor._slots}
    assert len(nodes) == 2 and None not in nodes, "one actor per worker node"
    jobs = [await executor.submit(small_png, QUICK, user_id=u) for u in (1, 2)]
    for job in jobs:
        assert isinstance(await asyncio.wait_for(job.wait(), 120), Done), job.history[-1]
    assert {job.worker for job in jobs} == {"actor-0", "actor-1"}


async def _fault_mid_dream(executor, cluster, small_png, sig: int, key: str) -> None:
    """Signal the node of a running dream; it must be noticed, retried on the other actor and done."""
    job = await executor.submit(small_png, MEDIUM, user_id=10)
    await wait_running(job)
    slot = slot_of(executor, job)
    first_worker, node = slot.name, cluster.node_of(slot.pid)
    t0 = time.monotonic()
    cluster.signal_all(node, sig)
    try:
        told = await asyncio.wait_for(first_event(job, Waiting), 60)
        detected = time.monotonic() - t0
        assert told.retry and "lost" in told.reason and "another worker" in told.reason, told.reason
        assert isinstance(await asyncio.wait_for(job.wait(), 120), Done), job.history[-1]
        MEASURED[f"{key}: noticed after"] = detected
        MEASURED[f"{key}: retried dream done after"] = time.monotonic() - t0
        assert job.worker != first_worker
        assert detected < 15.0, f"noticed after {detected:.1f} s"
    finally:
        if sig == signal.SIGSTOP:  # the hung node never comes back: it is lost for good
            cluster.signal_all(node, signal.SIGCONT)
            cluster.signal_all(node, signal.SIGKILL)
    # The lost actor's replacement waits for capacity (no free CPU) until a node joins.
    assert executor.status().workers_alive == 1
    await asyncio.to_thread(cluster.add_node)
    await wait_until(lambda: executor.status().workers_alive == 2, 240, every=0.5)


async def test_a_node_killed_mid_dream_is_noticed_and_the_dream_runs_again_on_the_other(
    executor, cluster, small_png
):
    await _fault_mid_dream(executor, cluster, small_png, signal.SIGKILL, "killed node")


async def test_a_hung_node_is_noticed_within_15_s_and_the_dream_runs_again_on_the_other(
    executor, cluster, small_png
):
    await _fault_mid_dream(executor, cluster, small_png, signal.SIGSTOP, "hung node")


async def test_a_lost_cluster_keeps_jobs_queued_and_they_run_when_it_is_back(executor, cluster, small_png):
    running = [await executor.submit(small_png, {**MEDIUM, "iterations": 300}, user_id=u) for u in (20, 21)]
    queued = await executor.submit(small_png, QUICK, user_id=22)
    for job in running:
        await wait_running(job)
    seen = len(queued.history)
    t0 = time.monotonic()
    await asyncio.to_thread(cluster.destroy)

    told = await asyncio.wait_for(first_event(queued, Waiting, after=seen), 90)
    MEASURED["lost cluster: queued jobs told after"] = time.monotonic() - t0
    assert "can't be reached" in told.reason and "stays queued" in told.reason
    for job in running:
        assert (await asyncio.wait_for(first_event(job, Waiting), 30)).retry
    assert not any(job.done for job in [*running, queued])
    assert executor.status().workers_alive == 0 and executor.status().queue_depth == 3

    await asyncio.to_thread(cluster.start, 2)  # the same addresses, as an operator restarts it
    t1 = time.monotonic()
    for job in [*running, queued]:
        assert isinstance(await asyncio.wait_for(job.wait(), 240), Done), job.history[-1]
    MEASURED["lost cluster: all done after it was back"] = time.monotonic() - t1
    assert all([type(e) for e in job.history].count(Started) == 2 for job in running)
    assert executor.status().workers_alive == 2


async def test_close_releases_the_actors_at_once(executor, small_png):
    job = await executor.submit(small_png, {**MEDIUM, "iterations": 400}, user_id=30)
    await first_event(job, JobProgress)
    pids = [slot.pid for slot in executor._slots]
    assert pids and all(pid and not gone(pid) for pid in pids)
    t0 = time.monotonic()
    await executor.close()
    closed = time.monotonic() - t0
    await wait_until(lambda: all(gone(pid) for pid in pids), 30)
    MEASURED["close: actors gone after"] = time.monotonic() - t0
    assert closed < 10.0


OWNER = """
import asyncio, sys
from dream_core.executor import ExecutorConfig, create_executor

async def main():
    ex = create_executor(ExecutorConfig(backend="ray", ray_address=sys.argv[1], ray_actors=1, torch_threads=1))
    await ex.start()
    print(ex._slots[0].pid, ex._link._proc.pid, flush=True)
    await asyncio.sleep(600)  # never closes: only a signal ends it

if __name__ == "__main__":
    asyncio.run(main())
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
async def test_a_bot_that_dies_without_closing_leaves_no_actor(cluster, tmp_path, sig):
    """SIGTERM with no handler (the default) or kill -9: the driver sees its pipe close and releases the actors."""
    script = tmp_path / "owner.py"
    script.write_text(OWNER)
    root = str(Path(__file__).resolve().parents[2])
    owner = subprocess.Popen(  # (not asyncio's: its wait() also waits for the driver, which shares stdout)
        [sys.executable, str(script), cluster.client_address], cwd=root, env={**os.environ, "PYTHONPATH": root},
        stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        line = await asyncio.wait_for(asyncio.to_thread(owner.stdout.readline), 180)
        actor, driver = (int(x) for x in line.split())
        assert not gone(actor) and not gone(driver)
        t0 = time.monotonic()
        owner.send_signal(sig)
        await asyncio.to_thread(owner.wait, 10)
        await wait_until(lambda: gone(actor) and gone(driver), 30, every=0.1)
        MEASURED[f"owner {signal.Signals(sig).name}: actor and driver gone after"] = time.monotonic() - t0
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
