"""Finding, checking and downloading the picture a user wants dreamed.

An image can come from a slash-command attachment, an ``image_url`` option,
a message (context menu) or the most recent image in the channel. Whatever the
source, :func:`fetch_image` returns checked bytes or raises
:class:`ImageRejected` whose message can be shown to the user as is.

Checks, in order: content type (:data:`ACCEPTED_TYPE_PREFIXES`: pictures,
MP4 and WebM), byte size (not empty, not over the limit); then an animation or
a video is checked as a clip by :mod:`bot.clip_input` (frames, duration,
pixels x frames, sound; torch-free), and a still must be decodable by Pillow
with a pixel count under the limit. Links are fetched by
:mod:`bot.safe_fetch`: public addresses only, each redirect checked, generic
refusals.
"""

from __future__ import annotations

import asyncio
import io
import logging
from dataclasses import dataclass, field
from typing import Optional
from urllib.parse import urlparse

import discord
from PIL import Image, UnidentifiedImageError

from bot.clip_input import ClipRejected, inspect_clip
from bot.safe_fetch import FetchPolicy, FetchRefused, TooLarge, fetch_public
from dream_core.clips.limits import ClipLimits, ClipPlan

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".apng", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".mp4", ".webm")
#: what to attach, in the refusals
WHAT_TO_ATTACH = "Attach a picture (PNG, JPEG, WebP, GIF) or a short clip (GIF, WebP, MP4, WebM)."


class ImageRejected(Exception):
    """The picture can't be used; ``str(exc)`` is a friendly one-line reason."""


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int
    max_pixels: int
    allow_private_urls: bool = False
    clip: ClipLimits = field(default_factory=ClipLimits)  # animations and videos


@dataclass(frozen=True)
class ImageRef:
    """Where an image lives, before downloading it."""

    url: str
    filename: str
    content_type: Optional[str] = None
    size: Optional[int] = None
    attachment: Optional[discord.Attachment] = None


@dataclass(frozen=True)
class InputImage:
    """A downloaded, checked image, or a clip (``clip`` holds its dream plan)."""

    data: bytes
    filename: str
    width: int
    height: int
    source_url: str
    clip: Optional[ClipPlan] = None  # an animation or a video; None: a still

    @property
    def is_clip(self) -> bool:
        return self.clip is not None


def _human_bytes(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n} bytes"


#: the one place that says which media types are accepted (attachments and links alike):
#: pictures (animated GIF / WebP / APNG included) and the clips of issue 12
ACCEPTED_TYPE_PREFIXES: tuple[str, ...] = ("image/", "video/mp4", "video/webm")


def is_accepted_type(content_type: str) -> bool:
    """Whether a ``Content-Type`` value names a medium we can dream."""
    return content_type.split(";")[0].strip().lower().startswith(ACCEPTED_TYPE_PREFIXES)


def _looks_like_image(filename: str, content_type: Optional[str]) -> bool:
    if content_type:
        return is_accepted_type(content_type)
    return filename.lower().endswith(IMAGE_EXTENSIONS)


def ref_from_attachment(attachment: discord.Attachment) -> ImageRef:
    return ImageRef(
        url=attachment.url,
        filename=attachment.filename,
        content_type=attachment.content_type,
        size=attachment.size,
        attachment=attachment,
    )


def image_in_message(message: discord.Message) -> Optional[ImageRef]:
    """The first image of ``message`` (attachments first, then embed images)."""
    for attachment in message.attachments:
        if _looks_like_image(attachment.filename, attachment.content_type):
            return ref_from_attachment(attachment)
    for embed in message.embeds:
        video = getattr(embed.video, "url", None)
        if embed.type == "gifv" and video:  # Tenor / Giphy "GIFs" are MP4 clips
            name = urlparse(video).path.rsplit("/", 1)[-1] or "clip.mp4"
            return ImageRef(url=video, filename=name)
        for media in (embed.image, embed.thumbnail):
            url = getattr(media, "url", None)
            if url:
                name = urlparse(url).path.rsplit("/", 1)[-1] or "image.png"
                return ImageRef(url=url, filename=name)
    return None


async def find_recent_image(channel: object, *, limit: int = 20) -> Optional[ImageRef]:
    """The most recent image among the last ``limit`` messages of ``channel``."""
    if channel is None or not hasattr(channel, "history"):
        return None
    try:
        async for message in channel.history(limit=limit):
            ref = image_in_message(message)
            if ref is not None:
                return ref
    except (discord.Forbidden, discord.HTTPException):
        log.info("cannot read history of channel %s", getattr(channel, "id", "?"))
    return None


