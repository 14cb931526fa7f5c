"""GoogLeNet (InceptionV1) up to ``inception5b``, with torchvision's parameter names.

Built here rather than imported from torchvision, whose package import alone
costs about a second of every ``dreambot dream`` process. The modules and
their state-dict keys are those of torchvision's GoogLeNet (``conv1.conv.weight``,
``inception4c.branch2.1.bn.running_var`` ...), so its weights files load as
they are; the classifier is left out (dreams never reach it).
"""

from __future__ import annotations

import torch
from torch import nn

from dream_core.models.pointwise import PointwiseConv2d
from dream_core.models.winograd import WinogradConv2d


class ConvBNReLU(nn.Module):
    """conv (no bias) -> BatchNorm (eps 1e-3) -> ReLU, as ``conv`` and ``bn`` (folded later)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, padding: int = 0) -> None:
        super().__init__()
        # a Module: the dream model swaps conv1's for a PhaseConv2d (same function)
        self.conv: nn.Module = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if isinstance(self.conv, (WinogradConv2d, PointwiseConv2d)) and isinstance(self.bn, nn.Identity):  # folded
            return self.conv(x, relu=True)
        return torch.relu_(self.bn(self.conv(x)))

    def without_relu(self, x: torch.Tensor) -> torch.Tensor:
        """The stage up to its ReLU (:class:`~dream_core.models.base.ReluLast`: a max-pool follows)."""
        return self.bn(self.conv(x))


class Inception(nn.Module):
    """Four parallel branches concatenated: 1x1; 1x1 -> 3x3; 1x1 -> 3x3; 3x3 max-pool -> 1x1."""

    def __init__(self, cin: int, c1: int, c3r: int, c3: int, c5r: int, c5: int, pool: int) -> None:
        super().__init__()
        self.branch1 = ConvBNReLU(cin, c1, 1)
        self.branch2 = nn.Sequential(ConvBNReLU(cin, c3r, 1), ConvBNReLU(c3r, c3, 3, padding=1))
        # torchvision's "5x5" branch uses a 3x3 kernel (its weights were trained so)
        self.branch3 = nn.Sequential(ConvBNReLU(cin, c5r, 1), ConvBNReLU(c5r, c5, 3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True), ConvBNReLU(cin, pool, 1))
        self.reduce: PointwiseConv2d | None = None  # the three 1x1 convolutions of x as one (merge_pointwise)
        self._widths = (c1, c3r, c5r)

    def merge_pointwise(self) -> bool:
        """Make the 1x1 convolutions that read the block's input (branch 1, and the reductions
        of branches 2 and 3) one :class:`PointwiseConv2d` with their kernels stacked: one wider
        matrix product forward and one for the input's gradient, instead of three and their sum.
        Only once they are folded and pointwise; the branches keep their own modules (and names)."""
        convs = [self.branch1.conv, self.branch2[0].conv, self.branch3[0].conv]
        if not all(isinstance(c, PointwiseConv2d) and c.conv.bias is not None for c in convs) or not all(
            isinstance(m.bn, nn.Identity) for m in (self.branch1, self.branch2[0], self.branch3[0])
        ):
            return False
        parts = [c.conv for c in convs if isinstance(c, PointwiseConv2d)]
        merged = nn.Conv2d(parts[0].in_channels, sum(self._widths), 1, device="meta")  # no random init
        with torch.no_grad():
            merged.weight = nn.Parameter(torch.cat([c.weight for c in parts]))
            merged.bias = nn.Parameter(torch.cat([c.bias for c in parts]))  # type: ignore[misc]
        self.reduce = PointwiseConv2d(merged.requires_grad_(False))
        return True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.reduce is not None:
            b1, r2, r3 = self.reduce(x, relu=True).split(self._widths, 1)
            return torch.cat([b1, self.branch2[1](r2), self.branch3[1](r3), self.branch4(x)], 1)
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


_INCEPTIONS = {  # name: (in, 1x1, 3x3 reduce, 3x3, "5x5" reduce, "5x5", pool projection)
    "inception3a": (192, 64, 96, 128, 16, 32, 32),
    "inception3b": (256, 128, 128, 192, 32, 96, 64),
    "inception4a": (480, 192, 96, 208, 16, 48, 64),
    "inception4b": (512, 160, 112, 224, 24, 64, 64),
    "inception4c": (512, 128, 128, 256, 24, 64, 64),
    "inception4d": (512, 112, 144, 288, 32, 64, 64),
    "inception4e": (528, 256, 160, 320, 32, 128, 128),
    "inception5a": (832, 256, 160, 320, 32, 128, 128),
    "inception5b": (832, 384, 192, 384, 48, 128, 128),
}


class GoogLeNetFeatures(nn.Module):
    """The feature layers of torchvision's GoogLeNet, as attributes of the same names."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = ConvBNReLU(3, 64, 7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = ConvBNReLU(64, 64, 1)
        self.conv3 = ConvBNReLU(64, 192, 3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        for name, cfg in _INCEPTIONS.items():
            setattr(self, name, Inception(*cfg))
