"""Delivering a finished dream to its user, through Discord outages and restarts.

A dream is stored ``done`` *and undelivered* before its result is posted; it is marked
delivered once the result is in the user's message (or in the channel). When Discord
is down (5xx after discord.py's own retries, a network error) the post is tried again
with a growing pause for up to :data:`RETRY_FOR_S`; if the bot stops meanwhile, the
next process finds the dream undelivered and posts it (:mod:`bot.resume`).
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable
from typing import Optional

import aiohttp
import discord

from bot.collaborators import DreamRecords
from bot.dream_message import DreamMessage
from bot.store.errors import StoreError
from bot.upload import Upload
from bot.views import result_view

log = logging.getLogger(__name__)

#: how long a result is retried while Discord is down (then it waits for the next start)
RETRY_FOR_S = 24 * 3600
FIRST_PAUSE_S = 2.0
MAX_PAUSE_S = 60.0

#: errors worth another try: Discord or the network was down, not a refusal
TRANSIENT = (discord.DiscordServerError, discord.RateLimited, aiohttp.ClientError, asyncio.TimeoutError, OSError)


class ResultDelivery:
    """Posts results and records that they arrived; one per bot."""

    def __init__(self, store: DreamRecords, *, first_pause_s: float = FIRST_PAUSE_S) -> None:
        self.store = store
        self.first_pause_s = first_pause_s
        self.pending: dict[int, asyncio.Task[None]] = {}

    async def deliver(
        self,
        dream_id: int,
        message: DreamMessage,
        *,
        mention: int,
        upload: Upload,
        embed: Callable[[str], discord.Embed],
    ) -> bool:
        """Post the result now; when Discord is down, keep trying in the background.
        ``embed(filename)`` builds the embed. True when it was posted at once."""
        if await self._attempt(dream_id, message, mention, upload, embed):
            return True
        task = asyncio.create_task(self._retry(dream_id, message, mention, upload, embed), name=f"deliver-{dream_id}")
        self.pending[dream_id] = task
        task.add_done_callback(lambda _t: self.pending.pop(dream_id, None))
        return False

    async def _attempt(
        self, dream_id: int, message: DreamMessage, mention: int, upload: Upload, embed: Callable[[str], discord.Embed]
    ) -> bool:
        filename = f"dream-{dream_id}.{upload.extension}"
        try:
            posted = await message.show_result(
                mention=mention,
                embed=embed(filename),
                file=discord.File(io.BytesIO(upload.data), filename=filename),
                view=result_view(dream_id),
            )
        except TRANSIENT as exc:
            log.warning("dream %s: could not post its result (%s); will try again", dream_id, _what(exc))
            return False
        except discord.HTTPException:
            log.exception("dream %s: Discord refused its result; giving up", dream_id)
            posted = None
        await self._delivered(dream_id, posted)
        return True

    async def _retry(
        self, dream_id: int, message: DreamMessage, mention: int, upload: Upload, embed: Callable[[str], discord.Embed]
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RETRY_FOR_S
        pause = self.first_pause_s
        while loop.time() < deadline:
            await asyncio.sleep(pause)
            if await self._attempt(dream_id, message, mention, upload, embed):
                log.info("dream %s: result delivered after Discord came back", dream_id)
                return
            pause = min(pause * 2, MAX_PAUSE_S)
        log.error("dream %s: result still undelivered after %d s; the next start tries again", dream_id, RETRY_FOR_S)

    async def _delivered(self, dream_id: int, posted: Optional[tuple[int, int]]) -> None:
        try:
            if posted is not None:
                await self.store.set_dream_messages(dream_id, channel_id=posted[0], result_message_id=posted[1])
            await self.store.mark_delivered(dream_id)
        except StoreError as exc:
            log.warning("dream %s: could not record its delivery: %s", dream_id, exc)

    async def close(self) -> None:
        """Stop retrying (the undelivered results stay in the store for the next start)."""
        for task in list(self.pending.values()):
            task.cancel()
        await asyncio.gather(*self.pending.values(), return_exceptions=True)


def _what(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]
