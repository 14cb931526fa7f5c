"""Request handlers of the gallery: HTML pages, pictures and static files.

Every handler asks :class:`~bot.web.gallery.GalleryReader` what may be shown;
anything it does not return is a 404, whether it never existed, is hidden,
unpublished, deleted, or belongs to a gallery that is not public (and the
unlisted key is missing or wrong): the gallery never tells them apart.
"""

from __future__ import annotations

import math
import re
from typing import Any, Optional

from aiohttp import web

from bot.store import FileMissing
from bot.web.assets import etag_matches
from bot.web.command import cli_command, key_parameter_rows, parameter_rows, reproduce_command
from bot.web.gallery import GalleryInfo, GalleryReader
from bot.web.keys import ASSETS_KEY, GALLERY_KEY, SETTINGS_KEY, TEMPLATES_KEY
from bot.web.urls import SORTS, dream_url, gallery_url, image_url

#: longest ``?key=`` accepted (the tokens are much shorter); longer ones are simply wrong
MAX_KEY_LENGTH = 128
#: Pictures of an entry may be hidden or unpublished at any time, so no cache (browser or
#: shared) may keep them longer than this without asking again. Revalidation is cheap
#: (ETag = sha256, a 304 with no body) and a hidden entry answers 404 to it. Versioned
#: URLs (``?v=``) only guarantee that the bytes never change under a URL, not that
#: they stay public, so they get the same short lifetime.
IMAGE_MAX_AGE_S = 300
IMAGE_CACHE = f"max-age={IMAGE_MAX_AGE_S}, must-revalidate"
#: pages change with votes, new dreams and unpublishing: always revalidate
PAGE_CACHE = "no-cache"
#: for everything reached through an unlisted gallery's key
NOINDEX = "noindex, nofollow, noarchive"


def _reader(request: web.Request) -> GalleryReader:
    return request.app[GALLERY_KEY]


def _key(request: web.Request) -> Optional[str]:
    key = request.query.get("key")
    if not key or len(key) > MAX_KEY_LENGTH:
        return None
    return key


def _page_number(request: web.Request) -> int:
    raw = request.query.get("page", "1")
    if not _PAGE_RE.match(raw):
        raise web.HTTPNotFound()
    return int(raw)


_PAGE_RE = re.compile(r"^[1-9][0-9]{0,5}$")  # ASCII digits only: "²" is a digit to str.isdigit


def render(
    request: web.Request,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    cache: Optional[str] = None,
) -> web.Response:
    """Render a template (autoescaped) into an HTML response."""
    html = request.app[TEMPLATES_KEY].get_template(template).render(**context)
    response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    response.headers["Cache-Control"] = cache or "no-store"
    return response


def render_error(request: web.Request, status: int, title: str, message: str) -> web.Response:
    """The HTML error page (used by the error middleware)."""
    return render(request, "error.html", {"status": status, "title": title, "message": message}, status=status)


def _page_cache(info: GalleryInfo) -> str:
    return f"{'private' if info.unlisted else 'public'}, {PAGE_CACHE}"


def _unlisted_headers(response: web.Response, unlisted: bool) -> web.Response:
    """Ask search engines to stay out of unlisted galleries (the link may still leak)."""
    if unlisted:
        response.headers["X-Robots-Tag"] = NOINDEX
    return response


def _absolute(request: web.Request, path: str) -> Optional[str]:
    """``path`` under the configured ``DREAMBOT_WEB_URL``; ``None`` without one.

    Never built from the request (its ``Host`` header is the client's to choose).
    """
    base = request.app[SETTINGS_KEY].web_url
    if base:
        return base.rstrip("/") + path
    return None


async def index(request: web.Request) -> web.Response:
    galleries = await _reader(request).public_galleries()
    cards = [
        {
            "name": g.name,
            "dream_count": g.dream_count,
            "url": gallery_url(g.guild_id),
            "cover_url": image_url(g.cover_entry_id, "thumb", version=g.cover_version)
            if g.cover_entry_id is not None
            else None,
        }
        for g in galleries
    ]
    return render(request, "index.html", {"galleries": cards}, cache=f"public, {PAGE_CACHE}")


