"""GoogLeNet / InceptionV1, the classic DeepDream network (torchvision weights API or a local file).

Own names are torchvision's (``conv1`` ... ``inception5b``); the classic
DeepDream names ``mixed3a`` ... ``mixed5b`` are aliases, as are the
low/mid/high ``mixed3``/``mixed4``/``mixed5``.
"""

from __future__ import annotations

import torch
from torch import nn

from dream_core.models import _torchvision
from dream_core.models._inception import GoogLeNetFeatures
from dream_core.models.base import DreamModel, ModelSpec, WeightsSpec
from dream_core.models.folding import fold_batchnorms

NAME = "googlenet"

LAYERS: list[tuple[str, int]] = [
    ("conv1", 64),
    ("maxpool1", 64),
    ("conv2", 64),
    ("conv3", 192),
    ("maxpool2", 192),
    ("inception3a", 256),
    ("inception3b", 480),
    ("maxpool3", 480),
    ("inception4a", 512),
    ("inception4b", 512),
    ("inception4c", 512),
    ("inception4d", 528),
    ("inception4e", 832),
    ("maxpool4", 832),
    ("inception5a", 832),
    ("inception5b", 1024),
]
_INCEPTIONS = [n for n, _ in LAYERS if n.startswith("inception")]
ALIASES = {"mixed3": "inception3b", "mixed4": "inception4c", "mixed5": "inception5a"}
ALIASES.update({n.replace("inception", "mixed"): n for n in _INCEPTIONS})

WEIGHTS = WeightsSpec(
    description="torchvision GoogLeNet_Weights.IMAGENET1K_V1 (torch cache) or a local state dict",
    env_var="DREAMBOT_GOOGLENET_WEIGHTS",
    torchvision="GoogLeNet_Weights.IMAGENET1K_V1",
    file_name="googlenet-1378be20.pth",
    license="BSD-3-Clause (torchvision)",
)


class _TransformInput(nn.Module):
    """torchvision's ImageNet weights expect its ``transform_input`` re-normalisation."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return GoogLeNetFeatures.transform_input(x)


def build(spec: ModelSpec, device: torch.device, weights: str | None) -> DreamModel:
    sd, source = _torchvision.fetch_state_dict(spec, weights)  # fails fast, before building
    net = GoogLeNetFeatures()  # torchvision's layers and names, without importing torchvision
    _torchvision.load_into(spec, net, sd, source)
    net.eval()
    fold_batchnorms(net)  # every conv+bn becomes one conv
    first = nn.Sequential(_TransformInput(), net.conv1)
    stages: list[tuple[str, nn.Module]] = [("conv1", first)]
    stages += [(name, getattr(net, name)) for name, _ in LAYERS[1:]]
    return DreamModel(spec, stages, source).to(device)


def available_offline() -> bool:
    return _torchvision.cached_or_configured(SPEC)


SPEC = ModelSpec(
    name=NAME,
    title="GoogLeNet / InceptionV1 (ImageNet, the classic DeepDream net)",
    layers=LAYERS,
    aliases=ALIASES,
    weights=WEIGHTS,
    build=build,
)
