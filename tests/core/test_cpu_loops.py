"""Which build of the compiled CPU loops runs (ahead-of-time C, else numba), and the C build's own checks."""

from __future__ import annotations

import logging
import os
import platform
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from dream_core.models import cpu_loops

try:
    from dream_core.models import native_loops as native
except ImportError:  # checked by the first test where a compiler is found
    native = None
needs_native = pytest.mark.skipif(native is None, reason="the native loops are not built here")


@pytest.fixture
def choose(monkeypatch):
    """Choose again from ``DREAMBOT_CPU_LOOPS`` = value (None: unset), as a new process would."""

    def again(value: str | None) -> str:
        monkeypatch.setattr(cpu_loops, "_chosen", None)
        if value is None:
            monkeypatch.delenv(cpu_loops.LOOPS_ENV, raising=False)
        else:
            monkeypatch.setenv(cpu_loops.LOOPS_ENV, value)
        return cpu_loops.build()

    yield again
    monkeypatch.setattr(cpu_loops, "_chosen", None)


def test_the_install_built_the_native_loops_where_a_compiler_is_found():
    """setup.py builds them as an optional extension: a broken build would fall back to numba
    silently (a slower first dream), so a machine with a C compiler must have them."""
    if not (shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("no C compiler here")
    assert native is not None, "a C compiler is here but dream_core.models.native_loops was not built (setup.py)"
    if platform.machine() in ("x86_64", "AMD64"):  # the widest build this CPU runs, as torch's own choice
        want = {"AVX512": "avx512", "AVX2": "avx2"}.get(torch.backends.cpu.get_cpu_capability(), "default")
        assert native.isa() == want


@needs_native
def test_auto_runs_the_native_build_and_named_builds_are_honoured(choose):
    assert choose(None) == "native"
    assert cpu_loops.pool_loops() is native and cpu_loops.winograd_loops() is native
    assert choose("numba") == "numba"
    assert choose(" Native ") == "native"


def test_a_bad_setting_is_one_clear_line(choose):
    with pytest.raises(cpu_loops.LoopsError, match=r"DREAMBOT_CPU_LOOPS='fast': expected one of auto, native, numba"):
        choose("fast")


def test_without_the_native_build_auto_says_so_and_runs_numba(choose, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "dream_core.models.native_loops", None)  # as if not built
    with caplog.at_level(logging.WARNING, logger=cpu_loops.__name__):
        assert choose("auto") == "numba"
    assert "not built" in caplog.text and "C compiler" in caplog.text
    with pytest.raises(cpu_loops.LoopsError, match="not built"):
        choose("native")


@needs_native
def test_a_stale_native_build_is_not_run(choose, monkeypatch, caplog):
    """A checkout updated without reinstalling keeps an old .so: its loops may take other arguments."""
    monkeypatch.setattr(native, "VERSION", cpu_loops.NATIVE_VERSION - 1)
    with caplog.at_level(logging.WARNING, logger=cpu_loops.__name__):
        assert choose("auto") == "numba"
    assert "a stale build" in caplog.text
    with pytest.raises(cpu_loops.LoopsError, match="a stale build"):
        choose("native")


def _f32(*shape: int) -> np.ndarray:
    return np.zeros(shape, np.float32)


def _u8(*shape: int) -> np.ndarray:
    return np.zeros(shape, np.uint8)


@needs_native
@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: native.pool_forward(np.zeros((4, 4, 3)), 2, 2, 0, _f32(2, 2, 3), _u8(2, 2, 3), 1), "x: expected"),
        (lambda: native.pool_forward(_f32(4, 4, 3), 2, 2, 0, _f32(2, 2, 3), _u8(2, 2, 4), 1), "shapes differ"),
        (lambda: native.pool_forward(_f32(4, 4, 3), 2, 2, 0, _f32(9, 2, 3), _u8(9, 2, 3), 1), "disagree"),
        (lambda: native.pool_forward(_f32(4, 4, 3), 2, 2, 2, _f32(2, 2, 3), _u8(2, 2, 3), 1), "disagree"),
        (lambda: native.pool_forward(_f32(4, 4, 3), 2, 2, 0, _f32(2, 2, 3), _u8(2, 2, 3), 0), "chunks"),
        (lambda: native.pool_backward(_f32(2, 2, 3), _u8(2, 2, 3), 16, 2, 0, _f32(4, 4, 3), 1), "disagree"),
        (lambda: native.input_tiles(_f32(8, 8, 3), _f32(8, 8, 3), False, 0, 2, 2, _f32(36, 3, 3), 1), r"n \* tw"),
        (lambda: native.input_tiles(_f32(8, 8, 3), _f32(8, 8, 2), True, 0, 2, 2, _f32(36, 4, 3), 1), "shapes differ"),
        (lambda: native.output_tiles(_f32(36, 4, 5), _f32(4), True, 0, 2, _f32(8, 8, 5), 1), "bias"),
        (lambda: native.output_tiles(_f32(36, 4, 5), _f32(5), True, 0, 2, _f32(8, 8, 5)[:, :, :2], 1), "contiguous"),
    ],
)
def test_the_native_loops_refuse_arrays_that_would_read_or_write_out_of_bounds(call, message):
    """The C loops trust nothing about their arrays: a wrong dtype, rank, shape or window is a
    ValueError, never a read past the end."""
    with pytest.raises(ValueError, match=message):
        call()


