"""The example pictures the empty front page shows (the README shows the same files).

Made with the bundled model by ``tools/make_readme_pictures.py`` into
``bot/web/static/examples/`` and served as static assets (:mod:`bot.web.assets`);
a picture that has not been made is left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.web.assets import EXAMPLES_DIR, Assets


@dataclass(frozen=True)
class Example:
    url: str
    caption: str
    wide: bool  # a sheet or a clip: a row of its own on wide screens


#: (file, caption, wide) in the order they are shown
EXAMPLES: tuple[tuple[str, str, bool], ...] = (
    ("photo.jpg", "The photo", False),
    ("mixed3.jpg", "mixed3: strokes and textures", False),
    ("mixed4.jpg", "mixed4: eyes, fur, dogs", False),
    ("mixed5.jpg", "mixed5: whole creatures", False),
    ("atlas-mixed4.jpg", "What 16 filters of mixed4 want to see", True),
    ("clip.webp", "A dreamed clip", True),
)


def examples(assets: Assets) -> list[Example]:
    """The examples that exist, with their versioned URLs."""
    out = []
    for name, caption, wide in EXAMPLES:
        key = f"{EXAMPLES_DIR}/{name}"
        if key in assets:
            out.append(Example(assets.url(key), caption, wide))
    return out
