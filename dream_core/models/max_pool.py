"""Max-pooling on CPU by compiled loops (:mod:`dream_core.models.cpu_loops`), where it pays.

:class:`MaxPool2d` is ``nn.MaxPool2d`` (same arguments, same results, no
state) whose forward and backward run by those loops for a batch-1, fp32,
channels-last CPU input: the layout a fp32 dream runs in. Anything else (bf16,
NCHW, batches, CUDA, dilation, indices asked for) is ``nn.MaxPool2d``'s own.
Gradients agree with PyTorch's up to the order of float sums where windows
overlap.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from dream_core.models.swap import swap_modules

__all__ = ["MaxPool2d", "fast_max_pools"]

MAX_WINDOW = 15  # a window's positions fit in one byte


def _out_size(n: int, k: int, s: int, p: int, ceil: bool) -> int:
    """PyTorch's pooling output size (a last window must start inside the input or its left padding)."""
    out = (n + 2 * p - k + (s - 1 if ceil else 0)) // s + 1
    if ceil and (out - 1) * s >= n + p:
        out -= 1
    return out


class _MaxPoolFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, k: int, s: int, p: int, ceil: bool) -> torch.Tensor:  # noqa: ANN401, FBT001 - autograd's context
        from dream_core.models import cpu_loops

        loops = cpu_loops.pool_loops()
        _, c, h, w = x.shape
        oh, ow = _out_size(h, k, s, p, ceil), _out_size(w, k, s, p, ceil)
        y = torch.empty(1, c, oh, ow, dtype=x.dtype, memory_format=torch.channels_last)
        arg = torch.empty(oh, ow, c, dtype=torch.uint8)
        with cpu_loops.running():
            xa, ya = cpu_loops.nhwc(x).numpy(), cpu_loops.nhwc(y).numpy()
            loops.pool_forward(xa, k, s, p, ya, arg.numpy(), cpu_loops.chunks(oh))
        ctx.arg, ctx.k, ctx.s, ctx.p, ctx.size = arg, k, s, p, (h, w)
        return y

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # noqa: ANN401
        from dream_core.models import cpu_loops

        loops = cpu_loops.pool_loops()
        h, w = ctx.size
        gx = torch.empty(1, g.shape[1], h, w, dtype=g.dtype, memory_format=torch.channels_last)
        with cpu_loops.running():
            ga, gxa = cpu_loops.nhwc(g).numpy(), cpu_loops.nhwc(gx).numpy()
            loops.pool_backward(ga, ctx.arg.numpy(), ctx.k, ctx.s, ctx.p, gxa, cpu_loops.chunks(h))
        return gx, None, None, None, None


def _pair(v: Any) -> int | None:  # noqa: ANN401 - nn.MaxPool2d's int-or-tuple arguments
    """A square setting's side; None for a rectangular one."""
    if isinstance(v, int):
        return v
    a, b = v
    return a if a == b else None


class MaxPool2d(nn.MaxPool2d):
    """``nn.MaxPool2d``, by compiled loops for a batch-1 fp32 channels-last CPU input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, p = _pair(self.kernel_size), _pair(self.padding)
        s = _pair(self.stride if self.stride else self.kernel_size)
        if (
            k is not None
            and s is not None
            and p is not None
            and k <= MAX_WINDOW
            and _pair(self.dilation) == 1
            and not self.return_indices
            and x.device.type == "cpu"
            and x.dtype == torch.float32
            and x.dim() == 4
            and x.shape[0] == 1
            and x.is_contiguous(memory_format=torch.channels_last)
            and not torch.is_autocast_enabled("cpu")
        ):
            return _MaxPoolFn.apply(x, k, s, p, self.ceil_mode)
        return super().forward(x)


def fast_max_pools(module: nn.Module) -> int:
    """Make every ``nn.MaxPool2d`` of ``module`` a :class:`MaxPool2d` (same settings), in place; how many."""
    return swap_modules(module, _stand_in, MaxPool2d)


def _stand_in(m: nn.Module) -> MaxPool2d | None:
    if type(m) is not nn.MaxPool2d:
        return None
    return MaxPool2d(m.kernel_size, m.stride, m.padding, m.dilation, ceil_mode=m.ceil_mode)
