"""3x3 convolutions by Winograd's minimal filtering, F(4x4, 3x3), for CPUs where that is faster.

A DeepDream step is mostly 3x3 convolutions, forward and (for the image's
gradient) backward. oneDNN runs them as direct convolutions, close to the
CPU's peak; on AVX2 it has no Winograd kernels. F(4x4, 3x3) computes each 4x4
output tile from a 6x6 input tile with 36 multiplications per channel pair
instead of 144: the input tiles and the kernels are transformed (``B^T d B``,
``G g G^T``), multiplied position by position (36 batched matrix products over
the channels, the bulk of the work, in one ``bmm``), and transformed back
(``A^T m A``). The transforms are compiled loops, one memory pass each
(:mod:`dream_core.models.cpu_loops`), which also apply a ReLU that
follows the convolution (``relu=True``) and, backward, its mask. On a 2-core
box emulating AVX2 (MKL and numba capped too) GoogLeNet's ``conv3`` took 13 ms
forward and backward against oneDNN's 26 ms. The relative L2 error of a layer's
output against float64 is 1-2e-6 on random data and a few 1e-7 on a step's real
activations, as the direct convolution's.

The gradient w.r.t. the input of a stride-1, padding-1 3x3 convolution is the
same convolution of the output gradient with the kernel flipped and its
channel axes swapped, so the backward pass is Winograd too. Only the input's
gradient is computed: the weights are frozen.

Whether a model uses it is measured per machine (:mod:`dream_core.autotune`
times a step with and without); :func:`use_winograd` switches it on for the
calls it wraps (off by default: forward passes outside a measured dream, bf16
autocast and CUDA always use the plain convolution).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from dream_core.models.swap import swap_modules

__all__ = ["WinogradConv2d", "has_winograd", "use_winograd", "winograd_convs"]

MIN_CHANNELS = 32  # narrower convolutions measured no faster: the transforms cost more than they save

_enabled: contextvars.ContextVar[bool] = contextvars.ContextVar("dreambot_winograd", default=False)

# F(4x4, 3x3) with the points 0, +-1, +-2, infinity (Lavin & Gray, 2016): the kernel transform G;
# B^T and A^T are written out in :mod:`dream_core.models.winograd_kernels`.
_G = [
    [1 / 4, 0, 0],
    [-1 / 6, -1 / 6, -1 / 6],
    [-1 / 6, 1 / 6, -1 / 6],
    [1 / 24, 1 / 12, 1 / 6],
    [1 / 24, -1 / 12, 1 / 6],
    [0, 0, 1],
]
TILE = 4  # output tile side
_IN = TILE + 2  # input tile side
BAND_BYTES = 4 << 20  # scratch per band of tile rows (the transformed input, then the products)


@contextlib.contextmanager
def use_winograd(on: bool = True) -> Iterator[None]:
    """Within this block, eligible convolutions (:class:`WinogradConv2d`) run by Winograd on CPU."""
    token = _enabled.set(on)
    try:
        yield
    finally:
        _enabled.reset(token)


def transform_kernel(w: torch.Tensor) -> torch.Tensor:
    """``G w G^T`` of every kernel of ``w`` [K, C, 3, 3], laid out [36, C, K] for the batched product."""
    g = torch.tensor(_G, dtype=torch.float64, device=w.device)
    k, c = w.shape[:2]
    # One product, in float64: (G kron G) [36, 9] times the kernels' taps [9, C*K] (i, j, c, k order);
    # an einsum and its reshape took 4-5 ms a kernel, 64 ms of a GoogLeNet process's first step.
    taps = w.detach().double().permute(2, 3, 1, 0).reshape(9, c * k)
    return torch.mm(torch.kron(g, g), taps).view(_IN * _IN, c, k).to(w.dtype)


def winograd_conv3x3(
    x: torch.Tensor,
    u: torch.Tensor,
    bias: torch.Tensor | None = None,
    *,
    relu: bool = False,
    relu_out: torch.Tensor | None = None,
) -> torch.Tensor:
    """``conv2d(x, w, bias, padding=1)`` for a batch-1 fp32 CPU ``x`` [1, C, H, W] (any layout);
    ``u = transform_kernel(w)``.

    ``relu``: the ReLU applied to the result too. ``relu_out`` (for a gradient
    ``x``): the output of a ReLU that followed, ``x`` passing only where it is
    positive (that ReLU's backward). Returns a new [1, K, H, W] tensor,
    channels-last. Works in bands of tile rows of about :data:`BAND_BYTES`
    each, so its scratch memory stays small whatever the image.
    """
    from dream_core.models import cpu_loops

    kernels = cpu_loops.winograd_loops()

    _, c, h, w = x.shape
    k = u.shape[2]
    th, tw = -(-h // TILE), -(-w // TILE)
    xn = cpu_loops.nhwc(x)
    mask = cpu_loops.nhwc(relu_out) if relu_out is not None else xn
    out = torch.empty(1, k, h, w, dtype=x.dtype, device=x.device, memory_format=torch.channels_last)
    b = bias.detach().to(x.dtype).contiguous() if bias is not None else x.new_zeros(k)
    xa, ma, oa, ba = xn.numpy(), mask.numpy(), cpu_loops.nhwc(out).numpy(), b.numpy()
    rows = max(1, BAND_BYTES // (_IN * _IN * tw * max(c, k) * x.element_size()))
    v = x.new_empty(_IN * _IN * min(rows, th) * tw * c)
    with cpu_loops.running():
        for r0 in range(0, th, rows):
            n = min(rows, th - r0)
            vb = v[: _IN * _IN * n * tw * c].view(_IN * _IN, n * tw, c)
            kernels.input_tiles(xa, ma, relu_out is not None, r0, n, tw, vb.numpy(), cpu_loops.chunks(n * tw))
            m = torch.bmm(vb, u)  # [36, tiles, K]: the products, channel sums included
            kernels.output_tiles(m.numpy(), ba, relu, r0, tw, oa, cpu_loops.chunks(n * tw))
    return out


class _WinogradFn(torch.autograd.Function):
    """The convolution (and its ReLU) by Winograd; its input gradient by Winograd with the flipped kernel."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, mod: WinogradConv2d, relu: bool) -> torch.Tensor:  # noqa: ANN401, FBT001 - autograd's context
        ctx.mod = mod
        y = winograd_conv3x3(x, mod.kernel("forward", x.dtype, x.device), mod.conv.bias, relu=relu)
        ctx.relu = relu
        if relu:
            ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, None, None]:  # noqa: ANN401
        relu_out = ctx.saved_tensors[0] if ctx.relu else None
        return winograd_conv3x3(g, ctx.mod.kernel("backward", g.dtype, g.device), relu_out=relu_out), None, None


