"""The DeepDream algorithm: gradient ascent on an image to excite chosen layers.

Pipeline of :func:`dream`:

1. resolve the params (strength preset, seed) and the target spec against
   the model (unknown layers fail before any weights load);
2. build a pyramid of *octaves*; starting from the smallest, dream at each
   scale and carry the *detail* (dreamed - base) up to the next scale;
3. each gradient step rolls the image by a random *jitter*, computes the
   gradient of the objective in *tiles* (bounded memory for any image size,
   tile grid shifted randomly each step, each tile seen with a margin of
   context), smooths it with Gaussians at a few sigmas, normalises it and
   takes a step, keeping pixels in [0, 1];
4. optionally an iterate-and-zoom animation, and keeping the original colours.

The forward pass stops at the deepest requested layer; weights are frozen.
On CUDA it runs with fp16 autocast and channels-last tensors.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from dream_core.errors import DreamCancelled, DreamParamsError
from dream_core.models import (
    DreamModel,
    ResolvedTerm,
    get_model,
    resolve_device,
    resolve_targets,
)
from dream_core.params import DreamParams
from dream_core.results import CancelCheck, DreamResult, Progress, ProgressCallback

if TYPE_CHECKING:
    from dream_core.images import LoadedImage

log = logging.getLogger(__name__)

MIN_OCTAVE_SIDE = 32  # smaller octaves are skipped: the networks see nothing at that size
PREVIEW_SIDE = 256
GUIDE_SIDE = 384  # long side the guide image is analysed at
CPU_BF16_ENV = "DREAMBOT_CPU_BF16"  # "1": bf16 autocast on CPU (off by default; see bench/)


# ------------------------------------------------------------------ tensors <-> images


def to_tensor(img: Image.Image, device: torch.device | str = "cpu") -> torch.Tensor:
    """RGB PIL image -> float tensor [1, 3, H, W] in [0, 1]."""
    arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
    t = torch.from_numpy(arr.copy()).permute(2, 0, 1).unsqueeze(0)
    return t.to(device=device, dtype=torch.float32).div_(255.0)


def to_image(x: torch.Tensor) -> Image.Image:
    """Float tensor [1, 3, H, W] in [0, 1] -> RGB PIL image."""
    arr = x.detach()[0].float().clamp(0, 1).mul_(255).add_(0.5).to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(np.ascontiguousarray(arr), "RGB")


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize to (H, W); antialiased when shrinking."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    shrink = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=shrink)


# ------------------------------------------------------------------ objective


class Objective:
    """What a dream maximises, evaluated on a dict of activations.

    Plain terms: weighted mean of squared activations (of one filter when a
    term names one). With a guide: for every position of the dream's features,
    the best dot product with any position of the guide's features (the
    classic guided DeepDream), mixed with the plain objective by
    ``guide_weight`` (1 = guide only, 0.5 = half each, 0 = ignore the guide).
    """

    def __init__(
        self,
        terms: Sequence[ResolvedTerm],
        guide_features: dict[str, torch.Tensor] | None = None,
        guide_weight: float = 1.0,
    ) -> None:
        self.terms = list(terms)
        self.layers = sorted({t.layer for t in self.terms})
        self.guide = guide_features
        self.guide_weight = guide_weight if guide_features is not None else 0.0
        self.plain_weight = max(0.0, 1.0 - self.guide_weight) if guide_features is not None else 1.0

    @staticmethod
    def _select(act: torch.Tensor, channel: int | None) -> torch.Tensor:
        return act[:, channel : channel + 1] if channel is not None else act

    def __call__(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        total: torch.Tensor | float = 0.0
        for t in self.terms:
            act = self._select(feats[t.layer], t.channel).float()
            if self.plain_weight > 0:
                total = total + self.plain_weight * t.weight * act.pow(2).mean()
            if self.guide is not None and self.guide_weight > 0:
                g = self._select(self.guide[t.layer], t.channel).float()  # [1, C, h, w]
                x = act.flatten(2)[0]  # [C, N]
                y = g.flatten(2)[0]  # [C, M]
                best = (x.t() @ y).max(dim=1).values  # [N]
                total = total + self.guide_weight * t.weight * best.mean() / max(1, x.shape[0])
        assert isinstance(total, torch.Tensor)
        return total


# ------------------------------------------------------------------ gradient


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur per channel, reflect-padded."""
    if sigma <= 0.05:
        return x
    radius = max(1, int(math.ceil(3 * sigma)))
    radius = min(radius, x.shape[-1] - 1, x.shape[-2] - 1)
    if radius < 1:
        return x
    k = torch.arange(-radius, radius + 1, device=x.device, dtype=torch.float32)
    k = torch.exp(-0.5 * (k / sigma) ** 2)
    k = (k / k.sum()).to(x.dtype)
    c = x.shape[1]
    kx = k.view(1, 1, 1, -1).repeat(c, 1, 1, 1)
    ky = k.view(1, 1, -1, 1).repeat(c, 1, 1, 1)
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="reflect"), kx, groups=c)
    return F.conv2d(F.pad(x, (0, 0, radius, radius), mode="reflect"), ky, groups=c)


