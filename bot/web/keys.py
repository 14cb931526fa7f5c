"""Typed keys of the objects a gallery app holds (``request.app[STORE_KEY]``)."""

from __future__ import annotations

from typing import Any

import jinja2
from aiohttp import web

from bot.metrics import Metrics
from bot.settings import Settings
from bot.web.assets import Assets
from bot.web.gallery import GalleryReader

STORE_KEY = web.AppKey("dreambot_store", Any)
FILES_KEY = web.AppKey("dreambot_files", Any)
SETTINGS_KEY = web.AppKey("dreambot_settings", Settings)
EXECUTOR_KEY = web.AppKey("dreambot_executor", Any)
METRICS_KEY = web.AppKey("dreambot_metrics", Metrics)
TEMPLATES_KEY = web.AppKey("dreambot_templates", jinja2.Environment)
ASSETS_KEY = web.AppKey("dreambot_assets", Assets)
GALLERY_KEY = web.AppKey("dreambot_gallery", GalleryReader)
