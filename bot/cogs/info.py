"""``/layers [model]`` and ``/help``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import discord
from discord import app_commands
from discord.ext import commands

from bot.autocomplete import model_choices
from bot.replies import UserError
from dream_core.params import STRENGTHS

if TYPE_CHECKING:  # pragma: no cover
    from bot.app import DreamBot


HELP_TEXT = """\
**DreamBot** turns your pictures into DeepDreams.

**Dream**
• `/dream image:` — dream a picture (or the newest picture in the channel, or `image_url:`, or `noise:True`)
• Right-click a message → *Apps* → **Dream this image**
• Options: `layer` (try `mixed3`, `mixed4`, `mixed5`, or one filter like `mixed4:42`), \
`strength` ({strengths}), `seed`, `octaves`, `iterations`, `zoom_frames` (animation), `guide:`, `keep_colors`
• Buttons under a dream: 🔁 again · 🌀 deeper · 💾 save as preset · 🖼️ publish · 🗑️ delete

**Presets** — `/preset save`, `/preset use`, `/preset list`, `/preset show`, `/preset delete`, \
`/preset default` (used by the menu), `/preset share`
**History** — `/history`
**Gallery** — `/gallery publish`, `/gallery unpublish`, `/gallery recent`, `/gallery top` (vote with ⭐), \
`/gallery optout`; moderators (Manage Messages): `/gallery hide`, `/gallery unhide`, `/gallery unpublish` any entry; \
admins: `/gallery visibility`, `/dreamadmin queue|cancel|limits`
**Your data** — `/forgetme` deletes your dreams, presets, gallery entries and votes (asks first)
**Layers** — `/layers [model]`; see what each filter has learned with `/atlas layer:mixed4 [model] [page]` \
(◀ ▶ pages, "Dream with filter N" dreams with it)
"""


class InfoCog(commands.Cog, name="Info"):
    def __init__(self, bot: DreamBot) -> None:
        self.bot = bot

    @app_commands.command(name="layers", description="The layers a model can dream with")
    @app_commands.describe(model="the network (default: the bot's default model)")
    async def layers(self, interaction: discord.Interaction, model: Optional[str] = None) -> None:
        from dream_core.catalog import get_info
        from dream_core.errors import DreamParamsError

        name = model or self.bot.settings.default_model
        try:
            spec = get_info(name)
            table = spec.layer_table()
        except DreamParamsError as exc:
            raise UserError(str(exc)) from None
        aliases = [info for info in table if info.alias_of]
        own = [info for info in table if not info.alias_of]
        embed = discord.Embed(title=f"Layers of {name}", description=spec.title, colour=discord.Colour.blurple())
        if aliases:
            embed.add_field(
                name="Favourites",
                value="\n".join(f"`{a.name}` → {a.alias_of} · {a.channels} filters" for a in aliases)[:1024],
                inline=False,
            )
        embed.add_field(
            name="All layers",
            value=", ".join(f"`{o.name}` ({o.channels})" for o in own)[:1024],
            inline=False,
        )
        embed.add_field(
            name="What the filters learned",
            value=f"`/atlas layer:mixed4` shows each filter's picture, 16 a page (add `model:{name}`); "
            "pick one there to dream with it.",
            inline=False,
        )
        embed.set_footer(text="Pick one filter with layer:name:N (e.g. mixed4:42); mix with + and weights with *")
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @layers.autocomplete("model")
    async def _model_autocomplete(self, interaction: discord.Interaction, current: str):
        return model_choices(current)

    @app_commands.command(name="help", description="How to use DreamBot")
    async def help(self, interaction: discord.Interaction) -> None:
        text = HELP_TEXT.format(strengths=", ".join(STRENGTHS))
        web = self.bot.settings.web_url if self.bot.settings.web_enabled else None
        if web:
            text += f"**Web gallery** — {web}\n"
        await interaction.response.send_message(text, ephemeral=True)


async def setup(bot: DreamBot) -> None:
    await bot.add_cog(InfoCog(bot))
