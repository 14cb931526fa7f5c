"""The atlas on the web: what every layer and filter of each model has learned.

``/atlas`` lists the catalog's models and layers; ``/atlas/<model>/<layer>`` is a grid
of every filter of a layer; ``/atlas/<model>/<layer>/<n>`` shows one filter large, its
diversity images, the ``/dream`` line that uses it and the gallery's dreams that did.
Pictures come from the atlas's render cache (:mod:`bot.web.atlas_images`); a filter
not rendered yet is a placeholder that ``atlas.js`` fills in by polling the page's
``status`` endpoint, which orders the render (:mod:`bot.web.atlas_renders`) when the
site runs inside the bot. A layer named by an alias (``mixed4``) redirects to its own
name; an unknown model, layer or filter is a 404 that says which, in one line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Optional

from aiohttp import web

from bot.web.assets import etag_matches
from bot.web.atlas_images import GRID_SIZE, LARGE_SIZE, VERSION_LEN, VIEWS
from bot.web.atlas_links import dream_line, filter_dreams, friendly_layer, layer_aliases
from bot.web.atlas_renders import RenderOrder, RenderState
from bot.web.keys import ATLAS_DREAMS_KEY, ATLAS_IMAGES_KEY, ATLAS_RENDERS_KEY, STORE_KEY, TEMPLATES_KEY
from bot.web.page_cache import CachedPage
from bot.web.pages import HTML, cached_page, render, render_error
from bot.web.request_args import page_number
from bot.web.urls import atlas_image_url, atlas_url
from dream_core import catalog
from dream_core.atlas.request import PER_PAGE, AtlasInputError, AtlasTarget, check_filter, page_filters, resolve_layer

#: how often a page with renders under way asks again (ms); without a renderer, less often
POLL_MS = 1500
POLL_IDLE_MS = 3000
#: a render's URL with its ``?v=`` names bytes that never change
IMMUTABLE = "public, max-age=31536000, immutable"
UNVERSIONED = "public, max-age=60"


class _Missing(Exception):
    """An unknown model, layer or filter: a 404 with this one line."""


def _not_found(request: web.Request, line: str) -> web.Response:
    return render_error(request, 404, "Not found", line)


def _target(request: web.Request) -> AtlasTarget:
    """The model and layer of the URL; an alias is a redirect to the layer's own name."""
    model, layer = request.match_info["model"], request.match_info["layer"]
    try:
        target = resolve_layer(model, layer)
    except AtlasInputError as exc:
        raise _Missing(str(exc)) from None
    if target.layer != layer:
        rest = request.path.split("/", 4)[4:]  # what follows the layer
        path = atlas_url(target.model, target.layer) + ("/" + rest[0] if rest else "")
        raise web.HTTPFound(path + (f"?{request.query_string}" if request.query_string else ""))
    return target


def _filter(request: web.Request, target: AtlasTarget) -> int:
    try:
        return check_filter(target, int(request.match_info["n"]))
    except AtlasInputError as exc:
        raise _Missing(str(exc)) from None


def _build_command(target: AtlasTarget) -> str:
    return f"dreambot atlas build --model {target.model} --layers {friendly_layer(target.model, target.layer)}"


# ------------------------------------------------------------------ /atlas


async def atlas_index(request: web.Request) -> web.Response:
    app = request.app

    async def build() -> CachedPage:
        models = []
        for info in catalog.CATALOG.values():
            aliases: dict[str, list[str]] = {}
            for alias, own in info.aliases.items():
                aliases.setdefault(own, []).append(alias)
            models.append({
                "name": info.name,
                "title": info.title,
                "layers": [
                    {"name": name, "channels": channels, "aliases": aliases.get(name, []),
                     "url": atlas_url(info.name, name)}
                    for name, channels in info.layers
                ],
            })
        html = app[TEMPLATES_KEY].get_template("atlas_index.html").render(models=models)
        return CachedPage.of(html.encode("utf-8"), {"Content-Type": HTML, "Cache-Control": "public, no-cache"})

    return await cached_page(request, ("atlas",), build)