def smoothing_sigmas(smoothing: float, progress: float) -> tuple[float, float, float]:
    """Three sigmas (px) growing with the iteration's progress through its octave."""
    base = smoothing * (0.5 + 1.5 * progress)
    return (0.5 * base, base, 2.0 * base)


def smooth_gradient(g: torch.Tensor, smoothing: float, progress: float) -> torch.Tensor:
    """Average of Gaussian blurs of ``g`` at three sigmas (0 = off).

    All three blurs run as one pair of convolutions (horizontal with three
    output kernels, then vertical grouped), one image channel at a time.
    """
    if smoothing <= 0:
        return g
    sigmas = smoothing_sigmas(smoothing, progress)
    _, c, h, w = g.shape
    radius = min(max(1, int(math.ceil(3 * max(sigmas)))), h - 1, w - 1)
    if radius < 1:
        return g
    t = torch.arange(-radius, radius + 1, device=g.device, dtype=torch.float32)
    k = torch.stack([torch.exp(-0.5 * (t / max(s, 1e-3)) ** 2) for s in sigmas])
    k = (k / k.sum(dim=1, keepdim=True)).to(g.dtype)  # [3, 2r+1]
    out = torch.empty_like(g)
    for i in range(c):  # one channel at a time: 3 blurred copies of a channel, not of the image
        x = g[:, i : i + 1]
        x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="reflect"), k.view(3, 1, 1, -1))
        x = F.conv2d(F.pad(x, (0, 0, radius, radius), mode="reflect"), k.view(3, 1, -1, 1), groups=3)
        out[:, i] = x.mean(dim=1)
    return out


@dataclass(frozen=True)
class StepConfig:
    """How gradients are computed (the knobs the bench switches off for its reference)."""

    tile: int = 512
    truncate: bool = True
    amp_dtype: torch.dtype | None = None
    channels_last: bool = False

    @staticmethod
    def for_device(device: torch.device, tile: int) -> StepConfig:
        if device.type == "cuda":
            return StepConfig(tile=tile, amp_dtype=torch.float16, channels_last=True)
        if os.environ.get(CPU_BF16_ENV) == "1":
            return StepConfig(tile=tile, amp_dtype=torch.bfloat16, channels_last=True)
        return StepConfig(tile=tile, channels_last=True)


TILE_ALIGN = 32  # total stride of every registered network: tiles on this grid see what the whole image sees


TILE_SLACK = 1.25  # a side up to 1.25 x tile_size is still one tile (tiling has a cost: margins, seams)


def _spans(length: int, tile: int, align: int = TILE_ALIGN) -> list[tuple[int, int]]:
    """Split ``length`` into near-equal spans of at most ~``TILE_SLACK * tile``, cut on multiples of ``align``."""
    n = max(1, math.ceil(length / (tile * TILE_SLACK)))
    edges = sorted({min(length, round(i * length / n / align) * align) for i in range(n)} | {length})
    return [(a, b) for a, b in itertools.pairwise(edges) if b > a]


def tile_margin(tile: int) -> int:
    """Context around each tile: a multiple of the network stride, ~1/16 of the tile (at least one stride)."""
    return TILE_ALIGN * max(1, round(tile / 16 / TILE_ALIGN))


