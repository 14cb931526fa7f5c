"""VGG16 (ImageNet) through torchvision's weights API or a local state dict.

Own names follow the VGG paper: ``conv1_1`` ... ``conv5_3`` (after ReLU) and
``pool1`` ... ``pool5``.
"""

from __future__ import annotations

import torch
from torch import nn

from dream_core.models import _torchvision
from dream_core.models.base import DreamModel, ModelSpec, WeightsSpec

NAME = "vgg16"

_CONFIG = [(1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512), (5, 3, 512)]  # (block, convs, channels)
LAYERS: list[tuple[str, int]] = []
for _b, _n, _c in _CONFIG:
    LAYERS += [(f"conv{_b}_{i}", _c) for i in range(1, _n + 1)] + [(f"pool{_b}", _c)]
ALIASES = {"mixed3": "conv3_3", "mixed4": "conv4_3", "mixed5": "conv5_3"}

WEIGHTS = WeightsSpec(
    description="torchvision VGG16_Weights.IMAGENET1K_V1 (torch cache) or a local state dict",
    env_var="DREAMBOT_VGG16_WEIGHTS",
    torchvision="VGG16_Weights.IMAGENET1K_V1",
    file_name="vgg16-397923af.pth",
    license="BSD-3-Clause (torchvision)",
)


def build(spec: ModelSpec, device: torch.device, weights: str | None) -> DreamModel:
    from torchvision.models import vgg16

    sd, source = _torchvision.fetch_state_dict(spec, weights)  # fails fast, before building
    net = vgg16(weights=None)
    _torchvision.load_into(spec, net, sd, source)
    # features = [conv, relu]*n + maxpool per block; a stage is conv+relu or the pool.
    stages: list[tuple[str, nn.Module]] = []
    mods = list(net.features)
    i = 0
    for name, _ in LAYERS:
        if name.startswith("conv"):
            stages.append((name, nn.Sequential(mods[i], mods[i + 1])))
            i += 2
        else:
            stages.append((name, mods[i]))
            i += 1
    for m in mods:
        if isinstance(m, nn.ReLU):
            m.inplace = False
    return DreamModel(spec, stages, source).to(device)


def available_offline() -> bool:
    return _torchvision.cached_or_configured(SPEC)


SPEC = ModelSpec(
    name=NAME,
    title="VGG16 (ImageNet)",
    layers=LAYERS,
    aliases=ALIASES,
    weights=WEIGHTS,
    build=build,
)
