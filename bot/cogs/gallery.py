"""``/gallery publish|unpublish|recent|top|optout|visibility|hide|unhide``: this server's
gallery, with votes and moderation (hide/unhide by members with Manage Messages or
Manage Server)."""

from __future__ import annotations

import asyncio
import io
import logging
from typing import TYPE_CHECKING, Any, Literal, Optional

import discord
from discord import app_commands, ui
from discord.ext import commands

from bot.autocomplete import dream_choices
from bot.replies import UserError
from bot.store.gallery import GallerySort
from bot.upload import fit_upload
from bot.views import VoteButton, pager_row

if TYPE_CHECKING:  # pragma: no cover
    from bot.app import DreamBot

log = logging.getLogger(__name__)

BROWSE_UPLOAD_LIMIT = 8 * 1024 * 1024


def is_moderator(interaction: discord.Interaction) -> bool:
    """Gallery moderators: members with Manage Messages, Manage Server or Administrator."""
    perms = getattr(interaction, "permissions", None)
    return bool(perms and (perms.manage_messages or perms.manage_guild or perms.administrator))


MODERATORS_ONLY = "Only moderators (members with *Manage Messages* or *Manage Server*) can {what}."


def entry_label(item: Any) -> str:
    """``#7 · My title · by alice (hidden)`` for autocomplete lists (at most 100 characters)."""
    title = item.title or f"Dream #{item.dream.id}"
    label = f"#{item.id} · {title} · by {item.author_name or item.author_id}"
    if item.hidden:
        label += " (hidden)"
    return label[:100]


