"""Clip jobs in the executor: the worker's clip path (real model, in this process), the time
limit that grows with the frames, and a zoom animation refused at submit."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageSequence

from dream_core.clips import ClipLimits, encode_clip
from dream_core.clips.coherence import moving_square_clip
from dream_core.executor import ClipJob, Failed
from dream_core.executor.base import BaseExecutor
from dream_core.executor.clips import clip_timeout
from dream_core.executor.slot import WorkerSlot
from dream_core.executor.worker import JobSpec, WorkerOptions, execute_job
from dream_core.params import DreamParams
from tests.executor.helpers import make_config

PARAMS = DreamParams(octaves=1, iterations=2, frame_iterations=1, seed=3, jitter=4)
OPTIONS = WorkerOptions(max_bytes=10**7, max_pixels=10**7, max_size=1024, progress_interval_s=0.0, preview_size=32)
DURATIONS = [100, 140, 60, 100]


@pytest.fixture(scope="module")
def gif() -> bytes:
    clip = moving_square_clip(len(DURATIONS), (40, 32), side=10)
    return encode_clip(clip.frames, DURATIONS, "gif")


def test_worker_dreams_every_frame_of_a_clip_with_frame_progress(gif):
    sent: list = []
    spec = JobSpec(1, PARAMS.resolved().to_wire(), gif, clip=ClipJob(frames=4))
    out = execute_job(spec, "cpu", OPTIONS, sent.append, lambda: False)
    assert out[0] == "done", out
    payload = out[2]
    assert payload["format"] == "gif" and payload["is_animation"] and payload["frames"] == 4
    with Image.open(io.BytesIO(payload["data"])) as im:
        assert im.format == "GIF" and im.n_frames == 4
        assert [f.info["duration"] for f in ImageSequence.Iterator(im)] == DURATIONS
    assert (payload["width"], payload["height"]) == (40, 32)
    assert DreamParams.from_wire(payload["params_json"]).seed == 3
    progress = [m[2] for m in sent if m[0] == "progress"]
    assert {p["frames"] for p in progress} == {4}
    assert {p["frame"] for p in progress} == {1, 2, 3, 4}
    assert any(p["preview"] for p in progress)  # octave previews are kept


def test_worker_fits_a_clip_to_a_byte_limit_and_says_so(gif):
    plain = execute_job(JobSpec(2, PARAMS.resolved().to_wire(), gif, clip=ClipJob(4)), "cpu", OPTIONS, list().append,
                        lambda: False)
    limit = len(plain[2]["data"]) // 2
    spec = JobSpec(3, PARAMS.resolved().to_wire(), gif, clip=ClipJob(4, fmt="gif", max_bytes=limit))
    out = execute_job(spec, "cpu", OPTIONS, list().append, lambda: False)
    assert out[0] == "done", out
    assert len(out[2]["data"]) <= limit and out[2]["format"] == "mp4"
    assert any("upload limit" in n for n in out[2]["notes"])


def test_worker_stops_a_clip_mid_way_when_cancelled(gif):
    sent: list = []

    def cancelled() -> bool:
        return any(m[0] == "progress" and m[2]["frame"] >= 2 for m in sent)

    out = execute_job(JobSpec(4, PARAMS.resolved().to_wire(), gif, clip=ClipJob(4)), "cpu", OPTIONS, sent.append,
                      cancelled)
    assert out == ("cancelled", 4)
    assert max(m[2]["frame"] for m in sent if m[0] == "progress") == 2


def test_worker_refuses_a_bad_clip_with_one_line():
    out = execute_job(JobSpec(5, PARAMS.resolved().to_wire(), b"GIF89a" + b"\0" * 40, clip=ClipJob(2)), "cpu",
                      OPTIONS, list().append, lambda: False)
    assert out[0] == "failed" and out[3] == "input" and "\n" not in out[2]


def test_the_time_limit_grows_with_the_frames_up_to_the_ceiling():
    p = PARAMS.resolved()
    one = clip_timeout(100.0, 1, p, 10_000.0)
    ten = clip_timeout(100.0, 10, p, 10_000.0)
    sixty = clip_timeout(100.0, 60, p, 10_000.0)
    assert one == 100.0 and one < ten < sixty
    assert clip_timeout(100.0, 60, p, 500.0) == 500.0
    assert clip_timeout(100.0, 60, p, 50.0) == 100.0  # never below a still's limit


def test_a_clip_job_checks_its_fields():
    with pytest.raises(ValueError):
        ClipJob(0)
    with pytest.raises(ValueError):
        ClipJob(3, fmt="avi")
    assert ClipJob(3, ClipLimits(max_frames=5)).limits.max_frames == 5


class NoWorkers(BaseExecutor):
    """An executor with no workers: jobs are checked and queued, never run."""

    backend = "none"

    async def _create_slots(self) -> list[WorkerSlot]:
        return []


@pytest.mark.asyncio(loop_scope="session")
async def test_submit_refuses_zoom_with_a_clip_and_scales_the_time_limit():
    async with NoWorkers(make_config("local", job_timeout_s=30.0, clip_timeout_max_s=600.0)) as ex:
        zoom = await ex.submit(b"GIF89a", {"zoom_frames": 3}, user_id=1, clip=ClipJob(4))
        assert isinstance(zoom.history[-1], Failed) and zoom.history[-1].kind == "params"
        assert "zoom" in zoom.history[-1].reason
        job = await ex.submit(b"GIF89a", PARAMS, user_id=1, clip=ClipJob(40))
        still = await ex.submit(b"GIF89a", PARAMS, user_id=2)
        assert still.timeout_s == 30.0 and 30.0 < job.timeout_s <= 600.0
        assert job.clip is not None and job.clip.frames == 40
