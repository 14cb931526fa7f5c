"""Clip benchmark (run by hand): seconds per frame and temporal coherence.

    python bench/bench_clip.py                       # 320x240, 24 frames, medium strength
    python bench/bench_clip.py --frames 12 --size 160x120 --threads 2

A panning clip is made from the bundled sample photo (the camera moves by
``--pan`` px per frame), then dreamed twice with the same params and seed:

* *frame by frame*: every frame dreamed alone, like a still (the reference,
  measured in the same run; its mean time per frame is a still's time);
* *whole*: the coherent clip dream (flow-warped previous dream, refined).

Printed: seconds per frame of each and the speed-up; the coherence error
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
    dream(
        clip.frames[0], params.with_updates(iterations=1, octaves=1), device=dev
    )  # load + warm up

    t = time.perf_counter()
    dream(clip.frames[0], params, device=dev)
    still_s = time.perf_counter() - t
    t = time.perf_counter()
    alone = dream_clip(clip, params, device=dev, coherent=False)
    alone_s = (time.perf_counter() - t) / len(clip)
    t = time.perf_counter()
    whole = dream_clip(clip, params, device=dev)
    whole_s = (time.perf_counter() - t) / len(clip)

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
    print(f"still (one frame alone)       {still_s:7.2f} s")
    print(
        f"frame by frame                {alone_s:7.2f} s/frame  ({alone_s / still_s:.2f} x a still)"
    )
    print(
        f"whole clip (coherent)         {whole_s:7.2f} s/frame  ({whole_s / still_s:.2f} x a still, "
        f"{alone_s / whole_s:.1f}x faster than frame by frame)"
    )
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
