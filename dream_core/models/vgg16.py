"""VGG16 (ImageNet) through torchvision's weights API or a local state dict.

Own names follow the VGG paper: ``conv1_1`` ... ``conv5_3`` (after ReLU) and
``pool1`` ... ``pool5``.
"""

from __future__ import annotations

import torch
from torch import nn

from dream_core import catalog
from dream_core.models import _torchvision
from dream_core.models.base import DreamModel, ModelSpec
from dream_core.models.winograd import winograd_convs

INFO = catalog.VGG16
NAME = INFO.name
LAYERS = list(INFO.layers)


def build(spec: ModelSpec, device: torch.device, weights: str | None) -> DreamModel:
    from torchvision.models import vgg16

    sd, source = _torchvision.fetch_state_dict(spec, weights)  # fails fast, before building
    net = vgg16(weights=None)
    _torchvision.load_into(spec, net, sd, source)
    winograd_convs(net.features)  # the 3x3 convolutions, by Winograd where measured faster
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


SPEC = ModelSpec(info=INFO, build=build)
