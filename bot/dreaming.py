"""`DreamService`: the one place where a Discord request becomes a dream.

Used by ``/dream``, ``/preset use``, the "Dream this image" context menu and
the result buttons. It

* builds :class:`~dream_core.params.DreamParams` from the bot's defaults, a
  preset and the user's options (:meth:`DreamService.build_params`),
* checks limits (cooldown, concurrent jobs per server, image checks),
* records the dream in the store (queued -> running -> done/failed/cancelled),
* submits it to the executor and follows its events, keeping one progress
  message up to date (:class:`~bot.progress.ProgressReporter`),
* posts the result as a file with a compact embed and persistent buttons,
  falling back to ``channel.send`` once the interaction token is about to expire.

Every message a user sees about a problem is a :class:`UserError`; it is sent
ephemerally.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

import discord

from bot.attachments import ImageLimits, ImageRef, ImageRejected, InputImage, check_ref, fetch_image
from bot.progress import ProgressReporter, ProgressState
from bot.upload import fit_upload
from bot.views import SavePresetModal, cancel_view, result_view
from dream_core.errors import DreamParamsError
from dream_core.models import MODELS, resolve_targets  # imports torch: once, at start, not in a 3 s window
from dream_core.params import DreamParams, parse_params

if TYPE_CHECKING:  # pragma: no cover
    from bot.app import DreamBot

log = logging.getLogger(__name__)


class UserError(Exception):
    """Something the user can fix. ``str(exc)`` is shown to them, ephemerally."""


@dataclass
class DreamRequest:
    """Everything needed to start one dream."""

    user_id: int
    guild_id: Optional[int]
    channel_id: Optional[int]
    params: DreamParams
    image: Optional[InputImage]  # None: dream from noise
    guide: Optional[InputImage] = None
    source: str = "dream"  # dream | menu | preset | again | deeper (for the logs)
    notes: list[str] = field(default_factory=list)  # shown with the result (e.g. a lost guide)


@dataclass
class ActiveDream:
    """A dream between submission and its final message."""

    dream_id: int
    user_id: int
    guild_id: Optional[int]
    job: Any = None
    cancel_requested: bool = False
    shutting_down: bool = False
    started: float = field(default_factory=time.monotonic)


def changed_knobs(data: dict[str, Any]) -> dict[str, Any]:
    """The entries of a stored params dict that differ from DreamParams' defaults.

    Presets are stored whole; merging only the knobs a preset changes keeps the
    bot-wide defaults (``settings.default_params``) for everything else.
    """
    defaults = DreamParams().model_dump(mode="json")
    return {k: v for k, v in data.items() if k in defaults and v != defaults[k]}


def describe_params(params: DreamParams) -> str:
    """``mixed4c:97 · medium`` — the short label of a dream's settings."""
    return f"{params.layer} · {params.strength}"


async def send_error(interaction: discord.Interaction, message: str) -> None:
    """Send ``message`` ephemerally, whatever state the interaction is in."""
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(f"⚠️ {message}", ephemeral=True)
        else:
            await interaction.followup.send(f"⚠️ {message}", ephemeral=True)
    except discord.HTTPException:
        log.warning("could not send error to user %s: %s", interaction.user.id, message)


def _is_admin(interaction: discord.Interaction) -> bool:
    perms = getattr(interaction, "permissions", None)
    return bool(perms and (perms.manage_guild or perms.administrator))


