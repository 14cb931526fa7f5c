"""``/forgetme``: delete everything DreamBot keeps about you, after a confirmation."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.replies import UserError
from bot.views import ConfirmView

if TYPE_CHECKING:  # pragma: no cover
    from bot.app import DreamBot

log = logging.getLogger(__name__)

#: how long the Confirm / Cancel buttons wait for an answer
CONFIRM_TIMEOUT_S = 60.0

QUESTION = (
    "⚠️ **Delete everything DreamBot keeps about you?**\n"
    "Your dream history and pictures, your presets, your gallery entries (in every server) and your votes "
    "will be gone for good. This can't be undone."
)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def deletion_summary(report: Any) -> str:
    """``3 dreams, 1 preset, 0 gallery entries, 2 votes and 5 files`` from a ``DeletionReport``."""
    parts = [
        _count(report.dreams, "dream"),
        _count(report.presets, "preset"),
        f"{report.gallery_entries} gallery {'entry' if report.gallery_entries == 1 else 'entries'}",
        _count(report.votes, "vote"),
    ]
    return ", ".join(parts) + f" and {_count(report.files, 'file')}"


class MyDataCog(commands.Cog, name="MyData"):
    def __init__(self, bot: DreamBot) -> None:
        self.bot = bot

    def _busy(self, user_id: int) -> list[int]:
        return sorted(a.dream_id for a in self.bot.dreams.active.values() if a.user_id == user_id)

    def _refuse_while_dreaming(self, user_id: int) -> None:
        busy = self._busy(user_id)
        if busy:
            ids = ", ".join(f"#{d}" for d in busy)
            raise UserError(f"You still have dreams in progress ({ids}): wait for them or cancel them, then try again.")

    @app_commands.command(name="forgetme", description="Delete everything DreamBot keeps about you (asks first)")
    async def forgetme(self, interaction: discord.Interaction) -> None:
        self._refuse_while_dreaming(interaction.user.id)
        view = ConfirmView(
            interaction.user.id,
            self._delete,
            timeout=CONFIRM_TIMEOUT_S,
            confirm_label="Delete everything",
            cancelled_text="Cancelled — nothing was deleted.",
            timeout_text="No answer in time — nothing was deleted. Run `/forgetme` again if you still want to.",
            key="forgetme",
        )
        await view.send(interaction, QUESTION)

    async def _delete(self, interaction: discord.Interaction) -> None:
        user_id = interaction.user.id
        busy = self._busy(user_id)
        if busy:  # started a dream while the question was open
            ids = ", ".join(f"#{d}" for d in busy)
            await interaction.response.edit_message(
                content=f"Nothing was deleted: dreams {ids} are still in progress. Try again when they're done.",
                view=None,
            )
            return
        await interaction.response.defer()  # deleting files may take a moment
        report = await self.bot.store.delete_user_data(user_id)
        log.info("user %s deleted their data: %s", user_id, report)
        await interaction.edit_original_response(
            content=(
                f"🧹 Done. Deleted {deletion_summary(report)}.\n"
                "Pictures already posted in channels stay there; delete those messages in Discord if you want."
            ),
            view=None,
        )


async def setup(bot: DreamBot) -> None:
    await bot.add_cog(MyDataCog(bot))
