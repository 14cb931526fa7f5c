"""PIL images <-> float tensors in [0, 1], and resizing, with bounded temporaries.

Conversions go strip by strip of rows, so no image-sized numpy, bytes or
float temporary exists on the way (the dream's peak memory counts image copies).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

CONVERT_ROWS = 256  # rows per strip when converting between PIL images and tensors (bounded temporaries)


def _row_strips(height: int, rows: int = CONVERT_ROWS) -> list[tuple[int, int]]:
    return [(y, min(height, y + rows)) for y in range(0, height, rows)]


def to_uint8_tensor(img: Image.Image, device: torch.device | str = "cpu") -> torch.Tensor:
    """RGB PIL image -> uint8 tensor [1, 3, H, W] (a quarter of the float copy's size).

    Filled strip by strip, so no image-sized numpy or bytes copy exists on the way.
    """
    if img.mode != "RGB":
        img = img.convert("RGB")
    w, h = img.size
    out = torch.empty((1, 3, h, w), dtype=torch.uint8, device=device)
    for y0, y1 in _row_strips(h):
        strip = np.frombuffer(img.crop((0, y0, w, y1)).tobytes(), dtype=np.uint8).reshape(y1 - y0, w, 3)
        out[0, :, y0:y1] = torch.from_numpy(strip.copy()).permute(2, 0, 1).to(device)
    return out


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 tensor -> float tensor in [0, 1] (exactly ``x / 255``)."""
    return x.to(torch.float32).div_(255.0)


def to_tensor(img: Image.Image, device: torch.device | str = "cpu") -> torch.Tensor:
    """RGB PIL image -> float tensor [1, 3, H, W] in [0, 1]."""
    return to_float(to_uint8_tensor(img, device))


def to_image(x: torch.Tensor) -> Image.Image:
    """Float tensor [1, 3, H, W] in [0, 1] -> RGB PIL image.

    Quantised strip by strip into one uint8 buffer: no image-sized float temporary.
    """
    _, _, h, w = x.shape
    arr = torch.empty((h, w, 3), dtype=torch.uint8)
    src = x.detach()[0]
    for y0, y1 in _row_strips(h):
        s = src[:, y0:y1].float().clamp(0, 1).mul_(255).add_(0.5).to(torch.uint8)
        arr[y0:y1] = s.permute(1, 2, 0).cpu()
    return Image.fromarray(arr.numpy(), "RGB")


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize to (H, W); antialiased when shrinking."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    shrink = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=shrink)
