"""The atlas renderer's version: part of every render's cache key (TEMPORARY stand-in)."""

RENDERER_VERSION = "0"