def check_ref(ref: ImageRef, limits: ImageLimits) -> None:
    """Checks that need no download (content type, announced size)."""
    if ref.content_type and not _looks_like_image(ref.filename, ref.content_type):
        kind = ref.content_type.split(";")[0]
        raise ImageRejected(f"`{ref.filename}` isn't an image (it's `{kind}`). {WHAT_TO_ATTACH}")
    if not ref.content_type and ref.attachment is not None and not _looks_like_image(ref.filename, None):
        raise ImageRejected(f"`{ref.filename}` doesn't look like an image. {WHAT_TO_ATTACH}")
    if ref.size is not None:
        _check_size(ref.size, ref.filename, limits)


def check_image_bytes(data: bytes, filename: str, limits: ImageLimits) -> tuple[int, int]:
    """Validate downloaded bytes of a still; returns ``(width, height)``. Blocking (decodes)."""
    _check_size(len(data), filename, limits)
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            if width * height > limits.max_pixels:
                raise ImageRejected(
                    f"`{filename}` is {width}×{height} ({width * height / 1e6:.0f} megapixels); the limit is "
                    f"{limits.max_pixels / 1e6:.0f} megapixels. Try a smaller picture."
                )
            img.load()
    except ImageRejected:
        raise
    except Image.DecompressionBombError:
        raise ImageRejected(
            f"`{filename}` has far too many pixels; the limit is {limits.max_pixels / 1e6:.0f} megapixels. "
            "Try a smaller picture."
        ) from None
    except UnidentifiedImageError:
        raise ImageRejected(f"I can't read `{filename}` as a picture. {WHAT_TO_ATTACH}") from None
    except (OSError, ValueError, SyntaxError):
        raise ImageRejected(f"`{filename}` looks damaged — I couldn't decode it. Try another file.") from None
    return width, height


def check_media_bytes(data: bytes, filename: str, limits: ImageLimits) -> tuple[int, int, Optional[ClipPlan]]:
    """Validate downloaded bytes, a still or a clip: ``(width, height, clip plan or None)``.
    Blocking (decodes a still; reads a clip's headers, with ffmpeg for a video)."""
    _check_size(len(data), filename, limits)
    try:
        plan = inspect_clip(data, filename, limits.clip)
    except ClipRejected as exc:
        raise ImageRejected(str(exc)) from None
    if plan is not None:
        return plan.size[0], plan.size[1], plan
    width, height = check_image_bytes(data, filename, limits)
    return width, height, None


def _check_size(size: int, filename: str, limits: ImageLimits) -> None:
    """Refuse an empty file or one over ``limits.max_bytes`` (announced or downloaded size)."""
    if size == 0:
        raise ImageRejected(f"`{filename}` is empty. Attach a real picture.")
    if size > limits.max_bytes:
        raise ImageRejected(
            f"`{filename}` is {_human_bytes(size)}; the limit is {_human_bytes(limits.max_bytes)}. "
            "Try a smaller picture."
        )


def _image_policy(limits: ImageLimits) -> FetchPolicy:
    return FetchPolicy(max_bytes=limits.max_bytes, allow_private=limits.allow_private_urls)


async def _download_url(url: str, limits: ImageLimits, policy: Optional[FetchPolicy] = None) -> bytes:
    """Fetch ``url`` through :func:`bot.safe_fetch.fetch_public` (public addresses only, checked
    redirects); every refusal is a generic :class:`ImageRejected`."""
    try:
        fetched = await fetch_public(
            url, policy or _image_policy(limits), accept=lambda ctype: ctype is None or is_accepted_type(ctype)
        )
    except TooLarge as exc:
        if exc.size is not None:
            raise ImageRejected(
                f"That picture is {_human_bytes(exc.size)}; the limit is {_human_bytes(limits.max_bytes)}."
            ) from None
        raise ImageRejected(f"That picture is over the {_human_bytes(limits.max_bytes)} limit.") from None
    except FetchRefused as exc:
        raise ImageRejected(str(exc)) from None
    return fetched.data


async def fetch_image(ref: ImageRef, limits: ImageLimits, *, policy: Optional[FetchPolicy] = None) -> InputImage:
    """Download and check the image behind ``ref``.

    ``policy`` overrides how links are fetched (default: from ``limits``; tests
    pass their own resolver through it).
    """
    check_ref(ref, limits)
    if ref.attachment is not None:
        try:
            data = await ref.attachment.read()
        except (discord.HTTPException, discord.NotFound):
            raise ImageRejected("I couldn't download that attachment. Try uploading it again.") from None
    else:
        data = await _download_url(ref.url, limits, policy)
    return await checked_input(data, ref.filename, limits, source_url=ref.url)


async def checked_input(data: bytes, filename: str, limits: ImageLimits, *, source_url: str = "") -> InputImage:
    """``data`` checked as a still or a clip (:func:`check_media_bytes`, in a thread)."""
    width, height, plan = await asyncio.to_thread(check_media_bytes, data, filename, limits)
    return InputImage(data=data, filename=filename, width=width, height=height, source_url=source_url, clip=plan)


def ref_from_url(url: str) -> ImageRef:
    name = urlparse(url).path.rsplit("/", 1)[-1] or "image"
    return ImageRef(url=url.strip(), filename=name)