@app_commands.guild_only()
class GalleryCog(
    commands.GroupCog, name="Gallery", group_name="gallery", group_description="This server's dream gallery"
):
    def __init__(self, bot: DreamBot) -> None:
        self.bot = bot
        super().__init__()

    async def cog_load(self) -> None:
        self.bot.pagers["recent"] = self._page_recent
        self.bot.pagers["top"] = self._page_top

    async def cog_unload(self) -> None:
        self.bot.pagers.pop("recent", None)
        self.bot.pagers.pop("top", None)

    # ------------------------------------------------------------------ helpers
    async def web_link(self, guild_id: int) -> Optional[str]:
        """The web gallery's address for this server (see :meth:`GalleryService.web_link`)."""
        return await self.bot.gallery.web_link(guild_id)

    # ------------------------------------------------------------------ publishing
    @app_commands.command(name="publish", description="Publish one of your dreams to this server's gallery")
    @app_commands.describe(dream="which dream (your recent ones are suggested)", title="a title for it")
    async def publish_cmd(
        self, interaction: discord.Interaction, dream: int, title: Optional[app_commands.Range[str, 1, 100]] = None
    ) -> None:
        await self.bot.gallery.publish(interaction, dream, title)

    @publish_cmd.autocomplete("dream")
    async def _dream_autocomplete(self, interaction: discord.Interaction, current: str):
        return await dream_choices(self.bot, interaction.user.id, current)

    async def entry_of(
        self, interaction: discord.Interaction, entry: Optional[int], dream: Optional[int]
    ) -> Any:
        """The gallery entry of this server named by its number (``entry``) or by its dream's
        number (``dream``); hidden entries included. One line of error otherwise."""
        if interaction.guild_id is None:
            raise UserError("Galleries belong to servers — try this in a server channel.")
        if entry is None and dream is None:
            raise UserError("Tell me which gallery `entry` (or which `dream`) you mean.")
        from bot.store.errors import NotFound

        item = None
        if entry is not None:
            try:
                item = await self.bot.store.get_entry(entry, include_hidden=True)
            except NotFound:
                item = None
        else:
            assert dream is not None
            item = await self.bot.store.find_entry(interaction.guild_id, dream)
        if item is None or item.guild_id != interaction.guild_id:
            what = f"entry #{entry}" if entry is not None else f"dream #{dream}"
            raise UserError(f"This server's gallery has no {what}.")
        return item

    async def entry_choices(
        self, interaction: discord.Interaction, current: str, *, hidden: Optional[bool] = None, mine_only: bool = False
    ) -> list[app_commands.Choice[int]]:
        """This server's entries matching ``current`` (``hidden``: only hidden / only shown ones;
        ``mine_only``: only the user's own). Never raises."""
        if interaction.guild_id is None:
            return []
        try:
            listing = await self.bot.store.list_gallery(
                interaction.guild_id, sort="recent", page=0, page_size=100, include_hidden=True
            )
        except Exception:
            log.warning("gallery entry autocomplete failed", exc_info=True)
            return []
        cur = current.strip().lower().lstrip("#")
        out: list[app_commands.Choice[int]] = []
        for item in listing.items:
            if hidden is not None and item.hidden != hidden:
                continue
            if mine_only and item.author_id != interaction.user.id:
                continue
            label = entry_label(item)
            if cur and cur not in label.lower() and cur != str(item.dream.id):
                continue
            out.append(app_commands.Choice(name=label, value=item.id))
        return out[:25]

    @app_commands.command(
        name="unpublish", description="Take a dream out of this server's gallery (yours, or any as a moderator)"
    )
    @app_commands.describe(entry="the gallery entry (suggested)", dream="or: the dream's number")
    async def unpublish(
        self, interaction: discord.Interaction, entry: Optional[int] = None, dream: Optional[int] = None
    ) -> None:
        item = await self.entry_of(interaction, entry, dream)
        moderator = is_moderator(interaction)
        if item.author_id != interaction.user.id and not moderator:
            raise UserError(MODERATORS_ONLY.format(what="unpublish other people's dreams"))
        await self.bot.store.unpublish(item.id, by_user_id=interaction.user.id, moderator=moderator)
        log.info("gallery entry %s (dream %s) unpublished by %s", item.id, item.dream.id, interaction.user.id)
        await interaction.response.send_message(
            f"🗑️ Dream #{item.dream.id} is out of this server's gallery (entry {item.id} and its votes are gone).",
            ephemeral=True,
        )

    @unpublish.autocomplete("entry")
    async def _unpublish_autocomplete(self, interaction: discord.Interaction, current: str):
        return await self.entry_choices(interaction, current, mine_only=not is_moderator(interaction))

    @app_commands.command(name="hide", description="Moderators: hide an entry from this server's gallery")
    @app_commands.describe(entry="the gallery entry (suggested)", dream="or: the dream's number")
    async def hide(
        self, interaction: discord.Interaction, entry: Optional[int] = None, dream: Optional[int] = None
    ) -> None:
        await self._set_hidden(interaction, entry, dream, hidden=True)

    @app_commands.command(name="unhide", description="Moderators: show a hidden entry in this server's gallery again")
    @app_commands.describe(entry="the hidden gallery entry (suggested)", dream="or: the dream's number")
    async def unhide(
        self, interaction: discord.Interaction, entry: Optional[int] = None, dream: Optional[int] = None
    ) -> None:
        await self._set_hidden(interaction, entry, dream, hidden=False)

    async def _set_hidden(
        self, interaction: discord.Interaction, entry: Optional[int], dream: Optional[int], *, hidden: bool
    ) -> None:
        if not is_moderator(interaction):
            raise UserError(MODERATORS_ONLY.format(what="hide or unhide gallery entries"))
        item = await self.entry_of(interaction, entry, dream)
        if item.hidden == hidden:
            state = "already hidden" if hidden else "not hidden"
            await interaction.response.send_message(f"Entry #{item.id} is {state}.", ephemeral=True)
            return
        if hidden:
            await self.bot.store.hide_entry(item.id, moderator=True)
            text = (
                f"🙈 Entry #{item.id} (dream #{item.dream.id}) is hidden from the gallery. "
                "`/gallery unhide` brings it back."
            )
        else:
            await self.bot.store.unhide_entry(item.id, moderator=True)
            text = f"👀 Entry #{item.id} (dream #{item.dream.id}) shows in the gallery again."
        log.info("gallery entry %s %s by %s", item.id, "hidden" if hidden else "unhidden", interaction.user.id)
        await interaction.response.send_message(text, ephemeral=True)

    @hide.autocomplete("entry")
    async def _hide_autocomplete(self, interaction: discord.Interaction, current: str):
        if not is_moderator(interaction):
            return []
        return await self.entry_choices(interaction, current, hidden=False)

    @unhide.autocomplete("entry")
    async def _unhide_autocomplete(self, interaction: discord.Interaction, current: str):
        if not is_moderator(interaction):
            return []
        return await self.entry_choices(interaction, current, hidden=True)

    # ------------------------------------------------------------------ browsing
    async def render(self, guild_id: int, sort: GallerySort, page: int) -> dict[str, Any]:
        """The message for one gallery page (one entry per page, with its picture)."""
        listing = await self.bot.store.list_gallery(guild_id, sort=sort, page=page, page_size=1)
        title = "🆕 Newest dreams" if sort == "recent" else "🏆 Top dreams"
        embed = discord.Embed(title=title, colour=discord.Colour.gold())
        files: list[discord.File] = []
        extra: list[ui.Item[Any]] = []
        if not listing.items:
            embed.description = "Nothing here yet. Publish a dream with the 🖼️ button or `/gallery publish`."
        else:
            item = listing.items[0]
            dream = item.dream
            embed.description = (
                f"**{item.title or f'Dream #{dream.id}'}** by <@{item.author_id}>\n"
                f"`{dream.params_data.get('layer', 'mixed4')}` · {dream.params_data.get('strength', 'medium')}"
                f" · ⭐ {item.votes}"
            )
            if dream.result is not None:
                try:
                    data = await self.bot.files.aread(dream.result.sha256)
                    video = dream.result.content_type.startswith("video/")
                    if video and len(data) > BROWSE_UPLOAD_LIMIT:  # a dreamed clip can't be re-encoded here
                        raise ValueError(f"video of {len(data)} bytes is over the browse limit")
                    upload = await asyncio.to_thread(fit_upload, data, dream.result.ext, BROWSE_UPLOAD_LIMIT)
                    name = f"gallery-{item.id}.{upload.extension}"
                    files.append(discord.File(io.BytesIO(upload.data), filename=name))
                    if not video:  # a video is no embed image: Discord plays the attachment
                        embed.set_image(url=f"attachment://{name}")
                except Exception:
                    log.warning("gallery image of entry %s unavailable", item.id, exc_info=True)
            extra.append(VoteButton(item.id, item.votes))
        link = await self.web_link(guild_id)
        if link:
            embed.url = link
        embed.set_footer(text=f"{listing.total} in this server's gallery")
        view = pager_row(ui.View(timeout=None), sort, guild_id, listing.page, listing.pages, extra=extra)
        return {"embed": embed, "view": view, "files": files}

    async def _browse(self, interaction: discord.Interaction, sort: GallerySort) -> None:
        if interaction.guild_id is None:
            raise UserError("Galleries belong to servers — try this in a server channel.")
        await self.bot.gallery.require_on(interaction.guild_id)
        await interaction.response.defer()
        content = await self.render(interaction.guild_id, sort, 0)
        await interaction.followup.send(**content)

    @app_commands.command(name="recent", description="The newest dreams in this server's gallery")
    async def recent(self, interaction: discord.Interaction) -> None:
        await self._browse(interaction, "recent")

    @app_commands.command(name="top", description="The most-voted dreams in this server's gallery")
    async def top(self, interaction: discord.Interaction) -> None:
        await self._browse(interaction, "top")

    async def _page(self, interaction: discord.Interaction, sort: GallerySort, guild_id: int, page: int) -> None:
        await interaction.response.defer()
        content = await self.render(guild_id, sort, page)
        await interaction.edit_original_response(
            embed=content["embed"], view=content["view"], attachments=content["files"]
        )

    async def _page_recent(self, interaction: discord.Interaction, guild_id: int, page: int) -> None:
        await self._page(interaction, "recent", guild_id, page)

    async def _page_top(self, interaction: discord.Interaction, guild_id: int, page: int) -> None:
        await self._page(interaction, "top", guild_id, page)

    @app_commands.command(name="optout", description="Keep all your dreams out of every gallery (or let them in again)")
    @app_commands.describe(out="True: hide my dreams from galleries; False: show them again")
    async def optout(self, interaction: discord.Interaction, out: bool = True) -> None:
        await self.bot.store.set_gallery_opt_out(interaction.user.id, out)
        text = (
            "🙈 Your dreams are out of every gallery now, and can't be published."
            if out
            else "👀 Your published dreams show in galleries again."
        )
        await interaction.response.send_message(text, ephemeral=True)

    # ------------------------------------------------------------------ admin
    @app_commands.command(
        name="visibility", description="Admins: show the web gallery to everyone, by link only, or not at all"
    )
    @app_commands.describe(mode="public: listed on the web; unlisted: only with the link; off: no gallery")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def visibility(
        self, interaction: discord.Interaction, mode: Literal["public", "unlisted", "off"]
    ) -> None:
        assert interaction.guild_id is not None
        await self.bot.store.set_gallery_visibility(
            interaction.guild_id, mode, guild_name=interaction.guild.name if interaction.guild else None
        )
        text = {
            "public": "🌍 The gallery is public: anyone can find it on the web.",
            "unlisted": "🔗 The gallery is unlisted: only people with the link can see it.",
            "off": "🚫 The gallery is off: nothing can be published or browsed.",
        }[mode]
        link = await self.web_link(interaction.guild_id)
        if link:
            text += f"\n{link}"
        await interaction.response.send_message(text, ephemeral=True)


async def setup(bot: DreamBot) -> None:
    await bot.add_cog(GalleryCog(bot))
