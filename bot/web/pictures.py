"""Serving a dream's pictures: ``GET /img/<entry>/<kind>``.

Two caches make a picture cheap, and neither can show a hidden one:

- *which file* a request may see (the visibility check, three queries) is kept
  in the :class:`~bot.web.page_cache.PageCache`, so it is asked again after any
  commit to the database;
- *the bytes* of a file are kept in :class:`~bot.web.file_bytes.FileBytes`, by
  sha256: the store is content-addressed, so the bytes under a sha256 never
  change and need no invalidation.

The ETag is the file's sha256: a revalidation that matches is a 304 without
reading anything. Single byte ranges are answered (video players need them).
"""

from __future__ import annotations

import re
from typing import Optional

from aiohttp import web

from bot.store import FileMissing
from bot.web.assets import etag_matches
from bot.web.keys import FILE_BYTES_KEY, GALLERY_KEY, PICTURES_KEY
from bot.web.request_args import gallery_key

#: Pictures of an entry may be hidden or unpublished at any time. A browser may keep
#: one for 5 minutes (its user has seen it already), but a shared cache (a CDN, a
#: proxy) must ask again every time (``s-maxage=0``) and a hidden entry answers 404 to
#: that: nobody new is shown a hidden picture from any cache. Revalidation is cheap (ETag
#: = sha256, a 304 with no body). Versioned URLs (``?v=``) only guarantee that the bytes
#: never change under a URL, not that they stay public, so they get the same lifetime.
IMAGE_MAX_AGE_S = 300
PUBLIC_IMAGE_CACHE = f"public, max-age={IMAGE_MAX_AGE_S}, s-maxage=0, must-revalidate"
#: unlisted galleries' pictures are for browsers only
PRIVATE_IMAGE_CACHE = f"private, max-age={IMAGE_MAX_AGE_S}, must-revalidate"
#: for everything reached through an unlisted gallery's key
NOINDEX = "noindex, nofollow, noarchive"
#: longest ``?v=`` accepted (versions are 16 hex digits); longer ones are simply wrong
MAX_VERSION_LENGTH = 64

async def image(request: web.Request) -> web.StreamResponse:
    """A dream's picture by id: content type from its bytes, ETag from its sha256, 304 when unchanged."""
    version = request.query.get("v")
    if version is not None and len(version) > MAX_VERSION_LENGTH:
        raise web.HTTPNotFound()
    entry_id, kind, key = int(request.match_info["dream_id"]), request.match_info["kind"], gallery_key(request)
    reader = request.app[GALLERY_KEY]
    found = await request.app[PICTURES_KEY].get(
        (entry_id, kind, key, version), lambda: reader.image(entry_id, kind, key, version)
    )
    if found is None:
        raise web.HTTPNotFound()
    etag = f'"{found.sha256}"'
    headers = {
        "ETag": etag,
        "Cache-Control": PRIVATE_IMAGE_CACHE if found.private else PUBLIC_IMAGE_CACHE,
        "Content-Disposition": "inline",
    }
    if found.private:
        headers["X-Robots-Tag"] = NOINDEX
    if etag_matches(request, etag):
        return web.Response(status=304, headers=headers)
    try:
        data = await request.app[FILE_BYTES_KEY].read(found)
    except FileMissing:
        raise web.HTTPNotFound() from None
    headers["Content-Type"] = found.content_type
    headers["Accept-Ranges"] = "bytes"
    wanted = request.headers.get("Range")
    if wanted and request.headers.get("If-Range", etag) == etag:
        try:
            span = byte_range(wanted, len(data))
        except RangeNotSatisfiable:
            return web.Response(status=416, headers={**headers, "Content-Range": f"bytes */{len(data)}"})
        if span is not None:
            start, end = span
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            return web.Response(status=206, body=data[start : end + 1], headers=headers)
    return web.Response(body=data, headers=headers)


class RangeNotSatisfiable(Exception):
    """A byte range outside the file (answered with 416)."""


_RANGE_RE = re.compile(r"^bytes=(\d{0,15})-(\d{0,15})$")


def byte_range(header: str, size: int) -> Optional[tuple[int, int]]:
    """The inclusive ``(start, end)`` of a single ``Range: bytes=...`` header (media players
    and Safari need them for video). ``None``: ignore the header and send the whole file
    (several ranges, or not a byte range, as RFC 9110 allows). Raises
    :class:`RangeNotSatisfiable` for a range outside the file.
    """
    m = _RANGE_RE.match(header.strip())
    if m is None:
        return None
    first, last = m.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        n = int(last)
        if n == 0 or size == 0:
            raise RangeNotSatisfiable()
        return (max(0, size - n), size - 1)
    start = int(first)
    if start >= size:
        raise RangeNotSatisfiable()
    end = min(int(last), size - 1) if last else size - 1
    if end < start:
        return None
    return (start, end)
