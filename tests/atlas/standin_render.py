"""A tiny stand-in for ``dream_core.atlas.render.render_filters`` (the spec's signature),
used by the atlas tests only while the real renderer is not in this tree: a plain
pixel-space ascent, batched, one channel objective per image."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Optional

from PIL import Image


def render_filters(
    model: Any,
    layer: str,
    filters: Sequence[int],
    *,
    size: int = 128,
    steps: Optional[int] = None,
    diversity: int = 1,
    seed: int = 0,
    progress: Optional[Callable[[float], None]] = None,
    should_cancel: Optional[Callable[[], bool]] = None,
) -> list[list[Image.Image]]:
    import torch

    steps = steps or 8
    n = len(filters) * diversity
    gen = torch.Generator().manual_seed(seed)
    x = (0.5 + 0.05 * torch.randn(n, 3, size, size, generator=gen)).to(model.device).requires_grad_(True)
    index = torch.tensor([f for f in filters for _ in range(diversity)], device=model.device)
    for step in range(steps):
        if should_cancel is not None and should_cancel():
            break
        act = model.features(x, [layer])[layer]
        picked = act[torch.arange(n, device=act.device), index]
        (grad,) = torch.autograd.grad(picked.mean(dim=(1, 2)).sum(), x)
        with torch.no_grad():
            x += 0.05 * grad / (grad.abs().mean(dim=(1, 2, 3), keepdim=True) + 1e-8)
            x.clamp_(0, 1)
        if progress is not None:
            progress((step + 1) / steps)
    arr = (x.detach().clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    images = [Image.fromarray(a) for a in arr]
    return [images[i * diversity : (i + 1) * diversity] for i in range(len(filters))]
