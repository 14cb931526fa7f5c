"""Tiled gradients: the objective's gradient w.r.t. an image, computed tile by tile.

Tiles bound the activation memory for any image size. Each tile starts on the
network's stride grid, is evaluated with a margin of context around it and
keeps only its inner part's gradient, so the result closely matches the
whole-image gradient. :class:`StepConfig` says how one gradient is computed
(tile size, precision, memory layout); :mod:`dream_core.autotune` picks it
per model, image size and machine.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import torch

from dream_core.models import DreamModel
from dream_core.models.winograd import use_winograd


class Objective(Protocol):
    """What a gradient ascends: a scalar from the activations of ``layers``."""

    @property
    def layers(self) -> Sequence[str]: ...

    def __call__(self, feats: dict[str, torch.Tensor]) -> torch.Tensor: ...


@dataclass(frozen=True)
class StepConfig:
    """How one gradient is computed: tile side, autocast dtype (None = fp32), memory layout,
    and whether 3x3 convolutions run by Winograd (:mod:`dream_core.models.winograd`)."""

    tile: int = 512
    truncate: bool = True
    amp_dtype: torch.dtype | None = None
    channels_last: bool = False
    winograd: bool = False


TILE_ALIGN = 32  # total stride of every registered network: tiles on this grid see what the whole image sees


TILE_SLACK = 1.25  # a side up to 1.25 x tile_size is still one tile (tiling has a cost: margins, seams)


def _spans(length: int, tile: int, align: int = TILE_ALIGN) -> list[tuple[int, int]]:
    """Split ``length`` into near-equal spans of at most ~``TILE_SLACK * tile``, cut on multiples of ``align``."""
    n = max(1, math.ceil(length / (tile * TILE_SLACK)))
    edges = sorted(
        {min(length, round(i * length / n / align) * align) for i in range(n)}
        | {length}
    )
    return [(a, b) for a, b in itertools.pairwise(edges) if b > a]


def tile_margin(tile: int) -> int:
    """Context around each tile: a multiple of the network stride, ~1/16 of the tile (at least one stride)."""
    return TILE_ALIGN * max(1, round(tile / 16 / TILE_ALIGN))


def tile_gradient(
    model: DreamModel,
    x: torch.Tensor,
    objective: Objective,
    cfg: StepConfig,
    shift: tuple[int, int] = (0, 0),
) -> torch.Tensor:
    """Gradient of ``objective`` w.r.t. ``x`` rolled by ``shift``, computed tile by tile.

    The gradient is that of ``torch.roll(x, shift)`` rolled back, i.e. it lines
    up with ``x``; no rolled copy of the image is made: each tile is gathered
    from ``x`` with wrap-around indices and its gradient scattered back to the
    un-rolled position (image-sized memory: ``x`` and the gradient only).

    Tiles have at most ~1.25 x ``cfg.tile`` pixels a side, start on the network's
    stride grid (of the rolled image) and are evaluated with a margin of context
    around them; only their inner part's gradient is kept, so the result closely
    matches the whole-image gradient while peak activation memory depends on the
    tile size, not the image size. An image no larger than a tile is one pass.
    """
    _, _, h, w = x.shape
    dy, dx = shift[0] % h, shift[1] % w
    amp = (
        torch.autocast(device_type=x.device.type, dtype=cfg.amp_dtype)
        if cfg.amp_dtype is not None
        else contextlib.nullcontext()
    )
    loss_scale = 1024.0 if cfg.amp_dtype == torch.float16 else 1.0
    layout = torch.channels_last if cfg.channels_last else torch.contiguous_format

    def grad_of(t: torch.Tensor, area: float) -> torch.Tensor:
        t = t.detach().contiguous(
            memory_format=layout
        )  # a detached alias of ``x`` is fine: never written
        t.requires_grad_(True)
        with amp, use_winograd(cfg.winograd):
            feats = model.features(t, objective.layers, truncate=cfg.truncate)
        # The objective averages over the tile; weigh tiles by area so all agree on one scale.
        loss = objective(feats) * (loss_scale * area)
        (g,) = torch.autograd.grad(loss, t)
        return g

    ys, xs = _spans(h, cfg.tile), _spans(w, cfg.tile)
    if len(ys) == 1 and len(xs) == 1:  # one pass over the whole (small) image
        t = torch.roll(x, shifts=(dy, dx), dims=(2, 3)) if (dy or dx) else x
        g = grad_of(t, 1.0).float()
        del t
        g = torch.roll(g, shifts=(-dy, -dx), dims=(2, 3)) if (dy or dx) else g
        return g.contiguous()
    grad = x.new_zeros(x.shape)
    margin = tile_margin(cfg.tile)
    rows_all = (torch.arange(h, device=x.device) - dy) % h  # rolled row -> row of x
    cols_all = (torch.arange(w, device=x.device) - dx) % w
    for y0, y1 in ys:
        for x0, x1 in xs:
            ty0, ty1 = max(0, y0 - margin), min(h, y1 + margin)
            tx0, tx1 = max(0, x0 - margin), min(w, x1 + margin)
            rows, cols = rows_all[ty0:ty1], cols_all[tx0:tx1]
            t = x.index_select(2, rows).index_select(3, cols)
            g = grad_of(t, (ty1 - ty0) * (tx1 - tx0) / (h * w))
            del t
            inner = g[:, :, y0 - ty0 : y1 - ty0, x0 - tx0 : x1 - tx0].float()
            grad[:, :, rows_all[y0:y1, None], cols_all[None, x0:x1]] = inner
            del g, inner
    return grad
