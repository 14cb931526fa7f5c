"""The content-addressed file store: layout, dedup, atomic writes, thumbnails,
and missing files reported as FileMissing."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import threading

import pytest
from PIL import Image

from bot.store import FileMissing, FileStore, StoreError
from bot.store import files as files_mod


@pytest.fixture
def fs(tmp_path) -> FileStore:
    return FileStore(tmp_path / "files")


def _leftovers(root) -> list:
    return [p for p in root.rglob("*") if p.name.startswith(".tmp-")]


def test_put_read_layout_and_dedup(fs, sample_png):
    ref = fs.put(sample_png)
    sha = hashlib.sha256(sample_png).hexdigest()
    assert (ref.sha256, ref.ext, ref.size, ref.content_type) == (sha, "png", len(sample_png), "image/png")
    path = fs.root / sha[:2] / sha[2:4] / f"{sha}.png"
    assert path.is_file() and fs.path_for(sha) == path
    assert fs.read(sha) == sample_png
    with fs.open(sha) as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    inode = path.stat().st_ino
    assert fs.put(sample_png) == ref  # same bytes: same ref, not rewritten
    assert path.stat().st_ino == inode
    assert fs.ref(sha) == ref
    assert fs.exists(sha) and ref.name == f"{sha}.png"


@pytest.mark.parametrize(
    "fmt,ext,ctype", [("JPEG", "jpg", "image/jpeg"), ("GIF", "gif", "image/gif"), ("WEBP", "webp", "image/webp")]
)
def test_type_is_sniffed(fs, sample_image, fmt, ext, ctype):
    buf = io.BytesIO()
    sample_image.save(buf, format=fmt)
    ref = fs.put(buf.getvalue())
    assert (ref.ext, ref.content_type) == (ext, ctype)
    assert fs.put(b"hello").ext == "bin"
    assert fs.put(b"hello", "JPEG").ext == "jpg"
    with pytest.raises(StoreError):
        fs.put(b"x", "exe")


@pytest.mark.parametrize(
    "bad", ["../../etc/passwd", "ABCDEF" + "0" * 58, "0" * 63, "0" * 64 + "/x", "", "0" * 62 + "/.", None]
)
def test_path_for_accepts_only_a_sha(fs, bad):
    with pytest.raises(FileMissing):
        fs.path_for(bad)  # type: ignore[arg-type]
    with pytest.raises(FileMissing):
        fs.read(bad)  # type: ignore[arg-type]


def test_missing_file_is_reported(fs, sample_png):
    sha = "ab" * 32
    assert not fs.exists(sha)
    for call in (fs.read, fs.open, fs.ref, fs.thumbnail, fs.path_for):
        with pytest.raises(FileMissing, match="no longer stored"):
            call(sha)
    ref = fs.put(sample_png)
    fs.path_for(ref.sha256).unlink()  # lost behind the store's back
    with pytest.raises(FileMissing):
        fs.read(ref.sha256)
    assert fs.delete(ref.sha256) is False


def test_failed_write_leaves_no_partial_or_temp_file(fs, sample_png, monkeypatch):
    def broken_replace(src, dst):
        raise OSError("disk gone")

    monkeypatch.setattr(files_mod.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk gone"):
        fs.put(sample_png)
    monkeypatch.undo()
    sha = hashlib.sha256(sample_png).hexdigest()
    assert not fs.exists(sha)
    assert _leftovers(fs.root) == []
    assert fs.put(sample_png).sha256 == sha


def test_readers_never_see_a_partial_file(fs):
    data = os.urandom(4 << 20)
    sha = hashlib.sha256(data).hexdigest()
    seen: list[int] = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            with contextlib.suppress(FileMissing):
                seen.append(len(fs.read(sha)))

    t = threading.Thread(target=reader)
    t.start()
    try:
        fs.put(data)
        for _ in range(20):  # keep reading a little after the write
            seen.append(len(fs.read(sha)))
    finally:
        stop.set()
        t.join()
    assert seen and set(seen) == {len(data)}
    assert _leftovers(fs.root) == []


def test_cleanup_removes_temp_files_from_a_crash(fs, sample_png):
    ref = fs.put(sample_png)
    stray = fs.path_for(ref.sha256).parent / ".tmp-abc123"
    stray.write_bytes(b"half a file")
    assert fs.cleanup_temp() == 1
    assert not stray.exists() and fs.read(ref.sha256) == sample_png


def test_thumbnail_is_made_once(fs, sample_image, monkeypatch):
    big = sample_image.resize((640, 428))
    buf = io.BytesIO()
    big.save(buf, format="PNG")
    ref = fs.put(buf.getvalue())
    calls = []
    real = files_mod._make_thumbnail
    monkeypatch.setattr(files_mod, "_make_thumbnail", lambda d, px: calls.append(px) or real(d, px))
    t1 = fs.thumbnail(ref.sha256, 64)
    t2 = fs.thumbnail(ref.sha256, 64)
    assert t1 == t2 and calls == [64]
    thumb = Image.open(io.BytesIO(fs.read(t1)))
    assert max(thumb.size) == 64 and thumb.format in ("WEBP", "JPEG")
    assert fs.thumbnail(ref.sha256) != t1  # another size, another thumbnail
    assert max(Image.open(fs.path_for(fs.thumbnail(ref.sha256))).size) == 320
    # deleting the original takes its thumbnails along
    assert fs.delete(ref.sha256)
    assert not fs.exists(t1)
    with pytest.raises(FileMissing):
        fs.thumbnail(ref.sha256, 64)


def test_thumbnail_of_an_animation_and_of_junk(fs, sample_image):
    buf = io.BytesIO()
    frames = [sample_image, sample_image.rotate(90)]
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    ref = fs.put(buf.getvalue())
    assert fs.exists(fs.thumbnail(ref.sha256, 32))
    junk = fs.put(b"not an image at all")
    with pytest.raises(StoreError, match="not an image"):
        fs.thumbnail(junk.sha256)


async def test_async_twins(fs, sample_png):
    ref = await fs.aput(sample_png)
    assert await fs.aread(ref.sha256) == sample_png
    assert fs.exists(await fs.athumbnail(ref.sha256, 32))


def test_delete_removes_every_copy(fs):
    a = fs.put(b"same bytes", "png")
    b = fs.put(b"same bytes", "jpg")
    assert a.sha256 == b.sha256 and fs.path_for(a.sha256, "png").exists() and fs.path_for(a.sha256, "jpg").exists()
    assert fs.delete(a.sha256) is True
    assert not fs.exists(a.sha256) and fs.delete(a.sha256) is False
