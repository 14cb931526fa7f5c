"""Presets: named, saved dream parameters, private or shared.

Name rules: trimmed, 1-64 characters, no control characters; unique per owner
ignoring case. Parameters are validated by ``dream_core.params.parse_params``
and stored as the JSON of ``DreamParams.explicit()`` (the fields that were set). Lookup by name finds the
user's own preset first, then a shared one of someone else.
"""

from __future__ import annotations

import unicodedata
from typing import Any, Optional, Union

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.base import StoreBase, run_count
from bot.store.errors import (
    NotFound,
    PresetExists,
    PresetLimitReached,
    PresetNameInvalid,
    PresetParamsInvalid,
)
from bot.store.models import PRESET_NAME_MAX, Preset, User, utcnow
from bot.store.records import PresetInfo, preset_info
from dream_core.errors import DreamParamsError
from dream_core.params import DreamParams, parse_params

ParamsLike = Union[DreamParams, dict, str]

# Format characters that are part of ordinary text (emoji sequences, some scripts).
_ALLOWED_FORMAT = {"\u200c", "\u200d"}


def clean_preset_name(name: Any) -> str:
    """``name`` trimmed and checked against the naming rules; raises :class:`PresetNameInvalid`."""
    if not isinstance(name, str):
        raise PresetNameInvalid("A preset name must be text.")
    cleaned = name.strip()
    if not cleaned:
        raise PresetNameInvalid("A preset name cannot be empty.")
    if len(cleaned) > PRESET_NAME_MAX:
        raise PresetNameInvalid(
            f"A preset name can have at most {PRESET_NAME_MAX} characters (this one has {len(cleaned)})."
        )
    for ch in cleaned:
        cat = unicodedata.category(ch)
        if cat.startswith("C") and ch not in _ALLOWED_FORMAT:
            raise PresetNameInvalid(
                f"A preset name cannot contain control or invisible characters (U+{ord(ch):04X})."
            )
    if all(ch in _ALLOWED_FORMAT or ch.isspace() for ch in cleaned):
        raise PresetNameInvalid("A preset name needs at least one visible character.")
    return cleaned


def name_key(name: str) -> str:
    """The case-insensitive key of a (clean) preset name."""
    return name.casefold()


def validate_params(params: ParamsLike) -> dict[str, Any]:
    """``params`` validated, as stored: only the fields that were set (a preset never
    holds what a strength preset or the bot's defaults fill in). Raises
    :class:`PresetParamsInvalid`. A ``DreamParams`` is trusted."""
    try:
        model = params if isinstance(params, DreamParams) else parse_params(params)
    except DreamParamsError as exc:
        raise PresetParamsInvalid(f"Invalid preset parameters: {exc}") from None
    return model.explicit()


