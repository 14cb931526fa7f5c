"""``dreambot atlas``: feature-visualisation sheets from the command line (issue 16).

::

    dreambot atlas --model M --layer mixed4 [--filters 0-15 | --page 3] [--size 128] -o sheet.png
    dreambot atlas --model M --layer mixed4 --filter 97 -o f97.png
    dreambot atlas build --model M [--layers mixed3,mixed4] [--size 128]

A sheet is a labelled grid, each cell marked with its filter index; ``--filter``
writes one filter large with its diversity images in a strip below. Both PNGs
record what they show (model, layer, filters, size, renderer version, weights)
in a ``dreambot:atlas`` text chunk. Renders come from, and go to, the atlas
cache (``DREAMBOT_ATLAS_DIR``, capped by ``DREAMBOT_ATLAS_CACHE_MB``): only
what is missing is rendered. ``build`` pre-renders whole layers page by page
with a progress bar; interrupted, it goes on where it stopped the next time.

Everything the user typed is checked before anything runs (one line, exit 2).
Wired into ``dream_core.cli.add_subcommands``; imports torch only to render.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, TextIO

from dream_core.atlas.lookup import CARD_DIVERSITY, CARD_SIZE, SHEET_SIZE, cached_sheet, missing, sheet_keys
from dream_core.atlas.request import (
    PER_PAGE,
    AtlasInputError,
    AtlasTarget,
    check_filter,
    page_filters,
    parse_filters,
    resolve_layer,
)
from dream_core.catalog import DEFAULT_LAYER, DEFAULT_MODEL, get_info

if TYPE_CHECKING:
    from dream_core.atlas.cache import AtlasCache
    from dream_core.models import DreamModel

MIN_SIZE, MAX_SIZE = 32, 1024
EXAMPLES = """examples:
  dreambot atlas --layer mixed4 --page 3 -o mixed4-p3.png
  dreambot atlas --layer mixed4 --filter 97 -o f97.png
  dreambot atlas build --layers mixed3,mixed4"""


def add_subcommands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``atlas`` (and ``atlas build``) to an argparse subparsers object."""
    a = subparsers.add_parser(
        "atlas",
        help="show what a layer's filters respond to: a sheet of filters, one filter large, or build a layer",
        description="Feature visualisation: render what each filter of a layer wants to see, as a labelled "
        "sheet (default: page 1 of the layer), or one filter large (--filter). Renders are cached.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common_flags(a)
    a.add_argument("--layer", default=DEFAULT_LAYER, help=f"layer or alias (default: {DEFAULT_LAYER})")
    which = a.add_mutually_exclusive_group()
    which.add_argument("--filters", metavar="LIST", help="filters to show: 0-15, 3,5,97 or a mix")
    which.add_argument("--page", type=int, metavar="N", help=f"page N of the layer ({PER_PAGE} filters a page)")
    which.add_argument("--filter", type=int, metavar="N", help="one filter, large, with its diversity images")
    a.add_argument("--diversity", type=int, default=None, metavar="K",
                   help=f"--filter: different images of the filter (default: {CARD_DIVERSITY})")
    a.add_argument("-o", "--output", metavar="OUT.png", help="the PNG to write (default: a name from the request)")
    a.set_defaults(func=cmd_atlas, atlas_sub=None)

    sub = a.add_subparsers(dest="atlas_sub", metavar="build")
    b = sub.add_parser(
        "build",
        help="pre-render whole layers into the cache (resumable)",
        description="Render every filter of the layers into the atlas cache, page by page, with a progress "
        "bar. What is cached already is skipped, so an interrupted build goes on where it stopped.",
    )
    _common_flags(b)
    b.add_argument("--layers", default=None, metavar="LIST",
                   help="layers, comma separated (default: the model's mixed3, mixed4 and mixed5)")
    b.set_defaults(func=cmd_build)


def _common_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"model name (default: {DEFAULT_MODEL})")
    p.add_argument("--size", type=int, default=None, metavar="PX",
                   help=f"side of each render (default: {SHEET_SIZE}; --filter: {CARD_SIZE})")
    p.add_argument("--steps", type=int, default=None, metavar="N", help="optimisation steps (default: the renderer's)")
    p.add_argument("--weights", metavar="PATH", help="local weights file (state dict) for the model")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: CUDA when available)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


# ------------------------------------------------------------------ checks (before anything runs)


