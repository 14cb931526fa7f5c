"""Process-wide CPU settings a dream runs fastest with (set by the engine and every worker).

* **flush denormals**: gradients deep in an ascent turn denormal; on x86 they
  cost several times the time of normal floats and mean nothing here.
* **glibc allocator**: by default glibc serves every block over 128 KiB (a
  threshold that only grows as large blocks are freed) with a fresh ``mmap``
  and returns it on ``free``, so each step pays page faults and page zeroing
  for every activation again. Measured on the 2-core reference box, a default
  512 px lite0 dream in a fresh process spent ~15 % of its time there.
  Blocks up to :data:`MMAP_THRESHOLD` (a tile's activations) now come from the
  heap and are reused; the heap gives memory back to the system once
  :data:`TRIM_THRESHOLD` lies free at its top. Larger blocks (the image-sized
  tensors of big dreams) keep their own mappings: in the heap they would sit
  between activations and be kept, not reused. :func:`release_memory` hands
  the heap's free memory back when a dream moves to a new size (an octave).

``DREAMBOT_MALLOC_TUNING=off`` keeps glibc's defaults.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
from collections.abc import Callable

import torch

log = logging.getLogger(__name__)

MALLOC_ENV = "DREAMBOT_MALLOC_TUNING"
MMAP_THRESHOLD = 64 << 20  # bytes: larger blocks get their own mmap (and go back at once)
TRIM_THRESHOLD = 512 << 20  # bytes free at the heap's top before it is handed back
_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3

_malloc_done = False
_malloc_trim: Callable[[int], int] | None = None


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds once per process; False where not glibc or switched off."""
    global _malloc_done
    if _malloc_done:
        return True
    if not sys.platform.startswith("linux") or os.environ.get(MALLOC_ENV, "").strip().lower() in ("off", "0", "no"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others: no mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    global _malloc_trim
    _malloc_trim = getattr(libc, "malloc_trim", None)
    # The mmap threshold first: setting the trim threshold alone stops glibc's own
    # adaptation and leaves the 128 KiB default (every activation an mmap).
    ok = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    if not ok:
        log.debug("mallopt refused the thresholds; glibc defaults kept")
    _malloc_done = ok
    return ok


def release_memory() -> None:
    """Give the heap's free memory back to the system (glibc's ``malloc_trim``) where
    the allocator was tuned; nothing otherwise.

    For when what a dream allocates changes size (a new octave): a tile's
    activations of the old size, freed but kept by the heap, would otherwise add
    to the new size's. Costs the next step its page faults once, not every step.
    """
    if _malloc_done and _malloc_trim is not None:
        _malloc_trim(0)


def make_room_for(nbytes: int) -> None:
    """Before a dream allocates image-sized tensors of ``nbytes``: blocks that size get
    their own mappings (over :data:`MMAP_THRESHOLD`), so the heap's free memory kept
    from the last octave's activations would add to them; hand it back. Below that
    the heap keeps it: re-faulting the working set would cost a step more than it saves."""
    if nbytes >= MMAP_THRESHOLD:
        release_memory()


def tune_process() -> None:
    """Flush denormals to zero and tune the allocator (cheap; safe to call before every dream)."""
    torch.set_flush_denormal(True)
    tune_allocator()
