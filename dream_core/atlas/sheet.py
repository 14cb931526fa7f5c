"""TEMPORARY stub (H3) of H2's contact sheet, per /work/notes/ATLAS_SPEC.md; the merge replaces it."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any, Optional

from PIL import Image, ImageDraw, PngImagePlugin


def contact_sheet(
    images: Sequence[Image.Image], labels: Sequence[str], columns: int = 4, title: Optional[str] = None
) -> Image.Image:
    size = max(im.size[0] for im in images)
    rows = -(-len(images) // columns)
    sheet = Image.new("RGB", (columns * size, rows * size), "black")
    draw = ImageDraw.Draw(sheet)
    for i, (im, label) in enumerate(zip(images, labels, strict=False)):
        x, y = (i % columns) * size, (i // columns) * size
        sheet.paste(im.convert("RGB"), (x, y))
        draw.text((x + 2, y + 2), label, fill="white")
    return sheet


def sheet_png(
    images: Sequence[Image.Image],
    labels: Sequence[str],
    columns: int = 4,
    title: Optional[str] = None,
    metadata: Optional[dict[str, Any]] = None,
) -> bytes:
    info = PngImagePlugin.PngInfo()
    for k, v in (metadata or {}).items():
        info.add_text(str(k), str(v))
    buf = io.BytesIO()
    contact_sheet(images, labels, columns, title).save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()
