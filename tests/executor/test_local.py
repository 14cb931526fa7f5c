"""Local-backend specifics: shutdown leaves no processes; out-of-memory retry in the worker code."""

from __future__ import annotations

import pytest

from dream_core.executor import Cancelled, SubmitRefused, create_executor
from dream_core.executor.worker import JobSpec, WorkerOptions, execute_job
from dream_core.params import DreamParams
from tests.executor.helpers import LONG, QUICK, make_config, wait_running
from tests.executor.processes import gone


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.slow  # starts worker processes
async def test_close_cancels_everything_and_ends_the_workers(small_png):
    ex = create_executor(make_config("local"))
    async with ex:
        running = await ex.submit(small_png, LONG, user_id=1)
        queued = await ex.submit(small_png, QUICK, user_id=2)
        await wait_running(running)
        pids = [w.pid for w in ex.status().workers]
    assert isinstance(running.history[-1], Cancelled) and isinstance(queued.history[-1], Cancelled)
    assert "shutting down" in queued.history[-1].reason
    assert all(gone(pid) for pid in pids)
    with pytest.raises(SubmitRefused) as refused:
        await ex.submit(small_png, QUICK, user_id=1)
    assert refused.value.code == "closed"


def test_out_of_memory_retries_once_with_half_tiles(monkeypatch, small_png):
    """CUDA OOM can't happen on this CPU machine: the edge (the engine call) raises it once."""
    import torch

    import dream_core.engine as engine

    real_dream, calls = engine.dream, []

    def dream_that_runs_out_once(image, params, **kw):
        calls.append(params.tile_size)
        if len(calls) == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_dream(image, params, **kw)

    monkeypatch.setattr(engine, "dream", dream_that_runs_out_once)
    options = WorkerOptions(max_bytes=10**7, max_pixels=10**7, max_size=1024)
    params = DreamParams(**QUICK, tile_size=256).resolved()
    sent = []
    out = execute_job(JobSpec(1, params.to_wire(), small_png), "cpu", options, sent.append, lambda: False)
    assert out[0] == "done", out
    assert calls == [256, 128]
    assert any("smaller tiles (128 px)" in n for n in out[2]["notes"])
    ran = DreamParams.from_wire(out[2]["params_json"])
    assert ran.tile_size == 128 and ran.explicit() == params.adjusted(tile_size=128).explicit()
    assert sent and all(m[0] == "progress" for m in sent)

    def always_out_of_memory(image, params, **kw):
        calls.append(params.tile_size)
        raise torch.cuda.OutOfMemoryError("CUDA out of memory.")

    monkeypatch.setattr(engine, "dream", always_out_of_memory)
    calls.clear()
    out = execute_job(JobSpec(2, params.to_wire(), small_png), "cpu", options, sent.append, lambda: False)
    assert out[:2] == ("failed", 2) and out[3] == "oom" and "memory" in out[2]
    assert calls == [256, 128]


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.slow  # starts a worker process
async def test_a_device_that_is_not_there_fails_start_with_a_clear_message():
    from dream_core.executor import WorkerStartError

    ex = create_executor(make_config("local", devices=("cuda:7",), preload_models=()))
    with pytest.raises(WorkerStartError, match=r"cuda:7 asked for, but .*(no CUDA GPU|GPU\(s\)) .*visible"):
        await ex.start()
    with pytest.raises(SubmitRefused):
        await ex.submit(None, QUICK, user_id=1)
