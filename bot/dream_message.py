"""The message that shows one dream, from "thinking…" to the result, and the result's embed."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any, Optional

import discord

from bot.reply import Reply
from dream_core.executor.events import JobResult

log = logging.getLogger(__name__)

UPLOAD_HEADROOM = 64 * 1024  # room for the embed and multipart overhead
INVALID_WEBHOOK_TOKEN = 50027  # Discord's error code for an expired interaction token


class DreamMessage:
    """The one public message that shows a dream, from "thinking…" to the result.

    Edited through the interaction's token while it is valid (15 minutes; we stop
    at ``window_s``), through the channel afterwards; a result that arrives
    after the window — or after someone deleted the progress message — is
    posted to the channel as a new message. ``reply`` is the live interaction or
    the one a restarted bot rebuilt from the store (:mod:`bot.reply`).
    """

    def __init__(self, reply: Reply, window_s: float, *, message_id: Optional[int] = None) -> None:
        self.reply = reply
        self.deadline = reply.created_at + window_s
        self.message_id: Optional[int] = message_id
        self.channel_id: Optional[int] = reply.channel_id
        self._channel: Any = None
        self.gone = False  # the message was deleted under us

    @property
    def token_alive(self) -> bool:
        return time.time() < self.deadline

    def _partial(self) -> Any:
        channel = self._channel or self.reply.channel()
        if channel is None or self.message_id is None or not hasattr(channel, "get_partial_message"):
            return None
        return channel.get_partial_message(self.message_id)

    def _token_refused(self, exc: discord.HTTPException) -> bool:
        """Discord no longer honours the token (its 15 minutes ran out — e.g. across a
        restart, or by a clock skew): from now on the channel is used."""
        if exc.status == 401 or exc.code == INVALID_WEBHOOK_TOKEN:
            log.info("the interaction token of a dream expired; going through the channel")
            self.deadline = 0.0
            return True
        return False

    async def edit(self, **kwargs: Any) -> None:
        if self.gone:
            return
        try:
            if self.token_alive:
                try:
                    msg = await self.reply.edit_original(**kwargs)
                except discord.HTTPException as exc:
                    if isinstance(exc, discord.NotFound) or not self._token_refused(exc):
                        raise
                    _rewind(kwargs)
                else:
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
                await self.reply.delete_original()
            except discord.HTTPException as exc:
                if self._token_refused(exc):
                    await self.finish(f"😵 {text}")
                    return
            await self.reply.send_ephemeral(text)
        else:
            await self.finish(f"😵 {text}")

    async def show_result(
        self, *, mention: int, embed: discord.Embed, file: discord.File, view: discord.ui.View
    ) -> Optional[tuple[int, int]]:
        """Show the result; returns ``(channel_id, message_id)`` of the message that holds it.

        Raises :class:`discord.HTTPException` when Discord refuses or is down (the caller
        keeps the result undelivered and tries again later)."""
        if self.token_alive and not self.gone:
            try:
                msg = await self.reply.edit_original(
                    content=f"<@{mention}>", embed=embed, attachments=[file], view=view
                )
                return msg.channel.id, msg.id
            except discord.NotFound:
                self.gone = True
                file.reset()
            except discord.HTTPException as exc:
                if not self._token_refused(exc):
                    raise
                file.reset()
        partial = None if self.gone else self._partial()
        if partial is not None:
            with contextlib.suppress(discord.NotFound):
                await partial.delete()
        channel: Any = self._channel or self.reply.channel()
        if channel is None:
            return None
        sent = await channel.send(content=f"<@{mention}> your dream is ready!", embed=embed, file=file, view=view)
        return sent.channel.id, sent.id


def _rewind(kwargs: dict[str, Any]) -> None:
    """Files already read by a failed request, ready to be sent again."""
    for item in kwargs.get("attachments") or ():
        if isinstance(item, discord.File):
            item.reset()


def result_embed(
    dream_id: int, result: JobResult, filename: str, *, reencoded: bool = False, extra_notes: Sequence[str] = ()
) -> discord.Embed:
    """The compact embed of a finished dream: layer, strength, seed, seconds, model; the
    footer adds the frames of an animation, the dream's notes and ``extra_notes`` (the
    bot's own, e.g. a lost guide). A video can't be an embed's image: Discord plays the
    attached MP4 above the embed."""
    params = result.params
    embed = discord.Embed(colour=discord.Colour.blurple())
    embed.description = (
        f"`{params.layer}` · {params.strength} · seed `{result.seed}` · {result.seconds:.1f} s · {result.model}"
    )
    if not filename.endswith((".mp4", ".webm")):
        embed.set_image(url=f"attachment://{filename}")
    notes = list(result.notes or ()) + list(extra_notes)
    if reencoded:
        notes.append("re-encoded smaller to fit the upload limit")
    footer = f"#{dream_id} · {result.width}×{result.height}"
    if result.is_animation and result.frames > 1:
        footer += f" · {result.frames} frames"
    if notes:
        footer += " · " + "; ".join(notes)
    embed.set_footer(text=footer[:2048])
    return embed
