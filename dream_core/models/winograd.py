"""3x3 convolutions by Winograd's minimal filtering, F(4x4, 3x3), for CPUs where that is faster.

A DeepDream step is mostly 3x3 convolutions, forward and (for the image's
gradient) backward. oneDNN runs them as direct convolutions, close to the
CPU's peak; on AVX2 it has no Winograd kernels. F(4x4, 3x3) computes each 4x4
output tile from a 6x6 input tile with 36 multiplications per channel pair
instead of 144: the input tiles and the kernels are transformed (``B^T d B``,
``G g G^T``), multiplied position by position (36 batched matrix products over
the channels, the bulk of the work, in one ``bmm``), and transformed back
(``A^T m A``). On a 2-core box emulating AVX2 (MKL capped too) the GoogLeNet
layers alone took 1.6-2x less time than oneDNN's direct convolution, inside a
whole step about 1.25x less (transforms and copies); the relative L2 error of
a layer's output is a few 1e-7 in fp32, as the direct convolution's.

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
import functools
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

__all__ = ["WinogradConv2d", "has_winograd", "use_winograd", "winograd_convs"]

MIN_CHANNELS = 32  # narrower convolutions measured no faster: the transforms cost more than they save

_enabled: contextvars.ContextVar[bool] = contextvars.ContextVar("dreambot_winograd", default=False)

# F(4x4, 3x3) with the points 0, +-1, +-2, infinity (Lavin & Gray, 2016).
_BT = [
    [4, 0, -5, 0, 1, 0],
    [0, -4, -4, 1, 1, 0],
    [0, 4, -4, -1, 1, 0],
    [0, -2, -1, 2, 1, 0],
    [0, 2, -1, -2, 1, 0],
    [0, 4, 0, -5, 0, 1],
]
_G = [
    [1 / 4, 0, 0],
    [-1 / 6, -1 / 6, -1 / 6],
    [-1 / 6, 1 / 6, -1 / 6],
    [1 / 24, 1 / 12, 1 / 6],
    [1 / 24, -1 / 12, 1 / 6],
    [0, 0, 1],
]
_AT = [
    [1, 1, 1, 1, 1, 0],
    [0, 1, -1, 2, -2, 0],
    [0, 1, 1, 4, 4, 0],
    [0, 1, -1, 8, -8, 1],
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


@functools.cache
def _transforms(dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The transform matrices: ``B^T`` [6, 6] (applied separably) and ``kron(A^T, A^T)`` [16, 36]
    (``kron(AT, AT) @ vec(m)`` is ``AT m A`` flattened: one product measured faster than two for the output)."""
    bt = torch.tensor(_BT, dtype=torch.float64)
    at = torch.tensor(_AT, dtype=torch.float64)
    return bt.to(device, dtype), torch.kron(at, at).to(device, dtype)


def transform_kernel(w: torch.Tensor) -> torch.Tensor:
    """``G w G^T`` of every kernel of ``w`` [K, C, 3, 3], laid out [36, C, K] for the batched product."""
    g = torch.tensor(_G, dtype=torch.float64, device=w.device)
    u = torch.einsum("ai,kcij,bj->abck", g, w.double(), g)
    return u.reshape(_IN * _IN, w.shape[1], w.shape[0]).to(w.dtype).contiguous()


def winograd_conv3x3(x: torch.Tensor, u: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``conv2d(x, w, bias, padding=1)`` for a batch-1 ``x`` [1, C, H, W] (any layout), ``u = transform_kernel(w)``.

    Returns a new [1, K, H, W] tensor, channels-last (not a view: autograd lets the
    caller's in-place ReLU follow). Works in bands of tile rows of about
    :data:`BAND_BYTES` each, so its scratch memory stays small whatever the image.
    """
    _, c, h, w = x.shape
    k = u.shape[2]
    th, tw = -(-h // TILE), -(-w // TILE)
    hp, wp = TILE * th + 2, TILE * tw + 2
    # the input, zero-padded, channels-last: one copy (the borders zeroed, the rest written once)
    xp = x.new_empty(hp, wp, c)
    xp[:1].zero_()
    xp[h + 1 :].zero_()
    xp[1 : h + 1, :1].zero_()
    xp[1 : h + 1, w + 1 :].zero_()
    xp[1 : h + 1, 1 : w + 1].copy_(x[0].permute(1, 2, 0))
    out = torch.empty(1, k, h, w, dtype=x.dtype, device=x.device, memory_format=torch.channels_last)
    nhwc = out[0].permute(1, 2, 0)  # [H, W, K], a view of ``out`` to write through
    b = bias.to(x.dtype) if bias is not None else torch.zeros((), dtype=x.dtype, device=x.device)
    bt, ak = _transforms(x.dtype, x.device)
    rows = max(1, BAND_BYTES // (_IN * _IN * tw * max(c, k) * x.element_size()))
    for r0 in range(0, th, rows):
        n = min(rows, th - r0)
        band = xp[TILE * r0 : TILE * (r0 + n) + 2]
        # every 6x6 tile of the band (stride 4), the 36 positions first: [36, tiles * C]
        d = band.as_strided((_IN, _IN, n, tw, c), (wp * c, c, TILE * wp * c, TILE * c, 1), band.storage_offset())
        # B^T d B, separably: along the tile rows, then along the columns (12 multiply-adds per value, not 36)
        v = torch.matmul(bt, (bt @ d.reshape(_IN, -1)).view(_IN, _IN, -1)).view(_IN * _IN, n * tw, c)
        m = torch.bmm(v, u)  # [36, tiles, K]: the products, channel sums included
        y = (ak @ m.view(_IN * _IN, -1)).view(TILE, TILE, n, tw, k).permute(2, 0, 3, 1, 4)  # [n, 4, tw, 4, K]
        y0, y1 = TILE * r0, min(h, TILE * (r0 + n))
        dst = nhwc[y0:y1]
        if y1 - y0 == TILE * n and w == TILE * tw:  # whole tiles: the layout change and the bias in one pass
            torch.add(y, b, out=dst.view(n, TILE, tw, TILE, k))
        else:
            torch.add(y.reshape(TILE * n, TILE * tw, k)[: y1 - y0, :w], b, out=dst)
    return out


class _WinogradFn(torch.autograd.Function):
    """The convolution by Winograd; its input gradient by Winograd with the flipped kernel."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, mod: WinogradConv2d) -> torch.Tensor:  # noqa: ANN401 - autograd's context
        ctx.mod = mod
        return winograd_conv3x3(x, mod.kernel("forward", x.dtype, x.device), mod.conv.bias)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, None]:  # noqa: ANN401
        return winograd_conv3x3(g, ctx.mod.kernel("backward", g.dtype, g.device)), None


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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            _enabled.get()
            and x.device.type == "cpu"
            and x.shape[0] == 1
            and x.dtype == torch.float32
            and not torch.is_autocast_enabled("cpu")
            and not self.conv.weight.requires_grad
        ):
            return _WinogradFn.apply(x, self)
        return self.conv(x)

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
    n = 0
    for parent in list(module.modules()):
        if isinstance(parent, WinogradConv2d):
            continue
        for name, child in list(parent.named_children()):
            if eligible(child):
                setattr(parent, name, WinogradConv2d(child))  # type: ignore[arg-type]
                n += 1
    return n


def has_winograd(module: nn.Module) -> bool:
    """Whether ``module`` holds any :class:`WinogradConv2d` (a Winograd setting would change anything)."""
    return any(isinstance(m, WinogradConv2d) for m in module.modules())
