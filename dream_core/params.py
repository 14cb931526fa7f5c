"""`DreamParams`: the one description of a dream, shared by the CLI, presets,
the executor and the bot.

Every knob has a sensible default. Knobs left as ``None`` are filled in from
the chosen *strength* preset by :meth:`DreamParams.resolved`; any knob given
explicitly overrides the preset.

What the user *set* and what was *filled in* are kept apart: pydantic records
the fields given at construction (``model_fields_set``), and only those are
stored (presets, dreams, PNG metadata: :meth:`DreamParams.explicit`).
:meth:`~DreamParams.resolved` and :meth:`~DreamParams.adjusted` (limits such
as a server's ``max_size`` clamp) change values without marking them as set,
so a stored dream says ``strength: high``, not the octaves that stand for it.

``model`` and ``layer`` are checked against the torch-free
:mod:`dream_core.catalog` once, here; code that holds a ``DreamParams`` trusts
it (:attr:`DreamParams.targets`).
"""

from __future__ import annotations

import json
import random
import shlex
from dataclasses import dataclass
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from dream_core import catalog
from dream_core.errors import DreamParamsError

Strength = Literal["low", "medium", "high", "extreme"]
STRENGTHS: tuple[str, ...] = ("low", "medium", "high", "extreme")

DEFAULT_MODEL = catalog.DEFAULT_MODEL
DEFAULT_LAYER = catalog.DEFAULT_LAYER

#: the knobs a strength preset fills in when they are not set
PRESET_FILLED: tuple[str, ...] = ("octaves", "octave_scale", "iterations", "step", "frame_iterations")


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
        description="target spec: 'mixed4', 'mixed4:97', 'mixed3*0.7+mixed5:12*0.3' (see the layers command)",
    )
    strength: Strength = "medium"
    octaves: Optional[int] = Field(None, ge=1, le=10)
    octave_scale: Optional[float] = Field(None, ge=1.05, le=3.0)
    iterations: Optional[int] = Field(None, ge=1, le=500)
    step: Optional[float] = Field(None, gt=0.0, le=1.0, description="step size, in units of the [0,1] pixel range")
    jitter: int = Field(32, ge=0, le=256, description="max random roll in pixels per step")
    smoothing: float = Field(0.5, ge=0.0, le=5.0, description="gradient smoothing strength (0 = off)")
    normalize_gradients: bool = True
    tile_size: Optional[int] = Field(
        None, ge=64, le=4096, description="tile edge for tiled gradients (default: chosen by measurement)"
    )
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

    @field_validator("model")
    @classmethod
    def _model_known(cls, value: str) -> str:
        catalog.get_info(value)  # DreamParamsError (a ValueError) names the choices
        return value

    @field_validator("layer")
    @classmethod
    def _layer_fits_model(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        model = info.data.get("model")
        if model is None:  # the model itself was refused; that error is the one to show
            from dream_core.targets import parse_target_spec

            parse_target_spec(value)
        else:
            catalog.resolve_targets(model, value)  # raises DreamParamsError: unknown layer, filter range
        return value

    @property
    def preset(self) -> StrengthPreset:
        return STRENGTH_PRESETS[self.strength]

    @property
    def targets(self) -> list[catalog.ResolvedTerm]:
        """The target spec resolved against the model (own layer names). Validation
        already checked it, so this cannot fail for a validated ``DreamParams``."""
        return catalog.resolve_targets(self.model, self.layer)

    def adjusted(self, **changes: Any) -> DreamParams:
        """A copy with ``changes`` applied as *filled-in* values: they are trusted (not
        validated again) and not marked as set, so :meth:`explicit` leaves them out.

        For values the user didn't choose: strength preset fill-ins, a server's
        ``max_size`` clamp, the smaller tiles of an out-of-memory retry.
        """
        values = {**dict(self), **changes}
        return type(self).model_construct(_fields_set=set(self.model_fields_set), **values)

    def resolved(self) -> DreamParams:
        """A copy with every ``None`` knob filled from the strength preset and a seed chosen.

        The fill-ins are not marked as set; the seed is (a dream's seed is part of
        what repeats it), so ``resolved().explicit()`` is what the user set plus the seed.
        """
        p = self.preset
        iterations = self.iterations if self.iterations is not None else p.iterations
        seed = self.seed if self.seed is not None else random.SystemRandom().randrange(2**31)
        filled = self.adjusted(
            octaves=self.octaves if self.octaves is not None else p.octaves,
            octave_scale=self.octave_scale if self.octave_scale is not None else p.octave_scale,
            iterations=iterations,
            step=self.step if self.step is not None else p.step,
            seed=seed,
            frame_iterations=self.frame_iterations
            if self.frame_iterations is not None
            else min(200, max(1, iterations // 2)),
        )
        filled.model_fields_set.add("seed")
        return filled

    def with_updates(self, **changes: object) -> DreamParams:
        """A validated copy with ``changes`` applied and marked as set (``None`` values are
        ignored); the fields set before stay set, filled-in values stay out."""
        data = self.model_dump(include=self.model_fields_set)
        data.update({k: v for k, v in changes.items() if v is not None})
        return parse_params(data)

    def explicit(self) -> dict[str, Any]:
        """The fields that were set, JSON-ready, in declaration order: what presets,
        stored dreams and PNG metadata keep."""
        return self.model_dump(mode="json", include=self.model_fields_set)

    def explicit_options(self) -> dict[str, Any]:
        """The fields that were set (Python values), in declaration order: the options
        of a command that repeats this dream (:meth:`cli_args`, the web page's ``/dream``)."""
        return {name: getattr(self, name) for name in type(self).model_fields if name in self.model_fields_set}

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

    @classmethod
    def over_defaults(cls, defaults: dict[str, Any], given: dict[str, Any]) -> DreamParams:
        """``given`` over ``defaults``, validated together; only ``given``'s fields count
        as set (``defaults``, e.g. a bot's configured defaults, are filled in like a
        strength preset's knobs). Raises :class:`DreamParamsError`."""
        full = parse_params({**defaults, **given})
        fields = cls.model_fields
        return cls.model_construct(_fields_set={k for k in given if k in fields}, **dict(full))

    def without_seed(self) -> DreamParams:
        """The same settings with the seed unset (a new dream of them, or a preset)."""
        values = {**dict(self), "seed": None}
        return type(self).model_construct(_fields_set=self.model_fields_set - {"seed"}, **values)

    @classmethod
    def trusted(cls, data: dict[str, Any]) -> DreamParams:
        """Params from a dict this program validated and stored itself (a store row):
        not validated again; its keys are the fields set."""
        fields = cls.model_fields
        known = {k: v for k, v in data.items() if k in fields}
        return cls.model_construct(_fields_set=set(known), **known)

    def to_wire(self) -> str:
        """JSON with every value and which fields were set (for a worker process)."""
        return json.dumps({"values": self.model_dump(mode="json"), "set": sorted(self.model_fields_set)})

    @classmethod
    def from_wire(cls, text: str) -> DreamParams:
        """The inverse of :meth:`to_wire` (trusted: it was validated before it was sent)."""
        data = json.loads(text)
        return cls.model_construct(_fields_set=set(data["set"]), **data["values"])


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
        raise DreamParamsError(validation_message(exc)) from None


def validation_message(exc: Any) -> str:
    """The first error of a pydantic ``ValidationError`` as ``field: reason`` (one line)."""
    first = exc.errors()[0]
    where = ".".join(str(x) for x in first.get("loc", ())) or "params"
    msg = first.get("msg", "invalid value")
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return msg if msg.startswith(f"{where}:") else f"{where}: {msg}"
