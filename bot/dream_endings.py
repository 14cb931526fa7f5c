"""How a dream ends: recorded in the store, and said in its message (the result, delivered
by :class:`~bot.delivery.ResultDelivery`; a failure, ephemerally; a cancel). Mixed into
:class:`~bot.dream_runner.DreamRunner`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Optional

from bot.collaborators import DreamMetrics, DreamRecords, Files
from bot.delivery import ResultDelivery
from bot.dream_message import DreamMessage, result_embed
from bot.dream_request import ActiveDream, DreamRequest
from bot.progress import ProgressReporter
from bot.store.errors import StoreError
from bot.upload import Upload, fit_upload
from dream_core.executor.events import JobResult

log = logging.getLogger(__name__)


class DreamEndings:
    """The end of a dream's life; what :class:`~bot.dream_runner.DreamRunner` provides."""

    store: DreamRecords
    files: Files
    metrics: Optional[DreamMetrics]
    delivery: ResultDelivery
    active: dict[int, ActiveDream]

    async def _mark(self, op: Awaitable[object]) -> None:
        """Run a store status change, tolerating a dream that moved on (e.g. recovered)."""
        try:
            await op
        except StoreError as exc:
            log.warning("store status change refused: %s", exc)

    async def _end_cancelled(self, dream_id: int, reporter: ProgressReporter, message: DreamMessage) -> None:
        await reporter.close()
        active = self.active.get(dream_id)
        if active is not None and active.handed_over:
            return  # the next bot process resumes it; its message already says so
        await self._mark(self.store.mark_cancelled(dream_id))
        self._count("cancelled")
        await message.finish("✖️ Dream cancelled.")

    async def _end_failed(
        self, dream_id: int, reporter: ProgressReporter, message: DreamMessage, reason: str, text: str
    ) -> None:
        """Record the failure; tell the user ephemerally (the public progress message goes away)."""
        await reporter.close()
        await self._mark(self.store.mark_failed(dream_id, reason))
        await message.fail(text)

    async def _end_done(
        self, request: DreamRequest, dream_id: int, result: JobResult, message: DreamMessage, limit: int
    ) -> None:
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
                undelivered=True,
            )
        )
        self._count("done", result.seconds)
        self.active.pop(dream_id, None)  # done: no longer counts against limits, nothing to hand over
        if request.image is not None and request.image.is_clip:
            upload = Upload(result.data, ext)  # the worker fitted it to the limit (its notes say how)
        else:
            upload = await asyncio.to_thread(fit_upload, result.data, ext, limit)
        await self.delivery.deliver(
            dream_id,
            message,
            mention=request.user_id,
            upload=upload,
            embed=lambda filename: result_embed(
                dream_id, result, filename, reencoded=upload.reencoded, extra_notes=request.notes
            ),
        )

    def _count(self, status: str, seconds: Optional[float] = None) -> None:
        metrics = self.metrics
        if metrics is None:
            return
        if status == "done":
            metrics.job_done(seconds)
        else:
            metrics.job(status)
