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
import contextlib
import io
import logging
import time
from collections.abc import Iterator
from typing import Any, Optional

import discord

from bot.attachments import ImageRef, ImageRejected, check_ref, fetch_image
from bot.clip_input import ClipRejected, clip_job
from bot.collaborators import DreamExecutor, DreamMetrics, DreamRecords, Files, JobHandle, RunnerSettings
from bot.delivery import ResultDelivery
from bot.dream_endings import DreamEndings
from bot.dream_message import DreamMessage
from bot.dream_request import ActiveDream, DreamRequest, upload_limit
from bot.limits import DreamLimits
from bot.progress import ProgressReporter, ProgressState
from bot.replies import SORRY, UserError, as_sentence, fail_early, send_error
from bot.reply import InteractionReply, token_expiry
from bot.views import cancel_view
from dream_core.executor.errors import SubmitRefused
from dream_core.executor.events import Cancelled, Done, Failed, JobProgress, Queued, Started, Waiting
from dream_core.params import DreamParams

log = logging.getLogger(__name__)

#: the one line for a dream asked for while the bot drains for a restart
RESTARTING_QUEUED = "🔁 DreamBot is restarting — your dream is queued and will start in a moment."
#: a dream still under way when the grace period ends goes to the next process
HANDED_OVER = "🔁 DreamBot is restarting — your dream will go on in a moment."
RESUMED = "🔁 Resumed after a restart."


def _refusal_text(exc: Exception) -> str:
    """The executor's refusals are already friendly sentences that say what to do."""
    return str(exc) or "The dream queue is full. Please try again in a few minutes."


