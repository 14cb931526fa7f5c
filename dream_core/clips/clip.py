"""A decoded clip (frames, durations, loop) and what every decoder shares. Torch-free."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from PIL import Image

from dream_core.errors import DreamInputError

DEFAULT_DURATION_MS = 100  # what browsers show a frame with no (or a ~0) duration for
MIN_DURATION_MS = 20


@dataclass
class Clip:
    """Decoded frames of an animation, ready to dream.

    ``frames``: RGB images, all one size. ``durations``: ms per frame.
    ``loop``: as Pillow reports it (0 = forever; ``None`` = play once, GIF).
    ``source_frames`` / ``source_size``: of the file before sampling/downscaling.
    ``notes``: user-facing remarks (sampled, downscaled, sound dropped, ...).
    """

    frames: list[Image.Image]
    durations: list[int]
    loop: int | None = 0
    format: str = ""
    source_frames: int = 0
    source_size: tuple[int, int] = (0, 0)
    notes: list[str] = field(default_factory=list)

    @property
    def size(self) -> tuple[int, int]:
        return self.frames[0].size

    @property
    def duration_ms(self) -> int:
        return sum(self.durations)

    def __len__(self) -> int:
        return len(self.frames)


def fit_frame(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``img`` at ``size`` (Lanczos), or itself when it already is."""
    return img if img.size == size else img.resize(size, Image.Resampling.LANCZOS)


def corrupt_error(exc: BaseException) -> DreamInputError:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "truncated" in msg:
        return DreamInputError("the clip is truncated (incomplete download?)")
    if isinstance(exc, (EOFError, IndexError, struct.error)):
        return DreamInputError(
            "the clip is corrupt or truncated (incomplete download?)"
        )
    if isinstance(exc, (OSError, SyntaxError, ValueError, KeyError)):
        return DreamInputError(f"the clip is corrupt: {msg[:160]}")
    return DreamInputError(f"the clip can't be read: {msg[:160]}")
