"""Animated input: decode a GIF/WebP/APNG/MP4/WebM, check it against limits,
dream it with temporal coherence, encode the dreamed animation.

``clip``, ``decode``, ``video``, ``limits``, ``flow``, ``encode`` and ``coherence`` are torch-free (the bot validates
uploads with them); ``coherent`` and ``service`` run the dream (torch).
"""

from dream_core.clips.clip import Clip
from dream_core.clips.decode import (
    decode_clip,
    is_clip,
    probe_clip,
    read_clip_bytes,
    sniff,
)
from dream_core.clips.encode import EncodedClip, clip_format, encode_clip
from dream_core.clips.limits import ClipHeader, ClipLimits, ClipPlan, plan_clip

__all__ = [
    "Clip",
    "ClipHeader",
    "ClipLimits",
    "ClipPlan",
    "EncodedClip",
    "clip_format",
    "decode_clip",
    "encode_clip",
    "is_clip",
    "plan_clip",
    "probe_clip",
    "read_clip_bytes",
    "sniff",
]
