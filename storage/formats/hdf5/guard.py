"""A guard against an HDF5 library hang: a global heap object of size zero.

Variable-length values (strings, vlen arrays, region references) live in "global heap
collections" (``GCOL`` blocks). When the library loads a collection it walks its objects by
their sizes; a free-space object (index 0) whose size is 0 never advances the walk and the
library loops forever, inside C, holding h5py's lock (found by tests/fuzz/run.py with one deleted
range). Before reading such values, :func:`damaged_global_heap` walks every collection the
same way and says whether one would do that; the caller then refuses with ``ParseError``.
"""

from __future__ import annotations

import mmap
import os
import struct
from typing import Any

from storage.core.errors import ParseError

HEAP_MESSAGE = ("a global heap of this file is damaged, so its variable-length values (strings, "
                "arrays, references) cannot be read safely")
_HEADER = 16  # "GCOL", version, 3 reserved, collection size (8 bytes)
_OBJECT = 16  # index (2), reference count (2), reserved (4), size (8)


def _collection_loops(data: mmap.mmap | bytes, start: int) -> bool:
    """True when the collection at ``start`` holds an object that would stall the library's walk."""
    if len(data) < start + _HEADER or data[start + 4] != 1:
        return False  # not a version-1 collection header: a chance "GCOL" in raw data
    size = struct.unpack_from("<Q", data, start + 8)[0]
    end = start + size
    if size < _HEADER or end > len(data):
        return False  # the library rejects this collection with an error, it does not loop
    at = start + _HEADER
    while at + _OBJECT <= end:
        index, = struct.unpack_from("<H", data, at)
        length, = struct.unpack_from("<Q", data, at + 8)
        step = length if index == 0 else _OBJECT + (length + 7) // 8 * 8
        if step == 0:
            return True
        at += step
    return False


def damaged_global_heap(path: str) -> bool:
    """True when a global heap collection of ``path`` would hang the HDF5 library."""
    try:
        with open(path, "rb") as handle:
            if os.fstat(handle.fileno()).st_size == 0:
                return False
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                at = data.find(b"GCOL")
                while at >= 0:
                    if _collection_loops(data, at):
                        return True
                    at = data.find(b"GCOL", at + 4)
    except (OSError, ValueError):
        return False  # unreadable now: the read that follows reports it
    return False


def check_vlen(path: str, dtype: Any, damaged: bool | None) -> bool | None:
    """Raise ParseError when ``dtype`` (None: unknown) holds variable-length values and the file's
    global heap is damaged; return the damage flag to cache (None: not scanned yet)."""
    if dtype is not None and not getattr(dtype, "hasobject", False):
        return damaged
    if damaged is None:
        damaged = damaged_global_heap(path)
    if damaged:
        raise ParseError(HEAP_MESSAGE)
    return damaged