class PresetOps(StoreBase):
    async def create_preset(
        self,
        owner_id: int,
        name: str,
        params: ParamsLike,
        *,
        shared: bool = False,
        owner_name: Optional[str] = None,
    ) -> PresetInfo:
        """Save a new preset. Raises :class:`PresetNameInvalid`, :class:`PresetParamsInvalid`,
        :class:`PresetExists` (same name, any case) or :class:`PresetLimitReached`."""
        clean = clean_preset_name(name)
        data = validate_params(params)
        key = name_key(clean)
        try:
            async with self.db.write() as s:
                await self._ensure_user(s, owner_id, owner_name)
                if await s.scalar(select(Preset.id).where(Preset.owner_id == owner_id, Preset.name_key == key)):
                    raise PresetExists(f"You already have a preset called '{clean}'.")
                count = await s.scalar(select(func.count()).select_from(Preset).where(Preset.owner_id == owner_id))
                if (count or 0) >= self.max_presets_per_user:
                    raise PresetLimitReached(
                        f"You have {count} presets, the most allowed is {self.max_presets_per_user}. "
                        "Delete one first."
                    )
                preset = Preset(owner_id=owner_id, name=clean, name_key=key, params=data, shared=bool(shared))
                s.add(preset)
                await s.flush()
                return preset_info(preset)
        except IntegrityError:  # a concurrent create of the same name (non-SQLite)
            raise PresetExists(f"You already have a preset called '{clean}'.") from None

    async def update_preset(
        self,
        owner_id: int,
        name: str,
        *,
        params: Optional[ParamsLike] = None,
        shared: Optional[bool] = None,
        new_name: Optional[str] = None,
    ) -> PresetInfo:
        """Change an own preset's parameters, shared flag and/or name (``None`` = keep).

        Raises :class:`NotFound` (no own preset of that name) and the errors of
        :meth:`create_preset`.
        """
        data = validate_params(params) if params is not None else None
        clean_new = clean_preset_name(new_name) if new_name is not None else None
        try:
            async with self.db.write() as s:
                preset = await self._own_preset(s, owner_id, name)
                if clean_new is not None and name_key(clean_new) != preset.name_key:
                    taken = await s.scalar(
                        select(Preset.id).where(Preset.owner_id == owner_id, Preset.name_key == name_key(clean_new))
                    )
                    if taken:
                        raise PresetExists(f"You already have a preset called '{clean_new}'.")
                if clean_new is not None:
                    preset.name = clean_new
                    preset.name_key = name_key(clean_new)
                if data is not None:
                    preset.params = data
                if shared is not None:
                    preset.shared = bool(shared)
                preset.updated_at = utcnow()
                await s.flush()
                return preset_info(preset)
        except IntegrityError:
            raise PresetExists(f"You already have a preset called '{clean_new}'.") from None

    async def delete_preset(self, owner_id: int, name: str) -> PresetInfo:
        """Delete an own preset (anyone's default pointing at it is cleared); returns what was
        deleted. Raises :class:`NotFound`."""
        async with self.db.write() as s:
            preset = await self._own_preset(s, owner_id, name)
            info = preset_info(preset)
            await s.execute(update(User).where(User.default_preset_id == preset.id).values(default_preset_id=None))
            await s.delete(preset)
            return info

    async def get_preset(self, user_id: int, name: str) -> PresetInfo:
        """The preset called ``name`` (any case) as seen by ``user_id``: their own first,
        else a shared one (the most used). Raises :class:`NotFound`."""
        async with self.db.read() as s:
            return preset_info(await self._find_preset(s, user_id, name))

    async def get_preset_by_id(self, preset_id: int, *, user_id: Optional[int] = None) -> PresetInfo:
        """A preset by id; with ``user_id``, only if it is theirs or shared. Raises :class:`NotFound`."""
        async with self.db.read() as s:
            preset = await s.get(Preset, preset_id)
            if preset is None or (user_id is not None and preset.owner_id != user_id and not preset.shared):
                raise self._missing("That preset")
            return preset_info(preset)

    async def list_presets(
        self, user_id: int, prefix: str = "", *, limit: int = 25, include_shared: bool = True
    ) -> list[PresetInfo]:
        """Presets whose name starts with ``prefix`` (any case) for autocomplete: the user's own
        (by name), then shared ones of others (most used first) whose names the user does not
        already have. At most ``limit``."""
        key = name_key(prefix.strip()) if prefix else ""
        limit = max(0, min(int(limit), 100))
        async with self.db.read() as s:
            q = select(Preset).where(Preset.owner_id == user_id)
            if key:
                q = q.where(Preset.name_key.startswith(key, autoescape=True))
            own = list((await s.scalars(q.order_by(Preset.name_key).limit(limit))).all())
            result = [preset_info(p) for p in own]
            if include_shared and len(result) < limit:
                seen = {p.name_key for p in own}
                q = select(Preset).where(Preset.shared.is_(True), Preset.owner_id != user_id)
                if key:
                    q = q.where(Preset.name_key.startswith(key, autoescape=True))
                q = q.order_by(Preset.use_count.desc(), Preset.name_key, Preset.id).limit(limit * 3)
                for p in (await s.scalars(q)).all():
                    if len(result) >= limit:
                        break
                    if p.name_key in seen:
                        continue
                    seen.add(p.name_key)
                    result.append(preset_info(p))
            return result

    async def count_presets(self, owner_id: int) -> int:
        """How many presets ``owner_id`` has."""
        async with self.db.read() as s:
            return int(
                await s.scalar(select(func.count()).select_from(Preset).where(Preset.owner_id == owner_id)) or 0
            )

    async def use_preset(self, preset_id: int) -> int:
        """Count one use of a preset; returns the new use count (:class:`NotFound` if gone)."""
        async with self.db.write() as s:
            n = await run_count(
                s, update(Preset).where(Preset.id == preset_id).values(use_count=Preset.use_count + 1)
            )
            if not n:
                raise self._missing("That preset")
            return int(await s.scalar(select(Preset.use_count).where(Preset.id == preset_id)) or 0)

    # ------------------------------------------------------------- user default
    async def set_default_preset(self, user_id: int, name: Optional[str]) -> Optional[PresetInfo]:
        """Make preset ``name`` (own first, then shared) the user's default; ``None`` clears it.

        Raises :class:`NotFound` when no such preset is visible to the user.
        """
        async with self.db.write() as s:
            user = await self._ensure_user(s, user_id)
            if name is None:
                user.default_preset_id = None
                return None
            preset = await self._find_preset(s, user_id, name)
            user.default_preset_id = preset.id
            return preset_info(preset)

    async def get_default_preset(self, user_id: int) -> Optional[PresetInfo]:
        """The user's default preset, or ``None`` (none set, or it is gone or no longer shared)."""
        async with self.db.read() as s:
            user = await s.get(User, user_id)
            if user is None or user.default_preset_id is None:
                return None
            preset = await s.get(Preset, user.default_preset_id)
            if preset is None or (preset.owner_id != user_id and not preset.shared):
                return None
            return preset_info(preset)

    # ------------------------------------------------------------------ helpers
    async def _own_preset(self, s: AsyncSession, owner_id: int, name: str) -> Preset:
        key = name_key(name.strip()) if isinstance(name, str) else ""
        preset = await s.scalar(select(Preset).where(Preset.owner_id == owner_id, Preset.name_key == key))
        if preset is None:
            raise NotFound(f"You have no preset called '{str(name).strip()[:PRESET_NAME_MAX]}'.")
        return preset

    async def _find_preset(self, s: AsyncSession, user_id: int, name: str) -> Preset:
        key = name_key(name.strip()) if isinstance(name, str) else ""
        preset = await s.scalar(select(Preset).where(Preset.owner_id == user_id, Preset.name_key == key))
        if preset is None:
            preset = await s.scalar(
                select(Preset)
                .where(Preset.name_key == key, Preset.shared.is_(True))
                .order_by(Preset.use_count.desc(), Preset.id)
                .limit(1)
            )
        if preset is None:
            raise NotFound(f"No preset called '{str(name).strip()[:PRESET_NAME_MAX]}' was found.")
        return preset
