"""numba's threading layer for the numba build of the CPU loops (:mod:`dream_core.models.max_pool_kernels`,
:mod:`dream_core.models.winograd_kernels`): the fallback where the ahead-of-time build,
:mod:`dream_core.models.native_loops`, is missing (see :mod:`dream_core.models.cpu_loops`).

numba's OpenMP layer binds to the OpenMP runtime torch has loaded, so the loops
share torch's threads; before each call they take as many as torch has now
(:func:`set_threads`, from :func:`dream_core.models.cpu_loops.running`). They are
compiled for this CPU the first time a process imports them (5-11 s, all of them)
and cached on disk by numba (``__pycache__`` beside the code, else the user's cache
directory; ``NUMBA_CACHE_DIR`` moves it), so later processes load them in about
0.6 s (mostly numba's own start-up).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading

import numba
import torch
from numba.np.ufunc import parallel as _numba_parallel

__all__ = ["serial", "set_threads", "start_pool"]

log = logging.getLogger(__name__)
_SAFE_LAYERS = ("omp", "tbb")  # numba's workqueue layer aborts the process when two threads call in at once

_started = threading.Lock()
_serial: contextlib.AbstractContextManager[object] = contextlib.nullcontext()


def start_pool() -> None:
    """Start numba's threading layer once, leaving torch's thread count as it was.

    numba's OpenMP layer binds to the OpenMP runtime torch has already loaded, so the
    loops run on torch's own thread pool (no second set of threads spinning beside it).
    Starting the layer sets that runtime's thread count to numba's default (every CPU),
    which would undo a lower count chosen by the CPU share (two dreams at once then ran 5x
    slower each instead of 2x): torch's is put back. The loop modules call this before
    their loops compile or load (which starts the layer too).
    """
    global _serial
    with _started:
        if _numba_parallel._is_initialized:
            return
        _load_target_without_blas()
        n = torch.get_num_threads()
        _numba_parallel._launch_threads()
        torch.set_num_threads(n)
        layer = numba.threading_layer()
        if layer not in _SAFE_LAYERS:
            _serial = threading.Lock()
            log.warning(
                "numba's threading layer here is %r (no OpenMP runtime, libgomp, found): the CPU loops "
                "run one caller at a time and do not share torch's threads", layer
            )


def _load_target_without_blas() -> None:
    """Load numba's CPU target (its lowering registries) without scipy's BLAS.

    The first loop to compile or load makes numba load its registries, and its numpy one
    imports ``scipy.linalg.cython_blas`` to offer ``np.dot`` inside compiled code: 0.15-0.2 s
    of a CLI dream's first step on a 2-core box. The loops use no BLAS, so that check is
    answered "none" (numba's own path when scipy is absent). Where scipy.linalg is loaded already,
    or numba's internals differ, the registries load as usual.
    """
    if "scipy.linalg" in sys.modules:
        return
    try:
        from numba.core.registry import cpu_target
        from numba.np import linalg
    except ImportError:  # pragma: no cover - another numba layout
        return
    real = getattr(linalg, "ensure_blas", None)
    if real is None:  # pragma: no cover
        return

    def no_blas() -> None:
        raise ImportError("scipy's BLAS is not loaded for DreamBot's loops")

    linalg.ensure_blas = no_blas
    try:
        cpu_target.target_context.refresh()
    finally:
        linalg.ensure_blas = real


def serial() -> contextlib.AbstractContextManager[object]:
    """Around calls of the loops: one caller at a time where numba's threading layer is not thread-safe."""
    return _serial


class _Threads(threading.local):
    count = 0  # numba's count for this thread as last set here (0: not yet)


_threads = _Threads()


def set_threads(n: int) -> int:
    """Run this thread's loops on ``n`` threads (torch's count: the CPU share may have lowered it),
    at most numba's own maximum; returns the count set.

    numba's own getter takes a process-wide lock on every call (about 60 us, 5 ms of a
    GoogLeNet step when asked before each loop), so the count is remembered here, per
    thread as numba keeps it.
    """
    n = max(1, min(n, numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]
    if _threads.count != n:
        numba.set_num_threads(n)
        _threads.count = n
    return n
