"""ResNet-50 (ImageNet) through torchvision's weights API or a local state dict.

Own names are torchvision's bottleneck blocks (``layer1.0`` ... ``layer4.2``)
after a ``stem``; ``layer1`` ... ``layer4`` name the last block of each stage.
"""

from __future__ import annotations

import torch
from torch import nn

from dream_core import catalog
from dream_core.models import _torchvision
from dream_core.models.base import DreamModel, ModelSpec
from dream_core.models.folding import fold_batchnorms
from dream_core.models.phase_conv import for_image
from dream_core.models.winograd import winograd_convs

INFO = catalog.RESNET50
NAME = INFO.name
_STAGES = catalog.RESNET50_STAGES  # (layer, blocks, channels)


def build(spec: ModelSpec, device: torch.device, weights: str | None) -> DreamModel:
    from torchvision.models import resnet50

    sd, source = _torchvision.fetch_state_dict(spec, weights)  # fails fast, before building
    net = resnet50(weights=None)
    _torchvision.load_into(spec, net, sd, source)
    net.eval()
    fold_batchnorms(net)  # stem, every bottleneck's three convs and its downsample
    winograd_convs(net)  # the stride-1 3x3 convolutions, by Winograd where measured faster
    net.conv1 = for_image(net.conv1)  # the image's gradient by phases
    stages: list[tuple[str, nn.Module]] = [("stem", nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool))]
    for _l, _n, _ in _STAGES:
        layer = getattr(net, f"layer{_l}")
        stages += [(f"layer{_l}.{i}", layer[i]) for i in range(_n)]
    return DreamModel(spec, stages, source).to(device)


def available_offline() -> bool:
    return _torchvision.cached_or_configured(SPEC)


SPEC = ModelSpec(info=INFO, build=build)