class DreamService:
    """Runs dreams for Discord users. One per bot."""

    def __init__(self, bot: "DreamBot") -> None:
        self.bot = bot
        self.settings = bot.settings
        self.active: dict[int, ActiveDream] = {}
        self._last_start: dict[int, float] = {}

    # ------------------------------------------------------------------ params
    @property
    def store(self) -> Any:
        return self.bot.store

    @property
    def files(self) -> Any:
        return self.bot.files

    @property
    def executor(self) -> Any:
        return self.bot.executor

    @property
    def image_limits(self) -> ImageLimits:
        s = self.settings
        return ImageLimits(s.max_attachment_bytes, s.max_pixels, s.allow_private_image_urls)

    def base_params(self) -> dict[str, Any]:
        """The bot-wide defaults every dream starts from."""
        data: dict[str, Any] = {"model": self.settings.default_model}
        data.update(self.settings.default_params)
        return data

    async def preset_params(self, user_id: int, name: str) -> dict[str, Any]:
        """The knobs stored in preset ``name`` (the user's own, else a shared one)."""
        from bot.store.errors import NotFound

        try:
            preset = await self.store.get_preset(user_id, name)
        except NotFound:
            raise UserError(f"I don't know a preset called `{name}`. See `/preset list`.") from None
        await self.store.use_preset(preset.id)  # popular shared presets are suggested first
        return changed_knobs(preset.params_data)

    async def build_params(
        self,
        user_id: int,
        *,
        preset: Optional[str] = None,
        options: Optional[dict[str, Any]] = None,
    ) -> DreamParams:
        """Bot defaults <- preset (or the user's default preset) <- options (``None`` = not given)."""
        data = self.base_params()
        if preset:
            data.update(await self.preset_params(user_id, preset))
        else:
            default = await self.store.get_default_preset(user_id)
            if default is not None:
                data.update(changed_knobs(default.params_data))
        data.update({k: v for k, v in (options or {}).items() if v is not None})
        return self.check_params(_parse(data))

    def preset_from_options(self, options: dict[str, Any]) -> DreamParams:
        """Just the knobs the user gave (the bot's defaults stay out of a preset), checked
        as they would be in a dream with the bot's defaults."""
        given = {k: v for k, v in options.items() if v is not None}
        self.check_params(_parse({**self.base_params(), **given}))
        return _parse(given)

    def check_params(self, params: DreamParams) -> DreamParams:
        """Apply the server's caps and check the model and layer exist."""
        s = self.settings
        if params.zoom_frames > s.max_zoom_frames:
            raise UserError(f"`zoom_frames` can be at most {s.max_zoom_frames} here.")
        if params.max_size > s.max_size:
            params = params.model_copy(update={"max_size": s.max_size})
        if params.model not in MODELS:
            raise UserError(
                f"I don't have a model called `{params.model}`. Try one of: " + ", ".join(f"`{m}`" for m in MODELS)
            )
        try:
            resolve_targets(params.model, params.layer)
        except DreamParamsError as exc:
            raise UserError(f"{exc}. See `/layers`.") from None
        return params

    # ------------------------------------------------------------------ limits
    def check_limits(self, user_id: int, guild_id: Optional[int]) -> None:
        """Cooldown per user and concurrent jobs per server."""
        s = self.settings
        if len(self._last_start) > 10_000:  # forget cooldowns that are over
            horizon = time.monotonic() - s.user_cooldown_s
            self._last_start = {u: t for u, t in self._last_start.items() if t > horizon}
        last = self._last_start.get(user_id)
        if last is not None and s.user_cooldown_s > 0:
            wait = last + s.user_cooldown_s - time.monotonic()
            if wait > 0:
                raise UserError(f"Easy there — you can start another dream in {max(1, round(wait))} s.")
        mine = sum(1 for a in self.active.values() if a.user_id == user_id)
        if mine >= s.max_queued_per_user:
            raise UserError(
                f"You already have {s.max_queued_per_user} dreams going. Wait for one to finish (or cancel one)."
            )
        if guild_id is not None:
            running = sum(1 for a in self.active.values() if a.guild_id == guild_id)
            if running >= s.guild_concurrent_jobs:
                raise UserError(
                    f"This server already has {running} dreams going (the limit is {s.guild_concurrent_jobs}). "
                    "Try again in a moment."
                )

    # ------------------------------------------------------------------ entry points
    async def dream_from_interaction(
        self,
        interaction: discord.Interaction,
        *,
        params: DreamParams,
        ref: Optional[ImageRef],
        guide_ref: Optional[ImageRef] = None,
        source: str = "dream",
    ) -> None:
        """Check, acknowledge, download and run. ``ref=None`` dreams from noise.

        Must be called before the interaction was answered: cheap checks
        answer with an ephemeral error; otherwise the interaction is deferred
        (publicly) and its message becomes the progress message.
        """
        try:
            self.check_limits(interaction.user.id, interaction.guild_id)
            for r in (ref, guide_ref):
                if r is not None:
                    check_ref(r, self.image_limits)
        except (UserError, ImageRejected) as exc:
            await send_error(interaction, str(exc))
            return
        await self._defer(interaction)
        try:
            image = await fetch_image(ref, self.image_limits) if ref is not None else None
            guide = await fetch_image(guide_ref, self.image_limits) if guide_ref is not None else None
        except ImageRejected as exc:
            await self._fail_early(interaction, str(exc))
            return
        request = DreamRequest(
            user_id=interaction.user.id,
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id,
            params=params,
            image=image,
            guide=guide,
            source=source,
        )
        await self.run(interaction, request)

    async def _defer(self, interaction: discord.Interaction) -> None:
        if interaction.response.is_done():
            return
        await interaction.response.defer(thinking=True)
        metrics = self.bot.metrics
        if metrics is not None:
            name = interaction.command.name if interaction.command else "button"
            age = (discord.utils.utcnow() - interaction.created_at).total_seconds()
            metrics.observe_interaction(age, name)

    async def _fail_early(self, interaction: discord.Interaction, message: str) -> None:
        """After a public defer: drop the 'thinking' message and answer ephemerally."""
        try:
            await interaction.delete_original_response()
        except discord.HTTPException:
            pass
        await send_error(interaction, message)

    # ------------------------------------------------------------------ running
    async def run(self, interaction: discord.Interaction, request: DreamRequest) -> Optional[int]:
        """Record, submit and follow one dream to its end; returns the dream's id.

        The interaction must already be deferred: its response message becomes
        the progress message and then the result.
        """
        from dream_core.executor import SubmitRefused

        source = await self.files.aput(request.image.data) if request.image else None
        # the guide is kept too, so "Dream again" / "Deeper" can dream with it
        guide = await self.files.aput(request.guide.data) if request.guide else None
        dream = await self.store.create_dream(
            request.user_id,
            request.params,
            guild_id=request.guild_id,
            channel_id=request.channel_id,
            source=source,
            source_url=(request.image.source_url or None) if request.image else None,
            guide=guide,
            user_name=interaction.user.display_name,
            guild_name=interaction.guild.name if interaction.guild else None,
        )
        dream_id = dream.id
        log.info(
            "dream %s (%s) by user %s in guild %s: %s",
            dream_id, request.source, request.user_id, request.guild_id, describe_params(request.params),
        )
        active = ActiveDream(dream_id, request.user_id, request.guild_id)
        self.active[dream_id] = active
        self._last_start[request.user_id] = time.monotonic()
        message = DreamMessage(interaction, self.settings.followup_window_s)
        label = describe_params(request.params)

        async def show_progress(text: str, preview: Optional[bytes]) -> None:
            kwargs: dict[str, Any] = {"content": text, "view": cancel_view(dream_id)}
            if preview is not None:
                kwargs["attachments"] = [discord.File(io.BytesIO(preview), filename="preview.png")]
            await message.edit(**kwargs)

        reporter = ProgressReporter(show_progress, min_interval=self.settings.progress_edit_interval_s)
        try:
            await reporter.update(ProgressState(stage="queued", label=label))
            if message.message_id is not None:
                await self.store.set_dream_messages(
                    dream_id, channel_id=message.channel_id, message_id=message.message_id
                )
            if active.cancel_requested:
                await self._end_cancelled(dream_id, reporter, message)
                return dream_id
            try:
                job = await self.executor.submit(
                    request.image.data if request.image else None,
                    request.params,
                    user_id=request.user_id,
                    guild_id=request.guild_id,
                    guide_bytes=request.guide.data if request.guide else None,
                )
            except SubmitRefused as exc:
                self._count("refused")
                await self._end_failed(dream_id, reporter, message, f"refused: {exc}", _refusal_text(exc))
                return dream_id
            active.job = job
            self._count("submitted")
            if active.cancel_requested:
                await job.cancel()
            await self._follow(request, dream_id, job, reporter, message)
        except asyncio.CancelledError:
            if active.job is not None:
                await asyncio.shield(active.job.cancel())
            raise
        except Exception:
            log.exception("dream %s crashed in the bot", dream_id)
            await self._end_failed(
                dream_id, reporter, message, "internal error", "Something went wrong on my side. Please try again."
            )
        finally:
            await reporter.close()
            self.active.pop(dream_id, None)
        return dream_id

    async def _follow(
        self, request: DreamRequest, dream_id: int, job: Any, reporter: ProgressReporter, message: "DreamMessage"
    ) -> None:
        from dream_core.executor import Cancelled, Done, Failed, JobProgress, Queued, Started

        label = describe_params(request.params)
        previews = self.settings.progress_previews
        async for event in job.events():
            if isinstance(event, Queued):
                await reporter.update(ProgressState(stage="queued", position=event.position, label=label))
            elif isinstance(event, Started):
                await self._mark(self.store.mark_running(dream_id))
                await reporter.update(ProgressState(stage="running", fraction=0.0, label=label))
            elif isinstance(event, JobProgress):
                state = ProgressState(
                    stage="running",
                    fraction=event.fraction,
                    eta_s=event.eta_s,
                    octave=event.octave,
                    octaves=event.octaves,
                    label=label,
                )
                await reporter.update(state, preview=event.preview if previews else None)
            elif isinstance(event, Done):
                await reporter.close()
                await self._end_done(request, dream_id, event.result, message)
                return
            elif isinstance(event, Failed):
                text = f"That dream failed: {event.reason}"
                if event.kind in ("input", "params"):
                    text += " Check the picture and settings and try again."
                self._count("failed")
                await self._end_failed(dream_id, reporter, message, event.reason, text)
                return
            elif isinstance(event, Cancelled):
                await self._end_cancelled(dream_id, reporter, message)
                return

    async def _mark(self, op: Any) -> None:
        """Run a store status change, tolerating a dream that moved on (e.g. recovered)."""
        from bot.store.errors import StoreError

        try:
            await op
        except StoreError as exc:
            log.warning("store status change refused: %s", exc)

    async def _end_cancelled(self, dream_id: int, reporter: ProgressReporter, message: "DreamMessage") -> None:
        await reporter.close()
        active = self.active.get(dream_id)
        if active is not None and active.shutting_down:
            await self._mark(self.store.mark_cancelled(dream_id, "the bot was restarting"))
            text = "✖️ I had to restart and this dream was stopped — please start it again."
        else:
            await self._mark(self.store.mark_cancelled(dream_id))
            text = "✖️ Dream cancelled."
        self._count("cancelled")
        await message.finish(text)

    async def _end_failed(
        self, dream_id: int, reporter: ProgressReporter, message: "DreamMessage", reason: str, text: str
    ) -> None:
        """Record the failure; tell the user ephemerally (the public progress message goes away)."""
        await reporter.close()
        await self._mark(self.store.mark_failed(dream_id, reason))
        await message.fail(text)

    async def _end_done(self, request: DreamRequest, dream_id: int, result: Any, message: "DreamMessage") -> None:
        ext = (result.format or "png").lower().replace("jpeg", "jpg")
        ref = await self.files.aput(result.data, ext)
        await self._mark(
            self.store.mark_done(
                dream_id,
                ref,
                width=result.width,
                height=result.height,
                seconds=result.seconds,
                is_animation=result.is_animation,
                params=result.params,
                model=result.model,
                seed=result.seed,
            )
        )
        self._count("done", result.seconds)
        interaction = message.interaction
        limit = interaction.guild.filesize_limit if interaction.guild else discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES
        upload = await asyncio.to_thread(fit_upload, result.data, ext, limit - UPLOAD_HEADROOM)
        filename = f"dream-{dream_id}.{upload.extension}"
        embed = result_embed(dream_id, result, filename, reencoded=upload.reencoded, extra_notes=request.notes)
        posted = await message.show_result(
            mention=request.user_id,
            embed=embed,
            file=discord.File(io.BytesIO(upload.data), filename=filename),
            view=result_view(dream_id),
        )
        if posted is not None:
            await self._mark(
                self.store.set_dream_messages(dream_id, channel_id=posted[0], result_message_id=posted[1])
            )

    # ------------------------------------------------------------------ cancelling
    async def cancel(self, dream_id: int) -> bool:
        """Ask a queued or running dream to stop. False if it isn't active."""
        active = self.active.get(dream_id)
        if active is None:
            return False
        active.cancel_requested = True
        if active.job is not None:
            await active.job.cancel()
        return True

    async def shutdown(self, timeout: float = 5.0) -> None:
        """Stop every dream and give them ``timeout`` seconds to record it and say so."""
        for dream_id, active in list(self.active.items()):
            active.shutting_down = True
            await self.cancel(dream_id)
        deadline = time.monotonic() + timeout
        while self.active and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self.active:
            log.warning("%d dream(s) still running at shutdown", len(self.active))

    # ------------------------------------------------------------------ buttons
    async def on_button(self, interaction: discord.Interaction, action: str, dream_id: int) -> None:
        """A :class:`~bot.views.DreamButton` was pressed."""
        from bot.store.errors import StoreError

        handler = getattr(self, f"_button_{action}", None)
        try:
            if handler is None:
                raise UserError("That button doesn't do anything anymore.")
            await handler(interaction, dream_id)
        except (UserError, StoreError) as exc:
            await send_error(interaction, str(exc))
        except Exception:
            log.exception("button %s on dream %s failed", action, dream_id)
            await send_error(interaction, "Something went wrong on my side. Please try again.")

    async def get_dream(self, dream_id: int) -> Any:
        from bot.store.errors import NotFound

        try:
            return await self.store.get_dream(dream_id)
        except NotFound:
            raise UserError("I can't find that dream anymore — it may have been deleted.") from None

    async def _button_cancel(self, interaction: discord.Interaction, dream_id: int) -> None:
        active = self.active.get(dream_id)
        if active is None:
            raise UserError("That dream isn't running anymore.")
        if active.user_id != interaction.user.id and not _is_admin(interaction):
            raise UserError("Only the person who started this dream can cancel it.")
        await interaction.response.defer()
        await self.cancel(dream_id)

    async def _button_again(self, interaction: discord.Interaction, dream_id: int) -> None:
        await self._redream(interaction, dream_id, deeper=False)

    async def _button_deeper(self, interaction: discord.Interaction, dream_id: int) -> None:
        await self._redream(interaction, dream_id, deeper=True)

    async def _redream(self, interaction: discord.Interaction, dream_id: int, *, deeper: bool) -> None:
        """Dream again with a new seed (from the same picture) or deeper (from the result),
        with the original dream's guide image when it had one."""
        dream = await self.get_dream(dream_id)
        if deeper and dream.result is None:
            raise UserError("That dream has no finished picture to go deeper into.")
        self.check_limits(interaction.user.id, interaction.guild_id)
        await self._defer(interaction)
        try:
            source = dream.result if deeper else dream.source
            image = await self._stored_image(source, f"dream-{dream_id}")
            params = self.check_params(dream.params.model_copy(update={"seed": None}))
        except (UserError, DreamParamsError) as exc:
            await self._fail_early(interaction, str(exc))
            return
        guide, notes = await self._stored_guide(dream.guide, f"guide-{dream_id}")
        request = DreamRequest(
            user_id=interaction.user.id,
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id,
            params=params,
            image=image,
            guide=guide,
            source="deeper" if deeper else "again",
            notes=notes,
        )
        await self.run(interaction, request)

    async def _stored_image(self, ref: Any, name: str) -> Optional[InputImage]:
        if ref is None:
            return None
        from bot.store.errors import StoreError

        try:
            data = await self.files.aread(ref.sha256)
        except (StoreError, OSError):
            raise UserError("The picture behind that dream is gone, so I can't dream it again.") from None
        return InputImage(data=data, filename=f"{name}.{ref.ext}", width=0, height=0, source_url="")

    async def _stored_guide(self, ref: Any, name: str) -> tuple[Optional[InputImage], list[str]]:
        """The stored guide image of a dream, and notes for the result: a guide file that is
        gone (deleted, lost) is not worth refusing the dream, so it goes on without it."""
        if ref is None:
            return None, []
        from bot.store.errors import StoreError

        try:
            data = await self.files.aread(ref.sha256)
        except (StoreError, OSError):
            log.warning("guide image %s of %s is gone; dreaming without it", ref.sha256[:12], name)
            return None, ["the guide picture is gone, so this one dreamed without it"]
        return InputImage(data=data, filename=f"{name}.{ref.ext}", width=0, height=0, source_url=""), []

    async def _button_save(self, interaction: discord.Interaction, dream_id: int) -> None:
        await self.get_dream(dream_id)
        await interaction.response.send_modal(SavePresetModal(dream_id))

    async def save_preset_from_dream(self, interaction: discord.Interaction, dream_id: int, name: str) -> None:
        """The Save-as-preset modal was submitted."""
        from bot.store.errors import StoreError

        try:
            dream = await self.get_dream(dream_id)
            info, updated = await self.save_preset(interaction.user.id, name, dream.params, interaction.user.display_name)
        except (UserError, StoreError) as exc:
            await send_error(interaction, str(exc))
            return
        verb = "Updated" if updated else "Saved as"
        await interaction.response.send_message(
            f"💾 {verb} preset `{info.name}`. Use it with `/dream preset:{info.name}`.", ephemeral=True
        )

    async def save_preset(
        self, user_id: int, name: str, params: DreamParams, user_name: Optional[str] = None
    ) -> tuple[Any, bool]:
        """Store ``params`` (without the seed) as preset ``name``; an own preset of that
        name is overwritten. Returns ``(PresetInfo, updated)``."""
        from bot.store.errors import PresetExists

        params = params.model_copy(update={"seed": None})
        try:
            return await self.store.create_preset(user_id, name, params, owner_name=user_name), False
        except PresetExists:
            return await self.store.update_preset(user_id, name, params=params), True

    async def _button_publish(self, interaction: discord.Interaction, dream_id: int) -> None:
        gallery = self.bot.get_cog("Gallery")
        if gallery is None:
            raise UserError("The gallery is switched off right now.")
        await gallery.publish(interaction, dream_id)  # type: ignore[attr-defined]

    async def _button_delete(self, interaction: discord.Interaction, dream_id: int) -> None:
        dream = await self.get_dream(dream_id)
        if dream.user_id != interaction.user.id:
            raise UserError("Only the person who dreamed this can delete it.")
        if dream_id in self.active:
            raise UserError("That dream is still going — cancel it first.")
        await interaction.response.send_message("🗑️ Deleted.", ephemeral=True)
        # the history row, its gallery entries and votes, and files no other dream uses
        await self.store.delete_dream(dream_id, by_user_id=interaction.user.id)
        if interaction.message is not None:
            try:
                await interaction.message.delete()
            except discord.HTTPException:
                log.warning("could not delete message of dream %s", dream_id)

    # ------------------------------------------------------------------ misc
    def _count(self, status: str, seconds: Optional[float] = None) -> None:
        metrics = self.bot.metrics
        if metrics is None:
            return
        if status == "done":
            metrics.job_done(seconds)
        else:
            metrics.job(status)