async def atlas_model(request: web.Request) -> web.Response:
    model = request.match_info["model"]
    if model not in catalog.CATALOG:
        return _not_found(request, f"unknown model {model!r}: choose one of {', '.join(catalog.CATALOG)}")
    raise web.HTTPFound(f"/atlas#{model}")


# ------------------------------------------------------------------ a layer


def _order(target: AtlasTarget, filters: Sequence[int], *, size: int, single: bool = False) -> RenderOrder:
    return RenderOrder(target.model, target.layer, tuple(filters), size, single, VIEWS if single else 0)


def _state(request: web.Request, order: RenderOrder, missing: Sequence[int], *, was_busy: bool) -> RenderState:
    """Orders the ``missing`` renders of ``order`` (if a renderer is at hand) and says where its
    filters stand. ``was_busy``: some were under way *before* the cache was read (a render
    landing meanwhile may have been half seen: the page asks once more)."""
    renders = request.app[ATLAS_RENDERS_KEY]
    if missing:
        return renders.request(dataclasses.replace(order, filters=tuple(missing)))
    return RenderState(renderer=renders.renderer is not None, rendering=was_busy or renders.busy(order))


async def atlas_layer(request: web.Request) -> web.Response:
    try:
        target = _target(request)
    except _Missing as exc:
        return _not_found(request, str(exc))
    images = request.app[ATLAS_IMAGES_KEY]
    rendered = await images.rendered(target, range(target.channels))
    info = catalog.get_info(target.model)
    names = [name for name, _ in info.layers]
    depth = names.index(target.layer)
    renderer = request.app[ATLAS_RENDERS_KEY].renderer is not None
    context: dict[str, Any] = {
        "model": {"name": info.name, "title": info.title},
        "layer": {
            "name": target.layer,
            "friendly": friendly_layer(target.model, target.layer),
            "aliases": layer_aliases(target.model, target.layer),
            "channels": target.channels,
            "depth": depth + 1,
            "depths": len(names),
        },
        "cells": [
            {
                "n": n,
                "url": atlas_url(target.model, target.layer, n),
                "img": atlas_image_url(target.model, target.layer, n, GRID_SIZE, version=rendered[n])
                if n in rendered else None,
            }
            for n in range(target.channels)
        ],
        "missing": target.channels - len(rendered),
        "renderer": renderer,
        "build_command": _build_command(target),
        "status_url": atlas_url(target.model, target.layer) + "/status",
        "per_page": PER_PAGE,
        "poll_ms": POLL_MS if renderer else POLL_IDLE_MS,
        "grid_size": GRID_SIZE,
        "prev_url": atlas_url(target.model, names[depth - 1]) if depth > 0 else None,
        "next_url": atlas_url(target.model, names[depth + 1]) if depth + 1 < len(names) else None,
        "atlas_url": atlas_url(),
    }
    response = render(request, "atlas_layer.html", context, cache="no-cache")
    response.enable_compression()  # a 2048-filter layer is ~500 kB of cells, ~25 kB compressed; no secrets in it
    return response


async def atlas_layer_status(request: web.Request) -> web.Response:
    """``?page=N`` (16 filters): which are rendered (with their URLs); orders the others."""
    try:
        target = _target(request)
        page = page_number(request)
        filters = page_filters(target, page)
    except web.HTTPNotFound:
        return web.json_response({"error": "page must be a number from 1"}, status=404,
                                 headers={"Cache-Control": "no-store"})
    except (_Missing, AtlasInputError) as exc:
        return web.json_response({"error": str(exc)}, status=404, headers={"Cache-Control": "no-store"})
    order = _order(target, filters, size=GRID_SIZE)
    was_busy = request.app[ATLAS_RENDERS_KEY].busy(order)
    rendered = await request.app[ATLAS_IMAGES_KEY].rendered(target, filters)
    missing = [n for n in filters if n not in rendered]
    state = _state(request, order, missing, was_busy=was_busy)
    body = {
        "page": page,
        "images": {str(n): atlas_image_url(target.model, target.layer, n, GRID_SIZE, version=v)
                   for n, v in rendered.items()},
        "missing": missing,
        "renderer": state.renderer,
        "rendering": state.rendering,
        "failed": state.failed,
    }
    return web.json_response(body, headers={"Cache-Control": "no-store"})