def tile_gradient(model: DreamModel, x: torch.Tensor, objective: Objective, cfg: StepConfig) -> torch.Tensor:
    """Gradient of ``objective`` w.r.t. ``x``, computed tile by tile.

    Tiles have at most ~1.25 x ``cfg.tile`` pixels a side, start on the network's
    stride grid and are evaluated with a margin of context around them; only
    their inner part's gradient is kept, so the result closely matches the
    whole-image gradient while peak activation memory depends on the tile
    size, not the image size. An image no larger than a tile is one pass.
    """
    _, _, h, w = x.shape
    single = len(_spans(h, cfg.tile)) == 1 and len(_spans(w, cfg.tile)) == 1
    grad = x.new_zeros(x.shape) if not single else None
    margin = tile_margin(cfg.tile)
    amp = (
        torch.autocast(device_type=x.device.type, dtype=cfg.amp_dtype)
        if cfg.amp_dtype is not None
        else contextlib.nullcontext()
    )
    loss_scale = 1024.0 if cfg.amp_dtype == torch.float16 else 1.0
    for y0, y1 in _spans(h, cfg.tile) if not single else [(0, h)]:
        for x0, x1 in _spans(w, cfg.tile) if not single else [(0, w)]:
            ty0, ty1 = max(0, y0 - margin), min(h, y1 + margin)
            tx0, tx1 = max(0, x0 - margin), min(w, x1 + margin)
            t = x[:, :, ty0:ty1, tx0:tx1].detach()
            t = t.contiguous(memory_format=torch.channels_last) if cfg.channels_last else t.clone()
            t.requires_grad_(True)
            with amp:
                feats = model.features(t, objective.layers, truncate=cfg.truncate)
            # The objective averages over the tile; weigh tiles by area so all agree on one scale.
            area = (ty1 - ty0) * (tx1 - tx0) / (h * w)
            loss = objective(feats) * (loss_scale * area)
            (g,) = torch.autograd.grad(loss, t)
            if single:
                return g.float().contiguous()
            assert grad is not None
            grad[:, :, y0:y1, x0:x1] = g[:, :, y0 - ty0 : y1 - ty0, x0 - tx0 : x1 - tx0]
            del feats, loss, g, t
    assert grad is not None
    return grad


# ------------------------------------------------------------------ the dream loop


class _Runner:
    """State of one dream: the model, objective, RNG, progress accounting."""

    def __init__(
        self,
        model: DreamModel,
        objective: Objective,
        params: DreamParams,
        cfg: StepConfig,
        total_steps: int,
        progress: ProgressCallback | None,
        cancel: CancelCheck | None,
        frames: int,
    ) -> None:
        self.model = model
        self.objective = objective
        self.p = params
        self.cfg = cfg
        self.rng = random.Random(params.seed)
        self.total = max(1, total_steps)
        self.done = 0
        self.progress = progress
        self.cancel = cancel
        self.frames = frames
        self.frame = 1 if frames else 0

    def step(self, x: torch.Tensor, it: int, iterations: int) -> torch.Tensor:
        p = self.p
        j = p.jitter
        dy = self.rng.randint(-j, j) if j else 0
        dx = self.rng.randint(-j, j) if j else 0
        if len(_spans(max(x.shape[-2:]), self.cfg.tile)) > 1:  # shift the tile grid too: seams never stay put
            dy += self.rng.randrange(self.cfg.tile)
            dx += self.rng.randrange(self.cfg.tile)
        # Image-sized temporaries are kept to a few (in-place updates, per-channel
        # smoothing) so that big images stay cheap next to the tiles' activations.
        rolled = torch.roll(x, shifts=(dy, dx), dims=(2, 3)) if (dy or dx) else x
        g = tile_gradient(self.model, rolled, self.objective, self.cfg)
        del rolled
        if dy or dx:
            g = torch.roll(g, shifts=(-dy, -dx), dims=(2, 3))
        g = smooth_gradient(g, p.smoothing, it / max(1, iterations))
        assert p.step is not None
        if p.normalize_gradients:
            mean_abs = float(torch.linalg.vector_norm(g, ord=1)) / g.numel()
            scale = p.step / mean_abs if mean_abs > 0 else 0.0  # no epsilon floor: tiny gradients still count
        else:
            scale = p.step * 1e3  # raw gradients are tiny; keep the step knob in a usable range
        return x.add_(g, alpha=scale).clamp_(0.0, 1.0)

    def octaves(self, base: torch.Tensor, octaves: int, scale: float, iterations: int) -> torch.Tensor:
        """Dream ``base`` over an octave pyramid, carrying the detail up from scale to scale."""
        sizes = octave_sizes(tuple(base.shape[-2:]), octaves, scale)  # type: ignore[arg-type]
        detail: torch.Tensor | None = None
        x = base
        for o, size in enumerate(sizes, start=1):
            b = resize(base, size)
            x = b.clone() if detail is None else resize(detail, size).add_(b).clamp_(0.0, 1.0)
            detail = None
            for it in range(1, iterations + 1):
                if self.cancel is not None and self.cancel():
                    raise DreamCancelled("the dream was cancelled")
                x = self.step(x, it, iterations)
                self.done += 1
                if self.progress is not None:
                    preview = _preview(x) if it == iterations else None
                    self.progress(
                        Progress(
                            octave=o,
                            octaves=len(sizes),
                            iteration=it,
                            iterations=iterations,
                            fraction=min(1.0, self.done / self.total),
                            frame=self.frame,
                            frames=self.frames,
                            preview=preview,
                        )
                    )
            if o < len(sizes):
                detail = x - b
        return x


