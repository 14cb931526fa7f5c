"""Typed keys of the objects a gallery app holds (``request.app[STORE_KEY]``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional

import jinja2
from aiohttp import web

from bot.metrics import Metrics
from bot.settings import Settings
from bot.web.assets import Assets
from bot.web.atlas_images import AtlasImages
from bot.web.atlas_links import DreamCard
from bot.web.atlas_renders import AtlasRenders
from bot.web.file_bytes import FileBytes
from bot.web.gallery import GalleryReader, ImageFile
from bot.web.page_cache import CachedPage, PageCache
from bot.web.store_check import StoreCheck

STORE_KEY = web.AppKey("dreambot_store", Any)
FILES_KEY = web.AppKey("dreambot_files", Any)
SETTINGS_KEY = web.AppKey("dreambot_settings", Settings)
EXECUTOR_KEY = web.AppKey("dreambot_executor", Any)
METRICS_KEY = web.AppKey("dreambot_metrics", Metrics)
TEMPLATES_KEY = web.AppKey("dreambot_templates", jinja2.Environment)
ASSETS_KEY = web.AppKey("dreambot_assets", Assets)
GALLERY_KEY = web.AppKey("dreambot_gallery", GalleryReader)
#: rendered pages (``None``: a 404), until the database changes
PAGES_KEY = web.AppKey("dreambot_pages", PageCache[Optional[CachedPage]])
#: which file a picture request may see (``None``: a 404), until the database changes
PICTURES_KEY = web.AppKey("dreambot_pictures", PageCache[Optional[ImageFile]])
#: file contents by sha256
FILE_BYTES_KEY = web.AppKey("dreambot_file_bytes", FileBytes)
#: the store's health check, run at most once a second
STORE_CHECK_KEY = web.AppKey("dreambot_store_check", StoreCheck)
#: whether the service is draining for a restart (``/healthz`` then answers 503 "draining")
DRAINING_KEY: web.AppKey[Callable[[], bool]] = web.AppKey("dreambot_draining")
#: the atlas's renders, read from its cache
ATLAS_IMAGES_KEY = web.AppKey("dreambot_atlas_images", AtlasImages)
#: renders asked of the executor for the atlas's pages (none without one)
ATLAS_RENDERS_KEY = web.AppKey("dreambot_atlas_renders", AtlasRenders)
#: a filter's published dreams (with the filter, with its layer), until the database changes
ATLAS_DREAMS_KEY = web.AppKey("dreambot_atlas_dreams", PageCache[tuple[list[DreamCard], list[DreamCard]]])
