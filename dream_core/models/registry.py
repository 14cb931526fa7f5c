"""The registry of dreamable models: lookup, layer tables, target resolution and a load cache.

Everything here except :func:`get_model` works from static tables, without
importing torchvision models or loading weights (cheap enough for Discord
autocomplete).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import Union

import torch

from dream_core.errors import DreamParamsError, ModelUnavailableError
from dream_core.models import efficientnet_lite0, googlenet, resnet50, vgg16
from dream_core.models.base import DreamModel, LayerInfo, ModelSpec
from dream_core.targets import TargetTerm, parse_target_spec

log = logging.getLogger(__name__)

_MODULES = {m.NAME: m for m in (efficientnet_lite0, googlenet, vgg16, resnet50)}
MODELS: dict[str, ModelSpec] = {name: m.SPEC for name, m in _MODULES.items()}
DEFAULT_MODEL = efficientnet_lite0.NAME

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


@dataclass(frozen=True)
class ResolvedTerm:
    """A target term resolved against a model: own layer name, filter, weight."""

    layer: str
    channel: int | None
    weight: float
    spec_name: str  # as the user wrote it (alias or own name)


def get_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise DreamParamsError(f"model: unknown model {name!r}; choose one of {', '.join(MODELS)}") from None


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


def layer_table(model_name: str) -> list[LayerInfo]:
    """Own layers in forward order, then aliases, with channel counts (no weights loaded)."""
    return get_spec(model_name).layer_table()


def layer_names(model: str | DreamModel) -> list[str]:
    """Every valid layer name of a model (a name or a loaded model): aliases first, then own names."""
    spec = model.spec if isinstance(model, DreamModel) else get_spec(model)
    return list(spec.aliases) + [n for n, _ in spec.layers]


def resolve_targets(model_name: str, spec: str) -> list[ResolvedTerm]:
    """Parse a target spec and check it against a model.

    Raises :class:`DreamParamsError` for an unknown layer (listing the valid
    names) or a filter out of range (giving the channel count).
    """
    mspec = get_spec(model_name)
    terms: list[TargetTerm] = parse_target_spec(spec)
    out: list[ResolvedTerm] = []
    channels = mspec.channels
    for t in terms:
        own = mspec.canonical(t.layer)
        if own is None:
            raise DreamParamsError(
                f"layer: {model_name} has no layer {t.layer!r}; valid: {', '.join(layer_names(model_name))}"
            )
        if t.channel is not None and not 0 <= t.channel < channels[own]:
            raise DreamParamsError(
                f"layer: filter {t.channel} out of range for {t.layer} of {model_name} "
                f"(it has {channels[own]} filters: 0..{channels[own] - 1})"
            )
        out.append(ResolvedTerm(own, t.channel, t.weight, str(t)))
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
