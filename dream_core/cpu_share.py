"""Sharing the CPU: a dream's torch threads follow the cores other processes leave free.

torch runs a dream's operators on one OpenMP thread per core, split evenly. When
another process keeps a core busy (a second dream, the bot, the gallery, a
neighbour), one of those threads waits for the scheduler while the others
wait for it at every operator's end, spinning: on a 2-core box a dream with
one core taken ran 3-4x slower instead of 2x, and two dreams at once 4.6x each.

With the share switched on (the executor's CPU workers and ``dreambot dream``;
``DREAMBOT_CPU_SHARE``, default ``auto``), a sampler thread reads the CPUs'
busy time (``/proc/stat``, only the CPUs this process may run on) and this
process's own CPU time every :data:`SAMPLE_S`; what is left is what the others
use. At a dream's first step and every :data:`DECIDE_S` after, the dream gets
:func:`threads_for` threads: the cores the others leave free, rounded, at
least one, at most the cores this process may use (affinity, cgroup quota)
or the thread count it was started with. Two dreams at once settle on one
thread each; a quiet box keeps every core.

``DREAMBOT_CPU_SHARE=off`` keeps the thread count fixed (``torch_threads``).

Tunings (:mod:`dream_core.tuning_cache`) stay keyed by the full thread count
(:func:`tuning_threads`), so a dream that runs on fewer threads never triggers a
calibration.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from dream_core.errors import DreamSettingError

log = logging.getLogger(__name__)

SHARE_ENV = "DREAMBOT_CPU_SHARE"
SAMPLE_S = 0.1  #: seconds between samples of /proc/stat (~30 us each)
WINDOW_S = 0.5  #: the others' load is their average over this long (a load that ended is soon forgotten)
DECIDE_S = 0.5  #: during a dream, the thread count is chosen again at most this often
SLACK = 0.5  #: a core counts as free once the others leave at least 1 - SLACK of it (rounding)

_PROC_STAT = Path("/proc/stat")
_BUSY_FIELDS = (0, 1, 2, 5, 6, 7)  # user nice system irq softirq steal (guest is inside user)


def threads_for(cores: int, others_busy: float, slack: float = SLACK) -> int:
    """The threads a dream should use on ``cores`` cores while other processes keep
    ``others_busy`` of them busy: the free cores, rounded (``slack``), from 1 to ``cores``."""
    free = cores - max(0.0, others_busy)
    return max(1, min(cores, math.floor(free + slack)))


def quota_cores(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """The cgroup CPU quota in cores (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``), None when unlimited."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        q = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        p = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return q / p if q > 0 and p > 0 else None
    except (OSError, ValueError):
        return None


def usable_cpus() -> set[int]:
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return set(range(os.cpu_count() or 1))


def usable_cores(cpus: Iterable[int] | None = None, quota: float | None = None) -> int:
    """Cores this process may use: its CPU affinity, capped by the cgroup quota (rounded up)."""
    n = len(set(cpus)) if cpus is not None else len(usable_cpus())
    q = quota if quota is not None else quota_cores()
    if q is not None:
        n = min(n, max(1, math.ceil(q - 1e-6)))
    return max(1, n)


def busy_seconds(stat_text: str, cpus: set[int], tick_s: float) -> float:
    """Seconds the CPUs ``cpus`` have been busy since boot, from ``/proc/stat`` text."""
    total = 0
    for line in stat_text.splitlines():
        if not line.startswith("cpu") or line.startswith("cpu "):
            continue
        name, *fields = line.split()
        try:
            cpu = int(name[3:])
        except ValueError:
            continue
        if cpu in cpus:
            total += sum(int(fields[i]) for i in _BUSY_FIELDS if i < len(fields))
    return total * tick_s


@dataclass(frozen=True)
class Sample:
    wall: float  # time.monotonic()
    busy: float  # CPU seconds of the usable CPUs since boot, every process
    own: float  # CPU seconds of this process, every thread