class WinogradConv2d(nn.Module):
    """``conv`` (3x3, stride 1, padding 1, no groups or dilation, frozen), by Winograd where switched on."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        if not eligible(conv):
            raise ValueError("WinogradConv2d: a 3x3 convolution, stride 1, padding 1, no groups, no dilation")
        self.conv = conv
        self._kernels: dict[tuple[str, torch.dtype, torch.device], torch.Tensor] = {}

    def kernel(self, which: str, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """The transformed kernel for the forward pass or the input gradient (cached)."""
        key = (which, dtype, device)
        if key not in self._kernels:
            w = self.conv.weight.detach().float()
            if which == "backward":
                w = w.transpose(0, 1).flip(2, 3)
            self._kernels[key] = transform_kernel(w).to(device, dtype)
        return self._kernels[key]

    def forward(self, x: torch.Tensor, relu: bool = False) -> torch.Tensor:  # noqa: FBT001, FBT002
        """The convolution, followed by a ReLU when ``relu`` (fused into Winograd's transforms there)."""
        if (
            _enabled.get()
            and x.device.type == "cpu"
            and x.shape[0] == 1
            and x.dtype == torch.float32
            and not torch.is_autocast_enabled("cpu")
            and not self.conv.weight.requires_grad
        ):
            return _WinogradFn.apply(x, self, relu)
        y = self.conv(x)
        return torch.relu_(y) if relu else y

    def _apply(self, fn: Any, recurse: bool = True) -> WinogradConv2d:  # noqa: ANN401 - nn.Module's signature
        self._kernels.clear()  # moved or cast: transform again from the new weights
        return super()._apply(fn, recurse)


def eligible(conv: nn.Module) -> bool:
    """A plain 3x3 stride-1 padding-1 convolution wide enough for Winograd to pay."""
    return (
        isinstance(conv, nn.Conv2d)
        and conv.kernel_size == (3, 3)
        and conv.stride == (1, 1)
        and conv.padding == (1, 1)
        and conv.dilation == (1, 1)
        and conv.groups == 1
        and conv.padding_mode == "zeros"
        and min(conv.in_channels, conv.out_channels) >= MIN_CHANNELS
    )


def winograd_convs(module: nn.Module) -> int:
    """Wrap every eligible convolution of ``module`` in a :class:`WinogradConv2d`, in place; how many."""
    return swap_modules(module, lambda m: WinogradConv2d(m) if eligible(m) else None, WinogradConv2d)  # type: ignore[arg-type]


def has_winograd(module: nn.Module) -> bool:
    """Whether ``module`` holds any :class:`WinogradConv2d` (a Winograd setting would change anything)."""
    return any(isinstance(m, WinogradConv2d) for m in module.modules())
