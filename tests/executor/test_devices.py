"""Default devices are counted without torch in the calling (bot) process, as torch would count them.

The edges are faked where this machine has none of them (no NVIDIA driver, no GPU):
NVML's list of GPU UUIDs, ``/dev``, the torch subprocess probe. ``CUDA_VISIBLE_DEVICES``
is parsed as ``torch.cuda._parse_visible_devices`` does; the expected values below are
what torch's parser gives (checked against it where it is importable).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dream_core.executor.devices import (
    NvmlGpus,
    TorchBuild,
    count_visible,
    driver_runs,
    gpu_count,
    gpu_device_nodes,
    nvml_gpus,
    parse_visible_devices,
    torch_build,
)

ROOT = Path(__file__).resolve().parents[2]
A = "GPU-a3c1e2f4-0000-1111-2222-333344445555"
B = "GPU-b7d09e11-0000-1111-2222-333344445555"
AB = "GPU-ab000000-0000-1111-2222-333344445555"

PARSED = [
    (None, list(range(64))),  # unset: every GPU
    ("", []),
    ("-1", []),
    ("NoDevFiles", []),  # what container runtimes set when no GPU is given
    ("0", [0]),
    ("1,0", [1, 0]),
    (" 0 , 2 ", [0, 2]),
    ("0,-1,1", [0]),  # the first invalid entry ends the list
    ("0,x,1", [0]),
    ("2,2", []),  # a repeated ordinal hides every GPU
    ("1gpu,2ampere", [1, 2]),  # read like strtoul
    ("+1", [1]),
    (f"{A},{B}", [A, B]),
    (f"{A},0", [A]),  # a UUID list ends at the first entry without the prefix
    (f"{A},{A}", []),
    ("GPU-a3c1", ["GPU-a3c1"]),  # a prefix is allowed
    ("MIG-4f2e", ["MIG-4f2e"]),
]


@pytest.mark.parametrize(("value", "expected"), PARSED)
def test_cuda_visible_devices_is_parsed_as_torch_parses_it(value, expected, monkeypatch):
    assert parse_visible_devices(value) == expected
    import torch.cuda

    if value is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", value)
    assert torch.cuda._parse_visible_devices() == expected  # the reference (a private helper: pinned here)


@pytest.mark.parametrize(
    ("visible", "uuids", "expected"),
    [
        ("", [A, B], 0),
        (None, [A, B], 2),
        (None, [], 0),
        ("0", [A, B], 1),
        ("1", [A], 0),  # no GPU 1 on a one-GPU machine
        ("0,1,2,3", [A, B], 2),  # trimmed at the first ordinal that is not there
        ("1,0", [A, B], 2),
        ("3,0", [A, B], 0),
        (B, [A, B], 1),
        ("GPU-b7d0", [A, B], 1),  # a unique prefix
        ("GPU-a", [A, B, AB], 0),  # ambiguous: no GPU
        (f"{A},GPU-ffff", [A, B], 1),  # unknown UUID ends the list
        (f"{A},GPU-a3c1", [A, B], 0),  # the same GPU twice: none
        ("MIG-4f2e", [A], None),  # MIG instances: only CUDA can tell
    ],
)
def test_visible_gpus_are_counted_as_torch_counts_them_through_nvml(visible, uuids, expected):
    assert count_visible(parse_visible_devices(visible), uuids) == expected


def _never(*_a):
    raise AssertionError("not to be asked")


CUDA12 = TorchBuild("cuda", "12.4")


def gpus(*uuids: str, driver: int = 12080) -> NvmlGpus:
    return NvmlGpus(list(uuids), driver)


def test_the_count_takes_the_cheapest_sure_way():
    env2 = {"CUDA_VISIBLE_DEVICES": "1,0"}
    # a torch built without GPU support never uses one: nothing else is asked
    assert gpu_count({}, build=TorchBuild("cpu"), nvml=_never, has_gpu_nodes=_never, probe=_never) == 0
    # every GPU hidden: nothing else is asked
    for hidden in ("", "-1", "NoDevFiles"):
        assert gpu_count({"CUDA_VISIBLE_DEVICES": hidden}, build=CUDA12, nvml=_never, probe=_never) == 0
    # NVML answers
    assert gpu_count({}, build=CUDA12, nvml=lambda: gpus(A, B), probe=_never) == 2
    assert gpu_count({}, build=CUDA12, nvml=lambda: gpus(), probe=_never) == 0
    assert gpu_count(env2, build=CUDA12, nvml=lambda: gpus(A), probe=_never) == 0
    assert gpu_count({"CUDA_VISIBLE_DEVICES": B}, build=CUDA12, nvml=lambda: gpus(A, B), probe=_never) == 1
    # NVML missing, no GPU device node: no GPU
    assert gpu_count({}, build=CUDA12, nvml=lambda: None, has_gpu_nodes=lambda: False, probe=_never) == 0
    # ... with a GPU device node (WSL, NVML missing), MIG, a ROCm build, a torch we cannot read: torch decides
    assert gpu_count({}, build=CUDA12, nvml=lambda: None, has_gpu_nodes=lambda: True, probe=lambda: 3) == 3
    mig = {"CUDA_VISIBLE_DEVICES": "MIG-4f2e"}
    assert gpu_count(mig, build=CUDA12, nvml=lambda: gpus(A), has_gpu_nodes=lambda: True, probe=lambda: 1) == 1
    for build in (TorchBuild("rocm"), TorchBuild("unknown")):
        assert gpu_count({}, build=build, nvml=_never, has_gpu_nodes=lambda: True, probe=lambda: 2) == 2
        assert gpu_count({}, build=build, nvml=_never, has_gpu_nodes=lambda: False, probe=_never) == 0


def test_a_driver_too_old_for_torchs_cuda_means_the_cpu(caplog):
    """As ``torch.cuda.is_available()`` said (False) when the bot asked torch; with a line saying why."""
    assert gpu_count({}, build=TorchBuild("cuda", "13.0"), nvml=lambda: gpus(A, driver=12080), probe=_never) == 0
    assert "supports CUDA 12.8 but this torch needs CUDA 13.0" in caplog.text
    # CUDA's minor version compatibility: a 12.8 build runs on a 12.2 driver; unknown versions pass
    assert gpu_count({}, build=TorchBuild("cuda", "12.8"), nvml=lambda: gpus(A, driver=12020), probe=_never) == 1
    assert gpu_count({}, build=TorchBuild("cuda", "13.0"), nvml=lambda: gpus(A, driver=13010), probe=_never) == 1
    assert gpu_count({}, build=TorchBuild("cuda", "12.1"), nvml=lambda: NvmlGpus([A]), probe=_never) == 1
    assert driver_runs(11040, "11.8") and not driver_runs(11080, "12.1") and driver_runs(None, "12.1")


def test_the_torch_build_is_read_without_importing_torch(tmp_path):
    import torch

    expected = "rocm" if torch.version.hip else "cuda" if torch.version.cuda else "cpu"
    assert torch_build() == TorchBuild(expected, torch.version.cuda if expected == "cuda" else None)

    def build_of(version_py: str) -> TorchBuild:
        pkg = tmp_path / "torch"
        pkg.mkdir(exist_ok=True)
        (pkg / "version.py").write_text(version_py)
        return torch_build(str(pkg / "__init__.py"))

    assert build_of("cuda: Optional[str] = None\nhip: Optional[str] = None\n") == TorchBuild("cpu")
    assert build_of("cuda: Optional[str] = '12.4'\nhip: Optional[str] = None\n") == CUDA12
    assert build_of("cuda = None\nhip = '6.2.41133'\n").kind == "rocm"
    assert build_of("cuda = None\n").kind == "unknown"
    assert build_of("cuda = (\n").kind == "unknown"
    assert torch_build(str(tmp_path / "none" / "__init__.py")).kind == "unknown"


def test_no_nvidia_driver_no_nvml_answer():
    if Path("/proc/driver/nvidia").exists():
        pytest.skip("this machine has the NVIDIA driver")
    assert nvml_gpus() is None


def test_gpu_device_nodes(tmp_path):
    assert not gpu_device_nodes(tmp_path)
    for node in ("nvidiactl", "dxg", "kfd"):
        (tmp_path / node).touch()
        assert gpu_device_nodes(tmp_path)
        (tmp_path / node).unlink()


def test_default_devices_keep_torch_out_of_the_calling_process():
    """The bot process's call, in a fresh process of its own: the devices, and no torch loaded."""
    code = (
        "import json, sys; from dream_core.executor.local import default_devices; "
        "d = default_devices(); print(json.dumps([d, 'torch' in sys.modules]))"
    )
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=60, check=True,
    )
    devices, torch_loaded = json.loads(out.stdout)
    assert not torch_loaded
    import torch

    n = torch.cuda.device_count() if torch.cuda.is_available() else 0  # the reference, here in the test process
    assert devices == ([f"cuda:{i}" for i in range(n)] or ["cpu"])


@pytest.mark.slow  # imports torch in a subprocess
def test_the_torch_probe_counts_what_a_worker_sees():
    import torch

    from dream_core.executor.devices import count_with_torch

    assert count_with_torch() == (torch.cuda.device_count() if torch.cuda.is_available() else 0)
