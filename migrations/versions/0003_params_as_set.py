"""presets and dreams store the params that were set, not resolved ones

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 12:30:00

Until now presets and dreams stored every DreamParams field, with what the
strength preset fills in (octaves, octave_scale, iterations, step,
frame_iterations) written out as if the user had chosen it, and dreams with the
bot's ``max_size`` clamp. From now on only the fields that were set are stored.

Old rows can't tell what was set, so this migration applies the rule the bot
used when reading them (a value equal to the default counts as not set),
best effort, to every ``presets.params`` and ``dreams.params``:

* ``None`` values are dropped;
* the knobs a strength preset fills in are dropped when they equal what the
  row's own strength gives (``frame_iterations``: ``iterations // 2``, 1..200);
* every other field is dropped when it equals the DreamParams default of
  2026-11 (``strength: medium`` too: the old reader dropped it as well);
* in dreams, ``max_size`` and ``noise_size`` below their defaults are taken as
  the bot's clamp and dropped (``/dream`` could never set them);
* a dream's ``seed`` is always kept.

No schema change. The downgrade keeps the smaller dicts: the older code reads
them (missing fields take their defaults, strength knobs resolve at run time).
The tables below are frozen copies; later changes to DreamParams don't change
what this migration did.
"""
from __future__ import annotations

from typing import Any, Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0003'
down_revision: Union[str, None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# DreamParams' plain defaults as of this migration
DEFAULTS: dict[str, Any] = {
    "model": "efficientnet-lite0",
    "layer": "mixed4",
    "strength": "medium",
    "jitter": 32,
    "smoothing": 0.5,
    "normalize_gradients": True,
    "tile_size": 512,
    "keep_colors": False,
    "max_size": 1024,
    "noise_size": 512,
    "guide_weight": 1.0,
    "zoom_frames": 0,
    "zoom": 1.05,
    "rotate": 0.0,
    "fps": 12,
}

# strength -> (octaves, octave_scale, iterations, step)
STRENGTHS: dict[str, tuple[int, float, int, float]] = {
    "low": (2, 1.4, 6, 0.008),
    "medium": (3, 1.4, 10, 0.010),
    "high": (4, 1.4, 14, 0.012),
    "extreme": (5, 1.5, 20, 0.015),
}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return abs(float(a) - float(b)) < 1e-12
        except (TypeError, ValueError):
            return False
    return bool(a == b)


def as_set(params: Any, *, dream: bool) -> dict[str, Any]:
    """The fields of an old, fully written params dict that count as set (see the module doc)."""
    if not isinstance(params, dict):
        return {}
    given_strength = params.get("strength")
    strength = given_strength if isinstance(given_strength, str) and given_strength in STRENGTHS else "medium"
    octaves, octave_scale, iterations, step = STRENGTHS[strength]
    given_iterations = params.get("iterations")
    its = given_iterations if isinstance(given_iterations, int) else iterations
    filled = {
        "octaves": octaves,
        "octave_scale": octave_scale,
        "iterations": iterations,
        "step": step,
        "frame_iterations": min(200, max(1, its // 2)),
    }
    out: dict[str, Any] = {}
    for name, value in params.items():
        if value is None:
            continue
        if name == "seed":
            if dream:
                out[name] = value
            continue
        if name in filled and _same(value, filled[name]):
            continue
        if name in DEFAULTS and _same(value, DEFAULTS[name]):
            continue
        if dream and name in ("max_size", "noise_size") and isinstance(value, int) and value < DEFAULTS[name]:
            continue
        out[name] = value
    return out


def _rewrite(table_name: str, *, dream: bool) -> None:
    table = sa.table(table_name, sa.column("id", sa.Integer), sa.column("params", sa.JSON))
    conn = op.get_bind()
    rows = conn.execute(sa.select(table.c.id, table.c.params)).fetchall()
    for row_id, params in rows:
        new = as_set(params, dream=dream)
        if new != params:
            conn.execute(sa.update(table).where(table.c.id == row_id).values(params=new))


def upgrade() -> None:
    _rewrite("presets", dream=False)
    _rewrite("dreams", dream=True)


def downgrade() -> None:
    pass  # the older code reads the smaller dicts as they are
