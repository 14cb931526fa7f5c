"""Test pictures as encoded bytes (one helper for every test area)."""

from __future__ import annotations

import io
from typing import Any, Union

from PIL import Image


def png_bytes(
    image: Union[Image.Image, tuple[int, int]] = (96, 72),
    colour: tuple[int, int, int] = (200, 120, 40),
    **save_options: Any,
) -> bytes:
    """PNG bytes of ``image``, or of a plain ``colour`` picture when ``image`` is a size."""
    img = image if isinstance(image, Image.Image) else Image.new("RGB", image, colour)
    buf = io.BytesIO()
    img.save(buf, format="PNG", **save_options)
    return buf.getvalue()
