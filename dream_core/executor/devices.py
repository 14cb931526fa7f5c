"""The devices the local executor uses by default, found without importing torch.

The executor runs in the bot process, which stays light: importing torch there
(to call ``torch.cuda.device_count()``) cost the bot ~585 MB. So the count is
taken the way torch itself takes it, without torch:

1. torch built without GPU support (its generated ``torch/version.py`` names no
   CUDA and no HIP version): no GPU, one CPU worker.
2. A CUDA build: ``CUDA_VISIBLE_DEVICES`` is parsed exactly as
   ``torch.cuda._parse_visible_devices`` does (indices up to the first invalid
   one, ``GPU-`` UUID prefixes, a repeated entry hides every GPU), and the
   NVIDIA driver's NVML library counts the GPUs that remain, as
   ``torch.cuda.device_count()`` does (``torch.cuda._device_count_nvml``). A driver
   too old for torch's CUDA version means the CPU, as ``torch.cuda.is_available()``
   said before (with a log line saying why).
3. Where that cannot tell (a ROCm build, ``MIG-`` UUIDs, NVML missing or failing)
   and this machine has a GPU device node, torch is asked in a short-lived
   subprocess: exactly what a worker will see.
4. Otherwise: one CPU worker.
"""

from __future__ import annotations

import ast
import ctypes
import importlib.util
import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple, Optional, Union

log = logging.getLogger(__name__)

Visible = Union[list[int], list[str]]

#: what torch returns for an unset ``CUDA_VISIBLE_DEVICES``: every ordinal (torch also caps at 64)
_ALL = list(range(64))

_PROBE = "import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)"


def default_devices() -> tuple[str, ...]:
    """Every GPU a worker will see, else one CPU worker."""
    return tuple(f"cuda:{i}" for i in range(gpu_count())) or ("cpu",)


def gpu_count(
    env: Mapping[str, str] = os.environ,
    *,
    build: Optional[TorchBuild] = None,
    nvml: Callable[[], Optional[NvmlGpus]] = lambda: nvml_gpus(),
    has_gpu_nodes: Callable[[], bool] = lambda: gpu_device_nodes(),
    probe: Callable[[], int] = lambda: count_with_torch(),
) -> int:
    """The GPUs torch will see in a worker started with ``env``; torch stays out of this process.

    The keyword arguments are the edges (the torch build, NVML, ``/dev``, the probe), for tests.
    """
    build = torch_build() if build is None else build
    if build.kind == "cpu":
        return 0
    if build.kind == "cuda":
        visible = parse_visible_devices(env.get("CUDA_VISIBLE_DEVICES"))
        if not visible:
            return 0
        gpus = nvml()
        n = count_visible(visible, gpus.uuids) if gpus is not None else None
        if gpus is not None and n is not None:
            if n and not driver_runs(gpus.driver_cuda, build.cuda):
                log.warning(
                    "the NVIDIA driver supports CUDA %s but this torch needs CUDA %s: dreaming on the CPU "
                    "(update the driver, or install a torch built for CUDA %s)",
                    cuda_text(gpus.driver_cuda), build.cuda, cuda_text(gpus.driver_cuda),
                )
                return 0
            return n
    if not has_gpu_nodes():
        return 0
    return probe()


def parse_visible_devices(value: Optional[str]) -> Visible:
    """``CUDA_VISIBLE_DEVICES`` as torch (and CUDA) read it: ordinals or UUID prefixes, in order.

    Unset: every GPU. Empty, ``-1`` or ``NoDevFiles``: none. Parsing stops at the
    first invalid entry; a repeated entry hides every GPU. An index is read like
    C's ``strtoul`` (``1gpu`` is 1). Lists starting ``GPU-`` or ``MIG-`` hold UUIDs.
    """
    if value is None:
        return list(_ALL)
    for prefix in ("GPU-", "MIG-"):
        if value.startswith(prefix):
            uuids: list[str] = []
            for elem in value.split(","):
                if elem in uuids:
                    return []
                if not elem.startswith(prefix):
                    break
                uuids.append(elem)
            return uuids
    ordinals: list[int] = []
    for elem in value.split(","):
        m = re.match(r"[+-]?\d+", elem.strip())
        x = int(m.group()) if m else -1
        if x in ordinals:
            return []
        if x < 0:
            break
        ordinals.append(x)
    return ordinals


def count_visible(visible: Visible, uuids: Sequence[str]) -> Optional[int]:
    """How many of the machine's GPUs (NVML's ``uuids``, in NVML order) ``visible`` leaves to CUDA.

    None where this cannot be told without CUDA (MIG instances).
    """
    if not visible or not uuids:
        return 0
    if isinstance(visible[0], str):
        if visible[0].startswith("MIG-"):
            return None
        ordinals: list[int] = []
        for candidate in visible:
            matches = [i for i, u in enumerate(uuids) if u.startswith(str(candidate))]
            if len(matches) != 1:  # unknown or ambiguous: the list ends here
                break
            if matches[0] in ordinals:
                return 0
            ordinals.append(matches[0])
        return len(ordinals)
    for i, ordinal in enumerate(visible):
        if int(ordinal) >= len(uuids):
            return i
    return len(visible)