class LoadSampler:
    """Samples the usable CPUs' busy time and this process's own CPU time; says what the others use."""

    def __init__(self, cpus: set[int] | None = None, keep_s: float = 4 * WINDOW_S) -> None:
        self.cpus = cpus if cpus is not None else usable_cpus()
        self.tick_s = 1.0 / os.sysconf("SC_CLK_TCK")
        self._samples: deque[Sample] = deque(maxlen=max(4, int(keep_s / SAMPLE_S) + 2))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> Sample | None:
        try:
            text = _PROC_STAT.read_text()
        except OSError:
            return None
        s = Sample(time.monotonic(), busy_seconds(text, self.cpus, self.tick_s), time.process_time())
        with self._lock:
            self._samples.append(s)
        return s

    def others_busy(self, window_s: float = WINDOW_S) -> float | None:
        """Cores the other processes kept busy over about the last ``window_s`` (None: can't tell)."""
        now = self.sample()
        if now is None:
            return None
        with self._lock:
            older = [s for s in self._samples if now.wall - s.wall >= min(window_s, SAMPLE_S)]
        if not older:
            return None
        base = min(older, key=lambda s: abs(now.wall - s.wall - window_s))
        span = now.wall - base.wall
        others = (now.busy - base.busy) - (now.own - base.own)
        return max(0.0, others / span)

    def start(self) -> None:
        if self._thread is not None or self.sample() is None:
            return
        self._thread = threading.Thread(target=self._run, name="cpu-share-sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self.sample()

    def stop(self) -> None:
        self._stop.set()


class CpuShare:
    """Chooses this process's torch threads from the cores the others leave free."""

    def __init__(
        self,
        max_threads: int,
        sampler: LoadSampler | None = None,
        apply: Callable[[int], None] | None = None,
        cores: int | None = None,
    ) -> None:
        self.sampler = sampler or LoadSampler()
        self.cores = min(max_threads, cores if cores is not None else usable_cores(self.sampler.cpus))
        self.max_threads = max(1, max_threads)
        self._apply = apply or _set_torch_threads
        self.threads = self.max_threads
        self._decided = -math.inf

    def decide(self) -> int:
        """Choose (and set) the thread count now."""
        self._decided = time.monotonic()
        others = self.sampler.others_busy()
        n = self.max_threads if others is None else threads_for(self.cores, others)
        if n != self.threads:
            log.debug("cpu share: others use %.2f cores; %d -> %d threads", others or 0.0, self.threads, n)
            self._apply(n)
            self.threads = n
        return n

    def tick(self) -> None:
        """During a dream: choose again when the last choice is :data:`DECIDE_S` old."""
        if time.monotonic() - self._decided >= DECIDE_S:
            self.decide()


def _set_torch_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)


# ------------------------------------------------------------------ the process's share

_share: CpuShare | None = None
_tuning_threads: int | None = None


def wanted(mode: str | None = None) -> bool:
    """Whether ``mode`` (default: ``DREAMBOT_CPU_SHARE``, else ``auto``) asks for sharing."""
    value = (os.environ.get(SHARE_ENV, "auto") if mode is None else mode).strip().lower()
    if value in ("auto", "on", "1", "yes", "true", ""):
        return True
    if value in ("off", "0", "no", "false"):
        return False
    raise DreamSettingError(f"{SHARE_ENV} must be 'auto' or 'off', not {value!r}")


def enable(max_threads: int, mode: str | None = None) -> CpuShare | None:
    """Let this process's dreams share the CPU, where ``mode`` (default: ``DREAMBOT_CPU_SHARE``)
    asks for it; call once torch runs ``max_threads`` threads. Returns the share, or None where
    it is off or /proc/stat is unreadable."""
    global _share, _tuning_threads
    if not wanted(mode):
        return None
    _tuning_threads = max_threads
    if _share is not None:
        return _share
    share = CpuShare(max_threads)
    if share.sampler.sample() is None:
        return None
    share.sampler.start()
    _share = share
    return share


def active() -> CpuShare | None:
    """This process's share, None where its dreams don't share the CPU."""
    return _share


def disable() -> None:
    """Stop sharing; torch gets the full thread count back."""
    global _share
    share, _share = _share, None
    if share is not None:
        share.sampler.stop()
        with contextlib.suppress(Exception):
            _set_torch_threads(share.max_threads)


def tick() -> None:
    """Before each step of a dream: choose again when the last choice is :data:`DECIDE_S` old
    (so at a dream's first step, after an idle worker), nothing where sharing is off."""
    if _share is not None:
        _share.tick()


def tuning_threads(current: int) -> int:
    """The thread count tunings are measured and cached under: the full count while sharing."""
    return _tuning_threads if _share is not None and _tuning_threads else current
