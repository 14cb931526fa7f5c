"""Do high layers draw things? (run by hand; issue 16, "High layers draw things")

    python bench/bench_creatures.py                          # mixed4 vs mixed5, strength high, 2 seeds
    python bench/bench_creatures.py --layers mixed5,block14,block15 --photos coffee,rocket --seeds 1
    python bench/bench_creatures.py --save /tmp/creatures    # keep the dreams to look at

Each photo with no animal in it (skimage's coffee, rocket, astronaut and motorcycle) is
dreamed with the default model as ``dreambot dream PHOTO --layer L --strength high --seed S``
gives it (every other knob at its default), then judged by an independent ImageNet classifier,
EfficientNet-Lite2 (``bench/judge.py``; no dream model uses it): its probability mass on the
animal classes (ImageNet 0..397), against the same mass on the photo itself (the reference,
measured in the same run). Printed per photo and layer: the mean mass over the seeds, the
spread, and the classifier's top labels of the first seed; then the mean over photos.

Target (issue 16): ``mixed5`` draws at least as many creatures as ``mixed4``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from judge import Judge  # noqa: E402

from dream_core.engine import dream  # noqa: E402
from dream_core.params import DreamParams, parse_params  # noqa: E402


def _rgb(array: object) -> Image.Image:
    return Image.fromarray(array).convert("RGB")  # type: ignore[arg-type]


def photos() -> dict[str, Callable[[], Image.Image]]:
    """Photos with no animal in them (a person is not an ImageNet animal)."""
    import skimage.data as data

    return {
        "coffee": lambda: _rgb(data.coffee()),
        "rocket": lambda: _rgb(data.rocket()),
        "astronaut": lambda: _rgb(data.astronaut()),
        "motorcycle": lambda: _rgb(data.stereo_motorcycle()[0]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", default="mixed4,mixed5", help="target specs to compare, comma-separated")
    ap.add_argument("--photos", default="coffee,rocket,astronaut,motorcycle")
    ap.add_argument("--seeds", type=int, default=2, help="seeds 1..N per photo and layer")
    ap.add_argument("--strength", default="high")
    ap.add_argument("--model", default=None, help="dream model (default: the default model)")
    ap.add_argument("--max-size", type=int, default=None, help="long side cap (default: the params' default)")
    ap.add_argument("--set", action="append", default=[], metavar="KNOB=VALUE",
                    help="set another DreamParams knob for every dream (e.g. octaves=6); repeatable")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--save", metavar="DIR", help="save every dream here as PNG")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    print(f"torch {torch.__version__}, CPU ISA {torch.backends.cpu.get_cpu_capability()}, "
          f"{torch.get_num_threads()} threads")
    layers = [s.strip() for s in args.layers.split(",") if s.strip()]
    all_photos = photos()
    names = [s.strip() for s in args.photos.split(",") if s.strip()]
    unknown = [n for n in names if n not in all_photos]
    if unknown:
        sys.exit(f"unknown photo(s) {', '.join(unknown)}; choose from {', '.join(all_photos)}")
    save = Path(args.save) if args.save else None
    if save:
        save.mkdir(parents=True, exist_ok=True)

    judge = Judge()
    means: dict[str, list[float]] = {layer: [] for layer in ["photo", *layers]}
    for name in names:
        photo = all_photos[name]()
        ref = judge(photo)
        means["photo"].append(ref.animal_mass)
        print(f"\n{name} {photo.size[0]}x{photo.size[1]}: photo itself {ref.animal_mass:.3f} ({ref.top_text()})")
        for layer in layers:
            masses: list[float] = []
            first = ""
            seconds = 0.0
            for seed in range(1, args.seeds + 1):
                given: dict[str, object] = {"layer": layer, "strength": args.strength, "seed": seed}
                if args.model:
                    given["model"] = args.model
                if args.max_size:
                    given["max_size"] = args.max_size
                for knob in args.set:
                    key, _, value = knob.partition("=")
                    given[key.strip().replace("-", "_")] = value.strip()
                params: DreamParams = parse_params(given)
                t0 = time.perf_counter()
                result = dream(photo, params)
                seconds += time.perf_counter() - t0
                verdict = judge(result.image)
                masses.append(verdict.animal_mass)
                first = first or verdict.top_text()
                if save:
                    result.image.save(save / f"{name}-{layer.replace('*', 'x').replace(':', '_')}-s{seed}.png")
            mean = statistics.fmean(masses)
            spread = (max(masses) - min(masses)) / 2
            means[layer].append(mean)
            print(f"  {layer:<24} animal mass {mean:.3f} ±{spread:.3f}  ({first})  "
                  f"{seconds / len(masses):.0f} s/dream")
    print(f"\nmean over {len(names)} photos, {args.seeds} seed(s) each, strength {args.strength}:")
    for layer, values in means.items():
        print(f"  {layer:<24} {statistics.fmean(values):.3f}")


if __name__ == "__main__":
    main()
