"""Content-addressed image files on disk.

Every file is stored once under its sha256: ``<root>/ab/cd/<sha256>.<ext>``.
Writes are atomic (temporary file in the same folder, ``fsync``, ``os.replace``,
folder ``fsync``), so a reader never sees a partial file and a crash leaves at
most a ``.tmp-*`` file that the next :meth:`FileStore.cleanup_temp` removes.
Paths are only ever derived from a validated sha256 and a known extension,
never taken from outside. The database keeps :class:`FileRef`\\ s, not blobs.

Thumbnails are made once per (file, size) and cached: the thumbnail is itself a
content-addressed file, and ``<root>/thumbs/<sha>-<px>`` remembers which one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Optional, Union

from bot.store.errors import FileMissing, StoreError

log = logging.getLogger(__name__)

_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_TMP_PREFIX = ".tmp-"

CONTENT_TYPES: dict[str, str] = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "mp4": "video/mp4",
    "webm": "video/webm",
    "bin": "application/octet-stream",
}
_EXT_ALIASES = {"jpeg": "jpg"}


def sniff_ext(data: bytes) -> str:
    """The file extension for ``data`` from its magic bytes (``"bin"`` when unknown)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if len(data) >= 12 and data[4:8] == b"ftyp":
        return "mp4"
    if data.startswith(b"\x1a\x45\xdf\xa3"):  # Matroska / WebM (clips people post)
        return "webm"
    return "bin"


def normalize_ext(ext: str) -> str:
    """``ext`` lower-cased without a dot; raises :class:`StoreError` for unknown kinds."""
    e = ext.lower().lstrip(".")
    e = _EXT_ALIASES.get(e, e)
    if e not in CONTENT_TYPES:
        raise StoreError(f"unsupported file type '{ext}'")
    return e


def check_sha(sha256: str) -> str:
    """``sha256`` if it is 64 lower-case hex digits; else :class:`FileMissing` (it cannot exist)."""
    if not isinstance(sha256, str) or not _SHA_RE.match(sha256):
        raise FileMissing("that file reference is not valid")
    return sha256


@dataclass(frozen=True)
class FileRef:
    """A reference to a stored file: what the database keeps."""

    sha256: str
    ext: str
    size: int
    content_type: str

    @property
    def name(self) -> str:
        """``<sha256>.<ext>``: the file's name in the store (and a good upload filename)."""
        return f"{self.sha256}.{self.ext}"


