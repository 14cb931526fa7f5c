"""The params policy: how a Discord request's :class:`~dream_core.params.DreamParams` are made.

Bot-wide defaults (``settings.default_model`` + ``settings.default_params``) <-
a preset (named, or the user's default preset) <- the options the user typed.
The server's caps apply (``max_zoom_frames``, ``max_size``) and the model and
layer are checked, each problem becoming one :class:`~bot.replies.UserError`.
Presets are saved here too (without the seed).
"""

from __future__ import annotations

from typing import Any, Optional, Protocol

from bot.collaborators import PresetRecords
from bot.replies import UserError
from bot.store.errors import NotFound, PresetExists
from bot.store.records import PresetInfo
from dream_core.errors import DreamParamsError
from dream_core.models import MODELS, resolve_targets
from dream_core.params import DreamParams, parse_params


class PolicySettings(Protocol):
    """The settings the params policy reads."""

    @property
    def default_model(self) -> str: ...
    @property
    def default_params(self) -> dict[str, Any]: ...
    @property
    def max_zoom_frames(self) -> int: ...
    @property
    def max_size(self) -> int: ...


def changed_knobs(data: dict[str, Any]) -> dict[str, Any]:
    """The entries of a stored params dict that differ from DreamParams' defaults.

    Presets are stored whole; merging only the knobs a preset changes keeps the
    bot-wide defaults (``settings.default_params``) for everything else.
    """
    defaults = DreamParams().model_dump(mode="json")
    return {k: v for k, v in data.items() if k in defaults and v != defaults[k]}


def describe_params(params: DreamParams) -> str:
    """``mixed4c:97 · medium`` — the short label of a dream's settings."""
    return f"{params.layer} · {params.strength}"


def _parse(data: dict[str, Any]) -> DreamParams:
    try:
        return parse_params(data)
    except DreamParamsError as exc:
        raise UserError(f"Those settings don't work: {exc}") from None


class ParamsPolicy:
    """Builds and checks the params of the bot's dreams and saves presets. One per bot."""

    def __init__(self, settings: PolicySettings, store: PresetRecords) -> None:
        self.settings = settings
        self.store = store

    def base_params(self) -> dict[str, Any]:
        """The bot-wide defaults every dream starts from."""
        data: dict[str, Any] = {"model": self.settings.default_model}
        data.update(self.settings.default_params)
        return data

    async def preset_params(self, user_id: int, name: str) -> dict[str, Any]:
        """The knobs stored in preset ``name`` (the user's own, else a shared one)."""
        try:
            preset = await self.store.get_preset(user_id, name)
        except NotFound:
            raise UserError(f"I don't know a preset called `{name}`. See `/preset list`.") from None
        await self.store.use_preset(preset.id)  # popular shared presets are suggested first
        return changed_knobs(preset.params_data)

    async def build_params(
        self,
        user_id: int,
        *,
        preset: Optional[str] = None,
        options: Optional[dict[str, Any]] = None,
    ) -> DreamParams:
        """Bot defaults <- preset (or the user's default preset) <- options (``None`` = not given)."""
        data = self.base_params()
        if preset:
            data.update(await self.preset_params(user_id, preset))
        else:
            default = await self.store.get_default_preset(user_id)
            if default is not None:
                data.update(changed_knobs(default.params_data))
        data.update({k: v for k, v in (options or {}).items() if v is not None})
        return self.check_params(_parse(data))

    def preset_from_options(self, options: dict[str, Any]) -> DreamParams:
        """Just the knobs the user gave (the bot's defaults stay out of a preset), checked
        as they would be in a dream with the bot's defaults."""
        given = {k: v for k, v in options.items() if v is not None}
        self.check_params(_parse({**self.base_params(), **given}))
        return _parse(given)

    def check_params(self, params: DreamParams) -> DreamParams:
        """Apply the server's caps and check the model and layer exist."""
        s = self.settings
        if params.zoom_frames > s.max_zoom_frames:
            raise UserError(f"`zoom_frames` can be at most {s.max_zoom_frames} here.")
        if params.max_size > s.max_size:
            params = params.model_copy(update={"max_size": s.max_size})
        if params.model not in MODELS:
            raise UserError(
                f"I don't have a model called `{params.model}`. Try one of: " + ", ".join(f"`{m}`" for m in MODELS)
            )
        try:
            resolve_targets(params.model, params.layer)
        except DreamParamsError as exc:
            raise UserError(f"{exc}. See `/layers`.") from None
        return params

    def again_params(self, params: DreamParams) -> DreamParams:
        """The params of "Dream again" / "Deeper": the same, with a new seed, checked anew."""
        return self.check_params(params.model_copy(update={"seed": None}))

    async def save_preset(
        self, user_id: int, name: str, params: DreamParams, user_name: Optional[str] = None
    ) -> tuple[PresetInfo, bool]:
        """Store ``params`` (without the seed) as preset ``name``; an own preset of that
        name is overwritten. Returns ``(PresetInfo, updated)``."""
        params = params.model_copy(update={"seed": None})
        try:
            return await self.store.create_preset(user_id, name, params, owner_name=user_name), False
        except PresetExists:
            return await self.store.update_preset(user_id, name, params=params), True
