"""Command line for the dream core: ``dream``, ``layers``, ``models``, ``warmup`` and ``atlas``
(:mod:`dream_core.atlas.cli`).

Used two ways: ``python -m dream_core ...`` (:func:`main`) and as part of the
``dreambot`` command, whose parser calls :func:`add_subcommands`.

The knob flags of ``dream`` are generated from ``DreamParams.model_fields``
so the CLI can never drift from the params model.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dream_core.errors import DreamError, DreamParamsError
from dream_core.params import DreamParams, parse_params

PROG = "python -m dream_core"

#: ``dream --help`` examples; each works with the default model (a test runs them)
EXAMPLE_LINES: tuple[str, ...] = (
    "dream sample --strength high -o astronaut.png",
    "dream cat.jpg --layer mixed4:97 --seed 42 -o cat-dream.png",
    "dream cat.jpg --layer 'mixed3*0.7+mixed5:12*0.3' --keep-colors",
    "dream noise --zoom-frames 24 -o zoom.webp",
    "dream cat.jpg --params-from cat-dream.png --strength extreme",
)
EXAMPLES = "examples:\n" + "\n".join(f"  {PROG} {line}" for line in EXAMPLE_LINES)

# Flags that are about a run, not a dream: never generated from DreamParams.
_EXTRA_DESTS = {"input", "output", "guide", "weights", "device", "params_from", "quiet", "func"}


# ------------------------------------------------------------------ parser construction


def _field_type(annotation: Any) -> tuple[Any, Sequence[Any] | None]:
    """(python type, choices) for a DreamParams field annotation."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _field_type(args[0])
    if origin is typing.Literal:
        choices = typing.get_args(annotation)
        return type(choices[0]), choices
    return annotation, None


def add_param_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per DreamParams field (``--octave-scale`` for ``octave_scale``), default unset."""
    group = parser.add_argument_group("dream parameters (unset = model default / strength preset)")
    for name, info in DreamParams.model_fields.items():
        flag = "--" + name.replace("_", "-")
        typ, choices = _field_type(info.annotation)
        help_text = info.description or name.replace("_", " ")
        default = info.default
        if default is not None and default is not ...:
            help_text += f" (default: {default})"
        if typ is bool:
            group.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            metavar = None if choices else name.upper().split("_")[-1]
            group.add_argument(
                flag, dest=name, type=typ, choices=choices, default=None, help=help_text, metavar=metavar
            )


def flag_of(field: str) -> str:
    """The command-line flag of a DreamParams field: ``max_size`` -> ``--max-size``."""
    return "--" + field.replace("_", "-")


def name_the_flag(message: str) -> str:
    """``max_size: ...`` (a DreamParams error) -> ``--max-size: ...``; ``output: ...`` -> ``-o: ...``."""
    head, sep, rest = message.partition(":")
    if sep and head in DreamParams.model_fields:
        return f"{flag_of(head)}:{rest}"
    if sep and head == "output":
        return f"-o/--output:{rest}"
    return message


def params_from_args(args: argparse.Namespace, base: DreamParams | None = None) -> DreamParams:
    """DreamParams from parsed flags (only flags given), over ``base``: what ``base`` set
    stays set, so a new ``--strength`` applies to every knob ``base`` left to its preset."""
    data = base.explicit() if base is not None else {}
    for name in DreamParams.model_fields:
        value = getattr(args, name, None)
        if value is not None:
            data[name] = value
    return parse_params(data)


def add_subcommands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dream``, ``layers``, ``models``, ``warmup`` and ``atlas`` to an argparse subparsers object."""
    d = subparsers.add_parser(
        "dream",
        help="dream on an image (or 'noise', or 'sample')",
        description="DeepDream an image. IN is a file, '-' (stdin), 'noise' or 'sample' (the bundled photo).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d.add_argument("input", metavar="IN", help="image file, '-', 'noise' or 'sample'")
    d.add_argument(
        "-o", "--output", metavar="OUT",
        help="output file; format from extension (.png .jpg .webp .gif .mp4; animations: .png .webp .gif .mp4)",
    )
    d.add_argument("--guide", metavar="IMG", help="guide image: dream toward what the network sees in it")
    d.add_argument("--weights", metavar="PATH", help="local weights file (state dict) for the model")
    d.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: CUDA when available)")
    d.add_argument(
        "--params-from", metavar="PNG_OR_JSON",
        help="start from the params stored in a DreamBot PNG or a JSON file (flags given override them; "
        "a guided dream's PNG needs --guide again)",
    )
    d.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_param_flags(d)
    d.set_defaults(func=cmd_dream)

    lay = subparsers.add_parser("layers", help="list a model's dreamable layers, aliases and channel counts")
    lay.add_argument("--model", default=None, help="model name (default: the default model)")
    lay.add_argument("--json", action="store_true", help="machine-readable output")
    lay.set_defaults(func=cmd_layers)

    mod = subparsers.add_parser("models", help="list models and whether each is available offline")
    mod.add_argument("--json", action="store_true", help="machine-readable output")
    mod.set_defaults(func=cmd_models)

    warm = subparsers.add_parser(
        "warmup",
        help="calibrate a model on this machine now, so the first dream does not pay for it",
        description="Measure how a model runs fastest here (precision, memory layout, memory per pixel) and cache "
        "it; a dream would otherwise do it on first use. Workers do this at start for their preloaded models.",
    )
    warm.add_argument("--model", action="append", help="model name (repeatable; default: the default model)")
    warm.add_argument("--weights", metavar="PATH", help="local weights file (one --model)")
    warm.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: CUDA when available)")
    warm.set_defaults(func=cmd_warmup)

    from dream_core.atlas.cli import add_subcommands as add_atlas_subcommands

    add_atlas_subcommands(subparsers)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="DeepDream from the command line.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_subcommands(sub)
    return parser