class DreamMessage:
    """The one public message that shows a dream, from "thinking…" to the result.

    Edited through the interaction token while it is valid (15 minutes; we stop
    at ``window_s``), through the channel afterwards; a result that arrives
    after the window — or after someone deleted the progress message — is
    posted to the channel as a new message.
    """

    def __init__(self, interaction: discord.Interaction, window_s: float) -> None:
        self.interaction = interaction
        self.deadline = interaction.created_at.timestamp() + window_s
        self.message_id: Optional[int] = None
        self.channel_id: Optional[int] = interaction.channel_id
        self._channel: Any = None
        self.gone = False  # the message was deleted under us

    @property
    def token_alive(self) -> bool:
        return time.time() < self.deadline

    def _partial(self) -> Any:
        channel = self._channel or self.interaction.channel
        if channel is None or self.message_id is None or not hasattr(channel, "get_partial_message"):
            return None
        return channel.get_partial_message(self.message_id)

    async def edit(self, **kwargs: Any) -> None:
        if self.gone:
            return
        try:
            if self.token_alive:
                msg = await self.interaction.edit_original_response(**kwargs)
                self.message_id = msg.id
                self._channel = msg.channel
                self.channel_id = msg.channel.id
                return
            partial = self._partial()
            if partial is not None:
                await partial.edit(**kwargs)
        except discord.NotFound:
            log.info("the message of a dream was deleted; its result will be posted anew")
            self.gone = True

    async def finish(self, text: str) -> None:
        """Replace the message with a final line (no buttons, no picture)."""
        try:
            await self.edit(content=text, view=None, attachments=[], embed=None)
        except discord.HTTPException:
            log.warning("could not edit final message", exc_info=True)

    async def fail(self, text: str) -> None:
        """Errors are ephemeral: drop the public message and tell only the user."""
        if self.token_alive:
            try:
                await self.interaction.delete_original_response()
            except discord.HTTPException:
                pass
            await send_error(self.interaction, text)
        else:
            await self.finish(f"😵 {text}")

    async def show_result(
        self, *, mention: int, embed: discord.Embed, file: discord.File, view: discord.ui.View
    ) -> Optional[tuple[int, int]]:
        """Show the result; returns ``(channel_id, message_id)`` of the message that holds it."""
        try:
            if self.token_alive and not self.gone:
                try:
                    msg = await self.interaction.edit_original_response(
                        content=f"<@{mention}>", embed=embed, attachments=[file], view=view
                    )
                    return msg.channel.id, msg.id
                except discord.NotFound:
                    self.gone = True
                    file.reset()
            partial = None if self.gone else self._partial()
            if partial is not None:
                try:
                    await partial.delete()
                except discord.HTTPException:
                    pass
            channel: Any = self._channel or self.interaction.channel
            sent = await channel.send(content=f"<@{mention}> your dream is ready!", embed=embed, file=file, view=view)
            return sent.channel.id, sent.id
        except discord.HTTPException:
            log.exception("could not post a result")
            return None


