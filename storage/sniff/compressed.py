"""Compressed streams (what ``joblib.dump(compress=...)`` writes): detect, and read them back lazily.

Only a bounded start is decompressed to sniff; ``joblib_io.open_joblib`` gives the bounded
streaming reader. A compressed pickle is reported as joblib when joblib wrote it (its array wrapper
in the sniffed start, a ``.joblib`` name, or a compression only joblib writes: zlib, lzma, lz4),
else as a pickle with its compression (what pandas' ``to_pickle`` writes for ``.pkl.gz`` and the
like); anything else as binary.
"""

from __future__ import annotations

import sys
import zlib
from typing import BinaryIO

from storage.sniff.text import pickle_protocol01

SNIFF_OUTPUT = 8192
ZF_HEADER = 21  # joblib < 0.10: b"ZF" + hex length padded to 19 characters, then zlib data
STRONG = ("gzip", "bz2", "xz", "lz4", "zstd")  # magics long enough that a failure means damage
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"  # what pandas writes for .pkl.zst (with the zstandard module)
JOBLIB_MARKERS = (b"joblib.numpy_pickle", b"NumpyArrayWrapper")
JOBLIB_ONLY = ("zlib", "lzma", "lz4")  # compressions pandas' read_pickle does not read: joblib wrote them
JOBLIB_EXTENSIONS = (".joblib", ".jbl")


def zfile_offset(head: bytes) -> int | None:
    """Where the zlib data of a joblib < 0.10 "ZF" file starts, or None when ``head`` is not one.

    joblib <= 0.8.4 on Python 2 padded the length one character wider, hence the optional space.
    """
    if not head.startswith(b"ZF0x"):
        return None
    if head[ZF_HEADER:ZF_HEADER + 1] == b"\x78":
        return ZF_HEADER
    if head[ZF_HEADER:ZF_HEADER + 2] == b" \x78":
        return ZF_HEADER + 1
    return None


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
    if head.startswith(ZSTD_MAGIC):
        return "zstd", head[:4]
    if zfile_offset(head) is not None:
        return "zlib", head[:4]
    if head.startswith(b"\x5d\x00\x00"):
        return "lzma", head[:3]
    if len(head) >= 2 and head[0] == 0x78 and head[1] in (0x01, 0x5E, 0x9C, 0xDA):
        return "zlib", head[:2]
    return None


def lz4_frame():
    """The ``lz4.frame`` module, or None when lz4 is not installed."""
    try:
        import lz4.frame  # optional dependency, as in joblib

        return lz4.frame
    except ImportError:
        return None


def zstandard_module():
    """The ``zstandard`` module, or None when it is not installed (pandas needs it for .zst too)."""
    try:
        import zstandard  # optional dependency, as in pandas

        return zstandard
    except ImportError:
        return None


def zstd_reader(raw: BinaryIO):
    """A reader of the zstd frames in ``raw`` whose ``read(n)`` never returns more than ``n``
    bytes (a bound the caller counts); ModuleNotFoundError when zstandard is missing."""
    module = zstandard_module()
    if module is None:
        raise ModuleNotFoundError("zstandard")
    return module.ZstdDecompressor().stream_reader(raw, read_across_frames=True, closefd=False)


def _lzma_errors() -> tuple[type[Exception], ...]:
    """LZMAError when lzma is loaded (it is imported on first use; unloaded, nothing raised it)."""
    lzma = sys.modules.get("lzma")
    return (lzma.LZMAError,) if lzma is not None else ()


def decompressor(name: str):
    """A fresh incremental decompressor for ``name``; ModuleNotFoundError when lz4 is missing."""
    if name == "gzip":
        return zlib.decompressobj(wbits=31)
    if name == "zlib":
        return zlib.decompressobj()
    if name == "bz2":
        import bz2  # bz2 and lzma on first use: sniffing an uncompressed file needs neither

        return bz2.BZ2Decompressor()
    if name in ("xz", "lzma"):
        import lzma

        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ if name == "xz" else lzma.FORMAT_ALONE)
    frame = lz4_frame()
    if frame is None:
        raise ModuleNotFoundError("lz4")
    return frame.LZ4FrameDecompressor()


def decompress_head(name: str, data: bytes, limit: int = SNIFF_OUTPUT) -> tuple[bytes, bool]:
    """Decompress at most ``limit`` bytes from ``data``; (output, whether the stream ended)."""
    if name == "zstd":
        import io

        reader = zstd_reader(io.BytesIO(data))
        try:
            out = reader.read(limit)
        except Exception as exc:  # zstandard.ZstdError: damaged data
            raise ValueError(str(exc)) from None
        return out, len(out) < limit
    start = zfile_offset(data) if name == "zlib" else None
    if start is not None:
        data = data[start:]
    engine = decompressor(name)
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
        module = "zstandard" if name == "zstd" else "lz4"
        if ext in (*JOBLIB_EXTENSIONS, ".lz4", ".zst"):
            fmt = "pickle" if ext == ".zst" else "joblib"  # pandas writes .pkl.zst, joblib .lz4
            return fmt, where + f"; the {module} module is missing, so the {ext} extension decides", \
                magic, {"compression": name, "unverified": True}
        return "binary", where + f" (the {module} module is missing to look inside)", magic, \
            {"compression": name}
    except Exception as exc:  # lzma's error class only once an error needs it (lzma imports lazily)
        if not isinstance(exc, (zlib.error, OSError, EOFError, ValueError, RuntimeError, *_lzma_errors())):
            raise
        # lz4 reports a damaged frame (bad checksum, block size) as RuntimeError
        if name in STRONG:
            return "binary", where + " but the data does not decompress", magic, \
                {"compression": name, "damaged": True}
        return None  # a weak magic ("x^", "]\0\0") that was a coincidence
    if len(out) >= 2 and out[0] == 0x80 and 2 <= out[1] <= 5:
        fmt, why = _pickle_writer(name, out, ext)
        return fmt, where + f"; it decompresses to a pickle (protocol {out[1]}){why}", magic, \
            {"compression": name, "pickle_protocol": out[1]}
    proto = pickle_protocol01(out, len(out) if ended else len(out) + 1, b".")
    if out and proto:
        fmt, why = _pickle_writer(name, out, ext)
        return fmt, where + f"; it decompresses to a protocol 0/1 pickle{why}", magic, \
            {"compression": name, "pickle_protocol": proto[0]}
    if name not in STRONG and not out:
        return None
    return "binary", where + "; it decompresses to something that is not a pickle", magic, \
        {"compression": name}


def _pickle_writer(name: str, out: bytes, ext: str) -> tuple[str, str]:
    """("joblib" or "pickle", why) for a compressed pickle whose decompressed start is ``out``."""
    marker = next((m for m in JOBLIB_MARKERS if m in out), None)
    if marker is not None:
        return "joblib", f" that mentions {marker.decode()}"
    if ext in JOBLIB_EXTENSIONS:
        return "joblib", f"; the {ext} extension says joblib wrote it"
    if name in JOBLIB_ONLY:
        return "joblib", f" ({name} streams are joblib's; pandas does not write them)"
    return "pickle", " without joblib's array wrapper (as pandas' to_pickle writes it)"