# ------------------------------------------------------------------ a filter


async def _filter_images(request: web.Request, target: AtlasTarget, n: int) -> dict[str, Any]:
    images = request.app[ATLAS_IMAGES_KEY]
    order = _order(target, [n], size=LARGE_SIZE, single=True)
    was_busy = request.app[ATLAS_RENDERS_KEY].busy(order)
    large = await images.views(target, n)
    grid = await images.rendered(target, [n])
    state = _state(request, order, [] if 0 in large else [n], was_busy=was_busy)
    return {
        "main": atlas_image_url(target.model, target.layer, n, LARGE_SIZE, 0, version=large[0]) if 0 in large
        else None,
        "grid": atlas_image_url(target.model, target.layer, n, GRID_SIZE, version=grid[n]) if n in grid else None,
        "variants": [atlas_image_url(target.model, target.layer, n, LARGE_SIZE, v, version=large[v])
                     for v in sorted(large) if v > 0],
        "renderer": state.renderer,
        "rendering": state.rendering,
        "failed": state.failed,
    }


async def atlas_filter(request: web.Request) -> web.Response:
    try:
        target = _target(request)
        n = _filter(request, target)
    except _Missing as exc:
        return _not_found(request, str(exc))
    store = request.app[STORE_KEY]
    with_filter, with_layer = await request.app[ATLAS_DREAMS_KEY].get(
        ("atlas-dreams", target.model, target.layer, n),
        lambda: filter_dreams(store, target.model, target.layer, n),
    )
    friendly = friendly_layer(target.model, target.layer)
    context: dict[str, Any] = {
        "model": {"name": target.model, "title": catalog.get_info(target.model).title},
        "layer": {"name": target.layer, "friendly": friendly, "channels": target.channels,
                  "url": atlas_url(target.model, target.layer)},
        "n": n,
        "images": await _filter_images(request, target, n),
        "dream_line": dream_line(target.model, target.layer, n),
        "cli_line": f"dreambot atlas --model {target.model} --layer {friendly} --filter {n} -o f{n}.png",
        "with_filter": with_filter,
        "with_layer": with_layer,
        "status_url": atlas_url(target.model, target.layer, n) + "/status",
        "poll_ms": POLL_MS,
        "views": VIEWS,
        "large_size": LARGE_SIZE,
        "prev_url": atlas_url(target.model, target.layer, n - 1) if n > 0 else None,
        "next_url": atlas_url(target.model, target.layer, n + 1) if n + 1 < target.channels else None,
        "atlas_url": atlas_url(),
    }
    return render(request, "atlas_filter.html", context, cache="no-cache")


async def atlas_filter_status(request: web.Request) -> web.Response:
    try:
        target = _target(request)
        n = _filter(request, target)
    except _Missing as exc:
        return web.json_response({"error": str(exc)}, status=404, headers={"Cache-Control": "no-store"})
    return web.json_response(await _filter_images(request, target, n), headers={"Cache-Control": "no-store"})


# ------------------------------------------------------------------ pictures


async def atlas_image(request: web.Request) -> web.StreamResponse:
    """A render from the atlas cache: ETag from its digest; with the right ``?v=`` it never changes."""
    try:
        target = _target(request)
        n = _filter(request, target)
    except _Missing as exc:
        return _not_found(request, str(exc))
    size, variant = int(request.match_info["size"]), int(request.match_info["variant"])
    found = await request.app[ATLAS_IMAGES_KEY].png(target, n, size, variant)
    if found is None:
        return _not_found(request, f"filter {n} of {target.layer} has no picture {size}-{variant}.png (yet)")
    data, digest = found
    version: Optional[str] = request.query.get("v")
    etag = f'"{digest[:32]}"'
    headers = {
        "ETag": etag,
        "Cache-Control": IMMUTABLE if version == digest[:VERSION_LEN] else UNVERSIONED,
    }
    if etag_matches(request, etag):
        return web.Response(status=304, headers=headers)
    return web.Response(body=data, headers={**headers, "Content-Type": "image/png"})
