"""`DreamParams`: the one description of a dream, shared by the CLI, presets,
the executor and the bot.

Every knob has a sensible default. Knobs left as ``None`` are filled in from
the chosen *strength* preset by :meth:`DreamParams.resolved`; any knob given
explicitly overrides the preset.
"""

from __future__ import annotations

import random
import shlex
from dataclasses import dataclass
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dream_core.errors import DreamParamsError

Strength = Literal["low", "medium", "high", "extreme"]
STRENGTHS: tuple[str, ...] = ("low", "medium", "high", "extreme")

DEFAULT_MODEL = "efficientnet-lite0"
DEFAULT_LAYER = "mixed4"


@dataclass(frozen=True)
class StrengthPreset:
    """The knobs a strength name stands for."""

    octaves: int
    octave_scale: float
    iterations: int
    step: float


STRENGTH_PRESETS: dict[str, StrengthPreset] = {
    "low": StrengthPreset(octaves=2, octave_scale=1.4, iterations=6, step=0.008),
    "medium": StrengthPreset(octaves=3, octave_scale=1.4, iterations=10, step=0.010),
    "high": StrengthPreset(octaves=4, octave_scale=1.4, iterations=14, step=0.012),
    "extreme": StrengthPreset(octaves=5, octave_scale=1.5, iterations=20, step=0.015),
}


class DreamParams(BaseModel):
    """All parameters of one dream. Immutable; serialise with ``model_dump_json``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(DEFAULT_MODEL, min_length=1, max_length=64, description="registered model name")
    layer: str = Field(
        DEFAULT_LAYER,
        min_length=1,
        max_length=200,
        description="target spec: 'mixed4', 'mixed4c:97', 'mixed4c*0.7+mixed5a:12*0.3'",
    )
    strength: Strength = "medium"
    octaves: Optional[int] = Field(None, ge=1, le=10)
    octave_scale: Optional[float] = Field(None, ge=1.05, le=3.0)
    iterations: Optional[int] = Field(None, ge=1, le=500)
    step: Optional[float] = Field(None, gt=0.0, le=1.0, description="step size, in units of the [0,1] pixel range")
    jitter: int = Field(32, ge=0, le=256, description="max random roll in pixels per step")
    smoothing: float = Field(0.5, ge=0.0, le=5.0, description="gradient smoothing strength (0 = off)")
    normalize_gradients: bool = True
    tile_size: int = Field(512, ge=64, le=4096, description="tile edge for tiled gradients")
    seed: Optional[int] = Field(None, ge=0, le=2**63 - 1)
    keep_colors: bool = False
    max_size: int = Field(1024, ge=32, le=8192, description="max working resolution (long side, px)")
    noise_size: int = Field(512, ge=32, le=4096, description="edge of the image when dreaming from noise")
    guide_weight: float = Field(1.0, ge=0.0, le=10.0)
    zoom_frames: int = Field(0, ge=0, le=600, description="iterate-and-zoom animation frames (0 = still)")
    zoom: float = Field(1.05, ge=1.0, le=2.0, description="zoom factor per frame")
    rotate: float = Field(0.0, ge=-45.0, le=45.0, description="rotation per frame in degrees")
    frame_iterations: Optional[int] = Field(None, ge=1, le=200, description="iterations per animation frame")
    fps: int = Field(12, ge=1, le=60)
    clip_blend: float = Field(
        0.9,
        ge=0.0,
        le=1.0,
        description="clips: share of the previous dreamed frame (warped by the motion) each frame starts from "
        "(0 = every frame dreamed alone); each frame is then refined with frame_iterations at full size",
    )

    @field_validator("layer")
    @classmethod
    def _layer_parses(cls, value: str) -> str:
        from dream_core.targets import parse_target_spec

        parse_target_spec(value)  # raises DreamParamsError (a ValueError) on bad syntax
        return value.strip()

    @property
    def preset(self) -> StrengthPreset:
        return STRENGTH_PRESETS[self.strength]

    def resolved(self) -> "DreamParams":
        """A copy with every ``None`` knob filled from the strength preset and a seed chosen."""
        p = self.preset
        return self.model_copy(
            update={
                "octaves": self.octaves if self.octaves is not None else p.octaves,
                "octave_scale": self.octave_scale if self.octave_scale is not None else p.octave_scale,
                "iterations": self.iterations if self.iterations is not None else p.iterations,
                "step": self.step if self.step is not None else p.step,
                "seed": self.seed if self.seed is not None else random.SystemRandom().randrange(2**31),
                "frame_iterations": self.frame_iterations
                if self.frame_iterations is not None
                else min(200, max(1, (self.iterations if self.iterations is not None else p.iterations) // 2)),
            }
        )

    def with_updates(self, **changes: object) -> "DreamParams":
        """A validated copy with ``changes`` applied (``None`` values are ignored)."""
        data = self.model_dump()
        data.update({k: v for k, v in changes.items() if v is not None})
        return parse_params(data)

    def explicit_options(self) -> dict[str, Any]:
        """The smallest set of explicit fields that gives back these parameters.

        Plain fields are listed where they differ from their defaults; knobs
        the strength preset fills in (``octaves``, ``step``, ...) where they
        differ from what the preset gives; the seed whenever it is set.
        ``DreamParams(**p.explicit_options()).resolved() == p`` for a resolved
        ``p``; an unresolved one keeps its ``None`` knobs unset.
        """
        fields = type(self).model_fields
        defaults = DreamParams()
        explicit: dict[str, Any] = {}
        # plain fields first: they decide what the preset-filled ones resolve to
        for name, info in fields.items():
            value = getattr(self, name)
            if info.default is not None and value != getattr(defaults, name):
                explicit[name] = value
        # then the preset-filled knobs, in declaration order (iterations before frame_iterations)
        for name, info in fields.items():
            value = getattr(self, name)
            if info.default is not None or value is None:
                continue
            if name == "seed" or value != getattr(DreamParams(**{**explicit, "seed": 0}).resolved(), name):
                explicit[name] = value
        return {name: explicit[name] for name in fields if name in explicit}

    def cli_args(self) -> str:
        """:meth:`explicit_options` as ``dreambot dream`` flags (to reproduce a dream)."""
        parts: list[str] = []
        for name, value in self.explicit_options().items():
            flag = name.replace("_", "-")
            if isinstance(value, bool):
                parts.append(f"--{flag}" if value else f"--no-{flag}")
            else:
                parts += [f"--{flag}", shlex.quote(repr(value) if isinstance(value, float) else str(value))]
        return " ".join(parts)

def parse_params(data: dict | str) -> DreamParams:
    """Validate a dict or JSON string into :class:`DreamParams`.

    Raises :class:`DreamParamsError` with a one-line, user-readable reason.
    """
    from pydantic import ValidationError

    try:
        if isinstance(data, str):
            return DreamParams.model_validate_json(data)
        return DreamParams.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ())) or "params"
        msg = first.get("msg", "invalid value")
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        raise DreamParamsError(msg if msg.startswith(f"{where}:") else f"{where}: {msg}") from None
