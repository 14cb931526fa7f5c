"""Atlas jobs in the executor (issue 16 §3): the same events, progress and Cancel as a dream,
on both backends, and never ahead of a dream."""

from __future__ import annotations

import asyncio
import io

import pytest
from PIL import Image

from dream_core.atlas.lookup import cached_sheet, sheet_keys
from dream_core.atlas.sheet import read_atlas_meta
from dream_core.executor import AtlasJob, Cancelled, Done, Failed, JobProgress, Queued, Started, create_executor
from dream_core.executor.atlas_jobs import keep_renders, local_cache
from dream_core.executor.base import BaseExecutor
from dream_core.executor.slot import WorkerSlot
from dream_core.executor.worker import JobSpec, WorkerOptions, execute_job
from dream_core.params import DreamParams
from tests.atlas.renderer import counted_renderer
from tests.executor.helpers import QUICK, make_config, wait_running

ASYNC = pytest.mark.asyncio(loop_scope="session")

LITE0 = "efficientnet-lite0"
TINY = AtlasJob(LITE0, "mixed3", (0, 1, 2), size=32, steps=2)
LONG_ATLAS = AtlasJob(LITE0, "mixed4", tuple(range(16)), size=64, steps=400)  # many seconds unless stopped
OPTIONS = WorkerOptions(max_bytes=10**7, max_pixels=10**7, max_size=1024, progress_interval_s=0.0, preview_size=32)


class NoWorkers(BaseExecutor):
    backend = "none"

    async def _create_slots(self) -> list[WorkerSlot]:
        return []


@ASYNC
async def test_submit_atlas_checks_the_request_and_queues_behind_dreams():
    async with NoWorkers(make_config("local")) as ex:
        bad = await ex.submit_atlas(AtlasJob(LITE0, "mixed4", (500,)), user_id=1)
        assert isinstance(bad.history[-1], Failed) and bad.history[-1].kind == "params"
        assert "500 is out of range: mixed4 of efficientnet-lite0 has 112 filters" in bad.history[-1].reason
        atlas = await ex.submit_atlas(TINY, user_id=1, guild_id=5)
        assert atlas.history == (Queued(1),) and atlas.atlas == TINY
        assert atlas.params.model == LITE0 and atlas.params.layer == "mixed3"
        dream = await ex.submit(None, QUICK, user_id=2)
        assert dream.position == 1 and atlas.position == 2  # the dream goes first
        assert ex.status().queue_depth == 2 and ex.status().per_guild == {5: 1}
        assert await atlas.cancel() and isinstance(atlas.history[-1], Cancelled)


@pytest.mark.slow  # the real model in this process
def test_the_worker_renders_an_atlas_job_with_progress_and_stops_when_cancelled(tmp_path, monkeypatch):
    renderer = counted_renderer(monkeypatch)
    monkeypatch.setenv("DREAMBOT_ATLAS_DIR", str(tmp_path))
    sent: list[tuple] = []
    spec = JobSpec(7, DreamParams(model=LITE0, layer="mixed3").to_wire(), atlas=TINY)
    out = execute_job(spec, "cpu", OPTIONS, sent.append, lambda: False)
    assert out[0] == "done" and out[1] == 7, out
    meta = read_atlas_meta(out[2]["data"])
    assert meta["filters"] == [0, 1, 2] and meta["size"] == 32
    fractions = [m[2]["fraction"] for m in sent if m[0] == "progress"]
    assert fractions and fractions == sorted(fractions) and fractions[-1] == 1.0
    assert renderer.calls == [[0, 1, 2]]
    renders = out[2]["renders"]
    target = TINY.check()
    assert [d for d, _ in renders] == [k.digest for k in sheet_keys(target, [0, 1, 2], 32, steps=2)]
    # the caller keeps them in its own cache (a Ray node's cache is not the bot's)
    monkeypatch.setenv("DREAMBOT_ATLAS_DIR", str(tmp_path / "caller"))
    assert keep_renders(renders) == 3 and keep_renders(renders) == 0
    assert cached_sheet(local_cache(), target, [0, 1, 2], 32, steps=2) is not None
    monkeypatch.setenv("DREAMBOT_ATLAS_DIR", str(tmp_path))
    again = execute_job(JobSpec(8, spec.params_json, atlas=TINY), "cpu", OPTIONS, sent.append, lambda: False)
    assert again[0] == "done" and again[2]["renders"] == ()
    assert renderer.calls == [[0, 1, 2]]  # the second time from the cache
    other = AtlasJob(LITE0, "mixed3", (9,), size=32, steps=2)
    assert execute_job(JobSpec(9, spec.params_json, atlas=other), "cpu", OPTIONS, sent.append, lambda: True) == (
        "cancelled", 9)


