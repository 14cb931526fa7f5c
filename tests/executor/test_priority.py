"""Dreams before atlas jobs: the two lines of the executor's queue (issue 16 §3)."""

from __future__ import annotations

import pytest

from dream_core.atlas.request import AtlasInputError
from dream_core.executor import AtlasJob, SubmitRefused
from dream_core.executor.priority import PriorityScheduler


def sched(**caps) -> PriorityScheduler[str]:
    return PriorityScheduler(caps.get("q", 10), caps.get("u", 5), caps.get("g", 10), is_low=lambda j: j.startswith("A"))


def test_a_dream_goes_before_every_waiting_atlas_job():
    s = sched()
    s.push("A1", 1, None)
    s.push("A2", 2, None)
    assert s.push("D1", 3, None) == 1  # the dream goes to the front
    assert s.order() == ["D1", "A1", "A2"]
    assert s.position("A1") == 2
    assert s.pop() == "D1"
    assert s.pop() == "A1"


def test_no_atlas_job_starts_while_one_runs_beyond_the_cap():
    s = sched()
    s.push("A1", 1, None)
    s.push("D1", 1, None)
    assert s.pop(low_allowed=False) == "D1"  # dreams are never held back
    assert s.pop(low_allowed=False) is None  # the atlas job waits for the running one
    assert s.pop(low_allowed=True) == "A1"


def test_each_line_is_fair_and_capped_on_its_own():
    s = sched(u=2)
    s.push("A1", 1, 9)
    s.push("A2", 1, 9)
    with pytest.raises(SubmitRefused):
        s.push("A3", 1, 9)
    s.push("D1", 1, 9)  # the user's dreams have their own cap
    assert len(s) == 3 and s.per_user() == {1: 3} and s.per_guild() == {9: 3}
    assert s.remove("A2") and not s.remove("A2")
    assert "A1" in s and "A2" not in s
    s.requeue("A9", 2, None)  # a lost worker's atlas job: first of the atlas line, still behind dreams
    assert s.order() == ["D1", "A9", "A1"]


def test_atlas_job_checks_its_request():
    assert AtlasJob("efficientnet-lite0", "mixed4", (0, 1)).check().layer == "block10"
    assert AtlasJob("efficientnet-lite0", "mixed4", (97,), single=True).render_size == 224
    assert AtlasJob("efficientnet-lite0", "mixed4", (97,), single=True).render_diversity == 4
    assert AtlasJob("efficientnet-lite0", "mixed4", (1, 2)).render_size == 128
    assert AtlasJob("efficientnet-lite0", "mixed4", (97,), single=True).spec == "mixed4:97"
    bad = [
        (AtlasJob("efficientnet-lite0", "mixed9", (0,)), "unknown layer 'mixed9'"),
        (AtlasJob("efficientnet-lite0", "mixed4", (112,)), "112 is out of range"),
        (AtlasJob("efficientnet-lite0", "mixed4", ()), "at least one filter"),
        (AtlasJob("efficientnet-lite0", "mixed4", (1, 2), single=True), "one filter, not 2"),
        (AtlasJob("efficientnet-lite0", "mixed4", (1,), size=5000), "5000 px is out of range"),
        (AtlasJob("efficientnet-lite0", "mixed4", (1,), single=True, diversity=50), "diversity: 50"),
    ]
    for job, message in bad:
        with pytest.raises(AtlasInputError, match=message):
            job.check()