# ------------------------------------------------------------------ commands


class _ProgressBar:
    def __init__(self, stream: typing.TextIO) -> None:
        self.stream = stream
        self.t0 = time.monotonic()

    def __call__(self, p: Any) -> None:
        width = 30
        filled = int(round(width * p.fraction))
        elapsed = time.monotonic() - self.t0
        eta = elapsed / p.fraction - elapsed if p.fraction > 0 else 0.0
        frame = f" frame {p.frame}/{p.frames}" if p.frames else ""
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {p.fraction * 100:5.1f}%{frame} "
            f"octave {p.octave}/{p.octaves} step {p.iteration}/{p.iterations}  eta {eta:4.0f}s "
        )
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def _read_params_file(path: str) -> DreamParams:
    from dream_core.errors import DreamInputError
    from dream_core.images import read_params

    p = Path(path)
    if not p.is_file():
        raise DreamInputError(f"--params-from: {path} not found")
    if p.suffix.lower() == ".json":
        return parse_params(p.read_text())
    try:
        params = read_params(p)
    except Exception:  # noqa: BLE001
        params = None
    if params is None:
        raise DreamInputError(f"--params-from: {path} holds no DreamBot params")
    return params


def _default_output(inp: str, animated: bool) -> Path:
    ext = ".webp" if animated else ".png"
    stem = "dream" if inp in ("-", "noise", "sample") else Path(inp).stem
    stem = f"{inp}-dream" if inp in ("noise", "sample") else f"{stem}-dream"
    return Path(stem + ext)


def _guide_check(args: argparse.Namespace, guide_bytes: bytes | None) -> None:
    """A PNG from a guided dream names its guide: refuse ``--params-from`` without ``--guide``
    (the dream would silently differ); note a different guide."""
    from dream_core.errors import DreamInputError
    from dream_core.images import read_guide

    if not args.params_from or Path(args.params_from).suffix.lower() == ".json":
        return
    try:
        recorded = read_guide(args.params_from)
    except Exception:  # noqa: BLE001 - not a PNG: no guide recorded
        recorded = None
    if recorded is None:
        return
    # the bot's PNGs record no file name (its workers never see one)
    which = f"the guide image {recorded['name']!r}" if recorded["name"] else "a guide image"
    if guide_bytes is None:
        raise DreamInputError(
            f"--params-from: {args.params_from} was dreamed with {which} "
            f"(sha256 {recorded['sha256'][:12]}...); give it again with --guide PATH"
        )
    import hashlib

    if hashlib.sha256(guide_bytes).hexdigest() != recorded["sha256"]:
        print(
            f"note: --guide {args.guide} is not the guide {args.params_from} was dreamed with "
            f"({recorded['name'] or 'sha256 ' + recorded['sha256'][:12] + '...'}); the dream will differ",
            file=sys.stderr,
        )


def share_cpu(device: str | None) -> None:
    """On the CPU, the dream's threads follow the cores other processes leave free
    (``DREAMBOT_CPU_SHARE``, :mod:`dream_core.cpu_share`)."""
    import torch

    from dream_core import cpu_share
    from dream_core.models import resolve_device

    if resolve_device(device).type == "cpu":
        cpu_share.enable(torch.get_num_threads())


