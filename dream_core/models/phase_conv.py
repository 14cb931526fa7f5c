"""The image-facing strided convolution, its input gradient computed phase by phase.

A DeepDream step needs the gradient of the network's first convolution with
respect to the image: a transposed convolution from many channels (64 for
GoogLeNet) down to 3 at stride 2. oneDNN computes that poorly with 3 output
channels: 12.2 ms of a 92 ms GoogLeNet step at 600x703 under bf16 on the
2-core reference box.

The same gradient, split by the position of each image pixel within the stride
(its *phase*): a pixel at row ``s*q + a`` only meets the kernel rows ``u`` with
``u = a + p (mod s)`` (``p``: the padding above), each through output row
``q - (u - a - p) / s``. So every phase is a stride-1 correlation of the output
gradient with a sub-kernel; stacking the ``s*s`` phases of each colour as output
channels makes one stride-1 convolution with ``3*s*s`` outputs (12), and a
depth-to-space copy puts the phases back in place. Exact (the same sums, in another
order); 5.2 ms in the case above. It needs the output gradient channels-last
(NCHW takes several times longer), so it is made so first.

Only the image's gradient is computed: the weights are frozen.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PhaseConv2d", "for_image"]

_LANES = 8  # the phase filters are padded to a multiple of this many


def _phase_taps(kernel: int, stride: int, pad: int) -> tuple[list[list[tuple[int, int]]], int, int]:
    """Per phase ``a``: the (tap, kernel index) pairs; and the lowest and highest output offsets.

    Image index ``s*q + a`` receives ``w[u] * g[q + o]`` for every ``u`` with
    ``o = (a + pad - u) / s`` an integer; tap ``o - lowest`` of a window over ``g``.
    """
    pairs = [
        [((a + pad - u) // stride, u) for u in range(kernel) if (u - a - pad) % stride == 0] for a in range(stride)
    ]
    offsets = [o for phase in pairs for o, _ in phase]
    lo, hi = min(offsets), max(offsets)
    return [[(o - lo, u) for o, u in phase] for phase in pairs], lo, hi


def _depth_to_space(x: torch.Tensor, s: int) -> torch.Tensor:
    """``pixel_shuffle(x, s)`` of a channels-last ``x``, as one copy into NCHW (pixel_shuffle
    itself takes 1.5-3x longer on channels-last input)."""
    n, cs, q, r = x.shape
    c = cs // (s * s)
    phases = x.permute(0, 2, 3, 1).reshape(n, q, r, c, s, s)  # [n, q, r, c, a, b]
    return phases.permute(0, 3, 1, 4, 2, 5).reshape(n, c, q * s, r * s)


class _PhaseGrad(torch.autograd.Function):
    """The module's convolution; its backward the phase convolution (input gradient only)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, mod: PhaseConv2d) -> torch.Tensor:  # noqa: ANN401 - autograd's context
        ctx.mod, ctx.size, ctx.dtype = mod, tuple(x.shape[-2:]), x.dtype
        return mod.conv(x)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, None]:  # noqa: ANN401
        return ctx.mod.input_grad(g, ctx.size).to(ctx.dtype), None


class PhaseConv2d(nn.Module):
    """``conv`` (stride > 1, no groups or dilation, frozen) whose input gradient is computed by phases."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        k, s = conv.kernel_size, conv.stride
        if k[0] != k[1] or s[0] != s[1] or s[0] < 2 or conv.groups != 1 or conv.dilation != (1, 1):
            raise ValueError("PhaseConv2d: a square kernel, one stride > 1, no groups, no dilation")
        if isinstance(conv.padding, str):
            raise ValueError("PhaseConv2d: numeric padding only")
        self.conv = conv
        self.top, self.left = int(conv.padding[0]), int(conv.padding[1])  # padding above, left of the input
        self.k, self.s = k[0], s[0]
        self._kernels: dict[tuple[torch.dtype, torch.device], torch.Tensor] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # CPU only: measured there (oneDNN); on CUDA cuDNN's own backward is kept.
        wanted = torch.is_grad_enabled() and x.requires_grad and not self.conv.weight.requires_grad
        if wanted and x.device.type == "cpu":
            return _PhaseGrad.apply(x, self)
        return self.conv(x)

    def _kernel(self, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """The phase kernel [C*s*s, O, T, T] (cached per dtype and device), channels-last."""
        key = (dtype, device)
        if key not in self._kernels:
            w = self.conv.weight.detach().float()
            out_ch, in_ch = w.shape[:2]
            rows, lo_y, hi_y = _phase_taps(self.k, self.s, self.top)
            cols, lo_x, hi_x = _phase_taps(self.k, self.s, self.left)
            kern = w.new_zeros(in_ch, self.s, self.s, out_ch, hi_y - lo_y + 1, hi_x - lo_x + 1)
            for a, row_taps in enumerate(rows):
                for b, col_taps in enumerate(cols):
                    for ty, u in row_taps:
                        for tx, v in col_taps:
                            kern[:, a, b, :, ty, tx] = w[:, :, u, v].t()
            kern = kern.reshape(in_ch * self.s * self.s, out_ch, *kern.shape[-2:])
            # zero filters up to a multiple of 8: AVX2's 8 lanes ran 16 outputs in 15 % less time
            # than 12 (GoogLeNet, 600x703); no slower with AVX-512 or AMX
            kern = torch.cat([kern, kern.new_zeros(-kern.shape[0] % _LANES, *kern.shape[1:])])
            self._kernels[key] = kern.to(device, dtype).contiguous(memory_format=torch.channels_last)
        return self._kernels[key]

    def input_grad(self, g: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Gradient w.r.t. the (unpadded) input of ``size`` (H, W), from the output gradient ``g``."""
        h, w = size
        s = self.s
        _, lo_y, hi_y = _phase_taps(self.k, s, self.top)
        _, lo_x, hi_x = _phase_taps(self.k, s, self.left)
        q, r = -(-h // s), -(-w // s)  # phase rows and columns covering the input
        # Symmetric padding wide enough for every window; then the rows/columns wanted.
        py = max(-lo_y, hi_y + q - g.shape[-2], 0)
        px = max(-lo_x, hi_x + r - g.shape[-1], 0)
        kern = self._kernel(g.dtype, g.device)
        out = F.conv2d(g.contiguous(memory_format=torch.channels_last), kern, padding=(py, px))
        phases = self.conv.in_channels * s * s  # the filters past them are the zero padding
        out = out[:, :phases, py + lo_y : py + lo_y + q, px + lo_x : px + lo_x + r]
        return _depth_to_space(out, s)[:, :, :h, :w]


def for_image(conv: nn.Conv2d) -> nn.Module:
    """``conv`` as a :class:`PhaseConv2d` where that applies (strided, plain); else ``conv`` itself."""
    try:
        return PhaseConv2d(conv)
    except ValueError:
        return conv
