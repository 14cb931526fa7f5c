"""GoogLeNet / InceptionV1, the classic DeepDream network (torchvision weights API or a local file).

Own names are torchvision's (``conv1`` ... ``inception5b``); the classic
DeepDream names ``mixed3a`` ... ``mixed5b`` are aliases, as are the
low/mid/high ``mixed3``/``mixed4``/``mixed5`` (tables in :mod:`dream_core.catalog`).
"""

from __future__ import annotations

import torch

from dream_core import catalog
from dream_core.models import _torchvision
from dream_core.models._inception import GoogLeNetFeatures, Inception
from dream_core.models.base import DreamModel, ModelSpec
from dream_core.models.folding import fold_batchnorms
from dream_core.models.max_pool import fast_max_pools
from dream_core.models.phase_conv import for_image
from dream_core.models.pointwise import pointwise_convs
from dream_core.models.winograd import winograd_convs

INFO = catalog.GOOGLENET
NAME = INFO.name
LAYERS = list(INFO.layers)


def build(spec: ModelSpec, device: torch.device, weights: str | None) -> DreamModel:
    sd, source = _torchvision.fetch_state_dict(spec, weights)  # fails fast, before building
    with torch.device("meta"):  # no random init: every tensor comes from the weights
        net = GoogLeNetFeatures()  # torchvision's layers and names, without importing torchvision
    _torchvision.load_into(spec, net, sd, source, assign=True)
    net.eval()
    fold_batchnorms(net)  # every conv+bn becomes one conv
    winograd_convs(net)  # the wide 3x3 convolutions, by Winograd where measured faster
    fast_max_pools(net)  # fp32 channels-last max-pooling by compiled loops
    pointwise_convs(net)  # fp32 channels-last 1x1 convolutions as matrix products
    for block in net.modules():
        if isinstance(block, Inception):
            block.merge_pointwise()  # the 1x1 convolutions reading the same input as one product
    conv1 = net.conv1.conv
    assert isinstance(conv1, torch.nn.Conv2d)
    net.conv1.conv = for_image(conv1)  # the image's gradient by phases
    stages = [(name, getattr(net, name)) for name, _ in LAYERS]
    # torchvision's transform_input after the ImageNet normalisation is exactly (x - 0.5) / 0.5
    return DreamModel(spec, stages, source, input_affine=(2.0, -1.0)).to(device)


def available_offline() -> bool:
    return _torchvision.cached_or_configured(SPEC)


SPEC = ModelSpec(info=INFO, build=build)