def _check_size(size: Optional[int], default: int) -> int:
    value = default if size is None else size
    if not MIN_SIZE <= value <= MAX_SIZE:
        raise AtlasInputError(f"size: {value} px is out of range ({MIN_SIZE}-{MAX_SIZE})")
    return value


def _check_run_flags(args: argparse.Namespace) -> None:
    if args.steps is not None and args.steps < 1:
        raise AtlasInputError(f"steps: {args.steps} is not a number of steps (1 or more)")
    if args.weights and not Path(args.weights).is_file():
        raise AtlasInputError(f"weights: {args.weights} not found")


def _output(args: argparse.Namespace, target: AtlasTarget, what: str) -> Path:
    out = Path(args.output) if args.output else Path(f"atlas-{target.model}-{target.name}-{what}.png")
    if out.suffix.lower() != ".png":
        raise AtlasInputError(
            f"output: an atlas picture is a PNG (it records what it shows); use a .png name, not {out.name!r}"
        )
    if not out.parent.is_dir():
        raise AtlasInputError(f"output: the folder {str(out.parent)!r} does not exist")
    return out


# ------------------------------------------------------------------ running


class _Bar:
    """A one-line progress bar on a terminal (nothing when not a terminal)."""

    def __init__(self, stream: TextIO, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled and stream.isatty()
        self.t0 = time.monotonic()

    def show(self, fraction: float, what: str = "") -> None:
        if not self.enabled:
            return
        fraction = min(1.0, max(0.0, fraction))
        width = 30
        filled = int(round(width * fraction))
        elapsed = time.monotonic() - self.t0
        eta = elapsed / fraction - elapsed if fraction > 0 else 0.0
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {fraction * 100:5.1f}% {what} eta {eta:4.0f}s ")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def _load_model(args: argparse.Namespace) -> DreamModel:
    import torch

    from dream_core import cpu_share, models

    if models.resolve_device(args.device).type == "cpu":
        cpu_share.enable(torch.get_num_threads())  # the threads follow the cores other processes leave free
    return models.get_model(args.model, args.device, args.weights)


def _cache() -> AtlasCache:
    from dream_core.atlas.cache import default_cache

    return default_cache()


def cmd_atlas(args: argparse.Namespace) -> int:
    if args.atlas_sub is not None:  # pragma: no cover - argparse routes "build" to cmd_build
        return cmd_build(args)
    get_info(args.model)
    target = resolve_layer(args.model, args.layer)
    _check_run_flags(args)
    if args.filter is not None:
        filt = check_filter(target, args.filter)
        size = _check_size(args.size, CARD_SIZE)
        diversity = CARD_DIVERSITY if args.diversity is None else args.diversity
        if not 1 <= diversity <= 8:
            raise AtlasInputError(f"diversity: {diversity} is out of range (1-8)")
        out = _output(args, target, f"f{filt}")
        return _write(args, out, target, [filt], size, single=True, diversity=diversity)
    if args.diversity is not None:
        raise AtlasInputError("diversity: --diversity goes with --filter N (a sheet shows one image per filter)")
    if args.filters is not None:
        filters = parse_filters(target, args.filters)
        what = args.filters.replace(",", "_")
    else:
        page = 1 if args.page is None else args.page
        filters = page_filters(target, page)
        what = f"p{page}"
    size = _check_size(args.size, SHEET_SIZE)
    out = _output(args, target, what)
    return _write(args, out, target, list(filters), size, single=False, diversity=1)


def _write(
    args: argparse.Namespace, out: Path, target: AtlasTarget, filters: list[int], size: int, *,
    single: bool, diversity: int,
) -> int:
    from dream_core.atlas.lookup import cached_card, cached_sheet

    cache = _cache()
    t0 = time.perf_counter()
    steps = args.steps or 0
    if args.weights:
        data = None  # keyed by its own weights file: looked up by the service
    elif single:
        data = cached_card(cache, target, filters[0], size, diversity, steps=steps)
    else:
        data = cached_sheet(cache, target, filters, size, steps=steps)
    if data is None:
        data = _render(args, cache, target, filters, size, single=single, diversity=diversity)
    out.write_bytes(data)
    what = f"filter {filters[0]}" if single else f"{len(filters)} filters"
    print(f"wrote {out.resolve()} ({target.model} {target.name}, {what}, {time.perf_counter() - t0:.1f} s)")
    return 0


def _render(
    args: argparse.Namespace, cache: AtlasCache, target: AtlasTarget, filters: list[int], size: int, *,
    single: bool, diversity: int,
) -> bytes:
    from dream_core.atlas.service import render_sheet, render_single

    model = _load_model(args)
    bar = _Bar(sys.stderr, not args.quiet)
    try:
        if single:
            data = render_single(
                model, target, filters[0], size, cache, bar.show, diversity=diversity, steps=args.steps,
                weights=args.weights,
            )
        else:
            data = render_sheet(model, target, filters, size, cache, bar.show, steps=args.steps, weights=args.weights)
    finally:
        bar.close()
    return data


def _build_layers(args: argparse.Namespace) -> list[AtlasTarget]:
    info = get_info(args.model)
    names = [n.strip() for n in args.layers.split(",")] if args.layers else list(dict.fromkeys(
        n for n in ("mixed3", "mixed4", "mixed5") if n in info.aliases
    )) or [info.layers[-1][0]]
    targets: dict[str, AtlasTarget] = {}
    for name in names:
        if not name:
            continue
        t = resolve_layer(args.model, name)
        targets.setdefault(t.layer, t)
    if not targets:
        raise AtlasInputError("layers: name at least one layer, such as mixed4")
    return list(targets.values())


def _assemble_sheets(
    cache: AtlasCache, todo: list[tuple[AtlasTarget, list[int], tuple[int, ...]]], size: int, steps: int,
    weights: str | None,
) -> None:
    """Store each page's sheet as well as its renders, so its first view is one file read
    (assembling it from 16 renders costs the first viewer ~60-180 ms)."""
    if weights:  # the bot and the web look sheets up under the default weights only
        return
    for target, _filters, page in todo:
        cached_sheet(cache, target, page, size, steps=steps)


def cmd_build(args: argparse.Namespace) -> int:
    from dream_core.atlas.service import render_missing

    targets = _build_layers(args)
    size = _check_size(args.size, SHEET_SIZE)
    _check_run_flags(args)
    cache = _cache()
    steps = args.steps or 0
    pages = [(t, page_filters(t, p)) for t in targets for p in range(1, t.pages + 1)]
    todo = [(t, [k.filter for k in missing(cache, sheet_keys(t, fs, size, steps=steps, weights=args.weights))], fs)
            for t, fs in pages]
    total = sum(t.channels for t in targets)
    left = sum(len(fs) for _, fs, _page in todo)
    print(f"atlas build: {args.model}, {', '.join(t.name for t in targets)}: {total} filters at {size} px, "
          f"{total - left} cached, {left} to render")
    if not left:
        _assemble_sheets(cache, todo, size, steps, args.weights)
        return 0
    model = _load_model(args)
    bar = _Bar(sys.stderr, not args.quiet)
    done, stored, warned, t0 = 0, 0, False, time.perf_counter()
    try:
        for target, filters, page in todo:
            if not filters:
                continue

            def show(fraction: float, base: int = done, n: int = len(filters), t: AtlasTarget = target) -> None:
                bar.show((base + fraction * n) / left, f"{t.name} {base + int(fraction * n)}/{left}")

            stored += render_missing(model, target, filters, size, cache, show, steps=args.steps, weights=args.weights)
            _assemble_sheets(cache, [(target, filters, page)], size, steps, args.weights)
            done += len(filters)
            if not bar.enabled and not args.quiet:  # a log, not a terminal: a line per page
                print(f"atlas build: {target.name} up to filter {filters[-1]}: {done}/{left} rendered", flush=True)
            if not warned and stored / done * left > cache.max_bytes:
                warned = True
                print(
                    f"\nwarning: this build needs about {stored / done * left / 1e6:.0f} MB, more than the atlas "
                    f"cache's cap ({cache.max_bytes / 1e6:.0f} MB, DREAMBOT_ATLAS_CACHE_MB): older renders are evicted",
                    file=sys.stderr,
                )
        _assemble_sheets(cache, todo, size, steps, args.weights)  # the pages that needed no render
    finally:
        bar.close()
    print(f"atlas build: rendered {done} filters in {time.perf_counter() - t0:.0f} s into {cache.root}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m dream_core.atlas.cli ...`` (the same as ``dreambot atlas ...``)."""
    from dream_core.errors import DreamError

    parser = argparse.ArgumentParser(prog="dreambot")
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    args: Any = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except DreamError as exc:
        print(f"dreambot: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dreambot: interrupted (what was rendered is cached)", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
