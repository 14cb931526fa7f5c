"""The web gallery's aiohttp application, and the ``dreambot web`` runner.

:func:`create_web_app` builds the app around an open store and file store;
``dreambot run`` embeds it next to the bot with :func:`start_web`, and
``dreambot web`` serves it on its own with :func:`run_web`.

Routes::

    GET /                     public galleries
    GET /g/<guild>            a guild's gallery (?sort=recent|top, ?page=N, ?key=<token> if unlisted)
    GET /u/<token>            short unlisted link: redirects to /g/<guild>?key=<token>
    GET /d/<entry>            a dream's page (?key=<token> if its gallery is unlisted)
    GET /img/<entry>/<kind>   its result, source or thumb picture, by id only (?v=<sha256 prefix>
                              pins the bytes; a stale ?v= is 404). Browsers keep it 5 minutes,
                              shared caches revalidate every time (a hidden entry answers 404)
    GET /static/<name>        the stylesheet, the slider script, the icon and examples/<name>, the
                              example pictures (a fixed whitelist)
    GET /healthz              JSON health: store reachable, executor workers alive (200 or 503)
    GET /atlas                the atlas: every model's layers (bot/web/atlas_pages.py)
    GET /atlas/<model>/<layer>              a layer's filters in a grid (an alias redirects to its own name)
    GET /atlas/<model>/<layer>/status       JSON ?page=N: which of 16 filters are rendered; orders the rest
    GET /atlas/<model>/<layer>/<n>          one filter: large, its diversity images, /dream line, dreams
    GET /atlas/<model>/<layer>/<n>/status   JSON: the filter's renders; orders them
    GET /atlas/<model>/<layer>/<n>/<size>-<variant>.png   a render from the atlas cache

``<entry>`` is a gallery entry id (a dream as published in one guild).

Pages and picture lookups are kept in a :class:`~bot.web.page_cache.PageCache` until
the database changes (:mod:`bot.store.changes`), picture bytes by sha256
(:mod:`bot.web.file_bytes`); ``/healthz`` repeats the store's check for a second.

``/metrics`` (Prometheus text) is not on the gallery's port: :func:`create_metrics_app`
serves it, with ``/healthz``, on its own listener (``DREAMBOT_METRICS_HOST`` /
``DREAMBOT_METRICS_PORT``, 127.0.0.1:9108 by default), which :func:`start_web` opens
next to the gallery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from typing import Any, Optional

import jinja2
from aiohttp import web

from bot.metrics import Metrics, get_metrics
from bot.settings import Settings
from bot.store.changes import ChangeWatcher, watcher_for
from bot.web import atlas_pages, health, pages, pictures
from bot.web.assets import Assets
from bot.web.atlas_images import AtlasImages
from bot.web.atlas_renders import AtlasRenderer, AtlasRenders, ExecutorRenderer
from bot.web.file_bytes import FileBytes
from bot.web.gallery import GalleryReader
from bot.web.keys import (
    ASSETS_KEY,
    ATLAS_DREAMS_KEY,
    ATLAS_IMAGES_KEY,
    ATLAS_RENDERS_KEY,
    DRAINING_KEY,
    EXECUTOR_KEY,
    FILE_BYTES_KEY,
    FILES_KEY,
    GALLERY_KEY,
    METRICS_KEY,
    PAGES_KEY,
    PICTURES_KEY,
    SETTINGS_KEY,
    STORE_CHECK_KEY,
    STORE_KEY,
    TEMPLATES_KEY,
)
from bot.web.page_cache import PageCache
from bot.web.security import error_pages, hide_server_version, hide_server_version_everywhere, security_headers
from bot.web.store_check import StoreCheck
from bot.web.text import strip_bidi

log = logging.getLogger(__name__)


def create_templates(assets: Assets) -> jinja2.Environment:
    """The jinja2 environment of the gallery: autoescaping on for every template."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bot.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static_url"] = assets.url
    env.filters["nobidi"] = strip_bidi
    return env


