"""The gallery's static files (CSS, the slider script, the example pictures), served from memory.

The files of ``static/`` and ``static/examples/`` (the example dreams the empty front
page and the README show, made by ``tools/make_readme_pictures.py``) are read once when
the app is built; a request can only name one of them (a fixed whitelist), so no path
from a request ever reaches the file system. Templates link them as ``/static/<name>?v=<hash>``: with the right
hash the response is cacheable forever (``immutable``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

from aiohttp import web

CONTENT_TYPES: Mapping[str, str] = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
}


#: the sub-folder of ``static/`` with the example pictures
EXAMPLES_DIR = "examples"


@dataclass(frozen=True)
class Asset:
    name: str
    data: bytes
    content_type: str
    digest: str  # hex sha256 of data

    @property
    def etag(self) -> str:
        return f'"{self.digest[:32]}"'

    @property
    def version(self) -> str:
        return self.digest[:12]


class Assets:
    """The static files of :mod:`bot.web`, keyed by file name."""

    def __init__(self, files: Mapping[str, bytes]) -> None:
        self._assets: dict[str, Asset] = {}
        for name, data in files.items():
            suffix = name[name.rfind(".") :] if "." in name else ""
            ctype = CONTENT_TYPES.get(suffix)
            if ctype is None:
                continue
            self._assets[name] = Asset(name, data, ctype, hashlib.sha256(data).hexdigest())

    @classmethod
    def load(cls) -> Assets:
        """Read every file of the package's ``static/`` folder and of its ``examples/`` folder
        (named ``examples/<name>``)."""
        root = resources.files("bot.web").joinpath("static")
        files = {entry.name: entry.read_bytes() for entry in root.iterdir() if entry.is_file()}
        examples = root.joinpath(EXAMPLES_DIR)
        if examples.is_dir():
            files.update(
                {f"{EXAMPLES_DIR}/{e.name}": e.read_bytes() for e in examples.iterdir() if e.is_file()}
            )
        return cls(files)

    def examples(self) -> list[str]:
        """The example pictures' names (``examples/...``), sorted."""
        return sorted(n for n in self._assets if n.startswith(f"{EXAMPLES_DIR}/"))

    def __contains__(self, name: object) -> bool:
        return name in self._assets

    def get(self, name: str) -> Asset | None:
        return self._assets.get(name)

    def url(self, name: str) -> str:
        """The versioned URL of an asset (for templates)."""
        asset = self._assets.get(name)
        if asset is None:
            raise KeyError(f"no static file named {name!r}")
        return f"/static/{asset.name}?v={asset.version}"

    def response(self, request: web.Request, name: str) -> web.StreamResponse:
        asset = self._assets.get(name)
        if asset is None:
            raise web.HTTPNotFound()
        versioned = request.query.get("v") == asset.version
        cache = "public, max-age=31536000, immutable" if versioned else "public, max-age=300"
        headers = {"ETag": asset.etag, "Cache-Control": cache}
        if etag_matches(request, asset.etag):
            return web.Response(status=304, headers=headers)
        return web.Response(body=asset.data, headers={**headers, "Content-Type": asset.content_type})


def etag_matches(request: web.Request, etag: str) -> bool:
    """Whether the request's If-None-Match names ``etag`` (or ``*``)."""
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    wanted = etag.removeprefix("W/")
    for item in header.split(","):
        item = item.strip()
        if item == "*" or item.removeprefix("W/") == wanted:
            return True
    return False
