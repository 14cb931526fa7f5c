"""Gradient smoothing: the average of Gaussian blurs at three sigmas, in place, by strips.

DeepDream smooths each step's gradient so the ascent favours structures
over pixel noise. The three blurs run as two depthwise convolutions over all
colour channels at once, in channels-last layout (much faster on CPU than a
single-channel convolution per channel): a horizontal pass with three
kernels per channel (nine outputs), then a vertical pass that blurs and sums
each channel's three outputs. The arithmetic is that of three separate
separable blurs, averaged.

The gradient is overwritten strip by strip: each strip reads its rows plus a
halo of ``radius`` unsmoothed rows (the halo above was already overwritten by
the previous strip, so it is kept aside first). The temporaries are a few
strips, never a copy of the image.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

SMOOTH_PIXELS = 1 << 19  # pixels per strip: temporaries of ~40 MB (nine float channels of a strip)


def gaussian_kernel(
    sigma: float, radius: int, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """Normalised 1-D Gaussian samples at ``-radius .. radius`` (float32)."""
    t = torch.arange(-radius, radius + 1, device=device, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / max(sigma, 1e-3)) ** 2)
    return k / k.sum()


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur per channel, reflect-padded (one sigma; a plain reference)."""
    if sigma <= 0.05:
        return x
    radius = min(max(1, math.ceil(3 * sigma)), x.shape[-1] - 1, x.shape[-2] - 1)
    if radius < 1:
        return x
    k = gaussian_kernel(sigma, radius, x.device).to(x.dtype)
    c = x.shape[1]
    kx = k.view(1, 1, 1, -1).repeat(c, 1, 1, 1)
    ky = k.view(1, 1, -1, 1).repeat(c, 1, 1, 1)
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="reflect"), kx, groups=c)
    return F.conv2d(F.pad(x, (0, 0, radius, radius), mode="reflect"), ky, groups=c)


def smoothing_sigmas(smoothing: float, progress: float) -> tuple[float, float, float]:
    """Three sigmas (px) growing with the iteration's progress through its octave."""
    base = smoothing * (0.5 + 1.5 * progress)
    return (0.5 * base, base, 2.0 * base)


def _kernels(
    sigmas: tuple[float, ...],
    radius: int,
    channels: int,
    device: torch.device,
    dtype: torch.dtype,
):
    """Horizontal kernels [C*S, 1, 1, K] (S per channel) and vertical [C, S, K, 1] that also average."""
    k = torch.stack([gaussian_kernel(s, radius, device) for s in sigmas])  # [S, K]
    n = len(sigmas)
    kx = k.repeat(channels, 1).view(channels * n, 1, 1, -1).to(dtype)
    ky = (k / n).repeat(channels, 1).view(channels, n, -1, 1).to(dtype)
    return kx, ky


def smooth_gradient(g: torch.Tensor, smoothing: float, progress: float) -> torch.Tensor:
    """Average of Gaussian blurs of ``g`` [1, C, H, W] at three sigmas (0 = off), written back into ``g``.

    Reflect padding at the image's borders, as a one-pass blur would do.
    Returns ``g``.
    """
    if smoothing <= 0:
        return g
    sigmas = smoothing_sigmas(smoothing, progress)
    _, c, h, w = g.shape
    radius = min(max(1, math.ceil(3 * max(sigmas))), h - 1, w - 1)
    if radius < 1:
        return g
    kx, ky = _kernels(sigmas, radius, c, g.device, g.dtype)
    rows = max(SMOOTH_PIXELS // w, 2 * radius)
    above: torch.Tensor | None = None  # unsmoothed rows [y0 - radius, y0)
    for y0 in range(0, h, rows):
        y1 = min(h, y0 + rows)
        lo, hi = max(0, y0 - radius), min(h, y1 + radius)
        below = g[:, :, y0:hi]
        x = (
            below if above is None else torch.cat([above, below], dim=2)
        )  # rows [lo, hi), unsmoothed
        if y1 < h:
            above = g[:, :, max(0, y1 - radius) : y1].clone()
        # Reflect only at the image's own top/bottom; elsewhere the halo rows are real rows.
        x = F.pad(x, (radius, radius, 0, 0), mode="reflect")
        x = F.pad(x, (0, 0, radius - (y0 - lo), radius - (hi - y1)), mode="reflect")
        x = x.contiguous(memory_format=torch.channels_last)
        x = F.conv2d(F.conv2d(x, kx, groups=c), ky, groups=c)
        g[:, :, y0:y1] = x
    return g