def create_web_app(
    store: Any,
    files: Any,
    *,
    settings: Settings,
    executor: Any = None,
    metrics: Optional[Metrics] = None,
    draining: Callable[[], bool] = lambda: False,
    atlas_cache: Any = None,
    atlas_renderer: Optional[AtlasRenderer] = None,
) -> web.Application:
    """Build the gallery app.

    ``store`` is an open :class:`bot.store.Store`, ``files`` its
    :class:`bot.store.FileStore`; ``executor`` (optional) is asked for its
    workers by ``/healthz`` and its queue by ``/metrics``; ``metrics``
    defaults to the process-wide :func:`bot.metrics.get_metrics`. The caller
    owns the store and executor: the app never closes them.

    The atlas reads ``atlas_cache`` (default: :func:`dream_core.atlas.cache.default_cache`;
    a bad ``DREAMBOT_ATLAS_CACHE_MB`` is a :class:`~dream_core.errors.DreamSettingError`
    here) and orders missing renders from ``atlas_renderer`` (default: the executor's
    atlas jobs when there is an executor; none for ``dreambot web``).
    """
    app = web.Application(middlewares=[security_headers, error_pages(pages.render_error)])
    assets = Assets.load()
    app[STORE_KEY] = store
    app[FILES_KEY] = files
    app[SETTINGS_KEY] = settings
    app[EXECUTOR_KEY] = executor
    app[METRICS_KEY] = metrics if metrics is not None else get_metrics()
    app[DRAINING_KEY] = draining
    app[ASSETS_KEY] = assets
    app[TEMPLATES_KEY] = create_templates(assets)
    app.on_response_prepare.append(hide_server_version)
    hide_server_version_everywhere()
    app[GALLERY_KEY] = GalleryReader(store, files, page_size=settings.web_page_size)
    watcher = _watcher(store)
    app[PAGES_KEY] = PageCache(watcher)
    app[PICTURES_KEY] = PageCache(watcher, max_entries=4096)  # small records: which file, may it be seen
    app[FILE_BYTES_KEY] = FileBytes()
    app[STORE_CHECK_KEY] = StoreCheck(store)
    app[ATLAS_IMAGES_KEY] = atlas_images = AtlasImages(atlas_cache)
    if atlas_renderer is None and ExecutorRenderer.supports(executor):
        atlas_renderer = ExecutorRenderer(executor, atlas_images.cache)
    app[ATLAS_RENDERS_KEY] = renders = AtlasRenders(atlas_renderer)
    app[ATLAS_DREAMS_KEY] = PageCache(watcher, max_entries=256)

    async def close_watcher(_app: web.Application) -> None:
        await renders.close()
        watcher.close()

    app.on_cleanup.append(close_watcher)
    app.router.add_get("/", pages.index, name="index")
    app.router.add_get(r"/g/{guild_id:[0-9]{1,20}}", pages.gallery, name="gallery")
    app.router.add_get(r"/u/{token:[A-Za-z0-9_-]{16,64}}", pages.unlisted, name="unlisted")
    app.router.add_get(r"/d/{dream_id:[0-9]{1,18}}", pages.dream, name="dream")
    app.router.add_get(r"/img/{dream_id:[0-9]{1,18}}/{kind:result|source|thumb}", pictures.image, name="image")
    app.router.add_get(
        r"/static/{name:(?:examples/)?[A-Za-z0-9_-]{1,64}\.[a-z]{2,4}}", pages.static, name="static"
    )
    app.router.add_get("/healthz", health.healthz, name="healthz")
    _atlas_routes(app)
    return app


def _atlas_routes(app: web.Application) -> None:
    model, layer, n = r"{model:[A-Za-z0-9_-]{1,64}}", r"{layer:[A-Za-z0-9_.]{1,64}}", r"{n:[0-9]{1,5}}"
    add = app.router.add_get
    add("/atlas", atlas_pages.atlas_index, name="atlas")
    add(f"/atlas/{model}", atlas_pages.atlas_model, name="atlas_model")
    add(f"/atlas/{model}/{layer}", atlas_pages.atlas_layer, name="atlas_layer")
    add(f"/atlas/{model}/{layer}/status", atlas_pages.atlas_layer_status, name="atlas_layer_status")
    add(f"/atlas/{model}/{layer}/{n}", atlas_pages.atlas_filter, name="atlas_filter")
    add(f"/atlas/{model}/{layer}/{n}/status", atlas_pages.atlas_filter_status, name="atlas_filter_status")
    add(f"/atlas/{model}/{layer}/{n}/" + r"{size:[0-9]{1,4}}-{variant:[0-9]{1,2}}.png", atlas_pages.atlas_image,
        name="atlas_image")


def _watcher(store: Any) -> ChangeWatcher:
    """What tells the page cache that the store changed (no database: no caching)."""
    database = getattr(store, "db", None)
    return watcher_for(database) if database is not None else ChangeWatcher()


