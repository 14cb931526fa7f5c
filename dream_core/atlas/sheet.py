"""Atlas pictures: a labelled grid of filters and one filter shown large (torch-free).

:func:`contact_sheet` lays renders out in a grid, each cell marked with its
filter index under the picture, with an optional title above.
:func:`filter_card` shows one filter's main render large with its diversity
images as a strip below. :func:`sheet_png` encodes either as a PNG that records
what it shows in a text chunk (``dreambot:atlas``: model, layer, filters, size,
renderer version, weights), as a dream's PNG records its params;
:func:`read_atlas_meta` reads it back. Pillow only: the bot serves cached
sheets with it.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, Optional, Union

from PIL import Image, ImageDraw, ImageFont, PngImagePlugin

ATLAS_PNG_KEY = "dreambot:atlas"
BACKGROUND = (24, 24, 27)
INK = (235, 235, 240)
GAP = 4

Font = Union[ImageFont.FreeTypeFont, ImageFont.ImageFont]


@lru_cache(maxsize=8)
def _font(size: int) -> Font:
    try:
        return ImageFont.load_default(size=size)  # Pillow's bundled scalable font
    except (TypeError, OSError):  # Pillow built without FreeType: the small bitmap font
        return ImageFont.load_default()


def _band(text: str, width: int, height: int) -> Image.Image:
    band = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(band)
    points = max(8, int(height * 0.7))
    font = _font(points)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    while right - left > width - 4 and points > 8:  # a long title on a narrow picture: a smaller font
        points -= 1
        font = _font(points)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    x = max(0, (width - (right - left)) // 2 - left)
    y = (height - (bottom - top)) // 2 - top
    draw.text((x, y), text, fill=INK, font=font)
    return band


def _label_height(cell: int) -> int:
    return max(12, min(28, cell // 7))


def contact_sheet(
    images: Sequence[Image.Image], labels: Sequence[str], columns: int = 4, title: Optional[str] = None
) -> Image.Image:
    """A grid of ``images`` (resized to the first one's size), each with its label
    below it; ``title`` in a band on top."""
    if not images:
        raise ValueError("a contact sheet needs at least one image")
    if len(labels) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    cols = max(1, min(columns, len(images)))
    rows = math.ceil(len(images) / cols)
    cw, ch = images[0].size
    lh = _label_height(cw)
    th = (lh + GAP) if title else 0
    width = cols * cw + (cols + 1) * GAP
    height = th + rows * (ch + lh + GAP) + GAP
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    if title:
        sheet.paste(_band(title, width, lh), (0, GAP))
    for i, (img, label) in enumerate(zip(images, labels, strict=True)):
        r, c = divmod(i, cols)
        x = GAP + c * (cw + GAP)
        y = th + GAP + r * (ch + lh + GAP)
        cell = img.convert("RGB")
        if cell.size != (cw, ch):
            cell = cell.resize((cw, ch), Image.Resampling.LANCZOS)
        sheet.paste(cell, (x, y))
        sheet.paste(_band(label, cw, lh), (x, y + ch))
    return sheet


def filter_card(main: Image.Image, variants: Sequence[Image.Image] = (), title: Optional[str] = None) -> Image.Image:
    """One filter large (``main``), its diversity images in a strip below, ``title`` on top."""
    w, h = main.size
    lh = _label_height(w // 2)
    th = (lh + GAP) if title else 0
    n = len(variants)
    side = (w - (n - 1) * GAP) // n if n else 0
    height = th + GAP + h + (GAP + side if n else 0) + GAP
    card = Image.new("RGB", (w + 2 * GAP, height), BACKGROUND)
    if title:
        card.paste(_band(title, w + 2 * GAP, lh), (0, GAP))
    card.paste(main.convert("RGB"), (GAP, th + GAP))
    for i, img in enumerate(variants):
        thumb = img.convert("RGB").resize((side, side), Image.Resampling.LANCZOS)
        card.paste(thumb, (GAP + i * (side + GAP), th + GAP + h + GAP))
    return card


def sheet_png(image: Image.Image, meta: Mapping[str, Any]) -> bytes:
    """``image`` as PNG bytes carrying ``meta`` (JSON) in the ``dreambot:atlas`` text chunk."""
    info = PngImagePlugin.PngInfo()
    info.add_text(ATLAS_PNG_KEY, json.dumps(dict(meta), sort_keys=True))
    info.add_text("Software", "DreamBot")
    buf = io.BytesIO()
    image.save(buf, format="PNG", pnginfo=info, compress_level=6)
    return buf.getvalue()


def read_atlas_meta(png: bytes) -> Optional[dict[str, Any]]:
    """The ``dreambot:atlas`` record of an atlas PNG, or None."""
    with Image.open(io.BytesIO(png)) as im:
        raw = dict(getattr(im, "text", {}) or im.info).get(ATLAS_PNG_KEY)
    return json.loads(raw) if raw else None


def decode_png(data: bytes) -> Image.Image:
    """A stored render as an RGB image."""
    with Image.open(io.BytesIO(data)) as im:
        return im.convert("RGB")


def encode_tile(image: Image.Image) -> bytes:
    """One render as stored in the cache (PNG, fast compression)."""
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG", compress_level=3)
    return buf.getvalue()


__all__ = [
    "ATLAS_PNG_KEY",
    "contact_sheet",
    "decode_png",
    "encode_tile",
    "filter_card",
    "read_atlas_meta",
    "sheet_png",
]
