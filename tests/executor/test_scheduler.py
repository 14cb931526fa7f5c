"""The fair scheduler on its own (pure bookkeeping, no processes)."""

from __future__ import annotations

import pytest

from dream_core.executor.errors import SubmitRefused
from dream_core.executor.scheduler import FairScheduler


def drain(s: FairScheduler) -> list:
    out = []
    while (item := s.pop()) is not None:
        out.append(item)
    return out


def test_round_robin_between_users_keeps_each_users_order():
    s: FairScheduler[str] = FairScheduler(100, 10, 100)
    for i in range(1, 6):
        s.push(f"a{i}", user_id=1, guild_id=None)
    s.push("b1", user_id=2, guild_id=None)
    s.push("c1", user_id=3, guild_id=None)
    s.push("b2", user_id=2, guild_id=None)
    predicted = s.order()
    assert drain(s) == predicted == ["a1", "b1", "c1", "a2", "b2", "a3", "a4", "a5"]


def test_user_just_served_goes_behind_a_newcomer():
    s: FairScheduler[str] = FairScheduler(100, 10, 100)
    s.push("a1", 1, None)
    assert s.pop() == "a1"  # A's first job started on an idle worker
    for i in range(2, 6):
        s.push(f"a{i}", 1, None)
    s.push("b1", 2, None)
    assert s.position("b1") == 1 and s.position("a2") == 2
    assert drain(s) == ["b1", "a2", "a3", "a4", "a5"]


def test_positions_move_when_jobs_leave():
    s: FairScheduler[str] = FairScheduler(100, 10, 100)
    for name, user in [("a1", 1), ("b1", 2), ("a2", 1), ("c1", 3)]:
        s.push(name, user, None)
    assert s.positions() == {"a1": 1, "b1": 2, "c1": 3, "a2": 4}
    assert s.remove("b1") and not s.remove("b1")
    assert s.positions() == {"a1": 1, "c1": 2, "a2": 3}
    assert s.pop() == "a1"
    assert s.positions() == {"c1": 1, "a2": 2}
    assert len(s) == 2 and "a2" in s


def test_caps_refuse_with_clear_reasons():
    s: FairScheduler[str] = FairScheduler(max_queue=4, max_per_user=2, max_per_guild=3)
    s.push("a1", 1, 10)
    s.push("a2", 1, 10)
    with pytest.raises(SubmitRefused) as exc:
        s.push("a3", 1, 10)
    assert exc.value.code == "user_limit" and "You already have 2 dreams waiting" in exc.value.reason
    s.push("b1", 2, 10)
    with pytest.raises(SubmitRefused) as exc:
        s.push("c1", 3, 10)
    assert exc.value.code == "guild_limit" and "server" in str(exc.value)
    s.push("c1", 3, None)  # a DM has no server cap
    with pytest.raises(SubmitRefused) as exc:
        s.push("d1", 4, 11)
    assert exc.value.code == "queue_full" and "queue is full" in str(exc.value)
    assert s.per_user() == {1: 2, 2: 1, 3: 1} and s.per_guild() == {10: 3}
    s.pop()
    s.push("d1", 4, 11)  # room again
    assert len(s) == 4


def test_a_job_put_back_after_its_worker_was_lost_starts_next_whatever_the_caps():
    s: FairScheduler[str] = FairScheduler(max_queue=3, max_per_user=2, max_per_guild=3)
    for item, user in (("a1", 1), ("b1", 2), ("a2", 1)):
        s.push(item, user, 10)
    assert s.pop() == "a1"  # Alice's first starts; her worker is lost
    s.push("c1", 3, 10)  # the queue is full again (b1 a2 c1)
    s.requeue("a1", 1, 10)  # no cap applies to a job that was already admitted
    assert s.order() == ["a1", "b1", "c1", "a2"] and s.positions()["a1"] == 1
    assert [s.pop() for _ in range(4)] == ["a1", "b1", "c1", "a2"]
