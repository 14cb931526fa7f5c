"""Process settings of the engine: flush-to-zero and the glibc allocator thresholds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dream_core import runtime

ROOT = Path(__file__).resolve().parents[2]
_CHILD = """
from dream_core import runtime
tuned = runtime.tune_allocator(), runtime.tune_allocator()
runtime.release_memory()  # malloc_trim where tuned, nothing otherwise; never an error
print(*tuned)
"""


def test_tune_process_flushes_denormals():
    torch.set_flush_denormal(False)
    runtime.tune_process()
    tiny = torch.tensor([1e-40], dtype=torch.float32)  # a denormal float32
    assert float(tiny * 1.0) == 0.0
    torch.set_flush_denormal(False)


@pytest.mark.slow  # a fresh Python process per case
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
@pytest.mark.parametrize(("setting", "expected"), [("", "True True"), ("off", "False False")])
def test_allocator_tuning_is_applied_once_and_can_be_switched_off(setting, expected, monkeypatch):
    monkeypatch.setenv(runtime.MALLOC_ENV, setting)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, check=True, cwd=ROOT, env=env)
    assert out.stdout.split() == expected.split()
