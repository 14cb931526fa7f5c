"""Autocomplete answers shared by the cogs: models, layers (with filters), presets, dreams.

Each function returns at most 25 :class:`discord.app_commands.Choice` (Discord's
limit) and never raises: autocomplete must answer quickly or not at all.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Optional

import discord
from discord import app_commands

from bot.atlas_labels import filter_hint

if TYPE_CHECKING:  # pragma: no cover
    from bot.app import DreamBot

log = logging.getLogger(__name__)

MAX_CHOICES = 25
Choice = app_commands.Choice


def model_names() -> list[str]:
    from dream_core.catalog import model_names as catalogued

    return catalogued()


def layer_suggestions(model: str, current: str, limit: int = MAX_CHOICES) -> list[str]:
    """Layer specs for ``model`` matching what the user typed.

    ``mixed4`` suggests layer names (aliases first); ``mixed4:`` or
    ``mixed4:1`` suggests filters of that layer (``mixed4:1``, ``mixed4:10``...);
    in a combined spec (``a+b``) only the last term is completed.
    """
    from dream_core.catalog import layer_names, layer_table  # torch-free (dream_core.models imports torch)

    try:
        channels = {info.name: info.channels for info in layer_table(model)}
        names = layer_names(model)  # aliases first
    except Exception:  # unknown model: nothing to suggest
        return []
    typed = current.strip().replace(" ", "")
    head, sep, last = typed.rpartition("+")
    prefix = head + sep
    name, colon, filt = last.partition(":")
    name_l = name.lower()
    if colon and name_l in channels:
        out = [f"{name_l}:{i}" for i in range(channels[name_l]) if str(i).startswith(filt)]
    else:
        starts = [n for n in names if n.startswith(name_l)]
        inside = [n for n in names if name_l in n and n not in starts]
        out = starts + inside
        if name_l in channels:  # an exact layer: show some of its filters too
            out += [f"{name_l}:{i}" for i in range(min(channels[name_l], limit))]
    return [prefix + o for o in out][:limit]


def layer_choices_for(model: Optional[str], current: str, default_model: str) -> list[Choice[str]]:
    """Layer choices for the model the user picked, else the bot's ``default_model`` (its settings);
    a filter's choice names its ``/atlas`` page (:func:`bot.atlas_labels.filter_hint`)."""
    return [Choice(name=filter_hint(s), value=s) for s in layer_suggestions(model or default_model, current)]


def model_choices(current: str) -> list[Choice[str]]:
    cur = current.strip().lower()
    return [Choice(name=m, value=m) for m in model_names() if cur in m.lower()][:MAX_CHOICES]


async def preset_choices(bot: DreamBot, user_id: int, current: str) -> list[Choice[str]]:
    """The user's presets, then shared ones, matching ``current``."""
    try:
        presets = await bot.store.list_presets(user_id, limit=100, include_shared=True)
    except Exception:
        log.warning("preset autocomplete failed", exc_info=True)
        return []
    cur = current.strip().lower()
    out: list[Choice[str]] = []
    seen: set[str] = set()
    for p in sorted(presets, key=lambda p: (p.owner_id != user_id, p.name)):
        if cur and cur not in p.name.lower():
            continue
        if p.name in seen:
            continue
        seen.add(p.name)
        label = p.name if p.owner_id == user_id else f"{p.name} (shared)"
        out.append(Choice(name=label, value=p.name))
    return out[:MAX_CHOICES]


async def own_preset_choices(bot: DreamBot, user_id: int, current: str) -> list[Choice[str]]:
    """Only the user's own presets (for delete/share)."""
    return [c for c in await preset_choices(bot, user_id, current) if not c.name.endswith("(shared)")]


async def dream_choices(bot: DreamBot, user_id: int, current: str, *, finished_only: bool = True) -> list[Choice[int]]:
    """The user's recent dreams (``#12 · mixed4 · medium``)."""
    try:
        statuses = ["done"] if finished_only else None
        page = await bot.store.list_history(user_id, page=0, page_size=MAX_CHOICES, statuses=statuses)
    except Exception:
        log.warning("dream autocomplete failed", exc_info=True)
        return []
    cur = current.strip().lower().lstrip("#")
    out: list[Choice[int]] = []
    for d in page.items:
        label = f"#{d.id} · {d.params_data.get('layer', '?')} · {d.params_data.get('strength', 'medium')}"
        if cur and cur not in label.lower():
            continue
        out.append(Choice(name=label[:100], value=d.id))
    return out


def current_model(interaction: discord.Interaction) -> Optional[str]:
    """The ``model`` option the user already filled in, if any."""
    value = getattr(interaction.namespace, "model", None)
    return str(value) if value else None
