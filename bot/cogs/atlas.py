"""``/atlas layer:mixed4 [model] [page]``: what each filter of a layer wants to see. Thin: the
work is in :class:`bot.atlas_service.AtlasService`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import discord
from discord import app_commands
from discord.ext import commands

from bot.autocomplete import current_model, layer_choices_for, model_choices

if TYPE_CHECKING:  # pragma: no cover
    from bot.app import DreamBot


class AtlasCog(commands.Cog, name="Atlas"):
    def __init__(self, bot: DreamBot) -> None:
        self.bot = bot

    @app_commands.command(name="atlas", description="See what the filters of a layer have learned")
    @app_commands.describe(
        layer="the layer, e.g. mixed3, mixed4 or mixed5",
        model="the network (default: the bot's default model)",
        page="which 16 filters (page 1: filters 0-15)",
    )
    async def atlas(
        self,
        interaction: discord.Interaction,
        layer: str,
        model: Optional[str] = None,
        page: app_commands.Range[int, 1, 10_000] = 1,
    ) -> None:
        await self.bot.atlas.show(interaction, model, layer, page)

    @atlas.autocomplete("layer")
    async def _layer_autocomplete(self, interaction: discord.Interaction, current: str):
        typed = current.partition(":")[0]
        choices = layer_choices_for(current_model(interaction), typed, self.bot.settings.default_model)
        return [c for c in choices if ":" not in c.value]

    @atlas.autocomplete("model")
    async def _model_autocomplete(self, interaction: discord.Interaction, current: str):
        return model_choices(current)


async def setup(bot: DreamBot) -> None:
    await bot.add_cog(AtlasCog(bot))
