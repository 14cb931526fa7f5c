"""What the gallery reads from a request's query string, checked once here."""

from __future__ import annotations

import re
from typing import Optional

from aiohttp import web

from bot.web.urls import SORTS

#: longest ``?key=`` accepted (the tokens are much shorter); longer ones are simply wrong
MAX_KEY_LENGTH = 128

_PAGE_RE = re.compile(r"^[1-9][0-9]{0,5}$")  # ASCII digits only: "²" is a digit to str.isdigit


def gallery_key(request: web.Request) -> Optional[str]:
    """The unlisted gallery key (``?key=``), ``None`` when missing or too long to be one."""
    key = request.query.get("key")
    if not key or len(key) > MAX_KEY_LENGTH:
        return None
    return key


def page_number(request: web.Request) -> int:
    """``?page=`` (1 by default); anything but a plain number from 1 is a 404."""
    raw = request.query.get("page", "1")
    if not _PAGE_RE.match(raw):
        raise web.HTTPNotFound()
    return int(raw)


def sort_order(request: web.Request) -> str:
    """``?sort=`` (``recent`` by default, or ``top``); anything else is a 404."""
    sort = request.query.get("sort", "recent")
    if sort not in SORTS:
        raise web.HTTPNotFound()
    return sort