class DreamRunner(DreamEndings):
    """Runs dreams for Discord users. One per bot.

    While the bot drains for a restart (:attr:`draining`), a new dream is recorded and
    left queued for the next process, with one line saying so; :meth:`hand_over` gives
    the dreams still under way at the end of the grace period to the next process.
    """

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
        self.delivery = ResultDelivery(store)
        self.active: dict[int, ActiveDream] = {}
        self.draining = False
        self._admitting = 0

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
        with self.admitting():  # accepted: a drain waits for it to be recorded
            await self.defer(interaction)
            try:
                image = await fetch_image(ref, self.limits.image_limits) if ref is not None else None
                guide = await fetch_image(guide_ref, self.limits.image_limits) if guide_ref is not None else None
                request = DreamRequest.by(interaction, params, image, guide=guide, source=source)
            except (ImageRejected, ClipRejected) as exc:
                await fail_early(interaction, str(exc))
                return
            await self.run(interaction, request)

    @contextlib.contextmanager
    def admitting(self) -> Iterator[None]:
        """A dream acknowledged but not yet recorded (its pictures are downloading)."""
        self._admitting += 1
        try:
            yield
        finally:
            self._admitting -= 1

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
        the progress message and then the result. The store keeps the interaction's
        token, so a restarted bot can resume the dream in the same message.
        """
        with self.admitting():
            dream, message, limit = await self._record(interaction, request)
            if self.draining:
                await message.edit(content=RESTARTING_QUEUED)
                await self._remember_message(dream.id, message)
                return dream.id
        await self.drive(dream.id, request, message, limit)  # counted as active before its first await
        return dream.id

    async def _record(
        self, interaction: discord.Interaction, request: DreamRequest
    ) -> tuple[Any, DreamMessage, int]:
        """Store the pictures and the dream (``queued``, with the interaction's token)."""
        source = await self.files.aput(request.image.data) if request.image else None
        # the guide is kept too, so "Dream again" / "Deeper" can dream with it
        guide = await self.files.aput(request.guide.data) if request.guide else None
        limit = upload_limit(interaction)
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
            reply_token=interaction.token,
            reply_expires_at=token_expiry(interaction),
            upload_limit=limit,
        )
        log.info(
            "dream %s (%s) by user %s in guild %s: %s",
            dream.id, request.source, request.user_id, request.guild_id, request.label,
        )
        self.limits.started(request.user_id)
        return dream, DreamMessage(InteractionReply(interaction), self.settings.followup_window_s), limit

    async def drive(
        self,
        dream_id: int,
        request: DreamRequest,
        message: DreamMessage,
        limit: int,
        *,
        note: str = "",
        submitted: Optional[asyncio.Event] = None,
    ) -> None:
        """Submit a recorded dream and follow it to its end, showing progress in
        ``message`` (under ``note``, e.g. "Resumed after a restart"). ``submitted`` is
        set once the executor has it (or it ended before that)."""
        active = ActiveDream(dream_id, request.user_id, request.guild_id, message=message)
        self.active[dream_id] = active
        label = request.label

        async def show_progress(text: str, preview: Optional[bytes]) -> None:
            kwargs: dict[str, Any] = {"content": text, "view": cancel_view(dream_id)}
            if preview is not None:
                kwargs["attachments"] = [discord.File(io.BytesIO(preview), filename="preview.png")]
            await message.edit(**kwargs)

        reporter = ProgressReporter(show_progress, min_interval=self.settings.progress_edit_interval_s)
        active.reporter = reporter
        try:
            await reporter.update(ProgressState(stage="queued", label=label, note=note))
            await self._remember_message(dream_id, message)
            if active.cancel_requested:
                await self._end_cancelled(dream_id, reporter, message)
                return
            clip = None
            if request.image is not None and request.image.clip is not None:
                clip = clip_job(request.image.clip, self.limits.image_limits.clip, limit)
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
                return
            finally:
                if submitted is not None:
                    submitted.set()
            active.job = job
            self._count("submitted")
            if active.cancel_requested or active.handed_over:
                await job.cancel()
            await self._follow(request, dream_id, job, reporter, message, limit, note)
        except asyncio.CancelledError:
            if active.job is not None:
                await asyncio.shield(active.job.cancel())
            raise
        except Exception:
            log.exception("dream %s crashed in the bot", dream_id)
            await self._end_failed(dream_id, reporter, message, "internal error", SORRY)
        finally:
            if submitted is not None:
                submitted.set()
            await reporter.close()
            self.active.pop(dream_id, None)

    async def _remember_message(self, dream_id: int, message: DreamMessage) -> None:
        if message.message_id is not None:
            await self._mark(
                self.store.set_dream_messages(dream_id, channel_id=message.channel_id, message_id=message.message_id)
            )

    async def _follow(
        self,
        request: DreamRequest,
        dream_id: int,
        job: JobHandle,
        reporter: ProgressReporter,
        message: DreamMessage,
        limit: int,
        note: str,
    ) -> None:
        label = request.label
        previews = self.settings.progress_previews
        retry_note = ""  # "the worker was lost; it starts again": shown until it has
        async for event in job.events():
            if isinstance(event, Queued):
                state = ProgressState(
                    stage="queued", position=event.position, label=label, note=note, waiting=retry_note
                )
                await reporter.update(state)
            elif isinstance(event, Waiting):  # its worker was lost (it runs again), or none is up
                retry_note = event.reason if event.retry else retry_note
                await reporter.update(ProgressState(stage="queued", label=label, note=note, waiting=event.reason))
            elif isinstance(event, Started):
                await self._mark(self.store.mark_running(dream_id))
                await reporter.update(ProgressState(stage="running", fraction=0.0, label=label, note=note))
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
                    note=note,
                )
                await reporter.update(state, preview=event.preview if previews else None)
            elif isinstance(event, Done):
                await reporter.close()
                await self._end_done(request, dream_id, event.result, message, limit)
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

    # ------------------------------------------------------------------ restarts
    @property
    def busy(self) -> int:
        """Dreams under way, and acknowledged ones not yet recorded."""
        return len(self.active) + self._admitting

    async def wait_idle(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for every dream under way to end; True if they did."""
        deadline = time.monotonic() + timeout
        while self.busy and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return not self.busy

    async def hand_over(self, timeout: float = 5.0) -> int:
        """Give every dream still under way to the next bot process: back to ``queued`` in
        the store, its message saying so, its job stopped here. Returns how many."""
        self.draining = True
        handed = 0
        for dream_id, active in list(self.active.items()):
            active.handed_over = True
            if await self.store.hand_over(dream_id):
                handed += 1
                if active.reporter is not None:
                    await active.reporter.close()  # no progress edit after the last word
                if active.message is not None:
                    with contextlib.suppress(discord.HTTPException):
                        await active.message.edit(content=HANDED_OVER, view=None, attachments=[])
            if active.job is not None:
                await active.job.cancel()
        if not await self.wait_idle(timeout):
            log.warning("%d dream(s) still running at shutdown", len(self.active))
        await self.delivery.close()
        if handed:
            log.info("handed %d unfinished dream(s) to the next start", handed)
        return handed
