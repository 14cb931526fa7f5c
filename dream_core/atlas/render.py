"""Render feature visualisations: images, from nothing, that excite one filter (or a target spec).

:func:`render_filters` renders a page of filters of one layer in one batch: image ``i``
ascends filter ``filters[i]`` (with ``diversity`` > 1, each filter gets that many
images, pushed apart from each other). :func:`render_objective` renders one image for a
whole layer or a weighted mix, in the syntax dreams take. Both use only
``model.features`` (every catalogued model, no per-model code), the parameterisation of
:mod:`.param`, the random transforms of :mod:`.transforms` and Adam; bf16 autocast where
:mod:`dream_core.autotune` measured it faster than fp32 on this machine.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch
from PIL import Image

from dream_core.atlas.objectives import BatchObjective, ChannelObjective, TermsObjective, diversity_score
from dream_core.atlas.param import FourierImage
from dream_core.atlas.transforms import Robustness, random_affine
from dream_core.catalog import resolve_targets
from dream_core.errors import DreamCancelled, DreamParamsError
from dream_core.models import DreamModel

__all__ = ["MAX_BATCH", "RenderSettings", "render_filters", "render_objective"]

log = logging.getLogger(__name__)

MAX_BATCH = 32  # images per forward pass; a longer list of filters renders in chunks


@dataclass(frozen=True)
class RenderSettings:
    """The knobs of a render; the defaults are the ones ``bench/bench_atlas.py`` measured.

    ``steps``/``lr``: Adam's; ``decay``: the spectrum's fall-off (1.0, photos' 1/f, let
    renders reach ~7x photos' high-frequency energy; 1.5 up to 3.9x at mixed4, 1.7 still
    5x at mixed3); ``hf_cap``: the cap on the pixels' mean-square energy above a quarter of Nyquist;
    ``contrast``: the logit RMS (2.0: a few % of pixels near the end stops);
    ``diversity_weight``: the push apart of a filter's variants, in units of activation.
    """

    steps: int = 128
    lr: float = 0.05
    decay: float = 1.5
    contrast: float = 2.0
    hf_cap: float = 0.006
    robust: Robustness = field(default_factory=Robustness)
    diversity_weight: float = 1.0
    #: coarse to fine: (share of the steps, side of the view the network sees as a share of
    #: the image's). Coarse early views are cheaper, but cost low layers activation (the
    #: bench: mixed3's worst filter fell from 1.7x to 1.0x photos'); off by default.
    views: tuple[tuple[float, float], ...] = ((1.0, 1.0),)

    def view_side(self, step: int, size: int) -> int:
        """The side of the view the network sees at ``step`` (the last stage: the full size)."""
        start = 0.0
        for share, side in self.views:
            start += share
            if step < start * self.steps:
                return size if side >= 1 else max(32, int(round(size * side / 8)) * 8)
        return size

    def cost(self, size: int) -> float:
        """The render's network work, in steps at the full size."""
        return sum((self.view_side(i, size) / size) ** 2 for i in range(self.steps))


def _amp_dtype(model: DreamModel) -> torch.dtype | None:
    """The autocast dtype :mod:`dream_core.autotune` chose for this model here (None: fp32)."""
    from dream_core import autotune

    if model.device.type == "cpu" and not autotune._cpu_has_bf16():
        return None  # nothing to measure: fp32 is the only CPU choice without bf16 units
    return autotune.Planner(model).tuning.amp_dtype


def _own_layer(model: DreamModel, layer: str) -> str:
    own = model.spec.canonical(layer)
    if own is None:
        names = ", ".join(model.spec.info.layer_names())
        raise DreamParamsError(f"layer: {model.name} has no layer {layer!r}; valid: {names}")
    return own


