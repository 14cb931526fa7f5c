"""Resuming what the last bot process left (issue 17): a restart loses no one's dream.

At start-up the store hands over its :class:`~bot.store.resume.ResumePlan`. Once the
client is connected, :class:`DreamResumer`:

* tells the users of dreams the process died under twice that they won't be tried again;
* posts the results that were finished but never reached their users;
* submits the other dreams again, in the order they were asked for (so the executor's
  fair queue sees them as before), each in its user's own message, which first says
  "Resumed after a restart" and then shows progress and the result. A token that has
  expired (15 minutes) sends the result to the channel, mentioning the user.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Optional

import discord

from bot.attachments import InputImage
from bot.clip_input import ClipRejected, check_clip_params
from bot.delivery import ResultDelivery
from bot.dream_message import DreamMessage, result_embed
from bot.dream_request import DEFAULT_UPLOAD_LIMIT, DreamRequest
from bot.dream_runner import RESUMED, DreamRunner
from bot.params_policy import ParamsPolicy
from bot.replies import UserError
from bot.reply import StoredReply
from bot.store.errors import StoreError
from bot.store.records import DreamInfo
from bot.store.resume import GIVEN_UP_REASON, ResumePlan
from bot.stored_inputs import stored_guide, stored_image
from bot.upload import fit_upload
from dream_core.executor.events import JobResult

log = logging.getLogger(__name__)


class DreamResumer:
    """Runs a :class:`ResumePlan` through the bot's runner. One per start."""

    def __init__(self, client: discord.Client, runner: DreamRunner, policy: ParamsPolicy, store: Any) -> None:
        self.client = client
        self.runner = runner
        self.policy = policy
        self.store = store
        self.tasks: list[asyncio.Task[None]] = []

    def _message(self, dream: DreamInfo) -> DreamMessage:
        reply = StoredReply(
            self.client, token=dream.reply_token, expires_at=dream.reply_expires_at, channel_id=dream.channel_id
        )
        return DreamMessage(reply, self.runner.settings.followup_window_s, message_id=dream.message_id)

    async def run(self, plan: ResumePlan) -> None:
        """Tell, deliver and resubmit (in the original order); returns once every resumed
        dream is in the executor's queue (they are followed in the background)."""
        for dream in plan.given_up:
            await self._message(dream).fail(GIVEN_UP_REASON)
        for dream in plan.undelivered:
            await self._deliver(dream)
        for dream in plan.resume:
            try:
                request = await self._request(dream)
            except (UserError, ClipRejected) as exc:
                await self._fail(dream, str(exc))
                continue
            submitted = asyncio.Event()
            limit = dream.upload_limit or DEFAULT_UPLOAD_LIMIT
            task = asyncio.create_task(
                self.runner.drive(dream.id, request, self._message(dream), limit, note=RESUMED, submitted=submitted),
                name=f"resumed-dream-{dream.id}",
            )
            self.tasks.append(task)
            await submitted.wait()
        if plan.resume:
            log.info("resumed %d dream(s) after a restart", len(plan.resume))

    async def _request(self, dream: DreamInfo) -> DreamRequest:
        params = self.policy.resumed_params(dream.params)
        clip_limits = self.runner.limits.image_limits.clip
        image: Optional[InputImage] = await stored_image(self.runner.files, dream.source, f"dream-{dream.id}",
                                                         clip_limits, as_clip=not params.zoom_frames)
        if image is not None and image.is_clip:
            check_clip_params(params)
        guide, notes = await stored_guide(self.runner.files, dream.guide, f"guide-{dream.id}")
        return DreamRequest(
            user_id=dream.user_id,
            guild_id=dream.guild_id,
            channel_id=dream.channel_id,
            params=params,
            image=image,
            guide=guide,
            source="resumed",
            notes=notes,
        )

    async def _fail(self, dream: DreamInfo, text: str) -> None:
        try:
            await self.store.mark_failed(dream.id, text)
        except StoreError as exc:
            log.warning("dream %s: %s", dream.id, exc)
        await self._message(dream).fail(text)

    async def _deliver(self, dream: DreamInfo) -> None:
        """Post a finished result that never reached its user."""
        if dream.result is None:
            await self.store.mark_delivered(dream.id)
            return
        try:
            data = await self.runner.files.aread(dream.result.sha256)
        except (StoreError, OSError):
            log.warning("dream %s: its result file is gone; nothing to deliver", dream.id)
            await self.store.mark_delivered(dream.id)
            return
        result = JobResult(
            data=data, format=dream.result.ext, width=dream.width or 0, height=dream.height or 0,
            params=dream.params, model=dream.model, seed=dream.seed or 0, seconds=dream.seconds or 0.0,
            is_animation=dream.is_animation,
        )
        # as the dream's own ending does (a clip's result already fits: the worker fitted it to this limit)
        limit = dream.upload_limit or DEFAULT_UPLOAD_LIMIT
        upload = await asyncio.to_thread(fit_upload, data, dream.result.ext, limit)
        delivery: ResultDelivery = self.runner.delivery
        await delivery.deliver(
            dream.id, self._message(dream), mention=dream.user_id, upload=upload,
            embed=lambda filename: result_embed(dream.id, result, filename, reencoded=upload.reencoded),
        )

    async def close(self) -> None:
        for task in self.tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
