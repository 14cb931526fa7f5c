"""Building blocks shared by every dreamable model.

A :class:`DreamModel` is a network cut into an ordered list of named *stages*
(plain ``nn.Module`` callables applied one after the other). Every dreamable
layer is the output of one stage, so a forward pass can stop right after the
deepest layer a dream asks for (truncation) and never computes the rest.

Each architecture module (``efficientnet_lite0.py``, ``googlenet.py`` ...)
declares a :class:`ModelSpec`: its entry of the torch-free
:mod:`dream_core.catalog` (layer table, aliases, preprocessing, weights) and
the function that builds its network.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from dream_core.catalog import LayerInfo, ModelInfo, WeightsSpec

__all__ = ["DreamModel", "LayerInfo", "ModelSpec", "WeightsSpec", "load_state_dict_file"]


@dataclass(frozen=True)
class ModelSpec:
    """A catalogued model (:class:`~dream_core.catalog.ModelInfo`: layers, aliases,
    weights, preprocessing) plus the function that builds its network."""

    info: ModelInfo
    build: Callable[[ModelSpec, torch.device, str | None], DreamModel]

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def title(self) -> str:
        return self.info.title

    @property
    def layers(self) -> Sequence[tuple[str, int]]:
        return self.info.layers

    @property
    def aliases(self) -> Mapping[str, str]:
        return self.info.aliases

    @property
    def weights(self) -> WeightsSpec:
        return self.info.weights

    @property
    def mean(self) -> tuple[float, float, float]:
        return self.info.mean

    @property
    def std(self) -> tuple[float, float, float]:
        return self.info.std

    @property
    def channels(self) -> dict[str, int]:
        return self.info.channels

    def layer_table(self) -> list[LayerInfo]:
        return self.info.layer_table()

    def canonical(self, layer: str) -> str | None:
        return self.info.canonical(layer)

    def depth(self, layer: str) -> int:
        return self.info.depth(layer)


@runtime_checkable
class ReluLast(Protocol):
    """A stage whose last op is a ReLU, able to stop just before it (see :meth:`DreamModel.features`)."""

    def without_relu(self, x: torch.Tensor) -> torch.Tensor: ...


class DreamModel(nn.Module):
    """A frozen, eval-mode network run stage by stage.

    ``stages`` is an ordered mapping of stage name -> module; stage outputs
    whose names appear in the spec's layer table are dreamable. The first
    stage receives the normalised image.
    """

    in_scale: torch.Tensor  # buffers (registered below)
    in_shift: torch.Tensor

    def __init__(
        self,
        spec: ModelSpec,
        stages: Sequence[tuple[str, nn.Module]],
        weights_source: str,
        *,
        input_affine: tuple[float, float] | None = None,
    ) -> None:
        """``input_affine``: ``(scale, shift)`` of the input the first stage takes,
        ``x * scale + shift``, where it is not the spec's ``(x - mean) / std``
        (GoogLeNet's weights expect ``2x - 1``: torchvision's ``transform_input``
        applied to the ImageNet normalisation, collapsed into one step)."""
        super().__init__()
        self.spec = spec
        self.stage_names = [n for n, _ in stages]
        self.stages = nn.ModuleList([m for _, m in stages])
        self.weights_source = weights_source
        if input_affine is None:
            mean, std = torch.tensor(spec.mean).view(1, 3, 1, 1), torch.tensor(spec.std).view(1, 3, 1, 1)
            scale, shift = 1 / std, -mean / std
        else:
            scale, shift = torch.full((1, 3, 1, 1), input_affine[0]), torch.full((1, 3, 1, 1), input_affine[1])
        self.register_buffer("in_scale", scale.float(), persistent=False)
        self.register_buffer("in_shift", shift.float(), persistent=False)
        self.eval()
        self.requires_grad_(False)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def device(self) -> torch.device:
        return self.in_scale.device

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Map an RGB tensor in [0, 1] to the network's input space (one fused
        multiply-add: it and its gradient are one pass over the image each)."""
        return torch.addcmul(self.in_shift.to(x.dtype), x, self.in_scale.to(x.dtype))

    def features(self, x: torch.Tensor, layers: Sequence[str], *, truncate: bool = True) -> dict[str, torch.Tensor]:
        """Activations of ``layers`` (own names) for an image ``x`` in [0, 1].

        With ``truncate`` the forward stops after the deepest requested
        layer; without it the whole network runs (the reference behaviour).
        """
        wanted = set(layers)
        out: dict[str, torch.Tensor] = {}
        h = self.normalize(x)
        relu_after_pool = False
        stages = list(zip(self.stage_names, self.stages, strict=True))
        for i, (name, stage) in enumerate(stages):
            if relu_after_pool:  # the previous stage left its ReLU to after this max-pool
                h = torch.relu_(stage(h))
                relu_after_pool = False
            elif (
                name not in wanted
                and isinstance(stage, ReluLast)
                and i + 1 < len(stages)
                and isinstance(stages[i + 1][1], nn.MaxPool2d)
            ):
                # ReLU then max-pool is max-pool then ReLU (ReLU is monotone): on the pooled
                # grid, a quarter of the pixels for a stride-2 pool, forward and backward
                h = stage.without_relu(h)
                relu_after_pool = True
            else:
                h = stage(h)
            if name in wanted:
                out[name] = h
                if truncate and len(out) == len(wanted):
                    break
        missing = wanted - out.keys()
        if missing:  # pragma: no cover - guarded by DreamParams validation
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
    except Exception:  # noqa: BLE001 - any unreadable file is the same problem to a user
        raise ModelUnavailableError(
            f"weights file {path} is not a PyTorch state dict (a file saved with torch.save)"
        ) from None
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise ModelUnavailableError(f"weights file {path} does not hold a state dict")
    return sd


def float32_tensors(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``sd`` with its floating-point tensors as float32 (for ``load_state_dict(..., assign=True)``)."""
    return {k: v.float() if v.is_floating_point() else v for k, v in sd.items()}
