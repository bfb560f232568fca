"""Compressed streams (what ``joblib.dump(compress=...)`` writes): detect, and read them back lazily.

Only a bounded start is decompressed to sniff; ``open_decompressed`` gives a streaming reader
for the scanner. A compressed pickle is reported as joblib, anything else as binary.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zlib
from typing import BinaryIO

from .sniff_text import pickle_protocol01

SNIFF_OUTPUT = 8192
ZF_HEADER = 21  # joblib < 0.10: b"ZF" + hex length padded to 19 characters, then zlib data
_STRONG = ("gzip", "bz2", "xz", "lz4")  # magics long enough that a failure means damage


def compression_of(head: bytes) -> tuple[str, bytes] | None:
    """(compression name, matched magic) from the first bytes, or None."""
    if head.startswith(b"\x1f\x8b"):
        return "gzip", head[:2]
    if head.startswith(b"BZh") and head[3:4].isdigit() and head[3:4] != b"0":
        return "bz2", head[:4]
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz", head[:6]
    if head.startswith(b"\x04\x22\x4d\x18"):
        return "lz4", head[:4]
    if head.startswith(b"ZF0x") and head[ZF_HEADER:ZF_HEADER + 1] == b"\x78":
        return "zlib", head[:4]
    if head.startswith(b"\x5d\x00\x00"):
        return "lzma", head[:3]
    if len(head) >= 2 and head[0] == 0x78 and head[1] in (0x01, 0x5E, 0x9C, 0xDA):
        return "zlib", head[:2]
    return None


def _lz4():
    try:
        import lz4.frame  # optional dependency, as in joblib

        return lz4.frame
    except ImportError:
        return None


def _decompressor(name: str):
    if name == "gzip":
        return zlib.decompressobj(wbits=31)
    if name == "zlib":
        return zlib.decompressobj()
    if name == "bz2":
        return bz2.BZ2Decompressor()
    if name == "xz":
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
    if name == "lzma":
        return lzma.LZMADecompressor(format=lzma.FORMAT_ALONE)
    frame = _lz4()
    if frame is None:
        raise ModuleNotFoundError("lz4")
    return frame.LZ4FrameDecompressor()


def decompress_head(name: str, data: bytes, limit: int = SNIFF_OUTPUT) -> tuple[bytes, bool]:
    """Decompress at most ``limit`` bytes from ``data``; (output, whether the stream ended)."""
    if name == "zlib" and data.startswith(b"ZF0x"):
        data = data[ZF_HEADER:]
    engine = _decompressor(name)
    if name in ("gzip", "zlib"):
        out = engine.decompress(data, limit)
    else:
        out = engine.decompress(data, max_length=limit)
    return out, bool(getattr(engine, "eof", False))


def sniff_compressed(head: bytes, ext: str) -> tuple[str, str, bytes, dict] | None:
    """(format, reason, magic, detail) for a compressed file, or None when it is not one."""
    found = compression_of(head)
    if not found:
        return None
    name, magic = found
    where = f"starts with the {name} signature '{repr(magic)[2:-1]}'"
    try:
        out, ended = decompress_head(name, head)
    except ModuleNotFoundError:
        if ext in (".joblib", ".lz4"):
            return "joblib", where + f"; the lz4 module is missing, so the {ext} extension decides", \
                magic, {"compression": name, "unverified": True}
        return "binary", where + " (the lz4 module is missing to look inside)", magic, {"compression": name}
    except (zlib.error, OSError, lzma.LZMAError, EOFError, ValueError):
        if name in _STRONG:
            return "binary", where + " but the data does not decompress", magic, \
                {"compression": name, "damaged": True}
        return None  # a weak magic ("x^", "]\0\0") that was a coincidence
    if len(out) >= 2 and out[0] == 0x80 and 2 <= out[1] <= 5:
        return "joblib", where + f"; it decompresses to a pickle (protocol {out[1]})", magic, \
            {"compression": name, "pickle_protocol": out[1]}
    proto = pickle_protocol01(out, len(out) if ended else len(out) + 1, b".")
    if out and proto:
        return "joblib", where + "; it decompresses to a protocol 0/1 pickle", magic, \
            {"compression": name, "pickle_protocol": proto[0]}
    if name not in _STRONG and not out:
        return None
    return "binary", where + "; it decompresses to something that is not a pickle", magic, \
        {"compression": name}


class _ZlibReader(io.RawIOBase):
    """A forward-only file object over a zlib stream (the stdlib has none)."""

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self._raw = raw
        self._engine = zlib.decompressobj()
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        while not self._pending and not self._engine.eof:
            chunk = self._raw.read(64 * 1024)
            if not chunk:
                self._pending = self._engine.flush()
                break
            self._pending = self._engine.decompress(chunk)
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def close(self) -> None:
        self._raw.close()
        super().close()


def open_decompressed(path: str, name: str) -> BinaryIO:
    """A binary stream of the decompressed content of ``path``; raises ModuleNotFoundError for lz4."""
    if name == "gzip":
        return gzip.open(path, "rb")
    if name == "bz2":
        return bz2.open(path, "rb")
    if name in ("xz", "lzma"):
        return lzma.open(path, "rb", format=lzma.FORMAT_XZ if name == "xz" else lzma.FORMAT_ALONE)
    if name == "lz4":
        frame = _lz4()
        if frame is None:
            raise ModuleNotFoundError("lz4")
        return frame.open(path, "rb")
    raw = open(path, "rb")  # noqa: SIM115 - handed to the reader, closed with it
    if raw.read(4) == b"ZF0x":
        raw.seek(ZF_HEADER)
    else:
        raw.seek(0)
    return io.BufferedReader(_ZlibReader(raw))
