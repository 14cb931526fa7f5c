"""``/preset save|use|list|show|delete|default|share``: named dream settings."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any, Optional

import discord
from discord import app_commands
from discord.ext import commands

from bot.autocomplete import current_model, layer_choices_for, model_choices, own_preset_choices, preset_choices
from bot.cogs.dream import STRENGTH_CHOICES, pick_image
from bot.replies import UserError
from bot.store.errors import NotFound
from bot.web.command import cli_command
from dream_core.params import DreamParams

if TYPE_CHECKING:  # pragma: no cover
    from bot.app import DreamBot


def parse_more(text: Optional[str]) -> dict[str, Any]:
    """``"octaves=3 keep_colors=true"`` -> ``{"octaves": "3", "keep_colors": "true"}``.

    Keys are checked against :class:`DreamParams`'s fields (validation of the
    values is DreamParams' job).
    """
    if not text:
        return {}
    fields = DreamParams.model_fields
    out: dict[str, Any] = {}
    try:
        parts = shlex.split(text)
    except ValueError:
        raise UserError("I couldn't read those settings — write them like `octaves=3 keep_colors=true`.") from None
    for part in parts:
        key, eq, value = part.partition("=")
        key = key.strip().lower().replace("-", "_")
        if not eq or not key:
            raise UserError(f"`{part}` isn't a setting — write `name=value`, like `octaves=3`.")
        if key not in fields:
            raise UserError(f"There's no setting called `{key}`. Known: {', '.join(fields)}.")
        out[key] = value
    return out


def params_summary(params: DreamParams) -> str:
    """The knobs the preset sets, one ``key: value`` per line."""
    lines = [f"`{name}`: {value}" for name, value in params.explicit_options().items()]
    return "\n".join(lines) or "all defaults"


def preset_dream_command(name: str) -> str:
    """The ``/dream`` line that dreams with preset ``name`` (names have no spaces)."""
    return f"/dream preset:{name}"


class PresetsCog(commands.GroupCog, name="Presets", group_name="preset", group_description="Your saved dream settings"):
    def __init__(self, bot: DreamBot) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(name="save", description="Save dream settings under a name")
    @app_commands.describe(
        name="the preset's name (no spaces)",
        layer="which layer to amplify, e.g. mixed4 or mixed4:97",
        strength="how strong the dream is",
        model="the network that dreams",
        more="any other settings, like: octaves=3 iterations=12 keep_colors=true",
    )
    @app_commands.choices(strength=STRENGTH_CHOICES)
    async def save(
        self,
        interaction: discord.Interaction,
        name: str,
        layer: Optional[str] = None,
        strength: Optional[app_commands.Choice[str]] = None,
        model: Optional[str] = None,
        more: Optional[str] = None,
    ) -> None:
        options = parse_more(more)
        options.update({"layer": layer, "model": model, "strength": strength.value if strength else None})
        params = self.bot.params_policy.preset_from_options(options)
        info, updated = await self.bot.params_policy.save_preset(
            interaction.user.id, name, params, interaction.user.display_name
        )
        verb = "Updated" if updated else "Saved"
        await interaction.response.send_message(
            f"💾 {verb} preset `{info.name}`:\n{params_summary(info.params)}\nUse it with `/dream preset:{info.name}`.",
            ephemeral=True,
        )

    @save.autocomplete("layer")
    async def _save_layer(self, interaction: discord.Interaction, current: str):
        return layer_choices_for(current_model(interaction), current, self.bot.settings.default_model)

    @save.autocomplete("model")
    async def _save_model(self, interaction: discord.Interaction, current: str):
        return model_choices(current)

    @app_commands.command(name="use", description="Dream a picture with one of your presets")
    @app_commands.describe(
        name="the preset",
        image="the picture (default: the newest picture in this channel)",
        image_url="a link to a picture instead",
    )
    async def use(
        self,
        interaction: discord.Interaction,
        name: str,
        image: Optional[discord.Attachment] = None,
        image_url: Optional[str] = None,
    ) -> None:
        params = await self.bot.params_policy.build_params(interaction.user.id, preset=name)
        ref = await pick_image(self.bot, interaction, image, image_url)
        await self.bot.dreams.dream_from_interaction(interaction, params=params, ref=ref, source="preset")

    @app_commands.command(name="list", description="List your presets and the shared ones")
    async def list_(self, interaction: discord.Interaction) -> None:
        uid = interaction.user.id
        presets = await self.bot.store.list_presets(uid, limit=100, include_shared=True)
        default = await self.bot.store.get_default_preset(uid)
        own = [p for p in presets if p.owner_id == uid]
        shared = [p for p in presets if p.owner_id != uid]
        if not presets:
            await interaction.response.send_message(
                "You have no presets yet. Save one with `/preset save` or the 💾 button under a dream.",
                ephemeral=True,
            )
            return
        embed = discord.Embed(title="Presets", colour=discord.Colour.blurple())
        if own:
            lines = []
            for p in own:
                mark = " ⭐ default" if default is not None and default.id == p.id else ""
                shared_mark = " · shared" if p.shared else ""
                lines.append(f"`{p.name}` — {p.params_data.get('layer', 'mixed4')} · "
                             f"{p.params_data.get('strength', 'medium')}{shared_mark}{mark}")
            embed.add_field(name="Yours", value="\n".join(lines)[:1024], inline=False)
        if shared:
            lines = [f"`{p.name}` — {p.params_data.get('layer', 'mixed4')}" for p in shared]
            embed.add_field(name="Shared", value="\n".join(lines)[:1024], inline=False)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(name="show", description="Show what a preset contains")
    @app_commands.describe(name="the preset")
    async def show(self, interaction: discord.Interaction, name: str) -> None:
        preset = await self._find(interaction.user.id, name)
        params = preset.params
        text = f"**{preset.name}**\n{params_summary(params)}"
        text += f"\nDream with it: `{preset_dream_command(preset.name)}`"
        text += f"\n-# CLI: `{cli_command(params, has_source=True)}`"
        await interaction.response.send_message(text[:2000], ephemeral=True)

    @app_commands.command(name="delete", description="Delete one of your presets")
    @app_commands.describe(name="the preset")
    async def delete(self, interaction: discord.Interaction, name: str) -> None:
        try:
            removed = await self.bot.store.delete_preset(interaction.user.id, name)
        except NotFound:
            raise UserError(f"You have no preset called `{name}`. See `/preset list`.") from None
        await interaction.response.send_message(f"🗑️ Deleted preset `{removed.name}`.", ephemeral=True)

    @app_commands.command(name="default", description="Use a preset for the menu and every /dream (empty: clear)")
    @app_commands.describe(name="the preset (leave empty to go back to the normal settings)")
    async def default(self, interaction: discord.Interaction, name: Optional[str] = None) -> None:
        try:
            preset = await self.bot.store.set_default_preset(interaction.user.id, name or None)
        except NotFound:
            raise UserError(f"I don't know a preset called `{name}`. See `/preset list`.") from None
        if preset is not None:
            text = f"⭐ `{preset.name}` is now your default. \"Dream this image\" and `/dream` use it."
        else:
            text = "Your default preset is cleared."
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(name="share", description="Let everyone use one of your presets (or stop sharing it)")
    @app_commands.describe(name="your preset", shared="share it (True) or keep it to yourself (False)")
    async def share(self, interaction: discord.Interaction, name: str, shared: bool = True) -> None:
        try:
            preset = await self.bot.store.update_preset(interaction.user.id, name, shared=shared)
        except NotFound:
            raise UserError(f"You have no preset called `{name}`. See `/preset list`.") from None
        text = f"🤝 `{preset.name}` is shared now." if shared else f"`{preset.name}` is yours alone again."
        await interaction.response.send_message(text, ephemeral=True)

    async def _find(self, user_id: int, name: str) -> Any:
        try:
            return await self.bot.store.get_preset(user_id, name)
        except NotFound:
            raise UserError(f"I don't know a preset called `{name}`. See `/preset list`.") from None

    @use.autocomplete("name")
    @show.autocomplete("name")
    @default.autocomplete("name")
    async def _any_preset(self, interaction: discord.Interaction, current: str):
        return await preset_choices(self.bot, interaction.user.id, current)

    @delete.autocomplete("name")
    @share.autocomplete("name")
    async def _own_preset(self, interaction: discord.Interaction, current: str):
        return await own_preset_choices(self.bot, interaction.user.id, current)


async def setup(bot: DreamBot) -> None:
    await bot.add_cog(PresetsCog(bot))