class TorchBuild(NamedTuple):
    """What the installed torch was built for: ``kind`` 'cuda', 'rocm', 'cpu' (no GPU support)
    or 'unknown'; ``cuda`` its CUDA version ('12.4')."""

    kind: str
    cuda: Optional[str] = None


def torch_build(spec_origin: Optional[str] = None) -> TorchBuild:
    """The installed torch's build, read from its generated ``torch/version.py`` without importing torch."""
    if spec_origin is None:
        try:
            spec = importlib.util.find_spec("torch")
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.origin:
            return TorchBuild("cpu")  # no torch: the workers could not run on any GPU either
        spec_origin = spec.origin
    values: dict[str, object] = {}
    try:
        tree = ast.parse(Path(spec_origin).with_name("version.py").read_text())
        for node in tree.body:
            targets: list[ast.expr]
            if isinstance(node, ast.AnnAssign) and node.value is not None:
                targets, value = [node.target], node.value
            elif isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            else:
                continue
            for target in targets:
                if isinstance(target, ast.Name) and target.id in ("cuda", "hip"):
                    values[target.id] = ast.literal_eval(value)
    except (OSError, SyntaxError, ValueError):
        return TorchBuild("unknown")
    if set(values) != {"cuda", "hip"}:
        return TorchBuild("unknown")
    if values["hip"]:
        return TorchBuild("rocm")
    return TorchBuild("cuda", str(values["cuda"])) if values["cuda"] else TorchBuild("cpu")


def driver_runs(driver_cuda: Optional[int], torch_cuda: Optional[str]) -> bool:
    """Whether a driver supporting CUDA ``driver_cuda`` (NVML's number: 12040 is 12.4) runs a torch
    built for ``torch_cuda`` ('12.1'): CUDA's minor version compatibility needs the same major
    version or a newer one. Unknown versions count as compatible (the worker then says more)."""
    if not driver_cuda or not torch_cuda:
        return True
    try:
        needed = int(torch_cuda.split(".")[0])
    except ValueError:
        return True
    return driver_cuda // 1000 >= needed


def cuda_text(version: Optional[int]) -> str:
    """NVML's CUDA version number as people write it: 12040 -> '12.4'."""
    return "?" if not version else f"{version // 1000}.{version % 1000 // 10}"


class NvmlGpus(NamedTuple):
    """The NVIDIA GPUs of this machine as the driver's NVML lists them."""

    uuids: list[str]
    driver_cuda: Optional[int] = None  # the newest CUDA version the driver supports (12040: 12.4)


def nvml_gpus() -> Optional[NvmlGpus]:
    """This machine's NVIDIA GPUs from the driver's NVML library (no CUDA context, no torch), as
    ``torch.cuda.device_count`` reads them; None when NVML is missing or fails."""
    try:
        nvml = ctypes.CDLL("libnvidia-ml.so.1")
        if nvml.nvmlInit_v2() != 0:
            return None
    except (OSError, AttributeError):
        return None
    try:
        count = ctypes.c_uint(0)
        if nvml.nvmlDeviceGetCount_v2(ctypes.byref(count)) != 0:
            return None
        uuids: list[str] = []
        for i in range(count.value):
            handle = ctypes.c_void_p()
            if nvml.nvmlDeviceGetHandleByIndex_v2(i, ctypes.byref(handle)) != 0:
                return None
            buf = ctypes.create_string_buffer(96)
            if nvml.nvmlDeviceGetUUID(handle, buf, len(buf)) != 0:
                return None
            uuids.append(buf.value.decode("ascii", "replace"))
        driver = ctypes.c_int(0)
        get_version = getattr(nvml, "nvmlSystemGetCudaDriverVersion_v2", None)
        if get_version is None or get_version(ctypes.byref(driver)) != 0:
            driver.value = 0
        return NvmlGpus(uuids, driver.value or None)
    except AttributeError:
        return None
    finally:
        nvml.nvmlShutdown()


def gpu_device_nodes(dev: Path = Path("/dev")) -> bool:
    """Whether this machine exposes a GPU to processes: NVIDIA (``nvidiactl``), WSL (``dxg``), AMD (``kfd``)."""
    return any((dev / name).exists() for name in ("nvidiactl", "dxg", "kfd"))


def count_with_torch(timeout_s: float = 180.0) -> int:
    """Ask torch in a short-lived subprocess (this environment, as a worker gets it); 0 when it cannot say."""
    try:
        out = subprocess.run(
            [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=timeout_s, check=True
        )
        return int(out.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        log.warning("could not count the GPUs (%s); using the CPU. Set DREAMBOT_EXECUTOR_DEVICES to choose.", exc)
        return 0
