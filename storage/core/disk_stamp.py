"""What a file looked like on disk: size, mtime, ctime and inode of each file, and a SHA-256;
and reading a file: a regular one without ever blocking on a FIFO or a device, any in 1 MiB pieces.

A document records a stamp when it loads or saves, and compares a fresh one when the file
watcher fires and before it saves over the file, so a change made by another program is never
overwritten unasked. Hashing is bounded: a file bigger than :data:`FULL_HASH_LIMIT` is hashed
over its first and last :data:`EDGE_BYTES` plus its size only (``partial``); for such a file a
change is judged by its stats (size, mtime, ctime, inode), which any write moves.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from storage.core.errors import KnownError, UnreadableError

FULL_HASH_LIMIT = 64 * 1024 * 1024
EDGE_BYTES = 4 * 1024 * 1024
CHUNK = 1024 * 1024
HASH_CHUNK = 4 * 1024 * 1024  # sha256_file's reads


class _Cancelled(Exception):
    """Not an OSError: ``regular_fd`` turns those into UnreadableError."""


@dataclass(frozen=True)
class FileStat:
    size: int
    mtime_ns: int
    inode: int
    ctime_ns: int  # changes on every write and cannot be set back, unlike the mtime


@dataclass(frozen=True)
class DiskStamp:
    """The stats of every watched file (None: missing) and, once computed, their combined hash."""

    stats: tuple[FileStat | None, ...]
    digest: str | None = None
    partial: bool = False  # some file was hashed at its ends only

    @property
    def missing(self) -> bool:
        return any(s is None for s in self.stats)

    def same_stats(self, other: DiskStamp) -> bool:
        """Size, times and inode of every file equal (the cheap check the watcher runs first)."""
        return self.stats == other.stats


def stat_files(paths: Sequence[str]) -> tuple[FileStat | None, ...]:
    out: list[FileStat | None] = []
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            out.append(None)
        else:
            out.append(FileStat(info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns))
    return tuple(out)


def _hash_one(path: str, digest: Any, cancel: Callable[[], bool] | None) -> bool:
    """Feed ``path`` into ``digest``; True when only its ends were read."""
    with regular_fd(path) as (fd, info):
        size = info.st_size
        digest.update(f"{size}:".encode())
        partial = size > FULL_HASH_LIMIT
        ranges = [(0, EDGE_BYTES), (size - EDGE_BYTES, size)] if partial else [(0, size)]
        for start, end in ranges:
            os.lseek(fd, start, os.SEEK_SET)
            left = end - start
            while left > 0:
                if cancel is not None and cancel():
                    raise _Cancelled
                block = os.read(fd, min(CHUNK, left))
                if not block:
                    break
                digest.update(block)
                left -= len(block)
        return partial


def take_stamp(paths: Sequence[str], cancel: Callable[[], bool] | None = None) -> DiskStamp | None:
    """Stat, hash, stat again (worker body); None when cancelled.

    When a file changes while it is hashed, the stamp keeps the later stats and no digest, so
    it never pairs a hash with the wrong version.
    """
    before = stat_files(paths)
    digest = hashlib.sha256()
    partial = False
    try:
        for path, info in zip(paths, before, strict=True):
            digest.update(os.fsencode(path) + b"\0")
            if info is not None:
                partial = _hash_one(path, digest, cancel) or partial
    except _Cancelled:
        return None
    except (OSError, KnownError):  # vanished, or not a regular file: stats only
        return DiskStamp(stat_files(paths))
    after = stat_files(paths)
    if after != before:
        return DiskStamp(after)
    return DiskStamp(after, digest.hexdigest(), partial)


def content_changed(recorded: DiskStamp, now: DiskStamp) -> bool:
    """Did the files change between the two stamps, as far as size, mtime and hash tell?

    Equal stats with a different hash is a change (rewritten within the mtime's resolution);
    different stats with an equal full hash is not (touched, or rewritten with the same bytes).
    A partial hash never overrides different stats.
    """
    if recorded.stats == now.stats:
        return bool(recorded.digest and now.digest and recorded.digest != now.digest)
    if recorded.missing or now.missing or not recorded.digest or not now.digest:
        return True
    if recorded.partial or now.partial:
        return True
    sizes = [s.size if s else None for s in recorded.stats], [s.size if s else None for s in now.stats]
    return sizes[0] != sizes[1] or recorded.digest != now.digest


@contextlib.contextmanager
def regular_fd(path: str) -> Iterator[tuple[int, os.stat_result]]:
    """An open descriptor of a regular file and its stat; never blocks on a FIFO or a device.

    Anything else, and any OS error while the block reads, is an UnreadableError.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise UnreadableError(f"Cannot read {path}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableError(f"{path} is not a regular file")
        yield fd, info
    except OSError as exc:
        raise UnreadableError(f"Cannot read {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def read_regular(path: str, limit: int | None = None) -> tuple[bytes, os.stat_result]:
    """The bytes of a regular file (never blocks on a FIFO or device) and its stat."""
    with regular_fd(path) as (fd, info), os.fdopen(os.dup(fd), "rb") as handle:
        data = handle.read() if limit is None else handle.read(limit)
    return data, info


def sha256_file(path: str, cancel: Callable[[], bool] | None = None,
                progress: Callable[[float], None] | None = None) -> str | None:
    """SHA-256 of a regular file in hex, or None when cancelled (worker body)."""
    with regular_fd(path) as (fd, info):
        digest = hashlib.sha256()
        total = max(info.st_size, 1)
        done = 0
        last = -1.0
        while True:
            if cancel is not None and cancel():
                return None
            block = os.read(fd, HASH_CHUNK)
            if not block:
                break
            digest.update(block)
            done += len(block)
            fraction = min(done / total, 1.0)
            if progress is not None and fraction - last >= 0.01:
                last = fraction
                progress(fraction)
        return digest.hexdigest()


def chunks(path: str, start: int = 0, limit: int | None = None) -> Iterator[bytes]:
    """The bytes of ``path`` from ``start`` in 1 MiB pieces (at most ``limit`` bytes)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(start)
            left = limit
            while left is None or left > 0:
                block = handle.read(CHUNK if left is None else min(CHUNK, left))
                if not block:
                    return
                if left is not None:
                    left -= len(block)
                yield block
    except OSError as exc:
        raise UnreadableError(f"Cannot read {path}: {exc.strerror or exc}") from exc
