"""The atlas renderer's version: part of every cache key, bumped when renders change."""

RENDERER_VERSION = "1"
