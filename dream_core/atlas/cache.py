"""TEMPORARY stub (H3) of H2's content-addressed render cache, per /work/notes/ATLAS_SPEC.md; the merge
replaces it."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Optional

from dream_core.catalog import get_info


@dataclass(frozen=True)
class RenderKey:
    model: str
    weights_id: str
    layer: str
    filter: int
    size: int
    variant: int
    version: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(repr(astuple(self)).encode()).hexdigest()


def weights_id(model_name: str, weights: Optional[str] = None) -> str:
    info = get_info(model_name)
    return info.weights.torchvision or info.weights.description or model_name


class AtlasCache:
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes

    def _path(self, key: RenderKey) -> Path:
        d = key.digest
        return self.root / d[:2] / f"{d}.png"

    def get(self, key: RenderKey) -> Optional[bytes]:
        try:
            return self._path(key).read_bytes()
        except OSError:
            return None

    def has(self, key: RenderKey) -> bool:
        return self._path(key).exists()

    def put(self, key: RenderKey, png: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(png)
        os.replace(tmp, path)

    def evict(self) -> None:
        return None


def default_cache() -> AtlasCache:
    root = os.environ.get("DREAMBOT_ATLAS_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "dreambot", "atlas")
    return AtlasCache(Path(root), int(os.environ.get("DREAMBOT_ATLAS_CACHE_MB", "512")) * 1024 * 1024)
