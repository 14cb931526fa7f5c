"""Clip benchmark (run by hand): seconds per frame and temporal coherence.

    python bench/bench_clip.py                       # 320x240, 24 frames, medium strength
    python bench/bench_clip.py --frames 12 --size 160x120 --threads 2

A panning clip is made from the bundled sample photo (the camera moves by
``--pan`` px per frame), then dreamed twice with the same params and seed:

* *frame by frame*: every frame dreamed alone, like a still (the reference,
  measured in the same run; its time per frame is a still's time; one more
  still is timed on its own, after two warm-up stills);
* *whole*: the coherent clip dream (flow-warped previous dream, refined).

Printed: wall and CPU seconds per frame of each (the CPU time of this
process is the fairer figure on a shared machine) and their ratio; the coherence error
E = mean |r_t - r_{t-1} moved by the pan| with r = dream - source, for both
and their ratio (target: whole <= 0.5 x frame by frame); the dream strength
mean |dream - source| of both (target: whole about as strong as a still);
and the share of pixels where the flow was trusted.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dream_core.clips.coherence import coherence_error, panning_clip, strength
from dream_core.clips.coherent import dream_clip
from dream_core.engine import dream
from dream_core.images import sample_path
from dream_core.params import DreamParams


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--size", default="320x240")
    ap.add_argument(
        "--pan", type=int, default=3, help="camera motion per frame (px, horizontal)"
    )
    ap.add_argument("--strength", default="medium")
    ap.add_argument(
        "--blend",
        type=float,
        default=None,
        help="clip_blend (default: DreamParams' default)",
    )
    ap.add_argument("--frame-iterations", type=int, default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--threads", type=int, default=0, help="torch CPU threads (0: torch's default)"
    )
    ap.add_argument("--device", default=None)
    ap.add_argument("--save", metavar="DIR", help="write both dreams as GIFs here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    w, h = (int(v) for v in args.size.lower().split("x"))
    photo = Image.open(sample_path()).convert("RGB")
    clip = panning_clip(photo, args.frames, (w, h), step=(args.pan, 0))
    params = (
        DreamParams(strength=args.strength, seed=args.seed)
        .with_updates(clip_blend=args.blend, frame_iterations=args.frame_iterations)
        .resolved()
    )
    dev = args.device
    for _ in range(2):  # load the model, warm up the kernels of every octave size
        dream(clip.frames[0], params, device=dev)

    def timed(fn):
        """(result, wall s, CPU s of this process: fairer on a shared machine)."""
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        return out, time.perf_counter() - t, time.process_time() - c

    n = len(clip)
    alone, alone_s, alone_c = timed(lambda: dream_clip(clip, params, device=dev, coherent=False))
    whole, whole_s, whole_c = timed(lambda: dream_clip(clip, params, device=dev))
    _, still_s, still_c = timed(lambda: dream(clip.frames[0], params, device=dev))
    alone_s, alone_c, whole_s, whole_c = alone_s / n, alone_c / n, whole_s / n, whole_c / n

    motion = (-args.pan, 0)
    e_alone = coherence_error(alone.frames, clip.frames, motion)
    e_whole = coherence_error(whole.frames, clip.frames, motion)
    s_alone = strength(alone.frames, clip.frames)
    s_whole = strength(whole.frames, clip.frames)
    s_last = strength(whole.frames[-1:], clip.frames[-1:])
    print(
        f"clip {w}x{h}, {len(clip)} frames, pan {args.pan} px/frame; strength {params.strength}: "
        f"{params.octaves} octaves x {params.iterations} it (still), {params.frame_iterations} it at full size "
        f"(each next frame), clip_blend {params.clip_blend}, threads {torch.get_num_threads()}"
    )
    print("                          wall s/frame   CPU s/frame   CPU vs frame by frame")
    print(f"a still (after warm-up)  {still_s:12.2f}   {still_c:11.2f}   {still_c / alone_c:.2f}")
    print(f"frame by frame           {alone_s:12.2f}   {alone_c:11.2f}   1.00")
    print(f"whole clip (coherent)    {whole_s:12.2f}   {whole_c:11.2f}   {whole_c / alone_c:.2f}")
    print(
        f"coherence error E  frame by frame {e_alone:.4f}   whole {e_whole:.4f}   "
        f"ratio {e_whole / e_alone:.3f}  (target <= 0.5)"
    )
    print(
        f"strength |dream-source|  frame by frame {s_alone:.4f}   whole {s_whole:.4f} "
        f"({s_whole / s_alone:.2f} x; last frame {s_last:.4f})"
    )
    print(
        f"flow trusted on {min(whole.reliable_share):.1%} .. {max(whole.reliable_share):.1%} of each frame"
    )
    if args.save:
        out = Path(args.save)
        out.mkdir(parents=True, exist_ok=True)
        whole.save(out / "whole.gif")
        alone.save(out / "frame-by-frame.gif")
        print(f"wrote {out / 'whole.gif'} and {out / 'frame-by-frame.gif'}")


if __name__ == "__main__":
    main()
