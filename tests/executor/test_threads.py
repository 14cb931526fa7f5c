"""Worker threads: CPU workers share the usable cores evenly; GPU workers are not counted."""

from __future__ import annotations

import os

from dream_core.executor.config import ExecutorConfig
from dream_core.executor.local import cpu_threads_per_worker, worker_options


def test_cpu_workers_share_the_cores():
    cores = len(os.sched_getaffinity(0))
    assert cpu_threads_per_worker(["cpu"]) == cores
    assert cpu_threads_per_worker(["cpu", "cpu"]) == max(1, cores // 2)
    assert cpu_threads_per_worker(["cuda:0", "cpu"]) == cores
    assert cpu_threads_per_worker(["cuda:0", "cuda:1"]) is None
    assert cpu_threads_per_worker(["cpu"] * (cores + 3)) == 1


def test_an_explicit_thread_count_wins():
    assert worker_options(ExecutorConfig(torch_threads=3), ["cpu", "cpu"]).torch_threads == 3
    assert worker_options(ExecutorConfig(), ["cpu"]).torch_threads == len(os.sched_getaffinity(0))
