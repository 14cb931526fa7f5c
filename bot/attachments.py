"""Finding, checking and downloading the picture a user wants dreamed.

An image can come from a slash-command attachment, an ``image_url`` option,
a message (context menu) or the most recent image in the channel. Whatever the
source, :func:`fetch_image` returns checked bytes or raises
:class:`ImageRejected` whose message can be shown to the user as is.

Checks, in order: content type (``image/*``), byte size (not empty, not over
the limit), decodable by Pillow, pixel count under the limit.
"""

from __future__ import annotations

import asyncio
import io
import ipaddress
import logging
import socket
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlparse

import aiohttp
import discord
from PIL import Image, UnidentifiedImageError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff")
DOWNLOAD_TIMEOUT_S = 20.0


class ImageRejected(Exception):
    """The picture can't be used; ``str(exc)`` is a friendly one-line reason."""


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int
    max_pixels: int
    allow_private_urls: bool = False


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
    """A downloaded, checked image."""

    data: bytes
    filename: str
    width: int
    height: int
    source_url: str


def _human_bytes(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n} bytes"


def _looks_like_image(filename: str, content_type: Optional[str]) -> bool:
    if content_type:
        return content_type.split(";")[0].strip().lower().startswith("image/")
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
        raise ImageRejected(f"`{ref.filename}` isn't an image (it's `{kind}`). Attach a PNG, JPEG, WebP or GIF.")
    if not ref.content_type and ref.attachment is not None and not _looks_like_image(ref.filename, None):
        raise ImageRejected(f"`{ref.filename}` doesn't look like an image. Attach a PNG, JPEG, WebP or GIF.")
    if ref.size is not None:
        if ref.size == 0:
            raise ImageRejected(f"`{ref.filename}` is empty. Attach a real picture.")
        if ref.size > limits.max_bytes:
            raise ImageRejected(
                f"`{ref.filename}` is {_human_bytes(ref.size)}; the limit is {_human_bytes(limits.max_bytes)}. "
                "Try a smaller picture."
            )


def check_image_bytes(data: bytes, filename: str, limits: ImageLimits) -> tuple[int, int]:
    """Validate downloaded bytes; returns ``(width, height)``. Blocking (decodes)."""
    if not data:
        raise ImageRejected(f"`{filename}` is empty. Attach a real picture.")
    if len(data) > limits.max_bytes:
        raise ImageRejected(
            f"`{filename}` is {_human_bytes(len(data))}; the limit is {_human_bytes(limits.max_bytes)}. "
            "Try a smaller picture."
        )
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
        raise ImageRejected(f"I can't read `{filename}` as a picture. Attach a PNG, JPEG, WebP or GIF.") from None
    except (OSError, ValueError, SyntaxError):
        raise ImageRejected(f"`{filename}` looks damaged — I couldn't decode it. Try another file.") from None
    return width, height


def _host_is_private(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        raise ImageRejected(f"I can't find the server `{host}`. Check the link.") from None
    for info in infos:
        addr = ipaddress.ip_address(info[4][0])
        if addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_reserved or addr.is_multicast:
            return True
    return False


async def _download_url(url: str, limits: ImageLimits) -> tuple[bytes, Optional[str]]:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ImageRejected("That link doesn't look right — give me an `https://` link to a picture.")
    if not limits.allow_private_urls:
        private = await asyncio.to_thread(_host_is_private, parsed.hostname)
        if private:
            raise ImageRejected("I can only fetch pictures from public websites.")
    timeout = aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT_S)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, allow_redirects=True) as resp,
        ):
            if resp.status != 200:
                raise ImageRejected(f"That link answered with HTTP {resp.status}. Check the link.")
            content_type = resp.headers.get("Content-Type")
            announced = resp.content_length
            if announced is not None and announced > limits.max_bytes:
                raise ImageRejected(
                    f"That picture is {_human_bytes(announced)}; the limit is "
                    f"{_human_bytes(limits.max_bytes)}."
                )
            buf = bytearray()
            async for chunk in resp.content.iter_chunked(64 * 1024):
                buf.extend(chunk)
                if len(buf) > limits.max_bytes:
                    raise ImageRejected(f"That picture is over the {_human_bytes(limits.max_bytes)} limit.")
            return bytes(buf), content_type
    except (aiohttp.ClientError, asyncio.TimeoutError):
        raise ImageRejected("I couldn't download that picture. Check the link and try again.") from None


async def fetch_image(ref: ImageRef, limits: ImageLimits) -> InputImage:
    """Download and check the image behind ``ref``."""
    check_ref(ref, limits)
    if ref.attachment is not None:
        try:
            data = await ref.attachment.read()
        except (discord.HTTPException, discord.NotFound):
            raise ImageRejected("I couldn't download that attachment. Try uploading it again.") from None
    else:
        data, content_type = await _download_url(ref.url, limits)
        check_ref(ImageRef(ref.url, ref.filename, content_type, None), limits)
    width, height = await asyncio.to_thread(check_image_bytes, data, ref.filename, limits)
    return InputImage(data=data, filename=ref.filename, width=width, height=height, source_url=ref.url)


def ref_from_url(url: str) -> ImageRef:
    name = urlparse(url).path.rsplit("/", 1)[-1] or "image"
    return ImageRef(url=url.strip(), filename=name)
