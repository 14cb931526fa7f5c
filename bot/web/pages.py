"""Request handlers of the gallery's HTML pages and static files (pictures: :mod:`bot.web.pictures`).

Every handler asks :class:`~bot.web.gallery.GalleryReader` what may be shown;
anything it does not return is a 404, whether it never existed, is hidden,
unpublished, deleted, or belongs to a gallery that is not public (and the
unlisted key is missing or wrong): the gallery never tells them apart.

Pages are rendered once and kept in the :class:`~bot.web.page_cache.PageCache`
until the database changes (404s too), keyed by what the request asked for
after it was checked (unknown query parameters are not part of the key). Each
page has an ETag from its body: a browser revalidating an unchanged page gets
a 304.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Optional

from aiohttp import web

from bot.web.assets import etag_matches
from bot.web.atlas_links import dream_targets
from bot.web.command import cli_command, key_parameter_rows, parameter_rows, reproduce_command
from bot.web.examples import examples
from bot.web.gallery import GalleryInfo, GalleryReader
from bot.web.keys import ASSETS_KEY, GALLERY_KEY, PAGES_KEY, SETTINGS_KEY, TEMPLATES_KEY
from bot.web.page_cache import CachedPage
from bot.web.pictures import NOINDEX
from bot.web.request_args import gallery_key, page_number, sort_order
from bot.web.urls import SORTS, dream_url, gallery_url, image_url

#: pages change with votes, new dreams and unpublishing: always revalidate
PAGE_CACHE = "no-cache"
HTML = "text/html; charset=utf-8"


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


def render_page(app: web.Application, template: str, context: dict[str, Any], *, cache: str,
                unlisted: bool = False) -> CachedPage:
    """Render a template (autoescaped) into a page for the cache. Unlisted galleries ask
    search engines to stay out (the link may still leak)."""
    html = app[TEMPLATES_KEY].get_template(template).render(**context)
    headers = {"Content-Type": HTML, "Cache-Control": cache}
    if unlisted:
        headers["X-Robots-Tag"] = NOINDEX
    return CachedPage.of(html.encode("utf-8"), headers)


async def cached_page(
    request: web.Request, key: Hashable, build: Callable[[], Awaitable[Optional[CachedPage]]]
) -> web.Response:
    """The page for ``key`` from the cache (built by ``build`` on a miss; ``None`` is a 404),
    or a 304 when the request's If-None-Match names it."""
    page = await request.app[PAGES_KEY].get(key, build)
    if page is None:
        raise web.HTTPNotFound()
    if etag_matches(request, page.etag):
        headers = {name: value for name, value in page.headers.items() if name != "Content-Type"}
        return web.Response(status=304, headers={**headers, "ETag": page.etag})
    return web.Response(body=page.body, headers={**page.headers, "ETag": page.etag})


def _absolute(app: web.Application, path: str) -> Optional[str]:
    """``path`` under the configured ``DREAMBOT_WEB_URL``; ``None`` without one.

    Never built from the request (its ``Host`` header is the client's to choose).
    """
    base = app[SETTINGS_KEY].web_url
    if base:
        return base.rstrip("/") + path
    return None


async def index(request: web.Request) -> web.Response:
    app = request.app

    async def build() -> CachedPage:
        galleries = await app[GALLERY_KEY].public_galleries()
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
        context = {"galleries": cards, "examples": [] if cards else examples(app[ASSETS_KEY])}
        return render_page(app, "index.html", context, cache=f"public, {PAGE_CACHE}")

    return await cached_page(request, ("index",), build)


async def gallery(request: web.Request) -> web.Response:
    guild_id = int(request.match_info["guild_id"])
    if guild_id >= 2**63:  # not a Discord id (and too big for the database)
        raise web.HTTPNotFound()
    key, sort, page = gallery_key(request), sort_order(request), page_number(request)
    app = request.app

    async def build() -> Optional[CachedPage]:
        return await _gallery_page(app, guild_id, key, sort, page)

    return await cached_page(request, ("gallery", guild_id, key, sort, page), build)


async def _gallery_page(
    app: web.Application, guild_id: int, key: Optional[str], sort: str, page: int
) -> Optional[CachedPage]:
    reader: GalleryReader = app[GALLERY_KEY]
    info = await reader.gallery(guild_id, key)
    if info is None:
        return None
    tiles, total = await reader.dreams(guild_id, sort=sort, page=page)
    pages = max(1, math.ceil(total / reader.page_size))
    if page > pages:
        return None
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
    return render_page(app, "gallery.html", context, cache=_page_cache(info), unlisted=info.unlisted)


async def unlisted(request: web.Request) -> web.Response:
    """``/u/<token>``: the short unlisted link, redirecting to the gallery with its key."""
    info = await request.app[GALLERY_KEY].gallery_by_token(request.match_info["token"])
    if info is None:
        raise web.HTTPNotFound()
    raise web.HTTPFound(gallery_url(info.guild_id, key=info.key), headers={"Cache-Control": "no-store"})


async def dream(request: web.Request) -> web.Response:
    entry_id, key = int(request.match_info["dream_id"]), gallery_key(request)
    app = request.app

    async def build() -> Optional[CachedPage]:
        return await _dream_page(app, entry_id, key)

    return await cached_page(request, ("dream", entry_id, key), build)


async def _dream_page(app: web.Application, entry_id: int, key: Optional[str]) -> Optional[CachedPage]:
    found = await app[GALLERY_KEY].dream(entry_id, key)
    if found is None:
        return None
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
            "result_url_abs": _absolute(app, result_url),
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
            "atlas": dream_targets(d.model, d.params.layer),
        },
    }
    return render_page(app, "dream.html", context, cache=_page_cache(info), unlisted=info.unlisted)


async def static(request: web.Request) -> web.StreamResponse:
    return request.app[ASSETS_KEY].response(request, request.match_info["name"])
