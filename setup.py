"""The compiled CPU loops (``dream_core/models/native_loops.c``); everything else is in pyproject.toml.

The extension is optional: where no C compiler is found (or the build fails) the
install goes on without it and the same loops run through numba instead
(``dream_core/models/cpu_loops.py`` chooses). It takes no Python or NumPy headers
beyond Python's own, and OpenMP from the compiler (``libgomp.so.1``, the runtime
PyTorch's Linux wheels load, so the loops share torch's threads).
"""

from __future__ import annotations

import sys

from setuptools import Extension, setup

_OPENMP = [] if sys.platform in ("win32", "darwin") else ["-fopenmp"]

setup(
    ext_modules=[
        Extension(
            "dream_core.models.native_loops",
            ["dream_core/models/native_loops.c"],
            depends=["dream_core/models/native_loops_kernels.h"],
            extra_compile_args=["-O3", "-std=gnu11", *_OPENMP],
            extra_link_args=_OPENMP,
            optional=True,
        )
    ]
)
