"""The pictures of a recorded dream, read back from the file store: to dream it again
(🔁 / 🌀 buttons) or to resume it after a restart."""

from __future__ import annotations

import asyncio
import logging
from typing import Optional

from bot.attachments import InputImage
from bot.clip_input import ClipLimits, inspect_clip
from bot.collaborators import Files
from bot.replies import UserError
from bot.store.errors import StoreError
from bot.store.files import FileRef

log = logging.getLogger(__name__)

GUIDE_GONE = "the guide picture is gone, so this one dreamed without it"


async def stored_image(
    files: Files, ref: Optional[FileRef], name: str, clip_limits: ClipLimits, *, as_clip: bool = True
) -> Optional[InputImage]:
    """A stored picture to dream; an animation or a video is checked as a clip (with
    today's limits) unless ``as_clip`` is False. :class:`UserError` when it is gone."""
    if ref is None:
        return None
    try:
        data = await files.aread(ref.sha256)
    except (StoreError, OSError):
        raise UserError("The picture behind that dream is gone, so I can't dream it again.") from None
    filename = f"{name}.{ref.ext}"
    plan = await asyncio.to_thread(inspect_clip, data, filename, clip_limits) if as_clip else None
    return InputImage(data=data, filename=filename, width=0, height=0, source_url="", clip=plan)


async def stored_guide(files: Files, ref: Optional[FileRef], name: str) -> tuple[Optional[InputImage], list[str]]:
    """The stored guide image of a dream, and notes for the result: a guide file that is
    gone (deleted, lost) is not worth refusing the dream, so it goes on without it."""
    if ref is None:
        return None, []
    try:
        data = await files.aread(ref.sha256)
    except (StoreError, OSError):
        log.warning("guide image %s of %s is gone; dreaming without it", ref.sha256[:12], name)
        return None, [GUIDE_GONE]
    return InputImage(data=data, filename=f"{name}.{ref.ext}", width=0, height=0, source_url=""), []
