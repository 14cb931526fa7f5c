"""Weights loading shared by the torchvision-based models (googlenet, vgg16, resnet50).

Order: an explicit weights file (``--weights PATH``), then the model's env var
(e.g. ``DREAMBOT_GOOGLENET_WEIGHTS``), then torchvision's weights API, which
uses the torch cache and downloads into it when online. When none works the
user gets a :class:`ModelUnavailableError` naming both ways.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import socket

import torch
from torch import nn

from dream_core.errors import ModelUnavailableError
from dream_core.models.base import ModelSpec, float32_tensors, load_state_dict_file

log = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT_S = 20.0


def torchvision_weights(spec: ModelSpec):  # -> torchvision.models.WeightsEnum member
    """The torchvision weights enum member the catalog names (``GoogLeNet_Weights.IMAGENET1K_V1``)."""
    from torchvision.models import get_weight

    return get_weight(spec.weights.torchvision) if spec.weights.torchvision else None


def unavailable_message(spec: ModelSpec, reason: str) -> str:
    w = spec.weights
    tv = torchvision_weights(spec)
    url = tv.url if tv is not None else "?"
    return (
        f"model {spec.name!r} is unavailable: {reason}. Either go online once so torchvision can download "
        f"its weights ({url}) into the torch cache, or pass a local state-dict file with --weights PATH "
        f"(or set {w.env_var}=PATH)."
    )


def fetch_state_dict(spec: ModelSpec, weights: str | os.PathLike[str] | None) -> tuple[dict[str, torch.Tensor], str]:
    """The model's state dict and a description of its source (checked before building the network)."""
    path = spec.weights.local_path(weights)
    if path is not None:
        return load_state_dict_file(path), str(path)
    tv = torchvision_weights(spec)
    cached = spec.weights.cached_file()
    if os.environ.get("DREAMBOT_OFFLINE") and not (cached and cached.is_file()):
        raise ModelUnavailableError(
            unavailable_message(spec, "its weights are not in the torch cache and DREAMBOT_OFFLINE is set")
        )
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    chatter = io.StringIO()  # torch.hub writes "Downloading: ..." even when nothing can download
    try:
        with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
            sd = tv.get_state_dict(progress=False, check_hash=True)
    except Exception as exc:  # noqa: BLE001 - network, hash, disk: all mean "not available"
        raise ModelUnavailableError(
            unavailable_message(spec, f"the weights could not be fetched ({type(exc).__name__}: {exc})")
        ) from None
    finally:
        socket.setdefaulttimeout(old)
    if "Downloading" in chatter.getvalue():
        log.info("downloaded %s weights (%s) into the torch cache", spec.name, tv.url)
    return sd, str(tv)


def load_into(spec: ModelSpec, net: nn.Module, sd: dict[str, torch.Tensor], source: str, assign: bool = False) -> None:
    """Load a fetched state dict into ``net`` (ModelUnavailableError if it doesn't fit).

    ``assign``: the state dict's tensors (as float32) become the module's, for a
    ``net`` built on the meta device (no random initialisation to throw away).
    """
    # Auxiliary classifiers (googlenet) are not needed for dreaming.
    sd = {k: v for k, v in sd.items() if not k.startswith(("aux1.", "aux2."))}
    if assign:
        sd = float32_tensors(sd)
    try:
        net.load_state_dict(sd, strict=False, assign=assign)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[-1].strip()
        raise ModelUnavailableError(f"weights {source} don't fit {spec.name}: {first}") from None
    missing = [k for k in net.state_dict() if k not in sd and not k.startswith(("aux1.", "aux2."))]
    if missing:
        raise ModelUnavailableError(
            f"weights {source} don't fit {spec.name}: {len(missing)} tensors missing (e.g. {missing[0]})"
        )


def cached_or_configured(spec: ModelSpec) -> bool:
    """Whether the model can load without network (env var file or torch cache)."""
    p = spec.weights.local_path()
    if p is not None and p.is_file():
        return True
    cached = spec.weights.cached_file()
    return bool(cached and cached.is_file())
