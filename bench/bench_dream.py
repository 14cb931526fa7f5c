"""Dream-core benchmark (run by hand): ours against a fair reference, in the same run; memory.

    python bench/bench_dream.py                        # everything, ~6 min on a quiet 2-core box
    python bench/bench_dream.py --parts googlenet,process --repeat 3
    python bench/bench_dream.py --parts lite0 --sides 512,1024

Parts:

* ``googlenet``: GoogLeNet to inception4c, 600x703, 4 octaves x1.8, 10 iterations,
  random weights (issue 9's setting); ``lite0``: the default model at 512, 1024
  and 2048 px (medium, mixed4). Each prints our time, the reference's, their
  ratio (interleaved runs, best of N, model build included on both sides), the
  per-step split into gradient / smoothing / rest at the full size, and
  quality: the target objective of each result and its gain over the input.
* ``process``: a whole ``dreambot dream`` process against the reference run as
  a script (``bench/reference_dream.py``), both on the GoogLeNet setting.
* ``memory``: peak resident memory of one step in a fresh process (4096 px <= 1.8 GB),
  and of a whole 3-octave dream at 4096 px.
* ``gordic``: with ``--gordic SCRIPT`` (``/work/shared/anchors/gordic_timing.py``
  or the like), gordicaleksa/pytorch-deepdream as a process beside ours.

An AVX2-only CPU is emulated on a bigger one with all four of
``MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 NUMBA_CPU_NAME=haswell``
(MKL's matrix products, which Winograd's and the 1x1 convolutions use, ignore the
oneDNN and ATen caps; the compiled loops, :mod:`dream_core.models.cpu_loops`, follow
``ATEN_CPU_CAPABILITY`` in their C build and the CPU numba is told in numba's).
Emulation caps instruction sets, not the core: it cannot show what a real AMD core
does slowly. On a real 2-core Zen 3 EPYC (AVX2) the max-pool loop, then compiled to
masked stores (cheap on Intel, microcoded on Zen), ran 10x slower than PyTorch's and
the whole dream was 1.58x the reference where the emulation said 2.05x. Check real
AVX2 hardware when a session has it.

The reference (``bench/reference_dream.py``) is what a careful user writes:
frozen weights, forward only to the target layer, whole image, fp32. Ours uses
its autotuned choices; the one-time calibration is run first and printed.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from dream_core import models
from dream_core.autotune import Planner, cache_path, time_steps
from dream_core.engine import dream
from dream_core.images import sample_path
from dream_core.models import cpu_loops, get_model, resolve_targets
from dream_core.objective import Objective
from dream_core.params import DreamParams
from dream_core.smoothing import smooth_gradient
from dream_core.tensors import to_tensor
from dream_core.tiling import tile_gradient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import reference_dream as ref  # noqa: E402  (found through the path above)

# ------------------------------------------------------------------ helpers


def photo(long_side: int) -> Image.Image:
    img = Image.open(sample_path()).convert("RGB")
    w, h = img.size
    s = long_side / max(w, h)
    return img.resize((round(w * s), round(h * s)), Image.Resampling.LANCZOS)


def psnr(a: Image.Image, b: Image.Image) -> float:
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    mse = ((x - y) ** 2).mean()
    return 10 * math.log10(255**2 / mse) if mse > 0 else float("inf")


def as_image(x: torch.Tensor) -> Image.Image:
    arr = (x[0].permute(1, 2, 0).clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()
    return Image.fromarray(arr)


def random_googlenet(path: Path) -> None:
    """Untrained GoogLeNet weights (torchvision's init), as in issue 9 and the anchor's timing."""
    from torchvision.models import googlenet

    torch.manual_seed(0)
    torch.save(googlenet(weights=None, aux_logits=False, init_weights=True).state_dict(), path)


class Case:
    """One benchmark setting: our params and the matching reference network."""

    def __init__(self, title: str, img: Image.Image, params: DreamParams, weights: str | None,
                 make_ref: Callable[[], ref.Truncated]) -> None:  # fmt: skip
        self.title, self.img, self.weights, self.make_ref = title, img, weights, make_ref
        self.params = params.resolved()

    def ours(self) -> Image.Image:
        models.clear_cache()  # the model build counts, as it does for the reference
        return dream(self.img, self.params, weights=self.weights, device="cpu").image

    def reference(self) -> Image.Image:
        p = self.params
        net = self.make_ref()
        x = ref.reference_dream(to_tensor(self.img), net, octaves=p.octaves, octave_scale=p.octave_scale,  # type: ignore[arg-type]
                                iterations=p.iterations, step=p.step, jitter=p.jitter,  # type: ignore[arg-type]
                                smoothing=p.smoothing, seed=p.seed)  # type: ignore[arg-type]  # fmt: skip
        return as_image(x)


def race(case: Case, repeat: int) -> tuple[float, float, Image.Image, Image.Image]:
    """Interleaved runs, best of ``repeat`` each: (ours s, reference s, our image, reference image)."""
    best = {"ours": math.inf, "reference": math.inf}
    out: dict[str, Image.Image] = {}
    for _ in range(repeat):
        for name, fn in (("ours", case.ours), ("reference", case.reference)):
            torch.set_flush_denormal(False)  # the reference runs in PyTorch's default mode
            t = time.perf_counter()
            out[name] = fn()
            best[name] = min(best[name], time.perf_counter() - t)
    return best["ours"], best["reference"], out["ours"], out["reference"]


def step_split(case: Case, steps: int = 3) -> str:
    """Per-step seconds at the full size: gradient / smoothing / rest, ours and the reference's."""
    p = case.params
    x = to_tensor(case.img)
    model = get_model(p.model, "cpu", case.weights)
    obj = Objective(resolve_targets(p.model, p.layer))
    torch.set_flush_denormal(True)
    cfg = Planner(model).config(tuple(x.shape[-2:]))  # type: ignore[arg-type]
    ours = {"gradient": 0.0, "smoothing": 0.0, "rest": 0.0}
    for i in range(steps + 1):
        t0 = time.perf_counter()
        g = tile_gradient(model, x, obj, cfg, shift=(5 * i, 3 * i))
        t1 = time.perf_counter()
        smooth_gradient(g, p.smoothing, 0.5)
        t2 = time.perf_counter()
        x.add_(g, alpha=p.step / (float(torch.linalg.vector_norm(g, ord=1)) / g.numel())).clamp_(0, 1)  # type: ignore[operator]
        if i:  # the first is a warm-up
            for k, v in zip(ours, (t1 - t0, t2 - t1, time.perf_counter() - t2), strict=True):
                ours[k] += v / steps
    torch.set_flush_denormal(False)
    theirs = {"gradient": 0.0, "smoothing": 0.0, "rest": 0.0}
    counts = {"n": 0}

    def timer(part: str, s: float) -> None:
        theirs[part] += s
        counts["n"] += part == "rest"

    ref.reference_dream(to_tensor(case.img), case.make_ref(), octaves=1, octave_scale=1.5, iterations=steps + 1,
                        step=p.step, seed=1, timer=timer)  # type: ignore[arg-type]  # fmt: skip
    theirs = {k: v / counts["n"] for k, v in theirs.items()}

    def fmt(d: dict[str, float]) -> str:
        return " / ".join(f"{d[k]:.3f}" for k in ("gradient", "smoothing", "rest"))

    layout = f"{cfg.amp_dtype or 'fp32'}{', channels-last' if cfg.channels_last else ''}"
    layout += ", winograd" if cfg.winograd else ""
    return (
        f"per step at full size (gradient / smoothing / rest, s): ours {fmt(ours)} [{cfg.tile} px tiles, {layout}]"
        f" | reference {fmt(theirs)}"
    )


def objective_of(case: Case, images: list[Image.Image]) -> list[float]:
    """The target objective (fp32, our model, whole image) of each image."""
    model = get_model(case.params.model, "cpu", case.weights)
    obj = Objective(resolve_targets(case.params.model, case.params.layer))
    with torch.no_grad():
        return [float(obj(model.features(to_tensor(im), obj.layers))) for im in images]


def quality(case: Case, ours: list[Image.Image], theirs: list[Image.Image]) -> str:
    """Objective gain over the input, ours against the reference, averaged over seeds.

    One dream's objective swings by +-5-10 % with the seed (the ascent is chaotic: a
    1 % different gradient in one step ends in a different image), so one seed
    cannot tell a 5 % quality loss from luck; the mean over the same seeds can.
    """
    v_in, *v = objective_of(case, [case.img, *ours, *theirs])
    n = len(ours)
    g_ours = [x / v_in for x in v[:n]]
    g_ref = [x / v_in for x in v[n:]]
    m_ours, m_ref = sum(g_ours) / n, sum(g_ref) / n

    def each(gs: list[float]) -> str:
        return ", ".join(f"{g:.2f}" for g in gs)

    return (f"quality over {n} seed(s): gain of the objective over the input, ours x{m_ours:.3f} ({each(g_ours)}), "
            f"reference x{m_ref:.3f} ({each(g_ref)}); ours/reference {m_ours / m_ref:.3f}; "
            f"PSNR between them (seed 1) {psnr(ours[0], theirs[0]):.1f} dB")  # fmt: skip


def run_case(case: Case, repeat: int, outdir: Path, seeds: int) -> None:
    ours_s, ref_s, ours, theirs = race(case, repeat)
    tag = re.sub(r"\W+", "-", case.title)
    ours.save(outdir / f"ours-{tag}.png")
    theirs.save(outdir / f"reference-{tag}.png")
    print(f"{case.title} (best of {repeat}):")
    print(f"      ours {ours_s:7.2f} s | reference {ref_s:7.2f} s | ratio x{ref_s / ours_s:.2f}")
    print("      " + step_split(case))
    all_ours, all_theirs = [ours], [theirs]
    first = case.params
    for seed in range(2, seeds + 1):  # untimed: quality only
        case.params = first.model_copy(update={"seed": seed})
        all_ours.append(case.ours())
        all_theirs.append(case.reference())
    case.params = first
    print("      " + quality(case, all_ours, all_theirs))


def calibrate(model: str, weights: str | None) -> None:
    """Run the one-time autotune for ``model`` (precision, then the memory probe) and say what it chose;
    then time one gradient per tile side (not part of the calibration: the check that a bigger tile
    costs less per pixel here, which the planner assumes)."""
    t = time.perf_counter()
    m = get_model(model, "cpu", weights)
    torch.set_flush_denormal(True)
    pl = Planner(m)
    for side in (512, 703, 1024, 2048):
        pl.config((side, side))
    tu = pl.tuning
    print(
        f"  autotune {model}: {time.perf_counter() - t:.2f} s, model build included (once per machine; cached in "
        f"{cache_path()}): {tu.choice}; {tu.bytes_per_px:.0f} B/px at the peak; step timings {tu.timings}"
    )
    cfg = pl.config((256, 256))
    sides = (256, 384, 512, 768)
    times = time_steps(m, {str(s): (s, replace(cfg, tile=s)) for s in sides}, repeat=2)
    spp = {s: round(times[str(s)] / s**2 * 1e6, 3) for s in sides}
    verdict = "bigger is cheaper" if all(a >= b for a, b in itertools.pairwise(spp.values())) else "NOT monotone"
    print(f"  s/Mpx by tile side {spp} ({verdict})")


# ------------------------------------------------------------------ parts


GOOGLENET = {"octaves": 4, "octave_scale": 1.8, "iterations": 10, "seed": 1}


def googlenet_case(weights: Path) -> Case:
    img = photo(703).resize((600, 703), Image.Resampling.LANCZOS)  # issue 9's size (the anchor's 600 px width)
    params = DreamParams(model="googlenet", layer="inception4c", max_size=703, **GOOGLENET)  # type: ignore[arg-type]
    return Case(f"googlenet inception4c {img.size[0]}x{img.size[1]}, 4 octaves x1.8, 10 it", img, params,
                str(weights), lambda: ref.googlenet_to("inception4c", str(weights)))  # fmt: skip


def lite0_case(side: int, iterations: int | None) -> Case:
    img = photo(side)
    params = DreamParams(layer="mixed4", strength="medium", seed=1, max_size=side, iterations=iterations)
    block = int(get_model("efficientnet-lite0", "cpu").spec.canonical("mixed4").removeprefix("block"))  # type: ignore[union-attr]
    p = params.resolved()
    knobs = f"{p.octaves} octaves x{p.octave_scale}, {p.iterations} it"
    title = f"lite0 mixed4 {img.size[0]}x{img.size[1]}, medium ({knobs})"
    return Case(title, img, params, None, lambda: ref.lite0_to(block))


def process_part(weights: Path, threads: int, repeat: int, gordic: str | None, tmp: Path) -> None:
    """Whole processes: ``dreambot dream`` against the reference script (and the anchor when given)."""
    img = photo(703).resize((600, 703), Image.Resampling.LANCZOS)
    src = tmp / "photo703.png"
    img.save(src)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(threads)}
    common = ["--layer", "inception4c", "--octaves", "4", "--octave-scale", "1.8", "--iterations", "10",
              "--max-size", "703", "--seed", "1"]  # fmt: skip
    cmds = {
        "dreambot dream": [sys.executable, "-m", "bot.cli", "dream", str(src), "-o", str(tmp / "ours.png"), "-q",
                           "--model", "googlenet", "--weights", str(weights), *common],
        "reference script": [sys.executable, str(ROOT / "bench" / "reference_dream.py"), "googlenet", str(src),
                             str(tmp / "ref.png"), "--weights", str(weights), "--step", "0.01", *common],
    }  # fmt: skip
    if gordic:
        anchor_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("ANCHOR_PYTHONPATH")]))
        anchor_env = {**env, "THREADS": str(threads), "PYTHONPATH": anchor_path}
        cmds["gordicaleksa (anchor)"] = [sys.executable, gordic, "GOOGLENET", "inception4c", str(img.size[0]), str(src)]
    best: dict[str, float] = {}
    inner: dict[str, str] = {}
    for _ in range(repeat):
        for name, cmd in cmds.items():
            t = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False,
                                  env=anchor_env if name.startswith("gordic") else env)  # fmt: skip
            secs = time.perf_counter() - t
            if proc.returncode != 0:
                print(f"  {name}: FAILED {proc.stderr.strip().splitlines()[-1:]}")
                secs = math.inf
            m = re.search(r"(\d+\.\d+) s|seconds=(\d+\.\d+)", proc.stdout)
            if secs < best.get(name, math.inf):  # the process's own timer, from its best run
                best[name] = secs
                if m:
                    inner[name] = m.group(1) or m.group(2)
    base = best["reference script"]
    print(f"whole processes, googlenet inception4c {img.size[0]}x{img.size[1]} (best of {repeat}, {threads} threads):")
    for name, secs in best.items():
        own = f" (its own dream timer {inner[name]} s)" if name in inner else ""
        print(f"      {name:<22} {secs:7.2f} s{own}   reference/this x{base / secs:.2f}")


