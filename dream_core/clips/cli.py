"""``dreambot dream clip.gif -o out.gif``: the CLI's path for animated input."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Protocol

from dream_core.clips.decode import is_clip, read_clip_bytes
from dream_core.errors import DreamInputError
from dream_core.params import DreamParams


class ProgressBar(Protocol):
    def __call__(self, p: Any) -> None: ...

    def close(self) -> None: ...


def clip_input(src: bytes | str | os.PathLike[str]) -> bytes | None:
    """The input's bytes when it is an animation or a video, else None (dream it as a still)."""
    try:
        data = read_clip_bytes(src)
    except DreamInputError:
        return None  # the still loader reports unreadable input in its own words
    return data if is_clip(data) else None


def run(
    args: argparse.Namespace,
    params: DreamParams,
    data: bytes,
    bar: ProgressBar | None = None,
) -> int:
    """Dream a clip for ``cmd_dream``; the output format follows ``-o`` (default: like the input)."""
    from dream_core.clips.coherent import dream_clip
    from dream_core.clips.decode import decode_clip
    from dream_core.clips.encode import clip_format
    from dream_core.clips.limits import ClipLimits, check_clip_params
    from dream_core.clips.service import default_output_format

    check_clip_params(params)
    if args.output:
        clip_format(args.output)  # a bad extension fails before any work
    clip = decode_clip(data, ClipLimits.from_env())
    out = (
        Path(args.output)
        if args.output
        else Path(_stem(args.input) + "-dream." + default_output_format(clip.format))
    )
    guide = None
    if getattr(args, "guide", None):
        from dream_core.images import load_image

        guide = load_image(args.guide, max_size=params.max_size).image
    try:
        result = dream_clip(
            clip,
            params,
            guide=guide,
            progress=bar,
            device=args.device,
            weights=args.weights,
        )
    finally:
        if bar is not None:
            bar.close()
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    path = result.save(out)
    w, h = result.frames[0].size
    seed = result.params.seed
    print(f"wrote {path.resolve()} ({len(result.frames)} frames, {w}x{h}, {result.seconds:.1f} s, seed {seed})")
    return 0


def _stem(inp: str) -> str:
    return "dream" if inp == "-" else Path(inp).stem
