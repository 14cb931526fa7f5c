"""The contents of the pictures the gallery serves, kept in memory by sha256.

The file store is content-addressed: the bytes under a sha256 never change, so
nothing here ever needs invalidating (which entry may show which file is the
page cache's business, see :mod:`bot.web.pictures`). Only files up to
:data:`MAX_CACHED_FILE` are kept, up to :data:`MAX_CACHED_BYTES` in all, least
recently used first out; bigger ones (long clips) are read for each request.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from bot.web.gallery import ImageFile

#: files kept in memory at most this big (results and thumbnails; long clips are read each time)
MAX_CACHED_FILE = 8 * 1024 * 1024
#: all files kept in memory together
MAX_CACHED_BYTES = 64 * 1024 * 1024


class FileBytes:
    """An LRU of file contents by sha256 (content-addressed: never stale), with one read
    for concurrent requests of the same file."""

    def __init__(self, *, max_bytes: int = MAX_CACHED_BYTES, max_file: int = MAX_CACHED_FILE) -> None:
        self.max_bytes = max_bytes
        self.max_file = max_file
        self._data: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._reading: dict[str, asyncio.Future[bytes]] = {}

    def clear(self) -> None:
        """Forget every file's bytes."""
        self._data.clear()
        self._size = 0

    async def read(self, found: ImageFile) -> bytes:
        """The file's bytes (:class:`~bot.store.FileMissing` if it is gone)."""
        data = self._data.get(found.sha256)
        if data is not None:
            self._data.move_to_end(found.sha256)
            return data
        pending = self._reading.get(found.sha256)
        if pending is None:
            pending = asyncio.ensure_future(found.read())
            self._reading[found.sha256] = pending
            pending.add_done_callback(lambda f: self._done(found.sha256, f))
        return await asyncio.shield(pending)

    def _done(self, sha256: str, future: asyncio.Future[bytes]) -> None:
        self._reading.pop(sha256, None)
        if future.cancelled() or future.exception() is not None:
            return
        data = future.result()
        if len(data) > self.max_file or sha256 in self._data:
            return
        self._data[sha256] = data
        self._size += len(data)
        while self._size > self.max_bytes:
            _, old = self._data.popitem(last=False)
            self._size -= len(old)
