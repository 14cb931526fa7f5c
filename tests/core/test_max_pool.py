"""Max-pooling by compiled loops: nn.MaxPool2d's values and gradients, only where it applies."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from torch import nn

from dream_core.models.max_pool import MaxPool2d, fast_max_pools

SETTINGS = [  # kernel, stride, padding, ceil_mode: GoogLeNet's, ResNet's, VGG's and odd ones
    (3, 2, 0, True),
    (3, 1, 1, True),
    (3, 2, 1, False),
    (2, 2, 0, True),
    (2, 2, 0, False),
    (5, 3, 2, True),
]
SIZES = [(17, 23), (8, 8), (3, 5), (1, 1)]
NUMBA = {**os.environ, "DREAMBOT_CPU_LOOPS": "numba"}  # the numba build's own tests run it by name


def _pair(k: int, s: int, p: int, ceil: bool) -> tuple[nn.MaxPool2d, MaxPool2d]:
    return nn.MaxPool2d(k, s, p, ceil_mode=ceil), MaxPool2d(k, s, p, ceil_mode=ceil)


@pytest.mark.parametrize(("k", "s", "p", "ceil"), SETTINGS)
def test_values_and_gradients_equal_torch(k, s, p, ceil, loops_build):
    ref, fast = _pair(k, s, p, ceil)
    torch.manual_seed(k * 10 + s)
    for h, w in SIZES:
        if 2 * p > k or h + 2 * p < k or w + 2 * p < k:
            continue
        x = torch.randn(1, 24, h, w).contiguous(memory_format=torch.channels_last).requires_grad_(True)
        want_y, got_y = ref(x), fast(x)
        assert got_y.shape == want_y.shape and torch.equal(got_y, want_y), (h, w)
        assert got_y.grad_fn is not None and "MaxPool" in type(got_y.grad_fn).__name__  # the loops ran
        g = torch.randn_like(want_y)
        (want,) = torch.autograd.grad(want_y, x, g)
        (got,) = torch.autograd.grad(got_y, x, g)
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)  # overlapping windows: sums in another order


def test_ties_go_to_the_first_maximum_and_nan_wins_as_in_torch(loops_build):
    ref, fast = _pair(3, 1, 1, True)
    x = torch.zeros(1, 8, 6, 7)  # all tied: a ReLU's zeros over a dark patch
    x[0, 3, 2, 2] = float("nan")
    x = x.contiguous(memory_format=torch.channels_last).requires_grad_(True)
    want_y, got_y = ref(x), fast(x)
    assert torch.equal(want_y.isnan(), got_y.isnan())
    g = torch.rand_like(want_y)
    (want,) = torch.autograd.grad(want_y, x, g)
    (got,) = torch.autograd.grad(got_y, x, g)
    torch.testing.assert_close(got, want, equal_nan=True)


def test_nn_maxpool_where_the_loops_do_not_apply():
    fast = MaxPool2d(3, 2, ceil_mode=True)
    x = torch.randn(1, 16, 9, 9)
    for other in (x, x.repeat(2, 1, 1, 1).contiguous(memory_format=torch.channels_last),
                  x.bfloat16().contiguous(memory_format=torch.channels_last)):  # fmt: skip
        y = fast(other.requires_grad_(True))
        assert "MaxPool2DWithIndices" in type(y.grad_fn).__name__  # torch's own
    assert "MaxPool2DWithIndices" in type(MaxPool2d(3, 2, dilation=2)(x.requires_grad_(True)).grad_fn).__name__


def test_fast_max_pools_swaps_every_plain_pool():
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.MaxPool2d(3, 2, ceil_mode=True), nn.Sequential(nn.MaxPool2d(2)))
    assert fast_max_pools(net) == 2
    assert isinstance(net[1], MaxPool2d) and net[1].ceil_mode and isinstance(net[2][0], MaxPool2d)
    assert fast_max_pools(net) == 0  # already swapped


@pytest.mark.slow  # a fresh process
def test_loading_the_loops_keeps_torchs_thread_count():
    """numba's threading layer sets the OpenMP runtime's thread count when it starts (with the
    loops' first load): a count the CPU share had lowered must survive it (two dreams at once
    ran 5x slower each when it did not)."""
    code = (
        "import torch; torch.set_num_threads(1)\n"
        "from dream_core.models import max_pool_kernels, winograd_kernels, numba_threads\n"
        "import numba; numba_threads.set_threads(torch.get_num_threads())\n"
        "print(torch.get_num_threads(), numba.get_num_threads())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120, env=NUMBA)  # noqa: E501
    assert out.stdout.split() == ["1", "1"], out.stdout + out.stderr


@pytest.mark.slow  # fresh processes
@pytest.mark.parametrize("scipy_first", [False, True])
def test_the_loops_load_without_scipys_blas_and_leave_numbas_check_in_place(scipy_first):
    """scipy.linalg (0.12-0.2 s) is not imported for the loops; where it is loaded already they
    still work; numba's own BLAS check is put back either way."""
    code = (
        ("import scipy.linalg\n" if scipy_first else "")
        + "import sys, torch\n"
        "from dream_core.models.max_pool import MaxPool2d\n"
        "x = torch.randn(1, 16, 9, 9).contiguous(memory_format=torch.channels_last)\n"
        "ok = torch.equal(MaxPool2d(3, 2)(x), torch.nn.functional.max_pool2d(x, 3, 2))\n"
        "from numba.np import linalg\n"
        "print(ok, 'scipy.linalg' in sys.modules, linalg.ensure_blas.__module__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120, env=NUMBA)  # noqa: E501
    assert out.stdout.split() == ["True", str(scipy_first), "numba.np.linalg"], out.stdout + out.stderr


@pytest.mark.slow  # a fresh process
def test_without_a_thread_safe_layer_the_loops_take_callers_one_at_a_time():
    """numba's workqueue layer (where no OpenMP runtime is found) aborts the process when two
    threads run parallel loops at once: there the loops take one caller at a time, and say so."""
    code = (
        "import logging, threading, torch\n"
        "logging.basicConfig(level=logging.WARNING)\n"
        "from dream_core.models.max_pool import MaxPool2d\n"
        "pool = MaxPool2d(3, 1, 1, ceil_mode=True)\n"
        "x = torch.randn(1, 64, 60, 60).contiguous(memory_format=torch.channels_last)\n"
        "want = torch.nn.functional.max_pool2d(x, 3, 1, 1, ceil_mode=True)\n"
        "bad = []\n"
        "def run():\n"
        "    for _ in range(200):\n"
        "        if not torch.equal(pool(x), want): bad.append(1)\n"
        "threads = [threading.Thread(target=run) for _ in range(3)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "import numba; print(numba.threading_layer(), len(bad))\n"
    )
    env = {**NUMBA, "NUMBA_THREADING_LAYER": "workqueue"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["workqueue", "0"], out.stdout + out.stderr
    assert "one caller at a time" in out.stderr
