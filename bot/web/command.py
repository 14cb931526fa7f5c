"""The ``/dream`` command that reproduces a dream, derived from its parameters.

Only knobs that differ from what ``/dream`` would pick by itself are listed:
plain fields are compared with their :class:`DreamParams` defaults, and knobs
filled in from the strength preset (``octaves``, ``step``, ...) with the value
the preset would give. The seed is always listed, since without it a dream
cannot be repeated exactly. The option list comes from
``DreamParams.model_fields``; nothing here repeats it.
"""

from __future__ import annotations

from typing import Any

from dream_core.params import DreamParams


def reproducing_options(params: DreamParams) -> dict[str, Any]:
    """The smallest set of explicit fields that resolves to ``params`` (see
    :meth:`DreamParams.explicit_options`)."""
    return params.explicit_options()


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def dream_command(params: DreamParams, *, command: str = "dream") -> str:
    """``/dream strength:high layer:mixed4c:97 seed:1234`` for ``params``."""
    parts = [f"/{command}"]
    parts += [f"{name}:{_format_value(value)}" for name, value in reproducing_options(params).items()]
    return " ".join(parts)


def cli_command(params: DreamParams, *, has_source: bool = True) -> str:
    """The ``dreambot dream`` command line that repeats a dream exactly: the same options
    as :func:`dream_command`, as flags (``--keep-colors`` / ``--no-normalize-gradients``)."""
    parts = ("dreambot dream", "original.png" if has_source else "noise", params.cli_args())
    return " ".join(part for part in parts if part)


def parameter_rows(params: DreamParams) -> list[tuple[str, str]]:
    """Every knob of a dream as (name, value) rows for display (unset knobs skipped)."""
    rows = []
    for name in type(params).model_fields:
        value = getattr(params, name)
        if value is None:
            continue
        rows.append((name.replace("_", " "), _format_value(value)))
    return rows


#: the knobs shown at a glance on a dream's page (the rest are one click away)
KEY_FIELDS: tuple[str, ...] = ("model", "layer", "strength", "seed", "octaves", "iterations", "step", "zoom_frames")


def key_parameter_rows(params: DreamParams) -> list[tuple[str, str]]:
    """The :data:`KEY_FIELDS` that are set (``zoom_frames`` only for animations)."""
    rows = []
    for name in KEY_FIELDS:
        value = getattr(params, name, None)
        if value is None or (name == "zoom_frames" and not value):
            continue
        rows.append((name.replace("_", " "), _format_value(value)))
    return rows
