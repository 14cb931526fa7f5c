"""``/history``: your recent dreams with links, paged with buttons."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands, ui
from discord.ext import commands

from bot.views import pager_row

if TYPE_CHECKING:  # pragma: no cover
    from bot.app import DreamBot

STATUS_ICONS = {"queued": "⏳", "running": "🌀", "done": "✅", "failed": "😵", "cancelled": "✖️"}


def message_link(dream: Any) -> str:
    """A jump link to the dream's message, or ``""``."""
    message_id = dream.result_message_id or dream.message_id
    if not (dream.channel_id and message_id):
        return ""
    guild = dream.guild_id or "@me"
    return f"https://discord.com/channels/{guild}/{dream.channel_id}/{message_id}"


def history_line(dream: Any) -> str:
    status = str(getattr(dream.status, "value", dream.status))
    icon = STATUS_ICONS.get(status, "•")
    when = discord.utils.format_dt(dream.created_at, "R")
    layer = dream.params_data.get("layer", "mixed4")
    strength = dream.params_data.get("strength", "medium")
    text = f"{icon} **#{dream.id}** · `{layer}` · {strength} · {when}"
    if status == "done" and dream.seconds is not None:
        text += f" · {dream.seconds:.0f} s"
    if status == "failed" and dream.error:
        text += f" · {dream.error[:60]}"
    link = message_link(dream)
    if link:
        text += f" · [open]({link})"
    return text


class HistoryCog(commands.Cog, name="History"):
    def __init__(self, bot: DreamBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.pagers["history"] = self.show_page

    async def cog_unload(self) -> None:
        self.bot.pagers.pop("history", None)

    async def render(self, user_id: int, page: int) -> tuple[discord.Embed, ui.View]:
        listing = await self.bot.store.list_history(user_id, page=page, page_size=self.bot.settings.page_size)
        embed = discord.Embed(title="Your dreams", colour=discord.Colour.blurple())
        if listing.items:
            embed.description = "\n".join(history_line(d) for d in listing.items)
        else:
            embed.description = "No dreams yet — try `/dream` with a picture!"
        noun = "dream" if listing.total == 1 else "dreams"
        embed.set_footer(text=f"{listing.total} {noun} · page {listing.page + 1}/{listing.pages}")
        view = pager_row(ui.View(timeout=None), "history", user_id, listing.page, listing.pages)
        return embed, view

    @app_commands.command(name="history", description="Your recent dreams")
    async def history(self, interaction: discord.Interaction) -> None:
        embed, view = await self.render(interaction.user.id, 0)
        await interaction.response.send_message(embed=embed, view=view, ephemeral=True)

    async def show_page(self, interaction: discord.Interaction, user_id: int, page: int) -> None:
        """Page button: only the owner may page their history."""
        if interaction.user.id != user_id:
            await interaction.response.send_message("That's someone else's history.", ephemeral=True)
            return
        embed, view = await self.render(user_id, page)
        await interaction.response.edit_message(embed=embed, view=view)


async def setup(bot: DreamBot) -> None:
    await bot.add_cog(HistoryCog(bot))