class FileStore:
    """Images on disk under ``root``, addressed by sha256. Thread-safe; blocking.

    The ``a*`` methods run the blocking ones in a worker thread for async code.
    """

    def __init__(self, root: Union[str, Path]) -> None:
        self.root = Path(root)

    # ------------------------------------------------------------------ paths
    def path_for(self, sha256: str, ext: Optional[str] = None) -> Path:
        """The path of file ``sha256``: with ``ext`` where it would be stored; without it,
        the stored file (:class:`FileMissing` if there is none)."""
        sha = check_sha(sha256)
        folder = self.root / sha[:2] / sha[2:4]
        if ext is not None:
            return folder / f"{sha}.{normalize_ext(ext)}"
        for e in CONTENT_TYPES:
            p = folder / f"{sha}.{e}"
            if p.is_file():
                return p
        raise FileMissing(f"the image {sha[:12]}… is no longer stored")

    def exists(self, sha256: str) -> bool:
        try:
            self.path_for(sha256)
        except FileMissing:
            return False
        return True

    def ref(self, sha256: str) -> FileRef:
        """The :class:`FileRef` of a stored file (:class:`FileMissing` if absent)."""
        p = self.path_for(sha256)
        ext = p.suffix[1:]
        return FileRef(sha256, ext, p.stat().st_size, CONTENT_TYPES[ext])

    # ----------------------------------------------------------------- writes
    def put(self, data: bytes, ext: Optional[str] = None) -> FileRef:
        """Store ``data`` (once; storing the same bytes again only refreshes the file's
        modification time, which protects it from :meth:`Store.collect_garbage` until the
        caller has recorded it) and return its ref.

        ``ext`` defaults to the type sniffed from the bytes.
        """
        e = normalize_ext(ext) if ext else sniff_ext(data)
        sha = hashlib.sha256(data).hexdigest()
        target = self.path_for(sha, e)
        try:
            if target.stat().st_size == len(data):
                os.utime(target)
                return FileRef(sha, e, len(data), CONTENT_TYPES[e])
        except FileNotFoundError:
            pass
        self._write_atomic(target, data)
        return FileRef(sha, e, len(data), CONTENT_TYPES[e])

    def _write_atomic(self, target: Path, data: bytes) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        _fsync_dir(target.parent)

    def delete(self, sha256: str) -> bool:
        """Remove a file (under any extension) and its cached thumbnails; False if it was not there."""
        sha = check_sha(sha256)
        paths = [self.path_for(sha, e) for e in CONTENT_TYPES]
        paths = [p for p in paths if p.is_file()]
        if not paths:
            return False
        for link in (self.root / "thumbs").glob(f"{sha256}-*"):
            try:
                thumb = link.read_text().split(".")[0]
                link.unlink()
                if thumb != sha256:
                    self.delete(thumb)
            except (OSError, ValueError):
                pass
        removed = False
        for p in paths:
            try:
                p.unlink()
                removed = True
            except FileNotFoundError:
                pass
        return removed

    def stored(self) -> Iterator[tuple[str, Path]]:
        """Every stored file as (sha256, path), thumbnails included; temp files excluded."""
        if not self.root.is_dir():
            return
        for a in sorted(self.root.iterdir()):
            if len(a.name) != 2 or not a.is_dir():
                continue
            for b in sorted(a.iterdir()):
                if not b.is_dir():
                    continue
                for p in sorted(b.iterdir()):
                    sha, _, ext = p.name.partition(".")
                    if _SHA_RE.match(sha) and ext in CONTENT_TYPES:
                        yield sha, p

    def thumbnails_of(self, sha256: str) -> list[str]:
        """The shas of the cached thumbnails of file ``sha256``."""
        out = []
        for link in (self.root / "thumbs").glob(f"{check_sha(sha256)}-*"):
            with contextlib.suppress(OSError):
                out.append(link.read_text().strip().split(".")[0])
        return out

    def cleanup_temp(self) -> int:
        """Remove temporary files left by a crash mid-write; returns how many."""
        n = 0
        if not self.root.is_dir():
            return 0
        for p in self.root.rglob(f"{_TMP_PREFIX}*"):
            try:
                p.unlink()
                n += 1
            except OSError:
                pass
        return n

    # ------------------------------------------------------------------ reads
    def open(self, sha256: str) -> BinaryIO:
        """The stored file opened for binary reading (:class:`FileMissing` if absent)."""
        p = self.path_for(sha256)
        try:
            return open(p, "rb")
        except FileNotFoundError:
            raise FileMissing(f"the image {sha256[:12]}… is no longer stored") from None

    def read(self, sha256: str) -> bytes:
        """The stored bytes (:class:`FileMissing` if absent)."""
        with self.open(sha256) as fh:
            return fh.read()

    # ------------------------------------------------------------- thumbnails
    def thumbnail(self, sha256: str, max_px: int = 320) -> str:
        """The sha256 of a WebP (or JPEG) thumbnail of file ``sha256``, at most ``max_px`` on
        its long side; made on first use, then cached."""
        sha = check_sha(sha256)
        if not 16 <= max_px <= 4096:
            raise StoreError("thumbnail size must be between 16 and 4096 px")
        link = self.root / "thumbs" / f"{sha}-{max_px}"
        try:
            cached = link.read_text().strip()
            csha = cached.split(".")[0]
            if self.exists(csha):
                return csha
        except (OSError, FileMissing):
            pass
        data = self.read(sha)  # FileMissing if the original is gone
        thumb = self.put(_make_thumbnail(data, max_px))
        self._write_atomic(link, thumb.name.encode())
        return thumb.sha256

    # ------------------------------------------------------------------ async
    async def aput(self, data: bytes, ext: Optional[str] = None) -> FileRef:
        return await asyncio.to_thread(self.put, data, ext)

    async def aread(self, sha256: str) -> bytes:
        return await asyncio.to_thread(self.read, sha256)

    async def athumbnail(self, sha256: str, max_px: int = 320) -> str:
        return await asyncio.to_thread(self.thumbnail, sha256, max_px)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _first_frame(data: bytes):
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(io.BytesIO(data))
        img.seek(0)
        img.load()
        return img
    except (UnidentifiedImageError, OSError, ValueError):
        pass
    if sniff_ext(data) in ("mp4", "webm"):
        try:
            import imageio.v3 as iio

            frame = iio.imread(data, index=0, extension="." + sniff_ext(data))
            return Image.fromarray(frame)
        except Exception as exc:  # noqa: BLE001 - any decoder failure is "cannot thumbnail"
            log.warning("no thumbnail for video: %s", exc)
    raise StoreError("this file is not an image the gallery can show")


def _make_thumbnail(data: bytes, max_px: int) -> bytes:
    from PIL import Image

    img = _first_frame(data)
    img = img.convert("RGBA" if img.mode in ("RGBA", "LA", "P") else "RGB")
    img.thumbnail((max_px, max_px), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    try:
        img.save(buf, format="WEBP", quality=82, method=4)
    except (OSError, KeyError):  # Pillow built without WebP
        buf = io.BytesIO()
        img.convert("RGB").save(buf, format="JPEG", quality=85, optimize=True)
    return buf.getvalue()
