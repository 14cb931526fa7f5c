"""DreamBot's web gallery (aiohttp + jinja2): public guild galleries, dream pages
with a before/after slider, pictures by id, ``/healthz`` and ``/metrics``.

``create_web_app(store, files, settings=..., executor=None, metrics=None)`` builds
the app; ``start_web(...)`` serves it inside ``dreambot run``; ``run_web(settings)``
is ``dreambot web``. Links for chat: :mod:`bot.web.urls`.
"""

from bot.web.app import create_web_app, run_web, serve_web, start_web
from bot.web.urls import dream_url, gallery_url, image_url

__all__ = [
    "create_web_app",
    "dream_url",
    "gallery_url",
    "image_url",
    "run_web",
    "serve_web",
    "start_web",
]
