"""The command that repeats a dream, derived from its parameters.

A dream's params record what was set (its seed included), never what a
strength preset or the bot's limits filled in, so the command lists exactly
those fields. It is a ``/dream`` line when every one of them is an option of
the real ``/dream`` command (:data:`DREAM_OPTIONS`, kept equal to it by a test
that parses lines against the command's schema), with ``noise:True`` for a
dream from noise; otherwise it is the ``dreambot dream`` command line, which
has a flag for every field.
"""

from __future__ import annotations

from typing import Any, Optional

from dream_core.params import DreamParams

#: the options of ``/dream`` that set a DreamParams field (bot/cogs/dream.py)
DREAM_OPTIONS: tuple[str, ...] = (
    "layer", "strength", "model", "seed", "octaves", "iterations", "zoom_frames", "keep_colors",
)


def reproducing_options(params: DreamParams) -> dict[str, Any]:
    """The fields that were set (the seed too, for a dream that ran), in declaration order."""
    return params.explicit_options()


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def dream_command(params: DreamParams, *, has_source: bool = True, command: str = "dream") -> Optional[str]:
    """``/dream layer:mixed4:97 strength:high seed:1234`` for ``params``, or None when a
    field was set that ``/dream`` has no option for (``step``, ``jitter``, ``max_size``...)."""
    options = reproducing_options(params)
    if any(name not in DREAM_OPTIONS for name in options):
        return None
    parts = [f"/{command}"]
    parts += [f"{name}:{_format_value(value)}" for name, value in options.items()]
    if not has_source:
        parts.append("noise:True")
    return " ".join(parts)


def cli_command(params: DreamParams, *, has_source: bool = True, source_ext: Optional[str] = None) -> str:
    """The ``dreambot dream`` command line that repeats a dream exactly: the fields
    that were set, as flags (``--keep-colors`` / ``--no-normalize-gradients``); the
    original is named with its own extension (``original.gif`` for a clip)."""
    original = f"original.{source_ext or 'png'}"
    parts = ("dreambot dream", original if has_source else "noise", params.cli_args())
    return " ".join(part for part in parts if part)


def reproduce_command(params: DreamParams, *, has_source: bool = True, source_ext: Optional[str] = None) -> str:
    """The ``/dream`` line when ``/dream`` can say it all, else the CLI line."""
    return dream_command(params, has_source=has_source) or cli_command(
        params, has_source=has_source, source_ext=source_ext
    )


def _shown(params: DreamParams) -> DreamParams:
    """What a dream ran with, for display: a dream with its seed resolves to the same knobs."""
    return params.resolved() if params.seed is not None else params


#: knobs whose unset value means "the engine chooses" (shown as ``auto``)
CHOSEN_WHEN_UNSET: frozenset[str] = frozenset({"tile_size"})


def parameter_rows(params: DreamParams) -> list[tuple[str, str]]:
    """Every knob of a dream as (name, value) rows for display (unset knobs skipped)."""
    rows = []
    shown = _shown(params)
    for name in type(params).model_fields:
        value = getattr(shown, name)
        if value is None and name in CHOSEN_WHEN_UNSET:
            rows.append((name.replace("_", " "), "auto"))
        elif value is not None:
            rows.append((name.replace("_", " "), _format_value(value)))
    return rows


#: the knobs shown at a glance on a dream's page (the rest are one click away)
KEY_FIELDS: tuple[str, ...] = ("model", "layer", "strength", "seed", "octaves", "iterations", "step", "zoom_frames")


def key_parameter_rows(params: DreamParams) -> list[tuple[str, str]]:
    """The :data:`KEY_FIELDS` that are set (``zoom_frames`` only for animations)."""
    rows = []
    shown = _shown(params)
    for name in KEY_FIELDS:
        value = getattr(shown, name, None)
        if value is None or (name == "zoom_frames" and not value):
            continue
        rows.append((name.replace("_", " "), _format_value(value)))
    return rows
