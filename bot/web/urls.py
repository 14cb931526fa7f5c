"""The gallery's URLs, in one place: used by its templates and by the bot for links in chat.

Paths are relative (``/d/42``) unless a base URL is given; the bot passes
``settings.web_url`` (``DREAMBOT_WEB_URL``) to get absolute links. Unlisted
galleries carry their secret key as ``?key=...`` on every link.
"""

from __future__ import annotations

from typing import Optional
from urllib.parse import urlencode

IMAGE_KINDS: tuple[str, ...] = ("result", "source", "thumb")
SORTS: tuple[str, ...] = ("recent", "top")


def _join(base: Optional[str], path: str, query: dict[str, object]) -> str:
    q = {k: v for k, v in query.items() if v is not None}
    url = path + ("?" + urlencode(q) if q else "")
    if base:
        return base.rstrip("/") + url
    return url


def gallery_url(
    guild_id: int,
    *,
    key: Optional[str] = None,
    sort: Optional[str] = None,
    page: Optional[int] = None,
    base: Optional[str] = None,
) -> str:
    """``/g/<guild>`` (``sort`` ``recent`` and ``page`` 1 are left out: they are the defaults)."""
    return _join(
        base,
        f"/g/{int(guild_id)}",
        {
            "sort": sort if sort and sort != "recent" else None,
            "page": page if page and page > 1 else None,
            "key": key,
        },
    )


def dream_url(dream_id: int, *, key: Optional[str] = None, base: Optional[str] = None) -> str:
    """``/d/<dream_id>``: a dream's page."""
    return _join(base, f"/d/{int(dream_id)}", {"key": key})


def image_url(
    dream_id: int,
    kind: str,
    *,
    key: Optional[str] = None,
    version: Optional[str] = None,
    base: Optional[str] = None,
) -> str:
    """``/img/<entry_id>/<kind>``: an entry's ``result``, ``source`` or ``thumb`` picture.

    ``version`` (the first :data:`VERSION_LEN` hex digits of the original file's
    sha256, see :func:`file_version`) pins the URL to those bytes (a stale
    version is a 404). Every picture URL is cached only briefly, since an entry
    can be hidden at any time (see ``bot.web.pages.IMAGE_CACHE``).
    """
    if kind not in IMAGE_KINDS:
        raise ValueError(f"image kind must be one of {', '.join(IMAGE_KINDS)}")
    return _join(base, f"/img/{int(dream_id)}/{kind}", {"v": version, "key": key})


#: hex digits of a file's sha256 in a versioned picture URL
VERSION_LEN = 16


def file_version(sha256: str) -> str:
    """The ``?v=`` value for a file with this sha256."""
    return sha256[:VERSION_LEN]


# ------------------------------------------------------------------ the atlas (issue 16)


def atlas_url(model: Optional[str] = None, layer: Optional[str] = None, filter: Optional[int] = None,
              *, base: Optional[str] = None) -> str:
    """``/atlas``, ``/atlas/<model>/<layer>`` (a layer's grid) or ``/atlas/<model>/<layer>/<n>``
    (one filter). ``layer`` is the model's own layer name (aliases redirect there)."""
    path = "/atlas"
    if model is not None:
        path += f"/{model}"
        if layer is not None:
            path += f"/{layer}"
            if filter is not None:
                path += f"/{int(filter)}"
    return _join(base, path, {})


def atlas_image_url(model: str, layer: str, filter: int, size: int, variant: int = 0,
                    *, version: Optional[str] = None) -> str:
    """``/atlas/<model>/<layer>/<n>/<size>-<variant>.png``: a render from the atlas cache;
    ``version`` (a prefix of the render's digest) marks the URL as never changing."""
    return _join(None, f"/atlas/{model}/{layer}/{int(filter)}/{int(size)}-{int(variant)}.png", {"v": version})
