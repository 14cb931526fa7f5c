"""Sharing the CPU (dream_core.cpu_share): the thread count a dream gets for the load others put on
the box, how that load is read, and that sharing never changes the tuning a dream uses."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from dream_core import cpu_share
from dream_core.cpu_share import CpuShare, LoadSampler, Sample, busy_seconds, quota_cores, threads_for, usable_cores


def test_threads_follow_the_cores_others_leave_free():
    assert threads_for(2, 0.0) == 2  # a quiet box: every core
    assert threads_for(2, 0.3) == 2  # a light load (the gallery): still every core
    assert threads_for(2, 0.7) == 1  # most of a core taken
    assert threads_for(2, 1.0) == 1  # a busy core, or a second dream on its one thread
    assert threads_for(2, 2.0) == 1  # never fewer than one
    assert threads_for(2, 5.0) == 1
    assert threads_for(16, 5.2) == 11
    assert threads_for(16, 0.0) == 16  # never more than the cores
    assert threads_for(4, -1.0) == 4  # a negative reading (clock skew) is no load


STAT = """cpu  900 0 300 5000 10 0 0 0 0 0
cpu0 100 0 100 1000 5 0 0 0 0 0
cpu1 200 10 50 1000 5 20 30 40 0 0
cpu2 600 0 150 3000 0 0 0 0 0 0
intr 1 2 3
ctxt 99
"""


def test_busy_time_counts_only_the_usable_cpus():
    # user nice system irq softirq steal; idle and iowait are not busy
    assert busy_seconds(STAT, {0}, 0.01) == pytest.approx(2.0)
    assert busy_seconds(STAT, {1}, 0.01) == pytest.approx(3.5)
    assert busy_seconds(STAT, {0, 1}, 0.01) == pytest.approx(5.5)
    assert busy_seconds(STAT, {2, 7}, 0.01) == pytest.approx(7.5)


def test_cgroup_quota_caps_the_cores(tmp_path: Path):
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cpu.max").write_text("150000 100000\n")
    assert quota_cores(v2) == pytest.approx(1.5)
    (v2 / "cpu.max").write_text("max 100000\n")
    assert quota_cores(v2) is None
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("100000\n")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert quota_cores(v1) == pytest.approx(1.0)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert quota_cores(v1) is None
    assert quota_cores(tmp_path / "none") is None
    assert usable_cores({0, 1, 2, 3}, 1.5) == 2
    assert usable_cores({0, 1, 2, 3}, 0.2) == 1
    assert usable_cores({0, 1}, 8.0) == 2


class ScriptedSampler(LoadSampler):
    """A sampler whose readings are given: (wall, busy of every process, own CPU time)."""

    def __init__(self) -> None:
        super().__init__(cpus={0, 1})
        self.next: list[Sample] = []

    def feed(self, *samples: tuple[float, float, float]) -> None:
        self.next += [Sample(*s) for s in samples]

    def sample(self) -> Sample | None:
        s = self.next.pop(0)
        with self._lock:
            self._samples.append(s)
        return s


def test_the_others_load_leaves_out_this_process():
    s = ScriptedSampler()
    s.feed((0.0, 100.0, 10.0), (0.5, 100.9, 10.5), (1.0, 101.8, 11.0))
    s.sample()
    s.sample()
    # over the last half second: 0.9 core-seconds busy, 0.5 of them this process's
    assert s.others_busy() == pytest.approx(0.8)
    s.feed((2.0, 103.8, 13.0))  # this process alone on both cores
    assert s.others_busy() == pytest.approx(0.0)


def test_a_dream_drops_to_the_free_cores_and_takes_them_back():
    s = ScriptedSampler()
    applied: list[int] = []
    share = CpuShare(2, sampler=s, apply=applied.append, cores=2)
    s.feed((0.0, 0.0, 0.0), (1.0, 2.0, 1.0))  # another process kept a core busy
    s.sample()
    assert share.decide() == 1
    assert applied == [1]
    share.tick()  # chosen just now: no new reading
    assert s.next == []
    s.feed((2.0, 4.0, 2.0))  # still busy: one thread, nothing applied again
    assert share.decide() == 1
    assert applied == [1]
    s.feed((3.0, 5.1, 2.9))  # the other process stopped
    assert share.decide() == 2
    assert applied == [1, 2]


def test_no_reading_keeps_every_thread():
    share = CpuShare(2, sampler=ScriptedSampler(), apply=lambda n: None, cores=2)
    share.sampler.feed((0.0, 0.0, 0.0))  # type: ignore[attr-defined]
    assert share.decide() == 2  # one sample: no interval to judge by


def test_the_setting_switches_it_off(monkeypatch):
    monkeypatch.setenv("DREAMBOT_CPU_SHARE", "off")
    assert cpu_share.enable(torch.get_num_threads()) is None
    monkeypatch.setenv("DREAMBOT_CPU_SHARE", "sometimes")
    with pytest.raises(ValueError, match="DREAMBOT_CPU_SHARE"):
        cpu_share.enable(2)


def test_tunings_stay_keyed_by_the_full_thread_count(monkeypatch):
    from dream_core.tuning_cache import machine_key

    monkeypatch.delenv("DREAMBOT_CPU_SHARE", raising=False)
    fake_model = SimpleNamespace(name="m", device=torch.device("cpu"))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        share = cpu_share.enable(2)
        assert share is not None
        full = machine_key(fake_model)  # type: ignore[arg-type]
        torch.set_num_threads(1)  # a dream sharing the box runs on one thread...
        assert machine_key(fake_model) == full  # type: ignore[arg-type]  # ...with the tuning of two
        assert ":2t|" in full
    finally:
        cpu_share.disable()
        torch.set_num_threads(before)
    torch.set_num_threads(1)
    assert ":1t|" in machine_key(fake_model)  # type: ignore[arg-type]  # not sharing: the count it runs
    torch.set_num_threads(before)


@pytest.mark.slow
def test_a_busy_process_is_seen_as_the_others_load():
    sampler = LoadSampler()
    spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        sampler.sample()
        time.sleep(1.2)
        others = sampler.others_busy()
    finally:
        spin.kill()
        spin.wait()
    assert others is not None and others >= 0.7  # one core's worth, whatever else runs


class LoadedBox(LoadSampler):
    """A box where other processes keep ``others`` cores busy (set by the test)."""

    def __init__(self) -> None:
        super().__init__(cpus={0, 1})
        self.others = 0.0

    def others_busy(self, window_s: float = 1.0) -> float | None:
        return self.others


@pytest.mark.slow  # a dream
def test_a_dream_runs_on_the_threads_the_share_chooses(model, cat, fast, monkeypatch):
    from dream_core.engine import dream

    box = LoadedBox()
    share = CpuShare(2, sampler=box, cores=2)
    monkeypatch.setattr(cpu_share, "_share", share)
    monkeypatch.setattr(cpu_share, "DECIDE_S", 0.0)  # choose again at every step
    seen: list[int] = []
    before = torch.get_num_threads()

    def progress(p) -> None:
        seen.append(torch.get_num_threads())
        box.others = 1.0  # another process takes a core after the first step

    try:
        torch.set_num_threads(2)
        dream(cat, fast, progress=progress, device="cpu")
        assert seen[0] == 2  # a quiet box: both cores
        assert seen[1:] == [1] * (len(seen) - 1)  # from the next step on: the one left free
        box.others = 0.0
        dream(cat, fast, device="cpu")
        assert torch.get_num_threads() == 2  # free again: both cores from the start
    finally:
        torch.set_num_threads(before)
