"""Worker threads: CPU workers share the usable cores evenly; GPU workers are not counted; a CPU
worker's dreams share the cores with other processes (dream_core.cpu_share) unless switched off."""

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
    # dreams that share the CPU may each use every core: each takes what the others leave
    assert cpu_threads_per_worker(["cpu", "cpu"], shared=True) == cores
    assert cpu_threads_per_worker(["cuda:0", "cuda:1"], shared=True) is None
    assert worker_options(ExecutorConfig(), ["cpu", "cpu"]).torch_threads == cores  # the default: sharing
    assert worker_options(ExecutorConfig(cpu_share="off"), ["cpu", "cpu"]).torch_threads == max(1, cores // 2)


def test_an_explicit_thread_count_wins():
    assert worker_options(ExecutorConfig(torch_threads=3), ["cpu", "cpu"]).torch_threads == 3
    assert worker_options(ExecutorConfig(), ["cpu"]).torch_threads == len(os.sched_getaffinity(0))


def test_a_cpu_worker_shares_the_cores_by_default():
    import torch

    from dream_core import cpu_share
    from dream_core.executor.worker import setup_worker

    before = torch.get_num_threads()
    try:
        setup_worker("cpu", worker_options(ExecutorConfig(preload_models=()), ["cpu"]))
        share = cpu_share.active()
        assert share is not None  # the default a bot's worker gets
        assert share.max_threads == len(os.sched_getaffinity(0))
        cpu_share.disable()
        setup_worker("cpu", worker_options(ExecutorConfig(preload_models=(), cpu_share="off"), ["cpu"]))
        assert cpu_share.active() is None
    finally:
        cpu_share.disable()
        torch.set_num_threads(before)