MEMORY_CHILD = """
import sys, time, torch
torch.set_num_threads(int(sys.argv[3]))
from PIL import Image
from dream_core.engine import dream
from dream_core.params import DreamParams
side, tile = int(sys.argv[1]), (None if sys.argv[2] == "auto" else int(sys.argv[2]))
octaves = int(sys.argv[4])
img = Image.effect_noise((side, side), 40).convert('RGB')
t = time.perf_counter()
dream(img, DreamParams(octaves=octaves, iterations=1, tile_size=tile, max_size=8192, seed=1))
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the (large) parent.
hwm = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:'))
print(hwm // 1024, round(time.perf_counter() - t, 1))
"""


def memory_part(sides: list[int], tiles: list[str], threads: int, octaves: int = 1) -> None:
    """Peak RSS per size; between two sizes, the peak's growth in float copies of the image (RGB float32)."""
    for tile in tiles:
        prev: tuple[int, int] | None = None
        label = tile
        for side in sides:
            proc = subprocess.run(
                [sys.executable, "-c", MEMORY_CHILD, str(side), tile, str(threads), str(octaves)],
                capture_output=True, text=True, cwd=ROOT, check=False,
            )  # fmt: skip
            if proc.returncode != 0:
                print(f"  {side} px tile {label}: FAILED {proc.stderr.strip().splitlines()[-1:]}")
                continue
            rss, secs = proc.stdout.split()
            marginal = ""
            if prev is not None:  # image-sized buffers alive at the peak (tile-sized memory cancels out)
                copies = (int(rss) - prev[1]) * 2**20 / ((side**2 - prev[0] ** 2) * 3 * 4)
                marginal = f"  growth from {prev[0]} px = {copies:.1f} float image copies"
            prev = (side, int(rss))
            what = "1 step" if octaves == 1 else f"{octaves} octaves x 1 step"
            print(f"  {side:>5}x{side:<5} tile {label:>4}: peak RSS {int(rss):6d} MB  ({secs} s for {what}){marginal}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", default="googlenet,lite0,process,memory")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", "2")))
    ap.add_argument("--sides", default="512,1024,2048", help="lite0 sizes")
    ap.add_argument("--iterations-2048", type=int, default=4, help="iterations per octave at 2048 px (0 = preset)")
    ap.add_argument("--repeat", type=int, default=2, help="interleaved repeats (best of N)")
    ap.add_argument("--seeds", type=int, default=3, help="seeds the quality is averaged over (1 at 2048 px)")
    ap.add_argument("--gordic", help="gordicaleksa anchor timing script (adds it to the process part)")
    ap.add_argument("--out", default="/tmp/dreambot-bench")
    ap.add_argument("--keep-cache", action="store_true",
                    help="use the user's autotune cache (default: a fresh one, so choices fit this machine now)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    parts = args.parts.split(",")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    print(f"torch {torch.__version__}, {args.threads} thread(s), {os.cpu_count()} CPUs, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}, load {os.getloadavg()[0]:.1f}, "
          f"compiled loops {cpu_loops.describe()}")  # fmt: skip
    caps = {k: os.environ[k] for k in ("ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS", "NUMBA_CPU_NAME")
            if k in os.environ}  # fmt: skip
    if caps:  # an emulated, smaller CPU
        print(f"ISA caps (emulation): {caps}")
    if "ONEDNN_MAX_CPU_ISA" in caps and "MKL_ENABLE_INSTRUCTIONS" not in caps:
        print("  note: MKL's GEMMs (Winograd's products, 1x1 convolutions) still use the full ISA; "
              "set MKL_ENABLE_INSTRUCTIONS too")  # fmt: skip
    if "ONEDNN_MAX_CPU_ISA" in caps and "NUMBA_CPU_NAME" not in caps:
        print("  note: numba's build of the loops (if it runs) still targets this CPU; set NUMBA_CPU_NAME too")
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        if not args.keep_cache:  # inherited by the processes of the process part
            os.environ["DREAMBOT_AUTOTUNE_CACHE"] = str(tmp / "autotune.json")
        weights = tmp / "googlenet-random.pth"
        random_googlenet(weights)
        if "googlenet" in parts or "lite0" in parts or "memory" in parts:
            print("calibration (first use of a model on a machine, then cached; not timed below):")
        if "googlenet" in parts:
            calibrate("googlenet", str(weights))
        if "lite0" in parts or "memory" in parts:  # the memory part measures dreams, not calibration
            calibrate("efficientnet-lite0", None)
        if "googlenet" in parts:
            run_case(googlenet_case(weights), args.repeat, out, args.seeds)
        if "lite0" in parts:
            for side in (int(s) for s in args.sides.split(",")):
                its = args.iterations_2048 or None if side >= 2048 else None
                big = side >= 2048
                run_case(lite0_case(side, its), 1 if big else args.repeat, out, 1 if big else args.seeds)
        if "process" in parts or args.gordic:
            process_part(weights, args.threads, args.repeat, args.gordic, tmp)
        if "memory" in parts:
            print("peak memory, 1 octave x 1 step (fresh process each; 'auto' = the default tile choice):")
            memory_part([1024, 2048, 4096], ["auto"], args.threads)
            memory_part([2048, 4096], ["256"], args.threads)
            print("peak memory of a whole dream, 3 octaves x 1 step (the octaves' images and tiles add up):")
            memory_part([4096], ["auto"], args.threads, octaves=3)
    print(f"images in {out}; {time.perf_counter() - t_all:.0f} s in all; load now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
