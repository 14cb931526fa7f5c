"""The registry of buildable models: their specs, offline listing and a load cache.

Layer tables, aliases and target resolution live in the torch-free
:mod:`dream_core.catalog` (re-exported here for the worker side's convenience).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import Union

import torch

from dream_core.catalog import (
    DEFAULT_MODEL,
    ResolvedTerm,
    get_info,
    layer_names,
    layer_table,
    resolve_targets,
)
from dream_core.errors import DreamParamsError, ModelUnavailableError
from dream_core.models import efficientnet_lite0, googlenet, resnet50, vgg16
from dream_core.models.base import DreamModel, ModelSpec

log = logging.getLogger(__name__)

_MODULES = {m.NAME: m for m in (efficientnet_lite0, googlenet, vgg16, resnet50)}
MODELS: dict[str, ModelSpec] = {name: m.SPEC for name, m in _MODULES.items()}

__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "ModelListing",
    "ResolvedTerm",
    "clear_cache",
    "get_model",
    "get_spec",
    "layer_names",
    "layer_table",
    "list_models",
    "resolve_device",
    "resolve_targets",
]

DeviceLike = Union[str, torch.device, None]


@dataclass(frozen=True)
class ModelListing:
    """One line of ``dreambot models``."""

    name: str
    title: str
    available_offline: bool
    weights: str
    env_var: str | None
    default: bool


def get_spec(name: str) -> ModelSpec:
    """The buildable spec of a catalogued model (DreamParamsError for an unknown one)."""
    get_info(name)
    return MODELS[name]


def list_models() -> list[ModelListing]:
    """All registered models, default first, with offline availability."""
    out = []
    for name, spec in MODELS.items():
        try:
            offline = bool(_MODULES[name].available_offline())
        except Exception:  # noqa: BLE001 - a listing must not fail
            offline = False
        out.append(
            ModelListing(
                name, spec.title, offline, spec.weights.description, spec.weights.env_var, name == DEFAULT_MODEL
            )
        )
    return out


def resolve_device(device: DeviceLike = None) -> torch.device:
    """``None``/"auto" -> CUDA when available, else CPU."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError):
        raise DreamParamsError(f"device: can't use {device!r} (try 'cpu' or 'cuda')") from None


_cache: dict[tuple[str, str, str | None], DreamModel] = {}
_lock = threading.Lock()


def get_model(
    name: str = DEFAULT_MODEL, device: DeviceLike = None, weights: str | os.PathLike[str] | None = None
) -> DreamModel:
    """Load (once, then from a cache keyed by name+device+weights) a frozen eval-mode model.

    ``weights`` is a local state-dict file; without it the model's env var, then
    its default source (bundled package / torchvision weights API) is used.
    Raises :class:`ModelUnavailableError` when the weights can't be had.
    """
    spec = get_spec(name)
    dev = resolve_device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ModelUnavailableError("device: CUDA was asked for but no CUDA GPU is available here")
    wkey = str(os.fspath(weights)) if weights else (os.environ.get(spec.weights.env_var or "") or None)
    key = (name, str(dev), wkey)
    with _lock:
        model = _cache.get(key)
        if model is None:
            log.info("loading model %s on %s (weights: %s)", name, dev, wkey or "default")
            model = spec.build(spec, dev, str(weights) if weights else None)
            # channels-last convolutions are faster on CUDA and on CPU (oneDNN); see bench/bench_dream.py.
            model = model.to(memory_format=torch.channels_last)
            _cache[key] = model
        return model


def clear_cache() -> None:
    """Forget loaded models (tests, memory pressure)."""
    with _lock:
        _cache.clear()
