"""The atlas renderer beside a plain pixel-space ascent from noise (run by hand).

    python bench/atlas_baseline.py                      # lite0, mixed3/mixed4/mixed5, filters 0-7
    python bench/atlas_baseline.py --layers mixed4 --filters 8 --out /tmp/cmp.png

For each layer the same filters are rendered twice: by :func:`dream_core.atlas.render.render_filters`
(Fourier parameterisation with a natural spectrum, decorrelated colour, jitter/scale/rotate every
step) and by the plain ascent a first attempt would write (the pixels themselves, Adam, clamped
to [0, 1], no transforms), with the same number of steps. Both get the bench's numbers
(:mod:`bench_atlas`: activation over the best photo crop, selectivity, clipped pixels,
high-frequency energy against photos) and one picture: a row per layer, the renderer's
sheet on the left, the plain ascent's on the right.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_atlas as ba  # noqa: E402

from dream_core.atlas.render import RenderSettings, render_filters  # noqa: E402
from dream_core.atlas.sheet import contact_sheet  # noqa: E402
from dream_core.models import DreamModel, get_model  # noqa: E402


def plain_ascent(
    model: DreamModel, layer: str, filters: list[int], size: int, steps: int, lr: float
) -> list[Image.Image]:
    """Each image's pixels ascend its own filter's mean activation: no parameterisation, no transforms."""
    own = model.spec.canonical(layer) or layer
    gen = torch.Generator().manual_seed(0)
    x = (0.5 + 0.05 * torch.randn(len(filters), 3, size, size, generator=gen)).clamp(0, 1).requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    idx = torch.tensor(filters)
    for _ in range(steps):
        act = model.features(x, [own])[own]
        loss = -act[torch.arange(len(filters)), idx].mean(dim=(-2, -1)).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            x.clamp_(0, 1)
    arr = (x.detach().permute(0, 2, 3, 1).numpy() * 255 + 0.5).clip(0, 255).astype("uint8")
    return [Image.fromarray(a) for a in arr]


def scores(model: DreamModel, layer: str, filters: list[int], imgs: list[Image.Image], stats: ba.PhotoStats) -> str:
    own = model.spec.canonical(layer) or layer
    means = ba.channel_means(model, ba.to_tensor(imgs), [own])[own]
    z = (means - stats.mean[own]) / stats.std[own].clamp(min=1e-6)
    ratios = [float(means[i, f]) / float(stats.top[own][f]) for i, f in enumerate(filters)]
    wins = sum(int(z[i].argmax()) == f for i, f in enumerate(filters))
    clips = [ba.clipped_share(im) for im in imgs]
    hf = [ba.hf_energy(ba.center(im, ba.HF_SIDE)) / stats.hf_median for im in imgs]
    return (
        f"activation x{statistics.median(ratios):.2f} (worst x{min(ratios):.2f}), selectivity {wins}/{len(filters)}, "
        f"clipped {100 * statistics.median(clips):.0f}% (worst {100 * max(clips):.0f}%), "
        f"high frequencies x{statistics.median(hf):.1f} photos' (worst x{max(hf):.1f})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="efficientnet-lite0")
    ap.add_argument("--layers", default="mixed3,mixed4,mixed5")
    ap.add_argument("--filters", type=int, default=8, help="filters 0..N-1 of each layer")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.05, help="the plain ascent's Adam step")
    ap.add_argument("--out", default="/tmp/dreambot-bench/atlas-vs-pixel.png")
    args = ap.parse_args()
    print(f"CPU capability: {torch.backends.cpu.get_cpu_capability()}, torch {torch.__version__}")
    model = get_model(args.model, "cpu")
    layers = args.layers.split(",")
    stats = ba.photo_stats(model, [model.spec.canonical(la) or la for la in layers], args.size)
    steps = RenderSettings().steps
    filters = list(range(args.filters))
    rows = []
    for layer in layers:
        ours = [v[0] for v in render_filters(model, layer, filters, size=args.size)]
        plain = plain_ascent(model, layer, filters, args.size, steps, args.lr)
        print(f"\n{layer}, filters 0-{args.filters - 1} at {args.size} px, {steps} steps")
        print(f"  atlas renderer: {scores(model, layer, filters, ours, stats)}")
        print(f"  plain pixels:   {scores(model, layer, filters, plain, stats)}")
        labels = [str(f) for f in filters]
        left = contact_sheet(ours, labels, columns=args.filters, title=f"{layer}: atlas renderer")
        right = contact_sheet(plain, labels, columns=args.filters, title=f"{layer}: plain pixel ascent")
        row = Image.new("RGB", (left.width, left.height + right.height))
        row.paste(left, (0, 0))
        row.paste(right, (0, left.height))
        rows.append(row)
    out = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows)))
    y = 0
    for r in rows:
        out.paste(r, (0, y))
        y += r.height
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    out.save(args.out)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