@ASYNC
async def test_an_atlas_job_has_a_dreams_events_and_result(executor):
    job = await executor.submit_atlas(TINY, user_id=400)
    events = [ev async for ev in job.events()]
    assert isinstance(events[0], Queued) and isinstance(events[1], Started)
    progress = [ev for ev in events if isinstance(ev, JobProgress)]
    assert progress and progress[-1].fraction == pytest.approx(1.0)
    assert isinstance(events[-1], Done)
    result = events[-1].result
    img = Image.open(io.BytesIO(result.data))
    assert img.format == "PNG" and img.size == (result.width, result.height)
    assert read_atlas_meta(result.data)["filters"] == [0, 1, 2] and result.model == LITE0


@ASYNC
async def test_a_running_atlas_job_can_be_cancelled(executor):
    job = await executor.submit_atlas(LONG_ATLAS, user_id=401)
    await wait_running(job, timeout=120)
    assert await job.cancel()
    assert isinstance(job.history[-1], Cancelled)
    after = await executor.submit(None, {**QUICK, "noise_size": 48}, user_id=401)
    assert isinstance(await after.wait(), Done)


@pytest.mark.slow  # a real worker process
@ASYNC
async def test_a_dream_submitted_while_an_atlas_job_runs_starts_before_a_queued_atlas_job():
    async with create_executor(make_config("local")) as ex:
        running = await ex.submit_atlas(AtlasJob(LITE0, "mixed4", tuple(range(16)), size=48, steps=30), user_id=1)
        await wait_running(running, timeout=120)
        queued_atlas = await ex.submit_atlas(AtlasJob(LITE0, "mixed3", (4,), size=32, steps=2), user_id=2)
        dream = await ex.submit(None, {**QUICK, "noise_size": 48}, user_id=3)
        assert dream.position == 1 and queued_atlas.position == 2
        started: list[str] = []

        async def follow(job, name: str) -> None:
            async for ev in job.events():
                if isinstance(ev, Started):
                    started.append(name)

        await asyncio.wait_for(asyncio.gather(follow(dream, "dream"), follow(queued_atlas, "atlas")), 300)
        assert started == ["dream", "atlas"]
        assert all(isinstance(j.history[-1], Done) for j in (running, queued_atlas, dream))


class HeldSlot(WorkerSlot):
    """A worker that runs whatever it is given until the test lets it finish."""

    def __init__(self, name: str) -> None:
        super().__init__(name, "cpu")
        self.release: dict[str, asyncio.Event] = {}

    async def start(self) -> None:
        self.alive = True

    async def run(self, job, spec: JobSpec):
        gate = self.release.setdefault(job.id, asyncio.Event())
        await gate.wait()
        return Cancelled("released")

    def request_cancel(self, job) -> None:
        self.release.setdefault(job.id, asyncio.Event()).set()

    async def kill(self) -> None:
        self.alive = False

    async def stop(self) -> None:
        self.alive = False


class TwoHeldWorkers(BaseExecutor):
    backend = "held"

    async def _create_slots(self) -> list[WorkerSlot]:
        return [HeldSlot("w0"), HeldSlot("w1")]


@ASYNC
async def test_at_most_one_atlas_job_runs_even_with_a_worker_free():
    async with TwoHeldWorkers(make_config("local")) as ex:
        first = await ex.submit_atlas(TINY, user_id=1)
        second = await ex.submit_atlas(TINY, user_id=2)
        await asyncio.sleep(0)
        assert isinstance(first.history[-1], Started) and second.position == 1  # w1 stays free
        dream = await ex.submit(None, QUICK, user_id=3)
        assert isinstance(dream.history[-1], Started)  # the free worker takes the dream
        await first.cancel()
        assert isinstance(second.history[-1], Started)  # the next atlas job starts once the first ended
        await second.cancel()
        await dream.cancel()
