"""``/dreamadmin queue|cancel|limits`` for server admins (Manage Server)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Optional

import discord
from discord import app_commands
from discord.ext import commands

from bot.replies import UserError

if TYPE_CHECKING:  # pragma: no cover
    from bot.app import DreamBot


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB"


@app_commands.default_permissions(manage_guild=True)
@app_commands.guild_only()
class AdminCog(
    commands.GroupCog, name="Admin", group_name="dreamadmin", group_description="DreamBot tools for server admins"
):
    def __init__(self, bot: DreamBot) -> None:
        self.bot = bot
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        perms = interaction.permissions
        if not (perms.manage_guild or perms.administrator):
            raise app_commands.MissingPermissions(["manage_guild"])
        return True

    @app_commands.command(name="queue", description="What is dreaming in this server right now")
    async def queue(self, interaction: discord.Interaction) -> None:
        status = self.bot.executor.status()
        mine = [a for a in self.bot.dreams.active.values() if a.guild_id == interaction.guild_id]
        lines = [
            f"Queue: **{status.queue_depth}** waiting, **{status.running_jobs}** dreaming "
            f"({status.workers_alive} worker{'s' if status.workers_alive != 1 else ''} up)",
            f"This server: **{len(mine)}** of at most {self.bot.settings.guild_concurrent_jobs}",
        ]
        now = time.monotonic()
        for a in sorted(mine, key=lambda a: a.dream_id):
            state = "dreaming" if a.job is not None and getattr(a.job, "started_at", None) else "waiting"
            lines.append(f"• #{a.dream_id} by <@{a.user_id}> — {state}, {now - a.started:.0f} s so far")
        await interaction.response.send_message(
            "\n".join(lines), ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )

    @app_commands.command(name="cancel", description="Stop a dream (or all of one member's) in this server")
    @app_commands.describe(dream="the dream's number", member="cancel everything this member is dreaming")
    async def cancel(
        self, interaction: discord.Interaction, dream: Optional[int] = None, member: Optional[discord.User] = None
    ) -> None:
        if dream is None and member is None:
            raise UserError("Tell me which `dream` (its number) or which `member` to cancel.")
        targets = [
            a
            for a in self.bot.dreams.active.values()
            if a.guild_id == interaction.guild_id
            and (dream is None or a.dream_id == dream)
            and (member is None or a.user_id == member.id)
        ]
        if not targets:
            raise UserError("Nothing like that is dreaming in this server.")
        for a in targets:
            await self.bot.dreams.cancel(a.dream_id)
        ids = ", ".join(f"#{a.dream_id}" for a in targets)
        await interaction.response.send_message(f"✖️ Cancelling {ids}.", ephemeral=True)

    @cancel.autocomplete("dream")
    async def _active_dreams(self, interaction: discord.Interaction, current: str):
        out = []
        for a in self.bot.dreams.active.values():
            if a.guild_id == interaction.guild_id and current.strip().lstrip("#") in str(a.dream_id):
                out.append(app_commands.Choice(name=f"#{a.dream_id} (user {a.user_id})", value=a.dream_id))
        return out[:25]

    @app_commands.command(name="limits", description="The limits DreamBot applies")
    async def limits(self, interaction: discord.Interaction) -> None:
        s = self.bot.settings
        cooldown = f"one dream every {s.user_cooldown_s:.0f} s" if s.user_cooldown_s else "no cooldown"
        lines = [
            f"Pictures: up to {_mb(s.max_attachment_bytes)} and {s.max_pixels / 1e6:.0f} megapixels; "
            f"dreamed at up to {s.max_size} px",
            f"Animations: up to {s.max_zoom_frames} frames",
            f"Per member: {cooldown}, {s.max_queued_per_user} at a time",
            f"Per server: {s.guild_concurrent_jobs} dreams at a time, {s.max_queued_per_guild} waiting",
            f"Whole bot: {s.max_queue} waiting; each dream may run {s.job_timeout_s / 60:.0f} min",
            f"Presets: {s.max_presets_per_user} per member",
        ]
        await interaction.response.send_message("\n".join(lines), ephemeral=True)


async def setup(bot: DreamBot) -> None:
    await bot.add_cog(AdminCog(bot))
