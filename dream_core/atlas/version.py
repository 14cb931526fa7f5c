"""TEMPORARY stub (H3): H1 owns this module; the merge replaces it."""

RENDERER_VERSION = "stub-1"
