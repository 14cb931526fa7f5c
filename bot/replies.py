"""How the bot answers a user about a problem: :class:`UserError` and :func:`send_error`.

Every message a user sees about a problem is a :class:`UserError`; it is sent
ephemerally, whatever state the interaction is in.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Protocol

import discord

from bot.store.errors import NotFound
from bot.store.records import DreamInfo

log = logging.getLogger(__name__)

SORRY = "Something went wrong on my side. Please try again."


def as_sentence(text: str) -> str:
    """``text`` on one line, ending in a full stop unless it already ends a sentence."""
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else text + "."


class UserError(Exception):
    """Something the user can fix. ``str(exc)`` is shown to them, ephemerally."""


async def send_error(interaction: discord.Interaction, message: str) -> None:
    """Send ``message`` ephemerally, whatever state the interaction is in."""
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(f"⚠️ {message}", ephemeral=True)
        else:
            await interaction.followup.send(f"⚠️ {message}", ephemeral=True)
    except discord.HTTPException:
        log.warning("could not send error to user %s: %s", interaction.user.id, message)


async def fail_early(interaction: discord.Interaction, message: str) -> None:
    """After a public defer: drop the 'thinking' message and answer ephemerally."""
    with contextlib.suppress(discord.HTTPException):
        await interaction.delete_original_response()
    await send_error(interaction, message)


def is_admin(interaction: discord.Interaction) -> bool:
    """Members with Manage Server or Administrator in this channel."""
    perms = getattr(interaction, "permissions", None)
    return bool(perms and (perms.manage_guild or perms.administrator))


class _DreamLookup(Protocol):
    async def get_dream(self, dream_id: int) -> DreamInfo: ...


async def find_dream(store: _DreamLookup, dream_id: int) -> DreamInfo:
    """The stored dream, or a :class:`UserError` saying it is gone."""
    try:
        return await store.get_dream(dream_id)
    except NotFound:
        raise UserError("I can't find that dream anymore — it may have been deleted.") from None
