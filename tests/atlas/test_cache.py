"""The atlas render cache: content-addressed, atomic, capped with LRU eviction, shared
between processes and restarts (issue 16 §4, §8)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from dream_core.atlas import cache as cache_mod
from dream_core.atlas.cache import AtlasCache, RenderKey, default_cache, render_key
from dream_core.atlas.version import RENDERER_VERSION
from dream_core.atlas.weights import weights_id
from dream_core.errors import DreamSettingError

ROOT = Path(__file__).resolve().parents[2]
KEY = RenderKey("efficientnet-lite0", "abc123", "block10", 97, 128)


def test_every_field_of_the_key_changes_the_address():
    variants = [
        replace(KEY, model="googlenet"), replace(KEY, weights_id="def"), replace(KEY, layer="block5"),
        replace(KEY, filter=98), replace(KEY, size=64), replace(KEY, variant=1), replace(KEY, version="other"),
        replace(KEY, steps=10), replace(KEY, diversity=4),
    ]
    digests = {KEY.digest, *(k.digest for k in variants)}
    assert len(digests) == len(variants) + 1
    assert KEY.digest == RenderKey("efficientnet-lite0", "abc123", "block10", 97, 128).digest  # stable
    assert KEY.version == RENDERER_VERSION


def test_put_get_has(cache):
    assert cache.get(KEY) is None and not cache.has(KEY)
    cache.put(KEY, b"png-bytes")
    assert cache.has(KEY) and cache.get(KEY) == b"png-bytes"
    assert cache.path(KEY).name == f"{KEY.digest}.png"
    assert [p.name for p in cache.path(KEY).parent.iterdir()] == [f"{KEY.digest}.png"]  # no temporary left


def test_keep_stores_another_processes_render_by_its_digest(cache):
    assert cache.keep(KEY.digest, b"from a node") and not cache.keep(KEY.digest, b"again")
    assert cache.get(KEY) == b"from a node"
    for bad in ("../../etc/passwd", "ab", KEY.digest.upper()):
        with pytest.raises(ValueError):
            cache.keep(bad, b"x")


def test_a_failed_write_leaves_nothing_half_written(cache, monkeypatch):
    cache.put(KEY, b"old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(cache_mod.os, "replace", broken_replace)
    with pytest.raises(OSError):
        cache.put(KEY, b"new")
    assert cache.get(KEY) == b"old"
    assert [p.name for p in cache.path(KEY).parent.iterdir()] == [f"{KEY.digest}.png"]


def test_the_cap_evicts_the_least_recently_used(tmp_path):
    cache = AtlasCache(tmp_path, max_bytes=10_000)
    keys = [replace(KEY, filter=i) for i in range(8)]
    for i, key in enumerate(keys[:6]):
        cache.put(key, bytes(1500))
        os.utime(cache.path(key), (1000 + i, 1000 + i))  # put in this order, seconds apart
    assert cache.get(keys[0]) is not None  # used now: the newest
    cache.put(keys[6], bytes(1500))  # 7 x 1500 > 10 000: evict down to 9 000
    cache.put(keys[7], bytes(1500))
    left = {k.filter for k in keys if cache.has(k)}
    assert cache.size_bytes() <= 10_000
    assert 0 in left and 6 in left and 7 in left  # recently used or new stay
    assert 1 not in left and 2 not in left  # the oldest unused went first
    assert len(left) == 6


def test_eviction_counts_what_other_processes_wrote(tmp_path):
    writer, other = AtlasCache(tmp_path, 5_000), AtlasCache(tmp_path, 5_000)
    for i in range(4):
        other.put(replace(KEY, filter=i), bytes(1200))
    writer.put(replace(KEY, filter=10), bytes(1200))  # its first put counts the directory
    assert writer.size_bytes() <= 5_000


def test_default_cache_follows_the_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("DREAMBOT_ATLAS_DIR", str(tmp_path / "here"))
    monkeypatch.setenv("DREAMBOT_ATLAS_CACHE_MB", "2.5")
    c = default_cache()
    assert c.root == tmp_path / "here" and c.max_bytes == 2_500_000
    monkeypatch.delenv("DREAMBOT_ATLAS_DIR")
    monkeypatch.delenv("DREAMBOT_ATLAS_CACHE_MB")
    c = default_cache()
    assert c.root.parts[-2:] == ("dreambot", "atlas") and c.max_bytes == 512_000_000
    monkeypatch.setenv("DREAMBOT_ATLAS_CACHE_MB", "lots")
    with pytest.raises(DreamSettingError, match="DREAMBOT_ATLAS_CACHE_MB: 'lots' is not a size in MB"):
        default_cache()


def test_weights_id_hashes_the_weights_file(tmp_path, monkeypatch):
    bundled = weights_id("efficientnet-lite0")
    assert len(bundled) == 16 and bundled == weights_id("efficientnet-lite0")
    local = tmp_path / "w.pth"
    local.write_bytes(b"other weights")
    assert weights_id("efficientnet-lite0", str(local)) not in (bundled, "")
    monkeypatch.setenv("DREAMBOT_EFFICIENTNET_LITE0_WEIGHTS", str(local))
    assert weights_id("efficientnet-lite0") == weights_id("efficientnet-lite0", str(local))
    assert render_key("efficientnet-lite0", "block10", 1, 64).weights_id == weights_id("efficientnet-lite0", local)


def test_weights_id_of_weights_not_downloaded_is_their_name(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty torch cache
    monkeypatch.delenv("DREAMBOT_VGG16_WEIGHTS", raising=False)
    assert weights_id("vgg16") == "VGG16_Weights.IMAGENET1K_V1"


@pytest.mark.slow  # two new interpreters (about 2 s)
def test_a_render_survives_a_new_process(tmp_path):
    """What one process stored, another finds (a restart), without importing torch."""
    env = {**os.environ, "DREAMBOT_ATLAS_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    code = (
        "import sys; from dream_core.atlas.cache import default_cache, render_key; c = default_cache(); "
        "k = render_key('efficientnet-lite0', 'block10', 5, 64); "
        "(c.put(k, b'stored') if sys.argv[1] == 'put' else print(c.get(k).decode())); "
        "assert 'torch' not in sys.modules"
    )
    t0 = time.time()
    subprocess.run([sys.executable, "-c", code, "put"], env=env, check=True, timeout=60)
    out = subprocess.run([sys.executable, "-c", code, "get"], env=env, check=True, timeout=60, capture_output=True)
    assert out.stdout.decode().strip() == "stored", time.time() - t0