UPLOAD_HEADROOM = 64 * 1024  # room for the embed and multipart overhead


def _parse(data: dict[str, Any]) -> DreamParams:
    try:
        return parse_params(data)
    except DreamParamsError as exc:
        raise UserError(f"Those settings don't work: {exc}") from None


def _refusal_text(exc: Exception) -> str:
    """The executor's refusals are already friendly sentences that say what to do."""
    return str(exc) or "The dream queue is full. Please try again in a few minutes."


def result_embed(
    dream_id: int, result: Any, filename: str, *, reencoded: bool = False, extra_notes: Sequence[str] = ()
) -> discord.Embed:
    """The compact embed of a finished dream: layer, strength, seed, seconds, model; the
    footer adds the dream's notes and ``extra_notes`` (the bot's own, e.g. a lost guide)."""
    params: DreamParams = result.params
    embed = discord.Embed(colour=discord.Colour.blurple())
    embed.description = (
        f"`{params.layer}` · {params.strength} · seed `{result.seed}` · {result.seconds:.1f} s · {result.model}"
    )
    embed.set_image(url=f"attachment://{filename}")
    notes = list(result.notes or ()) + list(extra_notes)
    if reencoded:
        notes.append("re-encoded smaller to fit the upload limit")
    footer = f"#{dream_id} · {result.width}×{result.height}"
    if notes:
        footer += " · " + "; ".join(notes)
    embed.set_footer(text=footer[:2048])
    return embed


__all__ = [
    "ActiveDream",
    "DreamMessage",
    "DreamRequest",
    "DreamService",
    "UserError",
    "describe_params",
    "result_embed",
    "send_error",
]
