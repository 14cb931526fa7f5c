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
   takes a step, keeping pixels in [0, 1]. Image-sized memory at the peak is
   the image and its gradient (the roll is index arithmetic per tile, the
   smoothing runs in place by strips, the base is kept as uint8, PIL <-> tensor
   conversions go strip by strip); everything else scales with the tile;
4. optionally an iterate-and-zoom animation, and keeping the original colours.

The forward pass stops at the deepest requested layer; weights are frozen;
denormal floats are flushed to zero. Precision (fp32 or bf16 on CPU, fp16 on
CUDA), memory layout and tile size are chosen by measurement on the machine
(:mod:`dream_core.autotune`); smoothing is in :mod:`dream_core.smoothing`,
tiling in :mod:`dream_core.tiling`.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from PIL import Image

from dream_core import cpu_share
from dream_core.autotune import Planner
from dream_core.errors import DreamCancelled, DreamParamsError
from dream_core.models import (
    DreamModel,
    get_model,
    resolve_device,
)
from dream_core.objective import Objective, picture_directions
from dream_core.params import DreamParams
from dream_core.results import CancelCheck, DreamResult, Progress, ProgressCallback
from dream_core.runtime import make_room_for, tune_process
from dream_core.smoothing import smooth_gradient
from dream_core.tensors import (
    _row_strips,
    resize,
    to_float,
    to_image,
    to_tensor,
    to_uint8_tensor,
)
from dream_core.tiling import _spans, tile_gradient

__all__ = [
    "dream",
    "guide_features",
    "keep_colors",
    "noise_tensor",
    "octave_sizes",
    "zoom_rotate",
]

if TYPE_CHECKING:
    from dream_core.images import LoadedImage

log = logging.getLogger(__name__)

MIN_OCTAVE_SIDE = 32  # smaller octaves are skipped: the networks see nothing at that size
PREVIEW_SIDE = 256
GUIDE_SIDE = 384  # long side the guide image is analysed at


# ------------------------------------------------------------------ the dream loop


class _Runner:
    """State of one dream: the model, objective, RNG, progress accounting."""

    def __init__(
        self,
        model: DreamModel,
        objective: Objective,
        params: DreamParams,
        planner: Planner,
        total_steps: int,
        progress: ProgressCallback | None,
        cancel: CancelCheck | None,
        frames: int,
    ) -> None:
        self.model = model
        self.objective = objective
        self.p = params
        self.planner = planner
        self.rng = random.Random(params.seed)  # jitter: the same path whatever the tiles
        # the tile grid's own stream, so the autotuned tile size (which differs between
        # machines) never changes the jitter path a seed gives
        self.grid_rng = random.Random(f"tile-grid-{params.seed}")
        self.total = max(1, total_steps)
        self.done = 0
        self.progress = progress
        self.cancel = cancel
        self.frames = frames
        self.frame = 1 if frames else 0

    def step(self, x: torch.Tensor, it: int, iterations: int) -> torch.Tensor:
        cpu_share.tick()  # the cores other processes leave free may have changed
        p = self.p
        j = p.jitter
        dy = self.rng.randint(-j, j) if j else 0
        dx = self.rng.randint(-j, j) if j else 0
        cfg = self.planner.config(tuple(x.shape[-2:]))  # type: ignore[arg-type]
        if len(_spans(max(x.shape[-2:]), cfg.tile)) > 1:  # shift the tile grid too: seams never stay put
            dy += self.grid_rng.randrange(cfg.tile)
            dx += self.grid_rng.randrange(cfg.tile)
        # Image-sized tensors at the peak: ``x`` and its gradient, nothing else (the
        # roll is done by index arithmetic per tile, smoothing is in place by strips).
        g = tile_gradient(self.model, x, self.objective, cfg, shift=(dy, dx))
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
            # ``b`` is only kept below the full size (to take the detail out); at the
            # full size ``x`` is the one image-sized float tensor built from ``base``.
            make_room_for(3 * 4 * size[0] * size[1])  # this octave's float RGB images
            b = _base_at(base, size) if o < len(sizes) else None
            x = b.clone() if b is not None else _base_at(base, size, fresh=True)
            if detail is not None:
                x.add_(resize(detail, size)).clamp_(0.0, 1.0)
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
            if b is not None:
                detail = x - b
        return x


