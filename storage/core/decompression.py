"""How much compressed data may unpack to, for every format that decompresses (joblib, compressed
pickles, npz members, HDF5 chunks), and the error when it would unpack to more.

The budget is relative to the compressed size (a 389 KB file asking for 3.8 GB is a bomb, not data),
with a floor for small files of zeros and an absolute cap that "Open anyway" allows.
"""

from __future__ import annotations

from storage.core.errors import DecompressionLimitError, Location
from storage.core.sizes import size_text

MAX_DECOMPRESSED = 8 * 2**30  # never more than this from one file (what "Open anyway" allows)
DECOMPRESSED_FLOOR = 256 * 2**20  # any compressed file may unpack to this much ...
DECOMPRESSED_RATIO = 100  # ... or to this many times its compressed size, whichever is more


def decompression_limit(compressed_size: int, trusted: bool = False) -> int:
    """How many bytes ``compressed_size`` bytes of compressed data may unpack to.

    Relative to the compressed size (a 389 KB file asking for 3.8 GB is a bomb, not data), with
    a floor for small files of zeros and an absolute cap; ``trusted`` (the user chose "Open
    anyway") allows the absolute cap.
    """
    if trusted:
        return MAX_DECOMPRESSED
    return min(MAX_DECOMPRESSED, max(DECOMPRESSED_FLOOR, DECOMPRESSED_RATIO * compressed_size))


def limit_error(what: str, limit: int, compressed_size: int | None = None,
                location: Location | None = None) -> DecompressionLimitError:
    """The error of data that decompresses past ``limit``, with what the user can do about it."""
    packed = f" from {size_text(compressed_size)}" if compressed_size else ""
    advice = ("it may be a decompression bomb; Open anyway reads up to "
              f"{size_text(MAX_DECOMPRESSED)} if you trust the file" if limit < MAX_DECOMPRESSED
              else "that is more than Datashelf reads from one file")
    return DecompressionLimitError(f"{what} decompresses to more than {size_text(limit)}{packed}; reading "
                                   f"stopped ({advice}).", limit, location)
