"""The atlas renderer's version: part of every cache key, so a changed renderer never serves old pictures.

Torch-free (the cache and the bot read it). Bump it whenever :mod:`dream_core.atlas.render`,
its parameterisation, transforms, objectives or defaults change what a render looks like.
"""

from __future__ import annotations

RENDERER_VERSION = "2"  # 2: steps 128, decay 1.5, contrast 2, the pixels' high frequencies capped

__all__ = ["RENDERER_VERSION"]
