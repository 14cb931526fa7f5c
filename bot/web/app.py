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
                              pins the bytes: served immutable; a stale ?v= is 404)
    GET /static/<name>        the stylesheet, the slider script and the icon (a fixed whitelist)
    GET /healthz              JSON health: store reachable, executor workers alive (200 or 503)
    GET /metrics              Prometheus text format

``<entry>`` is a gallery entry id (a dream as published in one guild).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any, Optional

import jinja2
from aiohttp import web

from bot.metrics import Metrics, get_metrics
from bot.settings import Settings
from bot.web import health, pages
from bot.web.assets import Assets
from bot.web.gallery import GalleryReader
from bot.web.keys import (
    ASSETS_KEY,
    EXECUTOR_KEY,
    FILES_KEY,
    GALLERY_KEY,
    METRICS_KEY,
    SETTINGS_KEY,
    STORE_KEY,
    TEMPLATES_KEY,
)
from bot.web.security import error_pages, security_headers

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
    return env


def create_web_app(
    store: Any,
    files: Any,
    *,
    settings: Settings,
    executor: Any = None,
    metrics: Optional[Metrics] = None,
) -> web.Application:
    """Build the gallery app.

    ``store`` is an open :class:`bot.store.Store`, ``files`` its
    :class:`bot.store.FileStore`; ``executor`` (optional) is asked for its
    workers by ``/healthz`` and its queue by ``/metrics``; ``metrics``
    defaults to the process-wide :func:`bot.metrics.get_metrics`. The caller
    owns the store and executor: the app never closes them.
    """
    app = web.Application(middlewares=[security_headers, error_pages(pages.render_error)])
    assets = Assets.load()
    app[STORE_KEY] = store
    app[FILES_KEY] = files
    app[SETTINGS_KEY] = settings
    app[EXECUTOR_KEY] = executor
    app[METRICS_KEY] = metrics if metrics is not None else get_metrics()
    app[ASSETS_KEY] = assets
    app[TEMPLATES_KEY] = create_templates(assets)
    app[GALLERY_KEY] = GalleryReader(store, files, page_size=settings.web_page_size)
    app.router.add_get("/", pages.index, name="index")
    app.router.add_get(r"/g/{guild_id:[0-9]{1,20}}", pages.gallery, name="gallery")
    app.router.add_get(r"/u/{token:[A-Za-z0-9_-]{16,64}}", pages.unlisted, name="unlisted")
    app.router.add_get(r"/d/{dream_id:[0-9]{1,18}}", pages.dream, name="dream")
    app.router.add_get(r"/img/{dream_id:[0-9]{1,18}}/{kind:result|source|thumb}", pages.image, name="image")
    app.router.add_get(r"/static/{name:[A-Za-z0-9_-]{1,64}\.[a-z]{2,4}}", pages.static, name="static")
    app.router.add_get("/healthz", health.healthz, name="healthz")
    app.router.add_get("/metrics", health.metrics, name="metrics")
    return app


async def start_web(
    store: Any,
    files: Any,
    *,
    settings: Settings,
    executor: Any = None,
    metrics: Optional[Metrics] = None,
    host: Optional[str] = None,
    port: Optional[int] = None,
) -> web.AppRunner:
    """Serve the gallery on ``host:port`` (default: the settings) inside a running loop.

    Returns the runner; ``await runner.cleanup()`` stops it. Used by
    ``dreambot run`` when ``DREAMBOT_WEB_ENABLED`` is set.
    """
    app = create_web_app(store, files, settings=settings, executor=executor, metrics=metrics)
    runner = web.AppRunner(app, access_log=logging.getLogger("dreambot.web.access"))
    await runner.setup()
    host = host if host is not None else settings.web_host
    port = port if port is not None else settings.web_port
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        from dream_core.errors import DreamError

        raise DreamError(
            f"cannot serve the web gallery on {host}:{port}: {exc.strerror or exc}. "
            "Set DREAMBOT_WEB_HOST / DREAMBOT_WEB_PORT to a free address."
        ) from None
    log.info("web gallery on http://%s:%s/", host, port)
    return runner


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
