"""``/dream`` and the "Dream this image" message menu. Thin: the work is in the params policy and the dream runner."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import discord
from discord import app_commands
from discord.ext import commands

from bot.attachments import ImageRef, find_recent_image, image_in_message, ref_from_attachment, ref_from_url
from bot.autocomplete import current_model, layer_choices_for, model_choices, preset_choices
from bot.replies import UserError, send_error
from dream_core.params import STRENGTHS

if TYPE_CHECKING:  # pragma: no cover
    from bot.app import DreamBot

STRENGTH_CHOICES = [app_commands.Choice(name=s, value=s) for s in STRENGTHS]


async def pick_image(
    bot: DreamBot,
    interaction: discord.Interaction,
    image: Optional[discord.Attachment],
    image_url: Optional[str],
) -> ImageRef:
    """The attachment, else the link, else the newest image in the channel."""
    if image is not None:
        return ref_from_attachment(image)
    if image_url:
        return ref_from_url(image_url)
    limit = bot.settings.channel_scan_messages
    ref = await find_recent_image(interaction.channel, limit=limit) if limit else None
    if ref is None:
        blind = "" if bot.intents.message_content else " (I can't see other people's attachments here)"
        raise UserError(
            f"I didn't find a picture in the last {limit} messages here{blind}. "
            "Attach one with `image:`, give an `image_url:`, or use `noise:True` to dream from scratch."
        )
    return ref


class DreamCog(commands.Cog, name="Dream"):
    """Making dreams."""

    def __init__(self, bot: DreamBot) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(name="Dream this image", callback=self.dream_message)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    @app_commands.command(name="dream", description="Turn a picture into a DeepDream")
    @app_commands.describe(
        image="the picture to dream (default: the newest picture in this channel)",
        layer="which layer to amplify, e.g. mixed4 or mixed4:97 (one filter)",
        strength="how strong the dream is",
        preset="one of your presets (or a shared one)",
        model="the network that dreams",
        seed="repeat a dream exactly",
        octaves="number of scales (more = bigger patterns)",
        iterations="steps per octave (more = stronger)",
        zoom_frames="make an endless-zoom animation with this many frames",
        guide="a second picture whose features steer the dream",
        keep_colors="keep the original colours",
        image_url="a link to a picture instead of an attachment",
        noise="dream from scratch, without a picture",
    )
    @app_commands.choices(strength=STRENGTH_CHOICES)
    async def dream(
        self,
        interaction: discord.Interaction,
        image: Optional[discord.Attachment] = None,
        layer: Optional[str] = None,
        strength: Optional[app_commands.Choice[str]] = None,
        preset: Optional[str] = None,
        model: Optional[str] = None,
        seed: Optional[int] = None,
        octaves: Optional[int] = None,
        iterations: Optional[int] = None,
        zoom_frames: Optional[int] = None,
        guide: Optional[discord.Attachment] = None,
        keep_colors: Optional[bool] = None,
        image_url: Optional[str] = None,
        noise: Optional[bool] = None,
    ) -> None:
        options = {
            "layer": layer,
            "strength": strength.value if strength else None,
            "model": model,
            "seed": seed,
            "octaves": octaves,
            "iterations": iterations,
            "zoom_frames": zoom_frames,
            "keep_colors": keep_colors,
        }
        params = await self.bot.params_policy.build_params(interaction.user.id, preset=preset, options=options)
        ref = None if noise else await pick_image(self.bot, interaction, image, image_url)
        guide_ref = ref_from_attachment(guide) if guide is not None else None
        await self.bot.dreams.dream_from_interaction(
            interaction, params=params, ref=ref, guide_ref=guide_ref, source="dream"
        )

    @dream.autocomplete("layer")
    async def _layer_autocomplete(self, interaction: discord.Interaction, current: str):
        return layer_choices_for(current_model(interaction), current, self.bot.settings.default_model)

    @dream.autocomplete("model")
    async def _model_autocomplete(self, interaction: discord.Interaction, current: str):
        return model_choices(current)

    @dream.autocomplete("preset")
    async def _preset_autocomplete(self, interaction: discord.Interaction, current: str):
        return await preset_choices(self.bot, interaction.user.id, current)

    async def dream_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """Message menu: dream the message's picture with the user's default preset."""
        ref = image_in_message(message)
        if ref is None:
            await send_error(interaction, "That message has no picture I can dream.")
            return
        params = await self.bot.params_policy.build_params(interaction.user.id)
        await self.bot.dreams.dream_from_interaction(interaction, params=params, ref=ref, source="menu")


async def setup(bot: DreamBot) -> None:
    await bot.add_cog(DreamCog(bot))
