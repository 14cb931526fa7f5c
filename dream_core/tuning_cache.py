"""Where autotune results live: one JSON file of :class:`Tuning` entries, keyed per model and machine.

The key names the model, the device (CUDA device name, or CPU capability and
thread count) and the torch version, so a new machine, thread count or torch
measures again. The file is under the user cache directory, or at
``DREAMBOT_AUTOTUNE_CACHE`` (``off``: this process's memory only). Writes are
atomic (a temporary file renamed over the old one); an unreadable or
unwritable file never stops a dream.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from dream_core import cpu_share
from dream_core.models import DreamModel

log = logging.getLogger(__name__)

CACHE_ENV = "DREAMBOT_AUTOTUNE_CACHE"


@dataclass
class Tuning:
    """What is measured for one model on one machine (the cache entry)."""

    precision: str = "fp32"  # "fp32" | "bf16" | "fp16"
    channels_last: bool = True
    winograd: bool = False  # 3x3 convolutions by Winograd (measured faster on this machine)
    bytes_per_px: float = 0.0  # one gradient's peak memory per input pixel (deepest layer)
    timings: dict[str, float] = field(default_factory=dict)  # the precision measurements (for the record)

    @property
    def amp_dtype(self) -> torch.dtype | None:
        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)

    @property
    def choice(self) -> str:
        """What was chosen, in words (``"fp32 channels-last winograd"``), for logs and reports."""
        return f"{self.precision}{' channels-last' if self.channels_last else ''}{' winograd' if self.winograd else ''}"


def cache_path() -> Path | None:
    """Where tunings are stored (``None``: in memory only)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return None if env.lower() == "off" else Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dreambot" / "autotune.json"


#: Bumped whenever the engine or a model changes in a way that moves the timings
#: (kernels, layouts, allocator settings): tunings measured by older code are then
#: measured again instead of trusted forever.
ENGINE_VERSION = 7


def machine_key(model: DreamModel) -> str:
    """The cache key: model, device, torch version, CPU capability, thread count and engine version."""
    dev = model.device
    if dev.type == "cuda":
        where = f"cuda:{torch.cuda.get_device_name(dev)}"
    else:
        threads = cpu_share.tuning_threads(torch.get_num_threads())  # the full count while sharing the CPU
        where = f"cpu:{torch.backends.cpu.get_cpu_capability()}:{threads}t"
    return f"{model.name}|{where}|torch {torch.__version__}|engine {ENGINE_VERSION}"


lock = threading.Lock()  # measuring and storing: one thread at a time
_memory: dict[str, Tuning] = {}


def _read_all(path: Path) -> dict[str, dict]:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def store(key: str, tuning: Tuning) -> None:
    _memory[key] = tuning
    path = cache_path()
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = _read_all(path)
        data[key] = asdict(tuning)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        tmp.replace(path)
    except OSError as exc:  # a read-only home must not stop a dream
        log.warning("autotune: can't write %s: %s", path, exc)


def load(key: str) -> Tuning | None:
    if key in _memory:
        return _memory[key]
    path = cache_path()
    if path is None:
        return None
    raw = _read_all(path).get(key)
    if not isinstance(raw, dict):
        return None
    try:
        t = Tuning(**raw)
    except TypeError:
        return None
    _memory[key] = t
    return t


def clear_memory_cache() -> None:
    """Forget tunings held in this process (the file stays)."""
    _memory.clear()