def cmd_dream(args: argparse.Namespace) -> int:
    from dream_core.clips.cli import clip_input
    from dream_core.clips.cli import run as dream_clip_cli
    from dream_core.errors import DreamInputError
    from dream_core.images import (
        guide_text,
        load_image,
        output_format,
        sample_path,
        save_result,
    )

    base = _read_params_file(args.params_from) if args.params_from else None
    params = params_from_args(args, base)
    out = Path(args.output) if args.output else _default_output(args.input, params.zoom_frames > 0)
    output_format(out, params.zoom_frames > 0)  # fail on a bad extension before dreaming
    guide_bytes = None
    if args.guide:
        try:
            guide_bytes = Path(args.guide).read_bytes()
        except OSError as exc:
            raise DreamInputError(f"--guide: can't read {args.guide} ({exc.strerror or exc})") from None
    _guide_check(args, guide_bytes)
    if args.weights and not Path(args.weights).is_file():
        raise DreamInputError(f"--weights: {args.weights} not found")

    image = None
    if args.input == "noise":
        pass
    else:
        src: Any = sample_path() if args.input == "sample" else args.input
        if args.input == "-":
            src = sys.stdin.buffer.read()
        if args.input != "sample" and (clip := clip_input(src)) is not None:  # an animation or a video
            share_cpu(args.device)
            bar = _ProgressBar(sys.stderr) if (not args.quiet and sys.stderr.isatty()) else None
            return dream_clip_cli(args, params, clip, bar)
        image = load_image(src, max_size=params.max_size)
    guide = load_image(guide_bytes, max_size=params.max_size).image if guide_bytes is not None else None

    from dream_core.engine import dream

    share_cpu(args.device)
    bar = _ProgressBar(sys.stderr) if (not args.quiet and sys.stderr.isatty()) else None
    try:
        result = dream(image, params, guide=guide, progress=bar, device=args.device, weights=args.weights)
    finally:
        if bar is not None:
            bar.close()
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    text = guide_text(Path(args.guide).name, guide_bytes) if guide_bytes is not None else None
    path = save_result(result, out, text)
    w, h = result.image.size
    kind = f"{len(result.frames)} frames" if result.is_animation else f"{w}x{h}"
    print(f"wrote {path.resolve()} ({kind}, {result.seconds:.1f} s, seed {result.params.seed})")
    return 0


def cmd_layers(args: argparse.Namespace) -> int:
    from dream_core.catalog import DEFAULT_MODEL, get_info

    spec = get_info(args.model or DEFAULT_MODEL)
    table = spec.layer_table()
    if args.json:
        print(json.dumps([{"name": t.name, "channels": t.channels, "alias_of": t.alias_of} for t in table], indent=1))
        return 0
    print(f"{spec.name}: {spec.title}")
    print("aliases:")
    for info in table:
        if info.alias_of:
            print(f"  {info.name:<14} -> {info.alias_of:<14} {info.channels:>5} channels")
    print("layers (input to output):")
    for info in table:
        if not info.alias_of:
            print(f"  {info.name:<14} {info.channels:>5} channels")
    print("target spec: LAYER[:FILTER][*WEIGHT] joined by '+', e.g. mixed4, mixed4:7, mixed3*0.5+mixed5")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from dream_core.models import list_models

    rows = list_models()
    if args.json:
        print(json.dumps([r.__dict__ for r in rows], indent=1))
        return 0
    for r in rows:
        flag = "offline: yes" if r.available_offline else "offline: no "
        default = " (default)" if r.default else ""
        print(f"{r.name:<20} {flag}  {r.title}{default}")
        env = f"; local file via --weights PATH or {r.env_var}" if r.env_var and not r.default else ""
        print(f"{'':<20} weights: {r.weights}{env}")
    return 0


def cmd_warmup(args: argparse.Namespace) -> int:
    from dream_core.catalog import DEFAULT_MODEL, get_info
    from dream_core.warmup import warm_up

    names = args.model or [DEFAULT_MODEL]
    for name in names:
        get_info(name)  # an unknown model: one line, before anything loads
    if args.weights and len(names) > 1:
        raise DreamParamsError("--weights: give one --model with it")
    share_cpu(args.device)
    for name in names:
        print(warm_up(name, args.device, args.weights).describe())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m dream_core``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except DreamError as exc:
        print(f"{PROG}: error: {name_the_flag(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
