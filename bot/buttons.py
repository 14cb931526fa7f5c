"""The result-button controller: what the buttons under a dream do.

🔁 again, 🌀 deeper, 💾 save as preset, 🖼️ publish, 🗑️ delete, and ✖️ cancel under a
running dream. :class:`bot.views.DreamButton` parses the button's ``custom_id``,
asks :meth:`ButtonController.allowed` from discord.py's ``interaction_check``
(only the dreamer may delete, only the dreamer or an admin may cancel) and then
calls :meth:`ButtonController.on_button`, which dispatches through an explicit
table of handlers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import discord

from bot.clip_input import ClipRejected
from bot.collaborators import DreamRecords, Files
from bot.dream_request import DreamRequest
from bot.dream_runner import DreamRunner
from bot.gallery_service import GalleryService
from bot.params_policy import ParamsPolicy
from bot.replies import SORRY, UserError, fail_early, find_dream, is_admin, send_error
from bot.store.errors import StoreError
from bot.stored_inputs import stored_guide, stored_image
from bot.views import SavePresetModal
from dream_core.errors import DreamParamsError

log = logging.getLogger(__name__)

Handler = Callable[[discord.Interaction, int], Awaitable[None]]


class ButtonController:
    """Runs the buttons of dream messages. One per bot."""

    def __init__(
        self,
        *,
        runner: DreamRunner,
        policy: ParamsPolicy,
        gallery: GalleryService,
        store: DreamRecords,
        files: Files,
    ) -> None:
        self.runner = runner
        self.policy = policy
        self.gallery = gallery
        self.store = store
        self.files = files
        self.handlers: dict[str, Handler] = {
            "again": self.again,
            "deeper": self.deeper,
            "save": self.save,
            "publish": self.publish,
            "delete": self.delete,
            "cancel": self.cancel,
        }

    # ------------------------------------------------------------------ dispatch
    async def allowed(self, interaction: discord.Interaction, action: str, dream_id: int) -> bool:
        """Who may press the button (discord.py's ``interaction_check``). A refusal is
        answered here, ephemerally; the handler then doesn't run."""
        try:
            if action == "cancel":
                active = self.runner.active.get(dream_id)
                if active is None:
                    raise UserError("That dream isn't running anymore.")
                if active.user_id != interaction.user.id and not is_admin(interaction):
                    raise UserError("Only the person who started this dream can cancel it.")
            elif action == "delete":
                dream = await find_dream(self.store, dream_id)
                if dream.user_id != interaction.user.id:
                    raise UserError("Only the person who dreamed this can delete it.")
        except (UserError, StoreError) as exc:
            await send_error(interaction, str(exc))
            return False
        except Exception:
            log.exception("button %s on dream %s: ownership check failed", action, dream_id)
            await send_error(interaction, SORRY)
            return False
        return True

    async def on_button(self, interaction: discord.Interaction, action: str, dream_id: int) -> None:
        """A :class:`~bot.views.DreamButton` was pressed (and :meth:`allowed` said yes)."""
        handler = self.handlers.get(action)
        try:
            if handler is None:
                raise UserError("That button doesn't do anything anymore.")
            await handler(interaction, dream_id)
        except (UserError, StoreError) as exc:
            await send_error(interaction, str(exc))
        except Exception:
            log.exception("button %s on dream %s failed", action, dream_id)
            await send_error(interaction, SORRY)

    # ------------------------------------------------------------------ handlers
    async def cancel(self, interaction: discord.Interaction, dream_id: int) -> None:
        if dream_id not in self.runner.active:
            raise UserError("That dream isn't running anymore.")
        await interaction.response.defer()
        await self.runner.cancel(dream_id)

    async def again(self, interaction: discord.Interaction, dream_id: int) -> None:
        await self._redream(interaction, dream_id, deeper=False)

    async def deeper(self, interaction: discord.Interaction, dream_id: int) -> None:
        await self._redream(interaction, dream_id, deeper=True)

    async def save(self, interaction: discord.Interaction, dream_id: int) -> None:
        await find_dream(self.store, dream_id)
        await interaction.response.send_modal(SavePresetModal(dream_id))

    async def publish(self, interaction: discord.Interaction, dream_id: int) -> None:
        await self.gallery.publish(interaction, dream_id)

    async def delete(self, interaction: discord.Interaction, dream_id: int) -> None:
        # the dream exists and is the user's: allowed() checked that just before
        if dream_id in self.runner.active:
            raise UserError("That dream is still going — cancel it first.")
        await interaction.response.send_message("🗑️ Deleted.", ephemeral=True)
        # the history row, its gallery entries and votes, and files no other dream uses
        await self.store.delete_dream(dream_id, by_user_id=interaction.user.id)
        if interaction.message is not None:
            try:
                await interaction.message.delete()
            except discord.HTTPException:
                log.warning("could not delete message of dream %s", dream_id)

    # ------------------------------------------------------------------ the save-preset modal
    async def save_preset_from_dream(self, interaction: discord.Interaction, dream_id: int, name: str) -> None:
        """The Save-as-preset modal was submitted."""
        try:
            dream = await find_dream(self.store, dream_id)
            info, updated = await self.policy.save_preset(
                interaction.user.id, name, dream.params, interaction.user.display_name
            )
        except (UserError, StoreError) as exc:
            await send_error(interaction, str(exc))
            return
        verb = "Updated" if updated else "Saved as"
        await interaction.response.send_message(
            f"💾 {verb} preset `{info.name}`. Use it with `/dream preset:{info.name}`.", ephemeral=True
        )

    # ------------------------------------------------------------------ again / deeper
    async def _redream(self, interaction: discord.Interaction, dream_id: int, *, deeper: bool) -> None:
        """Dream again with a new seed (from the same picture) or deeper (from the result),
        with the original dream's guide image when it had one. A clip is dreamed as a clip
        again (Deeper: from the dreamed clip); the result of a zoom animation goes deeper
        as before, from its first frame."""
        dream = await find_dream(self.store, dream_id)
        if deeper and dream.result is None:
            raise UserError("That dream has no finished picture to go deeper into.")
        self.runner.check_limits(interaction.user.id, interaction.guild_id)
        await self.runner.defer(interaction)
        try:
            source = dream.result if deeper else dream.source
            params = self.policy.again_params(dream.params)
            zoom_result = deeper and bool(dream.params.zoom_frames)
            clip_limits = self.runner.limits.image_limits.clip
            image = await stored_image(self.files, source, f"dream-{dream_id}", clip_limits, as_clip=not zoom_result)
            guide, notes = await stored_guide(self.files, dream.guide, f"guide-{dream_id}")
            again = "deeper" if deeper else "again"
            request = DreamRequest.by(interaction, params, image, guide=guide, source=again, notes=notes)
        except (UserError, DreamParamsError, ClipRejected) as exc:
            await fail_early(interaction, str(exc))
            return
        await self.runner.run(interaction, request)