def _base_at(base: torch.Tensor, size: tuple[int, int], fresh: bool = False) -> torch.Tensor:
    """The octave base at ``size`` as floats in [0, 1] (``base``: uint8 or float [1, 3, H, W]).

    ``fresh``: the result never aliases ``base`` (the caller writes into it).
    """
    if base.dtype == torch.uint8:
        if base.device.type == "cpu" and tuple(size) != tuple(base.shape[-2:]):
            return to_float(resize(base, size))  # resized as bytes: no image-sized float copy
        return resize(to_float(base), size)
    out = resize(base, size)
    return out.clone() if fresh and out is base else out


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
    """The dream's luminance on the original's chroma (YCbCr).

    ``original``: float in [0, 1] or uint8, resized to the dream's size when it
    differs. Computed a strip of rows at a time into one output tensor.
    """
    m = _RGB2YCC.to(dreamed.device, dreamed.dtype)
    inv = torch.linalg.inv(m)
    if tuple(original.shape[-2:]) != tuple(dreamed.shape[-2:]):
        full = original if original.is_floating_point() else to_float(original)
        original = resize(full, tuple(dreamed.shape[-2:]))  # type: ignore[arg-type]
    out = torch.empty_like(dreamed)
    for y0, y1 in _row_strips(dreamed.shape[-2]):
        o = original[:, :, y0:y1]
        o = o if o.is_floating_point() else to_float(o)
        yd = torch.einsum("ij,bjhw->bihw", m, dreamed[:, :, y0:y1])
        yo = torch.einsum("ij,bjhw->bihw", m, o)
        ycc = torch.cat([yd[:, :1], yo[:, 1:]], dim=1)
        out[:, :, y0:y1] = torch.einsum("ij,bjhw->bihw", inv, ycc).clamp_(0, 1)
    return out


# ------------------------------------------------------------------ public entry point


def guide_features(model: DreamModel, guide: Image.Image, layers: Sequence[str]) -> dict[str, torch.Tensor]:
    """What the network sees in the guide image, at the target layers."""
    g = guide.convert("RGB")
    g.thumbnail((GUIDE_SIDE, GUIDE_SIDE), Image.Resampling.LANCZOS)
    with torch.no_grad():
        return {k: v.float() for k, v in model.features(to_tensor(g, model.device), layers).items()}


def base_features(model: DreamModel, x0: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
    """What the network sees in the picture to dream (uint8 or float [1, 3, H, W]) at ``layers``,
    the picture scaled to GUIDE_SIDE on its long side."""
    if not layers:
        return {}
    h, w = x0.shape[-2:]
    f = GUIDE_SIDE / max(h, w)
    x = _base_at(x0, (max(1, round(h * f)), max(1, round(w * f))))
    with torch.no_grad():
        return {k: v.float() for k, v in model.features(x, layers).items()}


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
    terms = p.targets  # checked when the params were validated
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
        x0 = to_uint8_tensor(image, dev)  # the base stays uint8: a quarter of a float copy
        image = None  # our own downscaled copy (if any) is not needed any more

    tune_process()  # flush denormals (tiny gradients: slow on CPU, meaningless), reuse activation memory
    planner = Planner(model, tile=p.tile_size)
    gfeats = guide_features(model, guide, sorted({t.layer for t in terms})) if guide is not None else None
    novel = sorted({t.layer for t in terms if t.channel is None and t.layer in model.spec.info.novelty_layers})
    novelty = picture_directions(base_features(model, x0, novel)) if novel else None
    objective = Objective(terms, gfeats, p.guide_weight, novelty)

    sizes = octave_sizes(tuple(x0.shape[-2:]), p.octaves, p.octave_scale)  # type: ignore[arg-type]
    if len(sizes) < p.octaves:
        notes.append(f"image too small for {p.octaves} octaves; used {len(sizes)}")
    for size in sizes:  # any first-use calibration now, before the image-sized float tensors exist
        planner.config(size)
    total = len(sizes) * p.iterations + p.zoom_frames * p.frame_iterations
    frames_n = p.zoom_frames + 1 if p.zoom_frames else 0
    runner = _Runner(model, objective, p, planner, total, progress, cancel, frames_n)

    x = runner.octaves(x0, p.octaves, p.octave_scale, p.iterations)
    if p.keep_colors:
        x = keep_colors(x, x0)
    del x0
    frames: list[Image.Image] = []
    if p.zoom_frames:
        frames.append(to_image(x))
        for f in range(1, p.zoom_frames + 1):
            runner.frame = f + 1
            start = zoom_rotate(x, p.zoom, p.rotate)
            del x  # the previous frame lives on as a PIL image
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
