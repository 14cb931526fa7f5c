"""ResNet-50 (ImageNet) through torchvision's weights API or a local state dict.

Own names are torchvision's bottleneck blocks (``layer1.0`` ... ``layer4.2``)
after a ``stem``; ``layer1`` ... ``layer4`` name the last block of each stage.
"""

from __future__ import annotations

import torch
from torch import nn

from dream_core.models import _torchvision
from dream_core.models.base import DreamModel, ModelSpec, WeightsSpec
from dream_core.models.folding import fold_batchnorms

NAME = "resnet50"

_STAGES = [(1, 3, 256), (2, 4, 512), (3, 6, 1024), (4, 3, 2048)]  # (layer, blocks, channels)
LAYERS: list[tuple[str, int]] = [("stem", 64)]
for _l, _n, _c in _STAGES:
    LAYERS += [(f"layer{_l}.{i}", _c) for i in range(_n)]
ALIASES = {f"layer{_l}": f"layer{_l}.{_n - 1}" for _l, _n, _ in _STAGES}
ALIASES.update({"mixed3": "layer2.3", "mixed4": "layer3.3", "mixed5": "layer4.0"})

WEIGHTS = WeightsSpec(
    description="torchvision ResNet50_Weights.IMAGENET1K_V1 (torch cache) or a local state dict",
    env_var="DREAMBOT_RESNET50_WEIGHTS",
    torchvision="ResNet50_Weights.IMAGENET1K_V1",
    file_name="resnet50-0676ba61.pth",
    license="BSD-3-Clause (torchvision)",
)


def build(spec: ModelSpec, device: torch.device, weights: str | None) -> DreamModel:
    from torchvision.models import resnet50

    sd, source = _torchvision.fetch_state_dict(spec, weights)  # fails fast, before building
    net = resnet50(weights=None)
    _torchvision.load_into(spec, net, sd, source)
    net.eval()
    fold_batchnorms(net)  # stem, every bottleneck's three convs and its downsample
    stages: list[tuple[str, nn.Module]] = [("stem", nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool))]
    for _l, _n, _ in _STAGES:
        layer = getattr(net, f"layer{_l}")
        stages += [(f"layer{_l}.{i}", layer[i]) for i in range(_n)]
    return DreamModel(spec, stages, source).to(device)


def available_offline() -> bool:
    return _torchvision.cached_or_configured(SPEC)


SPEC = ModelSpec(
    name=NAME,
    title="ResNet-50 (ImageNet)",
    layers=LAYERS,
    aliases=ALIASES,
    weights=WEIGHTS,
    build=build,
)