def octave_sizes(size: tuple[int, int], octaves: int, scale: float) -> list[tuple[int, int]]:
    """Sizes (H, W) from smallest to the full size; octaves below MIN_OCTAVE_SIDE are dropped."""
    h, w = size
    out = []
    for i in range(octaves - 1, -1, -1):
        f = scale**i
        oh, ow = max(1, round(h / f)), max(1, round(w / f))
        if i > 0 and min(oh, ow) < MIN_OCTAVE_SIDE:
            continue
        out.append((oh, ow))
    return out


def _preview(x: torch.Tensor) -> Image.Image:
    img = to_image(x)
    img.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.BILINEAR)
    return img


def noise_tensor(size: int, seed: int, device: torch.device) -> torch.Tensor:
    """Soft multi-scale grey noise to dream from."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.zeros(1, 3, size, size)
    for level, amp in ((4, 0.5), (16, 0.3), (64, 0.2), (size, 0.1)):
        n = torch.randn(1, 3, min(level, size), min(level, size), generator=gen)
        x += amp * F.interpolate(n, size=(size, size), mode="bicubic", align_corners=False)
    x = 0.5 + 0.12 * (x - x.mean()) / (x.std() + 1e-8)
    return x.clamp(0, 1).to(device)


def zoom_rotate(x: torch.Tensor, zoom: float, degrees: float) -> torch.Tensor:
    """Zoom into the centre by ``zoom`` and rotate by ``degrees`` (same size out)."""
    a = math.radians(degrees)
    cos, sin = math.cos(a) / zoom, math.sin(a) / zoom
    h, w = x.shape[-2:]
    theta = torch.tensor([[cos, -sin * h / w, 0.0], [sin * w / h, cos, 0.0]], dtype=x.dtype, device=x.device)
    grid = F.affine_grid(theta.unsqueeze(0), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


# ------------------------------------------------------------------ colour


_RGB2YCC = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])


def keep_colors(dreamed: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    """The dream's luminance on the original's chroma (YCbCr)."""
    m = _RGB2YCC.to(dreamed.device, dreamed.dtype)
    original = resize(original, tuple(dreamed.shape[-2:]))  # type: ignore[arg-type]
    yd = torch.einsum("ij,bjhw->bihw", m, dreamed)
    yo = torch.einsum("ij,bjhw->bihw", m, original)
    ycc = torch.cat([yd[:, :1], yo[:, 1:]], dim=1)
    return torch.einsum("ij,bjhw->bihw", torch.linalg.inv(m), ycc).clamp(0, 1)


# ------------------------------------------------------------------ public entry point


def guide_features(model: DreamModel, guide: Image.Image, layers: Sequence[str], cfg: StepConfig) -> dict[str, torch.Tensor]:
    """What the network sees in the guide image, at the target layers."""
    g = guide.convert("RGB")
    g.thumbnail((GUIDE_SIDE, GUIDE_SIDE), Image.Resampling.LANCZOS)
    with torch.no_grad():
        return {k: v.float() for k, v in model.features(to_tensor(g, model.device), layers).items()}


def dream(
    image: Image.Image | LoadedImage | None,
    params: DreamParams | None = None,
    *,
    guide: Image.Image | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelCheck | None = None,
    device: str | torch.device | None = None,
    weights: str | None = None,
) -> DreamResult:
    """Dream on ``image`` (``None``: dream from noise) with ``params``.

    ``image`` may be a PIL image or a :class:`~dream_core.images.LoadedImage`
    (its notes are carried into the result's notes).

    ``guide``: dream toward what the network sees in this picture.
    ``progress``: called after every step (see :class:`Progress`).
    ``cancel``: polled before every step; when it returns True the dream
    stops with :class:`DreamCancelled`. ``device``: "cpu", "cuda", or None
    for CUDA when available. ``weights``: a local weights file for the model.

    Raises :class:`DreamParamsError` (bad layer/filter/model),
    :class:`ModelUnavailableError`, :class:`DreamCancelled`.
    """
    t0 = time.perf_counter()
    p = (params or DreamParams()).resolved()
    assert p.seed is not None and p.octaves and p.octave_scale and p.iterations and p.frame_iterations
    terms = resolve_targets(p.model, p.layer)
    dev = resolve_device(device)
    model = get_model(p.model, dev, weights)
    notes: list[str] = []
    if image is not None and hasattr(image, "image") and hasattr(image, "notes"):
        notes += list(image.notes)  # a LoadedImage
        image = image.image
    torch.manual_seed(p.seed)

    alpha: Image.Image | None = None
    if image is None:
        x0 = noise_tensor(p.noise_size, p.seed, dev)
        notes.append(f"dreamed from noise ({p.noise_size}x{p.noise_size})")
        input_size = (p.noise_size, p.noise_size)
    else:
        if not isinstance(image, Image.Image):
            raise DreamParamsError("image: expected a PIL image")
        input_size = image.size
        if max(image.size) > p.max_size:
            before = image.size
            image = image.copy()
            image.thumbnail((p.max_size, p.max_size), Image.Resampling.LANCZOS)
            notes.append(
                f"downscaled from {before[0]}x{before[1]} to {image.size[0]}x{image.size[1]} (max {p.max_size} px)"
            )
        if image.mode in ("RGBA", "LA", "PA"):
            if p.zoom_frames == 0:
                alpha = image.getchannel("A")
            else:
                notes.append("animations have no transparency: the alpha channel was dropped")
        x0 = to_tensor(image.convert("RGB"), dev)

    cfg = StepConfig.for_device(dev, p.tile_size)
    gfeats = guide_features(model, guide, sorted({t.layer for t in terms}), cfg) if guide is not None else None
    objective = Objective(terms, gfeats, p.guide_weight)

    sizes = octave_sizes(tuple(x0.shape[-2:]), p.octaves, p.octave_scale)  # type: ignore[arg-type]
    if len(sizes) < p.octaves:
        notes.append(f"image too small for {p.octaves} octaves; used {len(sizes)}")
    total = len(sizes) * p.iterations + p.zoom_frames * p.frame_iterations
    frames_n = p.zoom_frames + 1 if p.zoom_frames else 0
    runner = _Runner(model, objective, p, cfg, total, progress, cancel, frames_n)

    x = runner.octaves(x0, p.octaves, p.octave_scale, p.iterations)
    if p.keep_colors:
        x = keep_colors(x, x0)
    frames: list[Image.Image] = []
    if p.zoom_frames:
        frames.append(to_image(x))
        for f in range(1, p.zoom_frames + 1):
            runner.frame = f + 1
            start = zoom_rotate(x, p.zoom, p.rotate)
            x = runner.octaves(start, 1, p.octave_scale, p.frame_iterations)
            if p.keep_colors:
                x = keep_colors(x, start)
            frames.append(to_image(x))
        out = frames[-1]
    else:
        out = to_image(x)
        if alpha is not None:
            out.putalpha(alpha.resize(out.size, Image.Resampling.BILINEAR))
    return DreamResult(
        image=out,
        params=p,
        seconds=time.perf_counter() - t0,
        frames=frames,
        notes=notes,
        input_size=input_size,
    )