@needs_native
def test_the_native_loops_write_only_through_writable_arrays():
    y = _f32(2, 2, 3)
    y.flags.writeable = False
    with pytest.raises((ValueError, BufferError, TypeError)):
        native.pool_forward(_f32(4, 4, 3), 2, 2, 0, y, _u8(2, 2, 3), 1)


@needs_native
@pytest.mark.parametrize(("cap", "want"), [("avx2", {"avx2", "default"}), ("default", {"default"})])
def test_aten_cpu_capability_caps_the_native_build_as_it_caps_torch(cap, want):
    """The knob that emulates a smaller CPU (``ATEN_CPU_CAPABILITY=avx2``, README) caps the loops too."""
    env = {**os.environ, "ATEN_CPU_CAPABILITY": cap}
    code = (  # the extension alone (it reads the variable when loaded), without the package's torch import
        "import importlib.util as u, sys\n"
        "spec = u.spec_from_file_location('dream_core.models.native_loops', sys.argv[1])\n"
        "m = u.module_from_spec(spec); spec.loader.exec_module(m); print(m.isa())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, native.__file__], capture_output=True, text=True, check=True, timeout=60, env=env
    )
    assert out.stdout.strip() in want


@needs_native
@pytest.mark.slow  # a fresh process
def test_googlenets_loops_run_natively_without_loading_numba_and_keep_torchs_threads():
    """The point of the ahead-of-time build: a process dreaming through the loops never imports
    numba (its ~0.6 s start-up), and a thread count the CPU share lowered stays lowered."""
    code = (
        "import sys, torch\n"
        "torch.set_num_threads(1)\n"
        "from dream_core.models.max_pool import MaxPool2d\n"
        "from dream_core.models.winograd import winograd_conv3x3, transform_kernel\n"
        "x = torch.randn(1, 16, 20, 20).contiguous(memory_format=torch.channels_last)\n"
        "F = torch.nn.functional\n"
        "ok = torch.equal(MaxPool2d(3, 2, ceil_mode=True)(x), F.max_pool2d(x, 3, 2, ceil_mode=True))\n"
        "w = torch.randn(8, 16, 3, 3)\n"
        "y = winograd_conv3x3(x, transform_kernel(w))\n"
        "ok = ok and torch.allclose(y, F.conv2d(x, w, padding=1), atol=1e-3)\n"
        "print(ok, 'numba' in sys.modules, torch.get_num_threads())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != cpu_loops.LOOPS_ENV}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120, env=env)
    assert out.stdout.split() == ["True", "False", "1"], out.stdout + out.stderr


@needs_native
def test_the_native_loops_split_work_over_threads_with_the_same_result():
    """Any number of pieces (one per thread; more than rows too) gives the same bits."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((13, 11, 40), dtype=np.float32)
    outs = []
    for chunks in (1, 2, 3, 64):
        y, arg, gx = _f32(7, 6, 40), np.zeros((7, 6, 40), np.uint8), _f32(13, 11, 40)
        native.pool_forward(x, 3, 2, 1, y, arg, chunks)
        native.pool_backward(y, arg, 3, 2, 1, gx, chunks)
        outs.append((y, arg, gx))
    for y, arg, gx in outs[1:]:
        assert np.array_equal(y, outs[0][0]) and np.array_equal(arg, outs[0][1]) and np.array_equal(gx, outs[0][2])
    want = torch.nn.functional.max_pool2d(torch.from_numpy(x).permute(2, 0, 1)[None], 3, 2, 1, ceil_mode=True)
    assert torch.equal(torch.from_numpy(outs[0][0]).permute(2, 0, 1)[None], want)


def test_the_loops_take_several_callers_at_once(loops_build):
    """Threads of one process may pool at the same time: each native call is its own OpenMP team,
    with the GIL released (numba's build serialises callers only on its unsafe threading layer)."""
    import threading

    from dream_core.models.max_pool import MaxPool2d

    pool = MaxPool2d(3, 1, 1, ceil_mode=True)
    x = torch.randn(1, 64, 40, 40).contiguous(memory_format=torch.channels_last)
    want = torch.nn.functional.max_pool2d(x, 3, 1, 1, ceil_mode=True)
    bad: list[int] = []

    def run() -> None:
        for _ in range(100):
            if not torch.equal(pool(x), want):
                bad.append(1)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not bad
