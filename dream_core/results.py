"""Typed values that flow out of a dream: progress reports and the result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from PIL import Image

from dream_core.images import encode_result, save_result
from dream_core.params import DreamParams


@dataclass(frozen=True)
class Progress:
    """One progress report, sent after every gradient step.

    ``octave`` and ``iteration`` are 1-based. ``fraction`` is the share of all
    steps of the whole dream (all octaves and animation frames) done so far.
    ``preview`` is a small RGB image, set only on the last step of an octave.
    """

    octave: int
    octaves: int
    iteration: int
    iterations: int
    fraction: float
    frame: int = 0
    frames: int = 0
    preview: Optional[Image.Image] = None


ProgressCallback = Callable[[Progress], None]
CancelCheck = Callable[[], bool]


@dataclass
class DreamResult:
    """What :func:`dream_core.dream` returns.

    ``image`` is the final still (the last frame of an animation). ``frames``
    holds every frame of an iterate-and-zoom animation (empty for a still).
    ``notes`` are user-facing remarks (downscaled input, first frame of an
    animated input used, ...).
    """

    image: Image.Image
    params: DreamParams
    seconds: float
    frames: list[Image.Image] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    input_size: tuple[int, int] = (0, 0)

    @property
    def is_animation(self) -> bool:
        return len(self.frames) > 1

    def encode(self, fmt: Optional[str] = None, text: Optional[dict[str, str]] = None, **options: int) -> bytes:
        """Encode to bytes. Defaults: PNG for a still, WebP for an animation.

        ``text``: more PNG text chunks (e.g. :func:`dream_core.images.guide_text`).
        """
        return encode_result(self, fmt, text, **options)

    def save(self, path: Union[str, Path]) -> Path:
        """Write to ``path``; the format follows the extension."""
        return save_result(self, Path(path))
