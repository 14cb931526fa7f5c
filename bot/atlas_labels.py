"""How a filter is named in the ``layer`` autocomplete: the spec, and where the atlas shows it.

``mixed4:97`` is shown as ``mixed4:97 — see /atlas layer:mixed4 page:7``, so people
stop picking filters blind: the page of ``/atlas`` with that filter's picture is one
command away. (The atlas keeps pictures, not words: there is no text label to show.)
"""

from __future__ import annotations

from dream_core.atlas.request import PER_PAGE

#: Discord's limit on a choice's name
MAX_NAME = 100


def filter_hint(spec: str) -> str:
    """The autocomplete name of a layer spec: a one-filter term gets its atlas page."""
    last = spec.rpartition("+")[2].partition("*")[0]
    layer, colon, filt = last.partition(":")
    if not colon or not filt.isdigit():
        return spec[:MAX_NAME]
    page = int(filt) // PER_PAGE + 1
    hint = f"{spec} — see /atlas layer:{layer} page:{page}"
    return hint if len(hint) <= MAX_NAME else spec[:MAX_NAME]