async def gallery(request: web.Request) -> web.Response:
    reader = _reader(request)
    guild_id = int(request.match_info["guild_id"])
    if guild_id >= 2**63:  # not a Discord id (and too big for the database)
        raise web.HTTPNotFound()
    key = _key(request)
    info = await reader.gallery(guild_id, key)
    if info is None:
        raise web.HTTPNotFound()
    sort = request.query.get("sort", "recent")
    if sort not in SORTS:
        raise web.HTTPNotFound()
    page = _page_number(request)
    tiles, total = await reader.dreams(guild_id, sort=sort, page=page)
    pages = max(1, math.ceil(total / reader.page_size))
    if page > pages:
        raise web.HTTPNotFound()
    link_key = info.key if info.unlisted else None
    context = {
        "gallery": {"name": info.name, "unlisted": info.unlisted, "url": gallery_url(guild_id, key=link_key)},
        "tiles": [
            {
                "id": t.id,
                "url": dream_url(t.id, key=link_key),
                "thumb_url": image_url(t.id, "thumb", key=link_key, version=t.version),
                "thumb_width": t.thumb_width,
                "thumb_height": t.thumb_height,
                "author": t.author,
                "title": t.title,
                "score": t.score,
                "is_animation": t.is_animation,
            }
            for t in tiles
        ],
        "total": total,
        "sort": sort,
        "page": page,
        "pages": pages,
        "sort_urls": {s: gallery_url(guild_id, key=link_key, sort=s) for s in SORTS},
        "prev_url": gallery_url(guild_id, key=link_key, sort=sort, page=page - 1) if page > 1 else None,
        "next_url": gallery_url(guild_id, key=link_key, sort=sort, page=page + 1) if page < pages else None,
    }
    return _unlisted_headers(render(request, "gallery.html", context, cache=_page_cache(info)), info.unlisted)


async def unlisted(request: web.Request) -> web.Response:
    """``/u/<token>``: the short unlisted link, redirecting to the gallery with its key."""
    info = await _reader(request).gallery_by_token(request.match_info["token"])
    if info is None:
        raise web.HTTPNotFound()
    raise web.HTTPFound(gallery_url(info.guild_id, key=info.key), headers={"Cache-Control": "no-store"})


async def dream(request: web.Request) -> web.Response:
    found = await _reader(request).dream(int(request.match_info["dream_id"]), _key(request))
    if found is None:
        raise web.HTTPNotFound()
    d, info = found
    link_key = info.key if info.unlisted else None
    result_url = image_url(d.id, "result", key=link_key, version=d.result_version)
    context = {
        "gallery": {
            "name": info.name,
            "unlisted": info.unlisted,
            "url": gallery_url(info.guild_id, key=link_key),
        },
        "dream": {
            "id": d.id,
            "author": d.author,
            "score": d.score,
            "created": d.created_at.strftime("%d %B %Y") if d.created_at else None,
            "result_url": result_url,
            "result_url_abs": _absolute(request, result_url),
            "source_url": image_url(d.id, "source", key=link_key, version=d.source_version) if d.has_source else None,
            "width": d.width,
            "height": d.height,
            "source_width": d.source_width,
            "source_height": d.source_height,
            "is_animation": d.is_animation,
            "is_video": d.is_video,
            "source_is_video": d.source_is_video,
            "command": reproduce_command(d.params, has_source=d.has_source, source_ext=d.source_ext),
            "cli_command": cli_command(d.params, has_source=d.has_source, source_ext=d.source_ext),
            "params": parameter_rows(d.params),
            "key_params": key_parameter_rows(d.params),
            "title": d.title,
            "model": d.model,
            "seconds": d.seconds,
        },
    }
    return _unlisted_headers(render(request, "dream.html", context, cache=_page_cache(info)), info.unlisted)


async def image(request: web.Request) -> web.StreamResponse:
    """A dream's picture by id: content type from its bytes, ETag from its sha256, 304 when unchanged."""
    version = request.query.get("v")
    found = await _reader(request).image(
        int(request.match_info["dream_id"]), request.match_info["kind"], _key(request), version
    )
    if found is None:
        raise web.HTTPNotFound()
    etag = f'"{found.sha256}"'
    headers = {
        "ETag": etag,
        "Cache-Control": ("private, " if found.private else "public, ") + IMAGE_CACHE,
        "Content-Disposition": "inline",
    }
    if found.private:
        headers["X-Robots-Tag"] = NOINDEX
    if etag_matches(request, etag):
        return web.Response(status=304, headers=headers)
    try:
        data = await found.read()
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


async def static(request: web.Request) -> web.StreamResponse:
    return request.app[ASSETS_KEY].response(request, request.match_info["name"])
