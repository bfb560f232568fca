"""Random access to a file of any size, with byte overwrites kept aside until saved.

Reads go through ``os.pread`` with a small page cache rather than ``mmap``: a mapped file that
another program truncates raises SIGBUS on the next access and kills the whole app, while
``pread`` just returns fewer bytes. The cache makes repeated paints as cheap as a mapping, and
only the pages on screen are ever read, so a 10 GB file opens at once.

Overwrites live in an overlay ``{offset: byte}``; saving streams the file through the atomic
writer with the overlay applied, so the original is untouched until the new file is complete.
"""

from __future__ import annotations

import os
import stat
from collections import OrderedDict
from collections.abc import Callable, Iterator

from storage.core.atomic import atomic_writer
from storage.core.errors import UnreadableError

PAGE = 64 * 1024
CACHE_PAGES = 64
SEARCH_CHUNK = 4 * 1024 * 1024


class ByteSource:
    """A read-only view of a regular file's bytes; survives the file shrinking or vanishing."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            self._fd: int | None = os.open(path, flags)
        except OSError as exc:
            raise UnreadableError(f"Cannot read {path}: {exc.strerror or exc}") from None
        info = os.fstat(self._fd)
        if not stat.S_ISREG(info.st_mode):
            self.close()
            raise UnreadableError(f"{path} is not a regular file")
        self.size = info.st_size
        self.mtime_ns = info.st_mtime_ns
        self.short_read = False  # the file got shorter than when it was opened

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._cache.clear()

    def _page(self, number: int) -> bytes:
        page = self._cache.get(number)
        if page is not None:
            self._cache.move_to_end(number)
            return page
        if self._fd is None:
            return b""
        start = number * PAGE
        want = min(PAGE, max(self.size - start, 0))
        try:
            page = os.pread(self._fd, want, start) if want else b""
        except OSError:
            page = b""
        if len(page) < want:
            self.short_read = True
        self._cache[number] = page
        if len(self._cache) > CACHE_PAGES:
            self._cache.popitem(last=False)
        return page

    def read(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes at ``offset`` (fewer at the end, or if the file shrank)."""
        offset = max(0, offset)
        end = min(offset + max(0, length), self.size)
        parts = []
        pos = offset
        while pos < end:
            number, inner = divmod(pos, PAGE)
            page = self._page(number)
            piece = page[inner:inner + end - pos]
            if not piece:
                break
            parts.append(piece)
            pos += len(piece)
        return b"".join(parts)

    def read_uncached(self, offset: int, length: int) -> bytes:
        """Bytes straight from the file (for worker threads: the cache is not shared)."""
        length = min(length, self.size - offset)
        if length <= 0 or self._fd is None:
            return b""
        try:
            return os.pread(self._fd, length, offset)
        except OSError as exc:
            raise UnreadableError(f"Cannot read {self.path}: {exc.strerror or exc}") from None

    def chunks(self, start: int = 0, size: int = SEARCH_CHUNK) -> Iterator[tuple[int, bytes]]:
        """(offset, bytes) pieces from ``start`` to the end, read past the cache."""
        pos = start
        while pos < self.size and self._fd is not None:
            try:
                block = os.pread(self._fd, min(size, self.size - pos), pos)
            except OSError as exc:
                raise UnreadableError(f"Cannot read {self.path}: {exc.strerror or exc}") from None
            if not block:
                self.short_read = True
                return
            yield pos, block
            pos += len(block)

    def changed_on_disk(self) -> bool:
        try:
            info = os.stat(self.path)
        except OSError:
            return True
        return (info.st_size, info.st_mtime_ns) != (self.size, self.mtime_ns)


class HexBuffer:
    """A ByteSource plus overwritten bytes. Overwrites never change the size."""

    def __init__(self, path: str) -> None:
        self.source = ByteSource(path)
        self.overlay: dict[int, int] = {}

    @property
    def size(self) -> int:
        return self.source.size

    def close(self) -> None:
        self.source.close()

    def read(self, offset: int, length: int) -> bytes:
        return _patched(self.source.read(offset, length), offset, self.overlay)

    def original(self, offset: int) -> int | None:
        data = self.source.read(offset, 1)
        return data[0] if data else None

    def set_byte(self, offset: int, value: int | None) -> None:
        """Overwrite one byte; ``None`` (or the original value) drops the overwrite."""
        if not 0 <= offset < self.size:
            raise IndexError(offset)
        if value is None or value == self.original(offset):
            self.overlay.pop(offset, None)
        else:
            self.overlay[offset] = value & 0xFF

    def find(self, needle: bytes, start: int = 0, cancel: Callable[[], bool] | None = None,
             overlay: dict[int, int] | None = None) -> int:
        """Offset of the first ``needle`` at or after ``start`` (edits included), or -1.

        Safe on a worker thread when given a snapshot of the ``overlay``: it reads past the
        page cache, which belongs to the GUI thread.
        """
        if not needle:
            return -1
        edits = dict(self.overlay) if overlay is None else overlay
        overlap = len(needle) - 1
        pos = max(0, start)
        while pos < self.size:
            if cancel is not None and cancel():
                return -1
            block = _patched(self.source.read_uncached(pos, SEARCH_CHUNK + overlap), pos, edits)
            if not block:
                return -1
            found = block.find(needle)
            if found >= 0:
                return pos + found
            pos += SEARCH_CHUNK
        return -1

    def save_to(self, path: str, progress: Callable[[float], None] | None = None, *,
                backup: bool = False) -> None:
        """Write the file with the overlay applied, through the atomic writer (NAME.bak kept when
        ``backup``)."""
        total = max(self.size, 1)

        def write(handle) -> None:
            written = 0
            for offset, block in self.source.chunks():
                block = _patched(block, offset, self.overlay)
                handle.write(block)
                written += len(block)
                if progress is not None:
                    progress(written / total)
            if written != self.size:
                raise UnreadableError(f"{self.source.path} got shorter while saving; not saved")

        with atomic_writer(path, "wb", backup=backup) as handle:
            write(handle)


def _patched(block: bytes, offset: int, overlay: dict[int, int]) -> bytes:
    """``block`` (read at ``offset``) with the overwrites that fall inside it applied."""
    if not overlay or not block:
        return block
    end = offset + len(block)
    hits = ([o for o in overlay if offset <= o < end] if len(overlay) < len(block)
            else [o for o in range(offset, end) if o in overlay])
    if not hits:
        return block
    buf = bytearray(block)
    for o in hits:
        buf[o - offset] = overlay[o]
    return bytes(buf)


def parse_hex(text: str) -> bytes:
    """'de ad be ef' or 'DEADBEEF' or '0xde 0xad' to bytes; ValueError when it is not hex."""
    cleaned = text.replace("0x", "").replace("0X", "").replace(",", " ")
    cleaned = "".join(cleaned.split())
    if len(cleaned) % 2:
        raise ValueError("an odd number of hex digits")
    return bytes.fromhex(cleaned)


def parse_offset(text: str) -> int:
    """'0x1f', '1f h', '1234' (decimal) to an offset; ValueError otherwise."""
    text = text.strip().lower().replace("_", "")
    if text.startswith("0x"):
        return int(text[2:], 16)
    if text.endswith("h"):
        return int(text[:-1].strip(), 16)
    return int(text, 10)