def _to_images(x: torch.Tensor) -> list[Image.Image]:
    arr = (x.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    return [Image.fromarray(a, "RGB") for a in arr]


def _ascend(
    model: DreamModel,
    objective: BatchObjective,
    batch: int,
    size: int,
    settings: RenderSettings,
    generator: torch.Generator,
    *,
    group: int = 1,
    tick: Callable[[], None] | None = None,
) -> torch.Tensor:
    """Adam ascent of ``batch`` Fourier images on ``objective``; returns ``[B, 3, size, size]`` in [0, 1]."""
    image = FourierImage(
        batch,
        size,
        size,
        decay=settings.decay,
        contrast=settings.contrast,
        hf_cap=settings.hf_cap,
        generator=generator,
        device=model.device,
    )
    opt = _Adam(image.parameters, settings.lr)
    amp = _amp_dtype(model)
    layers = list(objective.layers)
    for step in range(settings.steps):
        x = random_affine(image(), settings.robust, generator, settings.view_side(step, size))
        x = x.contiguous(memory_format=torch.channels_last)
        ctx = torch.autocast(model.device.type, dtype=amp) if amp is not None else nullcontext()
        with ctx:
            feats = model.features(x, layers)
            score = objective(feats)
            if group > 1 and settings.diversity_weight > 0:
                score = score + settings.diversity_weight * diversity_score(feats[layers[0]], group)
        score.sum().backward()
        opt.ascend()
        if tick is not None:
            tick()
    with torch.no_grad():
        return image()


class _Adam:
    """Adam on a list of tensors, a few lines: ``torch.optim`` imports TorchDynamo on first use,
    which costs seconds (more than a small render) in a fresh worker."""

    def __init__(self, params: Sequence[torch.Tensor], lr: float, betas: tuple[float, float] = (0.9, 0.999)) -> None:
        self.params, self.lr, self.betas, self.t = list(params), lr, betas, 0
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def ascend(self) -> None:
        """One step up the gradient (``p.grad`` holds the objective's gradient), then clear the grads."""
        b1, b2 = self.betas
        self.t += 1
        step = self.lr / (1 - b1**self.t)
        for p, m, v in zip(self.params, self.m, self.v, strict=True):
            assert p.grad is not None
            m.lerp_(p.grad, 1 - b1)
            v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
            denom = (v / (1 - b2**self.t)).sqrt_().add_(1e-8)
            p.addcdiv_(m, denom, value=step)
            p.grad = None


class _Ticker:
    """Progress over all chunks' steps, and the cancel check, once per step."""

    def __init__(
        self,
        total: int,
        progress: Callable[[float], None] | None,
        should_cancel: Callable[[], bool] | None,
    ) -> None:
        self.total, self.done = max(1, total), 0
        self.progress, self.should_cancel = progress, should_cancel

    def __call__(self) -> None:
        self.done += 1
        if self.should_cancel is not None and self.should_cancel():
            raise DreamCancelled("the atlas render was cancelled")
        if self.progress is not None:
            self.progress(min(1.0, self.done / self.total))


def render_filters(
    model: DreamModel,
    layer: str,
    filters: Sequence[int],
    *,
    size: int = 128,
    steps: int | None = None,
    diversity: int = 1,
    seed: int = 0,
    progress: Callable[[float], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    settings: RenderSettings | None = None,
) -> list[list[Image.Image]]:
    """For each of ``filters`` of ``layer``, ``diversity`` images that excite it (variant 0 first).

    All the images render in one batch (chunks of :data:`MAX_BATCH`, a filter's variants
    never split). ``progress`` gets the finished share (0..1) after every step;
    ``should_cancel`` returning true raises :class:`~dream_core.errors.DreamCancelled`.
    Raises :class:`~dream_core.errors.DreamParamsError` for an unknown layer, a filter out
    of range, or a size or diversity that makes no sense, before anything runs.
    """
    own = _own_layer(model, layer)
    channels = model.spec.channels[own]
    bad = [f for f in filters if not 0 <= int(f) < channels]
    if bad:
        raise DreamParamsError(
            f"layer: filter {bad[0]} out of range for {layer} of {model.name} "
            f"(it has {channels} filters: 0..{channels - 1})"
        )
    if not 16 <= size <= 1024:
        raise DreamParamsError(f"size: {size} px is outside 16..1024")
    if not 1 <= diversity <= MAX_BATCH:
        raise DreamParamsError(f"diversity: {diversity} is outside 1..{MAX_BATCH}")
    s = settings or RenderSettings()
    if steps is not None:
        s = RenderSettings(**{**s.__dict__, "steps": int(steps)})
    per_chunk = max(1, MAX_BATCH // diversity)
    chunks = [list(filters[i : i + per_chunk]) for i in range(0, len(filters), per_chunk)]
    ticker = _Ticker(s.steps * len(chunks), progress, should_cancel)
    out: list[list[Image.Image]] = []
    for n, chunk in enumerate(chunks):
        gen = torch.Generator().manual_seed(seed * 1000003 + n)
        objective = ChannelObjective(own, [f for f in chunk for _ in range(diversity)])
        x = _ascend(model, objective, len(chunk) * diversity, size, s, gen, group=diversity, tick=ticker)
        images = _to_images(x)
        out += [images[i * diversity : (i + 1) * diversity] for i in range(len(chunk))]
    return out


def render_objective(
    model: DreamModel,
    spec: str,
    *,
    size: int = 128,
    steps: int | None = None,
    seed: int = 0,
    progress: Callable[[float], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    settings: RenderSettings | None = None,
) -> Image.Image:
    """One image that ascends a target spec (``mixed4``, ``mixed4:97+mixed3:5*0.5``, ...) of ``model``."""
    terms = resolve_targets(model.name, spec)
    if not 16 <= size <= 1024:
        raise DreamParamsError(f"size: {size} px is outside 16..1024")
    s = settings or RenderSettings()
    if steps is not None:
        s = RenderSettings(**{**s.__dict__, "steps": int(steps)})
    gen = torch.Generator().manual_seed(seed)
    ticker = _Ticker(s.steps, progress, should_cancel)
    x = _ascend(model, TermsObjective(terms), 1, size, s, gen, tick=ticker)
    return _to_images(x)[0]
