"""The dream runner: one dream's life from a Discord request to the posted result.

It checks the limits, fetches the pictures, records the dream in the store
(queued -> running -> done/failed/cancelled), submits it to the executor and
follows its events, keeping one progress message up to date
(:class:`~bot.progress.ProgressReporter`), and posts the result as a file with
a compact embed and persistent buttons (:class:`~bot.dream_message.DreamMessage`).
A clip (animated GIF/WebP/APNG, MP4, WebM; :mod:`bot.clip_input`) is submitted
as a clip job whose result must fit the upload limit; the engine re-encodes
or downscales it when needed and its notes say so.
Its collaborators are the typed protocols of :mod:`bot.collaborators`.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, Optional

import discord

from bot.attachments import ImageRef, ImageRejected, InputImage, check_ref, fetch_image
from bot.clip_input import ClipRejected, check_clip_params, clip_job
from bot.collaborators import DreamExecutor, DreamMetrics, DreamRecords, Files, JobHandle, RunnerSettings
from bot.dream_message import UPLOAD_HEADROOM, DreamMessage, result_embed
from bot.limits import DreamLimits
from bot.params_policy import describe_params
from bot.progress import ProgressReporter, ProgressState
from bot.replies import SORRY, UserError, as_sentence, fail_early, send_error
from bot.store.errors import StoreError
from bot.upload import Upload, fit_upload
from bot.views import cancel_view, result_view
from dream_core.executor.errors import SubmitRefused
from dream_core.executor.events import Cancelled, Done, Failed, JobProgress, JobResult, Queued, Started, Waiting
from dream_core.params import DreamParams

log = logging.getLogger(__name__)


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

    @classmethod
    def by(
        cls,
        interaction: discord.Interaction,
        params: DreamParams,
        image: Optional[InputImage],
        *,
        guide: Optional[InputImage] = None,
        source: str,
        notes: Optional[list[str]] = None,
    ) -> DreamRequest:
        """A dream by whoever made ``interaction``, where they made it. Raises
        :class:`ClipRejected` for params a clip can't take (a zoom animation)."""
        if image is not None and image.is_clip:
            check_clip_params(params)
        return cls(
            user_id=interaction.user.id,
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id,
            params=params,
            image=image,
            guide=guide,
            source=source,
            notes=notes if notes is not None else [],
        )

    @property
    def label(self) -> str:
        """What the progress message says is being dreamed (``mixed4 · medium · clip of 40 frames``)."""
        text = describe_params(self.params)
        if self.image is not None and self.image.clip is not None:
            text += f" · clip of {self.image.clip.n_frames} frames"
        return text


@dataclass
class ActiveDream:
    """A dream between submission and its final message."""

    dream_id: int
    user_id: int
    guild_id: Optional[int]
    job: Optional[JobHandle] = None
    cancel_requested: bool = False
    shutting_down: bool = False
    started: float = field(default_factory=time.monotonic)


def _refusal_text(exc: Exception) -> str:
    """The executor's refusals are already friendly sentences that say what to do."""
    return str(exc) or "The dream queue is full. Please try again in a few minutes."


def upload_limit(interaction: discord.Interaction) -> int:
    """The bytes a result may have to be posted where ``interaction`` happened."""
    guild = interaction.guild
    limit = guild.filesize_limit if guild else discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES
    return limit - UPLOAD_HEADROOM


