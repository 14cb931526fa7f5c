"""Building blocks shared by every dreamable model.

A :class:`DreamModel` is a network cut into an ordered list of named *stages*
(plain ``nn.Module`` callables applied one after the other). Every dreamable
layer is the output of one stage, so a forward pass can stop right after the
deepest layer a dream asks for (truncation) and never computes the rest.

Each architecture module (``efficientnet_lite0.py``, ``googlenet.py`` ...)
declares a :class:`ModelSpec`: its static layer table (names and channel
counts, usable without loading any weights), its aliases, its preprocessing
and a :class:`WeightsSpec` describing where its weights come from.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn


@dataclass(frozen=True)
class LayerInfo:
    """One dreamable layer: its name, channel count and (for aliases) what it points to."""

    name: str
    channels: int
    alias_of: str | None = None

    def describe(self) -> str:
        if self.alias_of:
            return f"{self.name} -> {self.alias_of} ({self.channels} ch)"
        return f"{self.name} ({self.channels} ch)"


@dataclass(frozen=True)
class WeightsSpec:
    """Where a model's weights come from, plus metadata for listings.

    ``env_var`` names a variable holding a local weights file (a state dict);
    ``torchvision`` names a torchvision weights enum member
    (``"GoogLeNet_Weights.IMAGENET1K_V1"``) fetched through its weights API
    into the torch cache; ``bundled`` marks weights shipped in a Python package.
    """

    description: str
    env_var: str | None = None
    torchvision: str | None = None
    file_name: str | None = None  # torchvision weights' file name in the torch cache (listing needs no import)
    bundled: bool = False
    license: str = ""

    def local_path(self, explicit: str | os.PathLike[str] | None = None) -> Path | None:
        """An explicit path, else the env var's path (if set)."""
        if explicit:
            return Path(explicit)
        if self.env_var and os.environ.get(self.env_var):
            return Path(os.environ[self.env_var])
        return None

    def torchvision_weights(self):  # -> torchvision.models.WeightsEnum member
        if not self.torchvision:
            return None
        import torchvision.models as tvm

        enum_name, member = self.torchvision.split(".")
        return getattr(getattr(tvm, enum_name), member)

    def cached_file(self) -> Path | None:
        """Where torchvision's weights API stores the file in the torch cache."""
        if self.file_name:
            name = self.file_name
        else:
            w = self.torchvision_weights()
            if w is None:
                return None
            name = os.path.basename(w.url)
        return Path(torch.hub.get_dir()) / "checkpoints" / name


@dataclass(frozen=True)
class ModelSpec:
    """Static description of one registered model (no weights loaded)."""

    name: str
    title: str
    layers: Sequence[tuple[str, int]]  # own names in forward order, with channel counts
    aliases: Mapping[str, str]  # alias -> own layer name
    weights: WeightsSpec
    build: Callable[[ModelSpec, torch.device, str | None], DreamModel]
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)

    @property
    def channels(self) -> dict[str, int]:
        table = dict(self.layers)
        for alias, target in self.aliases.items():
            table[alias] = table[target]
        return table

    def layer_table(self) -> list[LayerInfo]:
        """Own layers (forward order), then aliases."""
        own = dict(self.layers)
        out = [LayerInfo(n, c) for n, c in self.layers]
        out += [LayerInfo(a, own[t], t) for a, t in self.aliases.items()]
        return out

    def canonical(self, layer: str) -> str | None:
        """The own name a layer name or alias refers to, or None if unknown."""
        if layer in self.aliases:
            return self.aliases[layer]
        return layer if layer in dict(self.layers) else None

    def depth(self, layer: str) -> int:
        return [n for n, _ in self.layers].index(layer)


class DreamModel(nn.Module):
    """A frozen, eval-mode network run stage by stage.

    ``stages`` is an ordered mapping of stage name -> module; stage outputs
    whose names appear in the spec's layer table are dreamable. The first
    stage receives the normalised image.
    """

    mean: torch.Tensor  # buffers (registered below)
    std: torch.Tensor

    def __init__(self, spec: ModelSpec, stages: Sequence[tuple[str, nn.Module]], weights_source: str) -> None:
        super().__init__()
        self.spec = spec
        self.stage_names = [n for n, _ in stages]
        self.stages = nn.ModuleList([m for _, m in stages])
        self.weights_source = weights_source
        self.register_buffer("mean", torch.tensor(spec.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(spec.std).view(1, 3, 1, 1), persistent=False)
        self.eval()
        self.requires_grad_(False)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def device(self) -> torch.device:
        return self.mean.device

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Map an RGB tensor in [0, 1] to the network's input space."""
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def features(self, x: torch.Tensor, layers: Sequence[str], *, truncate: bool = True) -> dict[str, torch.Tensor]:
        """Activations of ``layers`` (own names) for an image ``x`` in [0, 1].

        With ``truncate`` the forward stops after the deepest requested
        layer; without it the whole network runs (the reference behaviour).
        """
        wanted = set(layers)
        out: dict[str, torch.Tensor] = {}
        h = self.normalize(x)
        for name, stage in zip(self.stage_names, self.stages, strict=True):
            h = stage(h)
            if name in wanted:
                out[name] = h
                if truncate and len(out) == len(wanted):
                    break
        missing = wanted - out.keys()
        if missing:  # pragma: no cover - guarded by resolve_targets
            raise KeyError(f"layers not produced: {sorted(missing)}")
        return out

    def extra_repr(self) -> str:
        return f"name={self.spec.name!r}, weights={self.weights_source!r}"


def load_state_dict_file(path: Path) -> dict[str, torch.Tensor]:
    """Load a state dict saved with ``torch.save`` (tensors only), or raise ModelUnavailableError."""
    from dream_core.errors import ModelUnavailableError

    if not path.is_file():
        raise ModelUnavailableError(f"weights file not found: {path}")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same problem to a user
        raise ModelUnavailableError(f"can't read weights file {path}: {type(exc).__name__}: {exc}") from None
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise ModelUnavailableError(f"weights file {path} does not hold a state dict")
    return sd

