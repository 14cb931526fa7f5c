"""User text (names, titles) on the gallery's pages.

In the page body, templates wrap such text in ``<bdi>``, which isolates it:
bidirectional controls (U+202E RIGHT-TO-LEFT OVERRIDE and friends) inside
cannot reorder the text around it. Where markup can't isolate (``<title>``,
``<meta>`` and other attribute values) the :func:`strip_bidi` filter
(``|nobidi`` in templates) removes those controls instead.
"""

from __future__ import annotations

import re

#: explicit embeddings, overrides, isolates and marks (LRE..RLO, LRI..PDI, LRM, RLM, ALM)
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
_BIDI_RE = re.compile(f"[{BIDI_CONTROLS}]")


def strip_bidi(text: object) -> str:
    """``text`` without bidirectional control characters (``None`` becomes ``""``)."""
    if text is None:
        return ""
    return _BIDI_RE.sub("", str(text))
