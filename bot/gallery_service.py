"""The gallery service: publishing a dream to its server's gallery and voting on entries.

Used by the ``/gallery`` commands (:mod:`bot.cogs.gallery`), the 🖼️ button under a
dream (:mod:`bot.buttons`) and the ⭐ button under a gallery page
(:class:`bot.views.VoteButton`), so none of them has to look up another cog.
"""

from __future__ import annotations

import logging
from typing import Any, Optional, Protocol

import discord
from discord import ui

from bot.collaborators import GalleryRecords
from bot.replies import UserError, find_dream, send_error
from bot.store.errors import StoreError

log = logging.getLogger(__name__)


class GallerySettings(Protocol):
    """The settings the gallery service reads."""

    @property
    def web_enabled(self) -> bool: ...
    @property
    def web_url(self) -> Optional[str]: ...


def visibility_of(guild: Any) -> str:
    """``public`` | ``unlisted`` | ``off`` of a guild record."""
    return str(getattr(guild.gallery_visibility, "value", guild.gallery_visibility))


class GalleryService:
    """Publishing and votes for the servers' galleries. One per bot."""

    def __init__(self, settings: GallerySettings, store: GalleryRecords) -> None:
        self.settings = settings
        self.store = store

    async def web_link(self, guild_id: int) -> Optional[str]:
        """The web gallery's address for this server, when the web gallery runs and it isn't off."""
        s = self.settings
        if not (s.web_enabled and s.web_url):
            return None
        guild = await self.store.touch_guild(guild_id)
        visibility = visibility_of(guild)
        if visibility == "off":
            return None
        from bot.web.urls import gallery_url

        key = guild.unlisted_token if visibility == "unlisted" else None
        return gallery_url(guild_id, key=key, base=s.web_url)

    async def require_on(self, guild_id: int, guild_name: Optional[str] = None) -> None:
        """Raise :class:`UserError` when this server's gallery is switched off."""
        guild = await self.store.touch_guild(guild_id, guild_name)
        if visibility_of(guild) == "off":
            raise UserError(
                "This server's gallery is switched off. An admin can turn it on with `/gallery visibility`."
            )

    async def publish(self, interaction: discord.Interaction, dream_id: int, title: Optional[str] = None) -> None:
        """Publish one of the user's finished dreams (``/gallery publish`` and the 🖼️ button)."""
        if interaction.guild_id is None:
            raise UserError("Galleries belong to servers — publish from a server channel.")
        dream = await find_dream(self.store, dream_id)
        if dream.user_id != interaction.user.id:
            raise UserError("Only the person who dreamed this can publish it.")
        guild_name = interaction.guild.name if interaction.guild else None
        await self.require_on(interaction.guild_id, guild_name)
        item = await self.store.publish(
            dream_id,
            interaction.guild_id,
            by_user_id=interaction.user.id,
            title=title,
            guild_name=guild_name,
        )
        text = f"🖼️ Published dream #{dream_id} to this server's gallery (entry {item.id})."
        link = await self.web_link(interaction.guild_id)
        if link:
            text += f"\nSee it on the web: {link}"
        await interaction.response.send_message(text, ephemeral=True)

    async def vote(self, interaction: discord.Interaction, entry_id: int) -> None:
        """⭐ button: vote for an entry, or take the vote back."""
        store = self.store
        try:
            if await store.has_voted(entry_id, interaction.user.id):
                state = await store.unvote(entry_id, interaction.user.id)
            else:
                state = await store.vote(entry_id, interaction.user.id, user_name=interaction.user.display_name)
        except StoreError as exc:
            await send_error(interaction, str(exc))
            return
        view = ui.View.from_message(interaction.message, timeout=None) if interaction.message else None
        if view is not None:
            for child in view.children:
                if isinstance(child, ui.Button) and child.custom_id == f"vote:{entry_id}":
                    child.label = str(state.votes)
            # only the label changes; the buttons stay dispatched by their DynamicItem templates,
            # so this plain copy must not be registered as the message's view
            view.stop()
            await interaction.response.edit_message(view=view)
        else:
            await interaction.response.defer()
        text = "⭐ Thanks for your vote!" if state.voted else "Your vote is taken back."
        await interaction.followup.send(text, ephemeral=True)
