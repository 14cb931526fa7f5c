"""Executor fixtures: one real executor per backend, shared by a test module.

``executor`` is parametrized over the backends, so every behavioural test runs
against real worker processes (local) and real Ray actors on a local Ray
(started once: only test_executor.py uses it; it is shut down when that module
ends so Ray does not idle through the rest of the suite). Both use the real
bundled model on the CPU.
"""

from __future__ import annotations

import pytest_asyncio

from dream_core.executor import create_executor
from dream_core.executor.base import BaseExecutor
from tests.executor.helpers import make_config

BACKENDS = ["local", "ray"]


@pytest_asyncio.fixture(scope="module", loop_scope="session", params=BACKENDS)
async def executor(request) -> BaseExecutor:
    ex = create_executor(make_config(request.param))
    await ex.start()
    yield ex
    await ex.close()
