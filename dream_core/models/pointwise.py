"""1x1 convolutions as matrix products on the channels-last layout, for a fp32 CPU dream.

A channels-last activation [1, C, H, W] is, in memory, the matrix [H*W, C], so a
1x1 stride-1 convolution is one ``addmm`` with the kernel as a [C, K] matrix and
its input gradient one ``mm`` with the kernel's transpose, written straight in
channels-last. MKL's products beat oneDNN's convolutions on every GoogLeNet 1x1
shape (forward and input gradient, 2 threads): 18 % less time on an emulated AVX2
box, 31 % with AVX-512 and AMX, twice as fast for ``conv2`` (64 channels at
a quarter of the image). A ReLU after it (``relu=True``) is applied in place and
its backward done in the same autograd node.

Used for a batch-1, fp32, channels-last CPU input with frozen weights, outside
autocast; anything else takes the module's own ``conv2d``. Only the input's
gradient is computed.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from dream_core.models.swap import swap_modules

__all__ = ["PointwiseConv2d", "pointwise_convs"]


class _PointwiseFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, mod: PointwiseConv2d, relu: bool) -> torch.Tensor:  # noqa: ANN401, FBT001 - autograd's context
        _, c, h, w = x.shape
        wt, bias = mod.matrices()
        y = torch.empty(1, wt.shape[1], h, w, dtype=x.dtype, memory_format=torch.channels_last)
        torch.addmm(bias, x.permute(0, 2, 3, 1).reshape(h * w, c), wt, out=y.permute(0, 2, 3, 1).view(h * w, -1))
        ctx.mod, ctx.relu = mod, relu
        if relu:
            y.relu_()
            ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, None, None]:  # noqa: ANN401
        if ctx.relu:
            (y,) = ctx.saved_tensors
            g = torch.ops.aten.threshold_backward(g, y, 0)
        _, k, h, w = g.shape
        wt, _ = ctx.mod.matrices()
        gx = torch.empty(1, wt.shape[0], h, w, dtype=g.dtype, memory_format=torch.channels_last)
        gm = g.permute(0, 2, 3, 1).reshape(h * w, k)  # a view when g is channels-last, else one copy
        torch.mm(gm, wt.t(), out=gx.permute(0, 2, 3, 1).view(h * w, -1))
        return gx, None, None


class PointwiseConv2d(nn.Module):
    """``conv`` (1x1, stride 1, no padding, groups or dilation), by matrix products where they apply."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        if not eligible(conv):
            raise ValueError("PointwiseConv2d: a 1x1 convolution, stride 1, no padding, groups or dilation")
        self.conv = conv
        self._matrices: tuple[torch.Tensor, torch.Tensor] | None = None

    def matrices(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The kernel as a [C, K] matrix (contiguous: the forward product reads it so) and the bias [K]."""
        if self._matrices is None:
            w = self.conv.weight.detach()
            wt = w.view(w.shape[0], w.shape[1]).t().contiguous()
            b = self.conv.bias.detach() if self.conv.bias is not None else w.new_zeros(w.shape[0])
            self._matrices = (wt, b)
        return self._matrices

    def forward(self, x: torch.Tensor, relu: bool = False) -> torch.Tensor:  # noqa: FBT001, FBT002
        """The convolution, followed by a ReLU when ``relu``."""
        if (
            x.device.type == "cpu"
            and x.dim() == 4
            and x.shape[0] == 1
            and x.dtype == torch.float32
            and self.conv.weight.dtype == torch.float32
            and x.is_contiguous(memory_format=torch.channels_last)
            and not torch.is_autocast_enabled("cpu")
            and not self.conv.weight.requires_grad
        ):
            return _PointwiseFn.apply(x, self, relu)
        y = self.conv(x)
        return torch.relu_(y) if relu else y

    def _apply(self, fn: Any, recurse: bool = True) -> PointwiseConv2d:  # noqa: ANN401 - nn.Module's signature
        self._matrices = None  # moved or cast: made again from the new weights
        return super()._apply(fn, recurse)


def eligible(conv: nn.Module) -> bool:
    """A plain 1x1 stride-1 convolution without padding."""
    return (
        isinstance(conv, nn.Conv2d)
        and conv.kernel_size == (1, 1)
        and conv.stride == (1, 1)
        and conv.padding in ((0, 0), 0)
        and conv.dilation == (1, 1)
        and conv.groups == 1
    )


def pointwise_convs(module: nn.Module) -> int:
    """Wrap every eligible convolution of ``module`` in a :class:`PointwiseConv2d`, in place; how many."""
    return swap_modules(module, lambda m: PointwiseConv2d(m) if eligible(m) else None, PointwiseConv2d)  # type: ignore[arg-type]
