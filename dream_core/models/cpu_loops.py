"""The compiled CPU loops (max-pooling, Winograd's tile transforms): which build runs, on how many threads.

Two builds of the same loops, with the same arguments and results:

- **native** (:mod:`dream_core.models.native_loops`, C compiled by the package's
  install, ``setup.py``): loads in about a millisecond; each loop is built for
  AVX-512, AVX2 and the baseline, the CPU picks.
- **numba** (:mod:`dream_core.models.max_pool_kernels`,
  :mod:`dream_core.models.winograd_kernels`): compiled for this CPU on first use
  (5-11 s, once, cached on disk), then about 0.6 s to load in every process
  (:mod:`dream_core.models.numba_threads`). It runs where the install found no C compiler.

``DREAMBOT_CPU_LOOPS`` chooses: ``auto`` (default: native where built, else
numba, saying so once in the log), ``native`` or ``numba``. Both run on the
OpenMP runtime torch has loaded, so they share torch's threads; before each
call they take as many threads as torch has now (:func:`running`): the CPU share
(:mod:`dream_core.cpu_share`) lowers torch's count when other processes hold
cores, and the loops follow. Their work is split into one piece per thread
(:func:`chunks`).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import threading
from collections.abc import Iterator
from types import ModuleType

import torch

__all__ = [
    "CHOICES", "LOOPS_ENV", "LoopsError", "build", "chunks", "describe", "nhwc",
    "pool_loops", "running", "winograd_loops",
]  # fmt: skip

log = logging.getLogger(__name__)

LOOPS_ENV = "DREAMBOT_CPU_LOOPS"
CHOICES = ("auto", "native", "numba")
NATIVE_VERSION = 1  # native_loops.c's NATIVE_LOOPS_VERSION that this code calls
_NATIVE = "dream_core.models.native_loops"


class LoopsError(RuntimeError):
    """``DREAMBOT_CPU_LOOPS`` names no build, or names one that cannot load here."""


_chosen: str | None = None
_choosing = threading.Lock()


def build() -> str:
    """``"native"`` or ``"numba"``: the build this process runs (chosen once, from ``DREAMBOT_CPU_LOOPS``)."""
    global _chosen
    if _chosen is not None:  # before every loop call: no lock once chosen
        return _chosen
    with _choosing:
        if _chosen is None:
            _chosen = _choose(os.environ.get(LOOPS_ENV, "auto").strip().lower() or "auto")
        return _chosen


def _choose(asked: str) -> str:
    if asked not in CHOICES:
        raise LoopsError(f"{LOOPS_ENV}={asked!r}: expected one of {', '.join(CHOICES)}")
    if asked == "numba":
        return "numba"
    try:
        found = getattr(importlib.import_module(_NATIVE), "VERSION", None)
        if found != NATIVE_VERSION:
            raise ImportError(f"a stale build: version {found}, this code needs {NATIVE_VERSION}")
    except ImportError as exc:
        if asked == "native":
            raise LoopsError(
                f"{LOOPS_ENV}=native, but the compiled loops are not built ({exc}): reinstall DreamBot "
                "where a C compiler is found (pip install with gcc), or set it to auto"
            ) from exc
        log.warning(
            "the ahead-of-time CPU loops (dream_core.models.native_loops) are not built or stale: running numba's, "
            "which compile on first use (5-11 s, once) and take ~0.6 s to load in each process. "
            "Reinstall DreamBot with a C compiler (gcc) present to build them (%s).",
            exc,
        )
        return "numba"
    return "native"


def describe() -> str:
    """The build that runs, for logs and benches: ``"native (avx2)"`` (with the instruction set it
    runs here) or ``"numba"``."""
    if build() == "native":
        return f"native ({importlib.import_module(_NATIVE).isa()})"
    return "numba"


def pool_loops() -> ModuleType:
    """The module with ``pool_forward`` and ``pool_backward`` (see :mod:`dream_core.models.max_pool_kernels`)."""
    return _loops("dream_core.models.max_pool_kernels")


def winograd_loops() -> ModuleType:
    """The module with ``input_tiles`` and ``output_tiles`` (see :mod:`dream_core.models.winograd_kernels`)."""
    return _loops("dream_core.models.winograd_kernels")


def _loops(numba_module: str) -> ModuleType:
    """The native module (all the loops) where it runs, else ``numba_module``."""
    return importlib.import_module(_NATIVE if build() == "native" else numba_module)


class _Threads(threading.local):
    count = 1  # the loops' thread count for this thread, as :func:`running` last set it


_threads = _Threads()


@contextlib.contextmanager
def running() -> Iterator[None]:
    """Around calls of the loops: as many threads as torch has now (and, for numba's build, one
    caller at a time where its threading layer is not thread-safe)."""
    n = max(1, torch.get_num_threads())
    if build() == "native":
        _threads.count = n
        yield
        return
    from dream_core.models import numba_threads

    _threads.count = numba_threads.set_threads(n)
    with numba_threads.serial():
        yield


def chunks(items: int) -> int:
    """How many pieces to split ``items`` independent items into: one per thread (the loops hand
    them out statically, so more pieces would balance nothing). Inside :func:`running`."""
    return max(1, min(items, _threads.count))


def nhwc(x: torch.Tensor) -> torch.Tensor:
    """A batch-1 ``x`` [1, C, H, W] as the contiguous [H, W, C] the loops take (a view when
    already channels-last)."""
    return x[0].permute(1, 2, 0).contiguous()
