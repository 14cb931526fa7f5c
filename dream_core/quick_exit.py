"""Ending a one-shot command's process without Python's interpreter teardown.

After ``dreambot dream`` has written its picture, a normal exit still unloads
torch, numba and LLVM module by module: 0.4-0.7 s on a 2-core box, a tenth of a
GoogLeNet CLI dream's wall time, spent after the work is done. :func:`leave`
flushes what the command printed and logged, then ends the process at once.
Only the console entry points call it, after their command returned: commands
run in-process (tests, the bot) exit normally.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import NoReturn

__all__ = ["leave"]


def leave(status: int) -> NoReturn:
    """Flush stdout, stderr and the logging handlers, then exit with ``status`` (no teardown)."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe: nothing left to save
            stream.flush()
    os._exit(status)