def create_metrics_app(
    store: Any,
    *,
    executor: Any = None,
    metrics: Optional[Metrics] = None,
    draining: Callable[[], bool] = lambda: False,
) -> web.Application:
    """The operations app: ``/metrics`` (Prometheus text) and ``/healthz``, nothing else.

    Serve it on a private address only (:func:`start_web` uses
    ``DREAMBOT_METRICS_HOST`` / ``DREAMBOT_METRICS_PORT``).
    """
    app = web.Application(middlewares=[security_headers])
    app[STORE_KEY] = store
    app[EXECUTOR_KEY] = executor
    app[METRICS_KEY] = metrics if metrics is not None else get_metrics()
    app[STORE_CHECK_KEY] = StoreCheck(store)
    app[DRAINING_KEY] = draining
    app.on_response_prepare.append(hide_server_version)
    hide_server_version_everywhere()
    app.router.add_get("/metrics", health.metrics, name="metrics")
    app.router.add_get("/healthz", health.healthz, name="healthz")
    return app


class WebServers:
    """The running gallery and, when enabled, the metrics listener; ``await cleanup()`` stops both."""

    def __init__(self, gallery: web.AppRunner, metrics: Optional[web.AppRunner]) -> None:
        self.gallery = gallery
        self.metrics = metrics

    @property
    def addresses(self) -> list[Any]:
        """The gallery's bound addresses (``(host, port)`` tuples)."""
        return list(self.gallery.addresses)

    @property
    def sites(self) -> list[Any]:
        """Every listening site (empty once cleaned up)."""
        return list(self.gallery.sites) + (list(self.metrics.sites) if self.metrics is not None else [])

    @property
    def metrics_addresses(self) -> list[Any]:
        return list(self.metrics.addresses) if self.metrics is not None else []

    async def cleanup(self) -> None:
        try:
            await self.gallery.cleanup()
        finally:
            if self.metrics is not None:
                await self.metrics.cleanup()


async def _serve(app: web.Application, host: str, port: int, what: str, env: str) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=logging.getLogger("dreambot.web.access"))
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        from dream_core.errors import DreamError

        raise DreamError(
            f"cannot serve the {what} on {host}:{port}: {exc.strerror or exc}. "
            f"Set {env}_HOST / {env}_PORT to a free address."
        ) from None
    log.info("%s on http://%s:%s/", what, host, port)
    return runner


async def start_web(
    store: Any,
    files: Any,
    *,
    settings: Settings,
    executor: Any = None,
    metrics: Optional[Metrics] = None,
    host: Optional[str] = None,
    port: Optional[int] = None,
    metrics_host: Optional[str] = None,
    metrics_port: Optional[int] = None,
    draining: Callable[[], bool] = lambda: False,
) -> WebServers:
    """Serve the gallery on ``host:port`` and ``/metrics`` on ``metrics_host:metrics_port``
    (default: the settings; metrics port 0 in the settings means no metrics listener).

    Returns the servers; ``await servers.cleanup()`` stops them. Used by
    ``dreambot run`` when ``DREAMBOT_WEB_ENABLED`` is set.
    """
    metrics = metrics if metrics is not None else get_metrics()
    app = create_web_app(store, files, settings=settings, executor=executor, metrics=metrics, draining=draining)
    host = host if host is not None else settings.web_host
    port = port if port is not None else settings.web_port
    gallery = await _serve(app, host, port, "web gallery", "DREAMBOT_WEB")
    if metrics_port is None and settings.metrics_port == 0:
        return WebServers(gallery, None)
    try:
        ops = await _serve(
            create_metrics_app(store, executor=executor, metrics=metrics, draining=draining),
            metrics_host if metrics_host is not None else settings.metrics_host,
            metrics_port if metrics_port is not None else settings.metrics_port,
            "metrics",
            "DREAMBOT_METRICS",
        )
    except BaseException:
        await gallery.cleanup()
        raise
    return WebServers(gallery, ops)


async def serve_web(settings: Settings, *, stop: Optional[asyncio.Event] = None) -> None:
    """Open the store named by ``settings`` and serve the gallery until ``stop`` is set."""
    from bot.store import Store

    store = await Store.open(settings)
    try:
        runner = await start_web(store, store.files, settings=settings)
        try:
            if stop is None:
                stop = asyncio.Event()
                loop = asyncio.get_running_loop()
                for sig in (signal.SIGINT, signal.SIGTERM):
                    # not on every platform
                    with contextlib.suppress(NotImplementedError, RuntimeError):
                        loop.add_signal_handler(sig, stop.set)
            await stop.wait()
        finally:
            await runner.cleanup()
    finally:
        await store.close()


def run_web(settings: Settings) -> int:
    """``dreambot web``: serve the gallery on its own until interrupted."""
    asyncio.run(serve_web(settings))
    return 0