class DreamRunner:
    """Runs dreams for Discord users. One per bot."""

    def __init__(
        self,
        settings: RunnerSettings,
        *,
        store: DreamRecords,
        files: Files,
        executor: DreamExecutor,
        limits: DreamLimits,
        metrics: Optional[DreamMetrics] = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.files = files
        self.executor = executor
        self.limits = limits
        self.metrics = metrics
        self.active: dict[int, ActiveDream] = {}

    def check_limits(self, user_id: int, guild_id: Optional[int]) -> None:
        """Raise :class:`UserError` when this user may not start another dream now."""
        self.limits.check(user_id, guild_id, self.active.values())

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
                    check_ref(r, self.limits.image_limits)
        except (UserError, ImageRejected) as exc:
            await send_error(interaction, str(exc))
            return
        await self.defer(interaction)
        try:
            image = await fetch_image(ref, self.limits.image_limits) if ref is not None else None
            guide = await fetch_image(guide_ref, self.limits.image_limits) if guide_ref is not None else None
            request = DreamRequest.by(interaction, params, image, guide=guide, source=source)
        except (ImageRejected, ClipRejected) as exc:
            await fail_early(interaction, str(exc))
            return
        await self.run(interaction, request)

    async def defer(self, interaction: discord.Interaction) -> None:
        """Acknowledge publicly ("thinking…"); its message becomes the progress message."""
        if interaction.response.is_done():
            return
        await interaction.response.defer(thinking=True)
        metrics = self.metrics
        if metrics is not None:
            name = interaction.command.name if interaction.command else "button"
            age = (discord.utils.utcnow() - interaction.created_at).total_seconds()
            metrics.observe_interaction(age, name)

    # ------------------------------------------------------------------ running
    async def run(self, interaction: discord.Interaction, request: DreamRequest) -> Optional[int]:
        """Record, submit and follow one dream to its end; returns the dream's id.

        The interaction must already be deferred: its response message becomes
        the progress message and then the result.
        """
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
        self.limits.started(request.user_id)
        message = DreamMessage(interaction, self.settings.followup_window_s)
        label = request.label

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
            clip = None
            if request.image is not None and request.image.clip is not None:
                clip = clip_job(request.image.clip, self.limits.image_limits.clip, upload_limit(interaction))
            try:
                job = await self.executor.submit(
                    request.image.data if request.image else None,
                    request.params,
                    user_id=request.user_id,
                    guild_id=request.guild_id,
                    guide_bytes=request.guide.data if request.guide else None,
                    clip=clip,
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
                dream_id, reporter, message, "internal error", SORRY
            )
        finally:
            await reporter.close()
            self.active.pop(dream_id, None)
        return dream_id

    async def _follow(
        self, request: DreamRequest, dream_id: int, job: JobHandle, reporter: ProgressReporter, message: DreamMessage
    ) -> None:
        label = request.label
        previews = self.settings.progress_previews
        retry_note = ""  # "the worker was lost; it starts again": shown until it has
        async for event in job.events():
            if isinstance(event, Queued):
                state = ProgressState(stage="queued", position=event.position, label=label, note=retry_note)
                await reporter.update(state)
            elif isinstance(event, Waiting):  # its worker was lost (it runs again), or none is up
                retry_note = event.reason if event.retry else retry_note
                await reporter.update(ProgressState(stage="queued", label=label, note=event.reason))
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
                    frame=event.frame,
                    frames=event.frames,
                    label=label,
                )
                await reporter.update(state, preview=event.preview if previews else None)
            elif isinstance(event, Done):
                await reporter.close()
                await self._end_done(request, dream_id, event.result, message)
                return
            elif isinstance(event, Failed):
                text = f"That dream failed: {as_sentence(event.reason)}"
                if event.kind in ("input", "params"):
                    text += " Check the picture and settings and try again."
                self._count("failed")
                await self._end_failed(dream_id, reporter, message, event.reason, text)
                return
            elif isinstance(event, Cancelled):
                await self._end_cancelled(dream_id, reporter, message)
                return

    async def _mark(self, op: Awaitable[object]) -> None:
        """Run a store status change, tolerating a dream that moved on (e.g. recovered)."""
        try:
            await op
        except StoreError as exc:
            log.warning("store status change refused: %s", exc)

    async def _end_cancelled(self, dream_id: int, reporter: ProgressReporter, message: DreamMessage) -> None:
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
        self, dream_id: int, reporter: ProgressReporter, message: DreamMessage, reason: str, text: str
    ) -> None:
        """Record the failure; tell the user ephemerally (the public progress message goes away)."""
        await reporter.close()
        await self._mark(self.store.mark_failed(dream_id, reason))
        await message.fail(text)

    async def _end_done(self, request: DreamRequest, dream_id: int, result: JobResult, message: DreamMessage) -> None:
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
        limit = upload_limit(message.interaction)
        if request.image is not None and request.image.is_clip:
            upload = Upload(result.data, ext)  # the worker fitted it to the limit (its notes say how)
        else:
            upload = await asyncio.to_thread(fit_upload, result.data, ext, limit)
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

    def _count(self, status: str, seconds: Optional[float] = None) -> None:
        metrics = self.metrics
        if metrics is None:
            return
        if status == "done":
            metrics.job_done(seconds)
        else:
            metrics.job(status)
