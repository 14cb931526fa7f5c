"""The atlas render cache: content-addressed PNGs on disk, capped in size (torch-free).

One render of one filter is stored under the sha256 of everything it depends on
(:class:`RenderKey`: model, weights, layer, filter, size, variant, renderer
version, and the steps and diversity it was rendered with), as
``<root>/<2 hex>/<digest>.png``. So a sheet anyone has seen once comes back at
once, for everyone, after restarts too, and a new renderer version or other
weights never serve a stale picture.

Writes are atomic (a temporary file in the same directory, then ``os.replace``),
so readers never see half a PNG and several processes (the bot, its workers, an
``atlas build``) share one directory. Reading a render marks it used (its
mtime); past the size cap the least recently used renders are evicted until
the cache is back under 90 % of the cap.

Settings (environment): ``DREAMBOT_ATLAS_DIR`` (default: the user's cache
directory, ``.../dreambot/atlas``), ``DREAMBOT_ATLAS_CACHE_MB`` (default 512).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from dream_core.atlas.version import RENDERER_VERSION
from dream_core.atlas.weights import weights_id
from dream_core.errors import DreamSettingError

log = logging.getLogger(__name__)

DIR_ENV = "DREAMBOT_ATLAS_DIR"
CAP_ENV = "DREAMBOT_ATLAS_CACHE_MB"
DEFAULT_CAP_MB = 512
#: after an eviction the cache holds at most this share of the cap
EVICT_TO = 0.9
#: a process counts the cache again after this many writes (other processes write to it too)
RESCAN_EVERY = 256


@dataclass(frozen=True)
class RenderKey:
    """Everything one stored render depends on. ``variant`` 0 is the main image,
    1.. the diversity images; ``steps`` 0 means the renderer's default; ``diversity``
    is how many images of the filter were rendered together (they shape each other)."""

    model: str
    weights_id: str
    layer: str  # the model's own layer name
    filter: int
    size: int
    variant: int = 0
    version: str = RENDERER_VERSION
    steps: int = 0
    diversity: int = 1

    @property
    def digest(self) -> str:
        """sha256 (hex) of the fields: the render's address."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()


def render_key(
    model: str, layer: str, filt: int, size: int, *, variant: int = 0, steps: int = 0, diversity: int = 1,
    weights: Optional[str] = None,
) -> RenderKey:
    """The key of one render with this process's weights for ``model`` (see :func:`weights_id`)."""
    return RenderKey(model, weights_id(model, weights), layer, filt, size, variant, RENDERER_VERSION, steps, diversity)


class AtlasCache:
    """PNG renders under ``root``, at most ``max_bytes`` on disk (see the module's doc)."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = int(max_bytes)
        self._lock = threading.Lock()
        self._size: Optional[int] = None  # bytes on disk as this process believes (None: not counted yet)
        self._puts = 0  # puts since the last scan (other processes write too: count again now and then)

    def __repr__(self) -> str:
        return f"AtlasCache({str(self.root)!r}, max_bytes={self.max_bytes})"

    def path(self, key: RenderKey) -> Path:
        return self.path_of(key.digest)

    def path_of(self, digest: str) -> Path:
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise ValueError(f"not a render digest: {digest!r}")
        return self.root / digest[:2] / f"{digest}.png"

    def get_digest(self, digest: str) -> Optional[bytes]:
        """What is stored under ``digest`` (a render, or an assembled sheet), or None; a hit is a use."""
        path = self.path_of(digest)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        with contextlib.suppress(OSError):
            os.utime(path)
        return data

    def put_digest(self, digest: str, png: bytes) -> None:
        """Store ``png`` under ``digest`` (atomically), evicting past the cap like :meth:`put`."""
        self._write(self.path_of(digest), png)

    def keep(self, digest: str, png: bytes) -> bool:
        """Store a render another process made (by its digest) unless it is here; True if stored."""
        if self.path_of(digest).is_file():
            return False
        self._write(self.path_of(digest), png)
        return True

    def has(self, key: RenderKey) -> bool:
        return self.path(key).is_file()

    def get(self, key: RenderKey) -> Optional[bytes]:
        """The stored PNG, or None (not there, or evicted just now); a hit counts as a use."""
        return self.get_digest(key.digest)

    def put(self, key: RenderKey, png: bytes) -> None:
        """Store ``png`` under ``key`` (atomically); evict old renders past the cap."""
        self.put_digest(key.digest, png)

    def _write(self, path: Path, png: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".png", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(png)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        with self._lock:
            self._puts += 1
            if self._size is not None:
                self._size += len(png)
            over = self._size is None or self._size > self.max_bytes or self._puts >= RESCAN_EVERY
        if over:
            self.evict()

    def size_bytes(self) -> int:
        """Bytes of renders on disk now (a scan)."""
        return sum(size for _, size, _ in self._scan())

    def evict(self) -> int:
        """Remove the least recently used renders until the cache is under its cap
        (down to 90 % of it when it was over); return how many were removed."""
        entries = self._scan()
        total = sum(size for _, size, _ in entries)
        removed = 0
        if total > self.max_bytes:
            goal = int(self.max_bytes * EVICT_TO)
            for path, size, _ in sorted(entries, key=lambda e: e[2]):
                if total <= goal:
                    break
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed += 1
                total -= size
            log.info("atlas cache %s: evicted %d renders (now %.1f MB)", self.root, removed, total / 1e6)
        with self._lock:
            self._size = total
            self._puts = 0
        return removed

    def _scan(self) -> list[tuple[Path, int, float]]:
        out: list[tuple[Path, int, float]] = []
        if not self.root.is_dir():
            return out
        stale = time.time() - 3600
        for sub in self.root.iterdir():
            if not sub.is_dir():
                continue
            for entry in os.scandir(sub):
                try:
                    st = entry.stat()
                except FileNotFoundError:
                    continue
                if entry.name.startswith(".tmp-"):  # left by a process killed mid-write
                    if st.st_mtime < stale:
                        with contextlib.suppress(OSError):
                            os.unlink(entry.path)
                    continue
                out.append((Path(entry.path), st.st_size, st.st_mtime))
        return out


def default_dir() -> Path:
    """``DREAMBOT_ATLAS_DIR``, else the user's cache directory's ``dreambot/atlas``."""
    configured = os.environ.get(DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("dreambot")) / "atlas"


def default_cap_bytes() -> int:
    """``DREAMBOT_ATLAS_CACHE_MB`` (default 512) in bytes; a bad value is a :class:`DreamSettingError`."""
    raw = os.environ.get(CAP_ENV, "").strip()
    if not raw:
        return DEFAULT_CAP_MB * 1_000_000
    try:
        mb = float(raw)
    except ValueError:
        mb = -1.0
    if mb <= 0:
        raise DreamSettingError(f"{CAP_ENV}: {raw!r} is not a size in MB greater than 0 (the default is 512)")
    return int(mb * 1_000_000)


def default_cache() -> AtlasCache:
    """The cache the settings name (see the module's doc)."""
    return AtlasCache(default_dir(), default_cap_bytes())


__all__ = [
    "CAP_ENV",
    "DEFAULT_CAP_MB",
    "DIR_ENV",
    "AtlasCache",
    "RenderKey",
    "default_cache",
    "default_cap_bytes",
    "default_dir",
    "render_key",
    "weights_id",
]
