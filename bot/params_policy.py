"""The params policy: how a Discord request's :class:`~dream_core.params.DreamParams` are made.

Bot-wide defaults (``settings.default_model`` + ``settings.default_params``) <-
a preset (named, or the user's default preset) <- the options the user typed.
Only what the user set (through the preset and the options) counts as set: the
bot's defaults are filled in under it, like a strength preset's knobs, so they
never end up in stored dreams or presets, and the server's ``max_size`` clamp
isn't recorded either. Model and layer were checked when the params were
validated (:mod:`dream_core.catalog`); the server's caps apply here, each
problem becoming one :class:`~bot.replies.UserError`. Presets are saved here
too (what was set, without the seed).
"""

from __future__ import annotations

from typing import Any, Optional, Protocol

from bot.collaborators import PresetRecords
from bot.replies import UserError
from bot.store.errors import NotFound, PresetExists
from bot.store.records import PresetInfo
from dream_core.errors import DreamParamsError
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


def describe_params(params: DreamParams) -> str:
    """``mixed4c:97 · medium`` — the short label of a dream's settings."""
    return f"{params.layer} · {params.strength}"


def _user_error(exc: DreamParamsError) -> UserError:
    text = f"Those settings don't work: {exc}"
    if str(exc).startswith("layer:"):
        text += ". See `/layers`."
    return UserError(text)


def _parse(data: dict[str, Any]) -> DreamParams:
    try:
        return parse_params(data)
    except DreamParamsError as exc:
        raise _user_error(exc) from None


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
        """The knobs set in preset ``name`` (the user's own, else a shared one)."""
        try:
            preset = await self.store.get_preset(user_id, name)
        except NotFound:
            raise UserError(f"I don't know a preset called `{name}`. See `/preset list`.") from None
        await self.store.use_preset(preset.id)  # popular shared presets are suggested first
        return dict(preset.params_data)

    async def build_params(
        self,
        user_id: int,
        *,
        preset: Optional[str] = None,
        options: Optional[dict[str, Any]] = None,
    ) -> DreamParams:
        """Bot defaults <- preset (or the user's default preset) <- options (``None`` = not given).

        The preset's and the options' fields are the ones set; the bot's defaults fill in."""
        given: dict[str, Any] = {}
        if preset:
            given.update(await self.preset_params(user_id, preset))
        else:
            default = await self.store.get_default_preset(user_id)
            if default is not None:
                given.update(default.params_data)
        given.update({k: v for k, v in (options or {}).items() if v is not None})
        return self.check_params(self._over_defaults(given))

    def _over_defaults(self, given: dict[str, Any]) -> DreamParams:
        try:
            return DreamParams.over_defaults(self.base_params(), given)
        except DreamParamsError as exc:
            raise _user_error(exc) from None

    def preset_from_options(self, options: dict[str, Any]) -> DreamParams:
        """Just the knobs the user gave (the bot's defaults stay out of a preset), checked
        as they would be in a dream with the bot's defaults."""
        given = {k: v for k, v in options.items() if v is not None}
        self.check_params(self._over_defaults(given))
        return _parse(given)

    def check_params(self, params: DreamParams) -> DreamParams:
        """Apply the server's caps (a validated ``DreamParams`` has a known model and layer).

        The ``max_size`` clamp is a limit, not the user's choice: it is not recorded as set."""
        s = self.settings
        if params.zoom_frames > s.max_zoom_frames:
            raise UserError(f"`zoom_frames` can be at most {s.max_zoom_frames} here.")
        if params.max_size > s.max_size:
            params = params.adjusted(max_size=s.max_size)
        return params

    def again_params(self, params: DreamParams) -> DreamParams:
        """The params of "Dream again" / "Deeper": what the dream's user set, with a new
        seed, over today's bot defaults and caps."""
        return self.check_params(self._over_defaults(params.without_seed().explicit()))

    def resumed_params(self, params: DreamParams) -> DreamParams:
        """The params of a dream resumed after a restart: what its user set (its seed
        too, when set), over today's bot defaults and caps."""
        return self.check_params(self._over_defaults(params.explicit()))

    async def save_preset(
        self, user_id: int, name: str, params: DreamParams, user_name: Optional[str] = None
    ) -> tuple[PresetInfo, bool]:
        """Store ``params`` (without the seed) as preset ``name``; an own preset of that
        name is overwritten. Returns ``(PresetInfo, updated)``."""
        params = params.without_seed()
        try:
            return await self.store.create_preset(user_id, name, params, owner_name=user_name), False
        except PresetExists:
            return await self.store.update_preset(user_id, name, params=params), True
