"""Transformation robustness: every step sees each image slightly moved, scaled and turned.

A visualisation that only works pixel-exact is adversarial noise; one that survives
random jitter, scale and rotation is a feature. Every image of the batch gets its own
random affine transform each step, applied in one ``grid_sample`` (bilinear, mirrored
at the borders) so the transforms cost one pass over the batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["Robustness", "random_affine"]


@dataclass(frozen=True)
class Robustness:
    """How far the random transforms reach: ``jitter`` (share of the side, each way),
    ``scale`` (log-uniform zoom between ``1/scale`` and ``scale``), ``rotate`` (degrees
    each way). ``Robustness(0, 1, 0)`` is the identity."""

    jitter: float = 0.06
    scale: float = 1.1
    rotate: float = 10.0

    @property
    def identity(self) -> bool:
        return self.jitter == 0 and self.scale == 1 and self.rotate == 0


def random_affine(
    x: torch.Tensor, robust: Robustness, generator: torch.Generator, out_side: int | None = None
) -> torch.Tensor:
    """``x`` ``[B, C, H, W]`` with a random affine transform per image, resampled to ``out_side``
    square (default: the same size; a smaller side is a cheaper, coarser view of the whole image)."""
    if robust.identity and out_side in (None, x.shape[-1]) and x.shape[-1] == x.shape[-2]:
        return x
    b = x.shape[0]

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return torch.rand(b, generator=generator) * (hi - lo) + lo

    log_s = math.log(robust.scale)
    zoom = torch.exp(uniform(-log_s, log_s))
    angle = uniform(-robust.rotate, robust.rotate) * (math.pi / 180)
    tx, ty = uniform(-2 * robust.jitter, 2 * robust.jitter), uniform(-2 * robust.jitter, 2 * robust.jitter)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, tx], dim=1), torch.stack([sin, cos, ty], dim=1)], dim=1).to(
        device=x.device, dtype=x.dtype
    )
    shape = list(x.shape) if out_side is None else [x.shape[0], x.shape[1], out_side, out_side]
    grid = F.affine_grid(theta, shape, align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
