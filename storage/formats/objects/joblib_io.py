"""joblib files as bytes: decompress them (bounded), read old-format companion arrays, write them back.

Nothing here unpickles. ``open_joblib`` detects the compression from the magic bytes (never the
extension) and gives a stream of the pickle for the caller's safe loader; the stream stops with a
``ParseError`` once it has produced more than a cap, so a decompression bomb fails cleanly instead
of filling memory. ``save_joblib_stream`` writes a pickle back with the same compressor through
the atomic writer.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import pickletools
import zlib
from collections.abc import Iterable
from typing import IO, Any, BinaryIO

from storage.core.atomic import atomic_write_with
from storage.core.decompression import decompression_limit, limit_error
from storage.core.errors import Location, ParseError, UnreadableError, UnsupportedError
from storage.sniff.compressed import (
    STRONG,
    ZF_HEADER,
    compression_of,
    decompress_head,
    decompressor,
    lz4_frame,
    zfile_offset,
    zstandard_module,
    zstd_reader,
)

COMPRESSIONS = ("zlib", "gzip", "bz2", "lzma", "xz", "lz4")  # what joblib writes
PANDAS_ONLY = ("zstd",)  # what pandas' to_pickle also writes (read here, and written back on save)
CHUNK = 256 * 1024
_ENGINE_ERRORS = (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError, RuntimeError)
_LZ4_MISSING = ("this file is lz4-compressed and the lz4 module is not installed "
                "(pip install lz4 into the Python that runs Datashelf)")
_ZSTD_MISSING = ("this file is zstd-compressed (as pandas writes .pkl.zst) and the zstandard module is "
                 "not installed (pip install zstandard into the Python that runs Datashelf)")


class _Decompressing(io.RawIOBase):
    """A forward-only stream of decompressed bytes that refuses to produce more than ``limit``."""

    def __init__(self, raw: BinaryIO, name: str, limit: int, compressed_size: int | None = None) -> None:
        super().__init__()
        self._raw, self._name, self._limit, self._compressed = raw, name, limit, compressed_size
        self._engine = decompressor(name)
        self._zlib = name in ("gzip", "zlib")
        self._produced = 0
        self._done = False
        self._pending_input = b""  # the start of the next concatenated stream, not yet fed
        self.trailing_offset: int | None = None  # where undecoded bytes after the stream start

    def readable(self) -> bool:
        return True

    def _damaged(self, why: str) -> ParseError:
        return ParseError(f"the {self._name} data {why}", Location(offset=self._raw.tell()))

    def _next_stream(self) -> bool:
        """After one stream ends: start the next one (gzip members, bz2/xz/lz4 streams) or stop."""
        rest = self._engine.unused_data or self._raw.read(CHUNK)
        found = compression_of(rest) if rest else None
        if found and found[0] == self._name and self._name in STRONG:
            self._engine = decompressor(self._name)
            self._pending_input = rest
            return True
        if rest:
            self.trailing_offset = self._raw.tell() - len(rest)
        self._done = True
        return False

    def _step(self, want: int) -> bytes:
        engine = self._engine
        if engine.eof and not self._next_stream():
            return b""
        engine = self._engine
        data, self._pending_input = self._pending_input, b""
        if self._zlib:
            data = data or engine.unconsumed_tail or self._raw.read(CHUNK)
            if not data:
                out = engine.flush()
                if not engine.eof:
                    raise self._damaged("is cut short: the file ends inside the compressed stream")
                return out
            return engine.decompress(data, want)
        if not data and engine.needs_input:
            data = self._raw.read(CHUNK)
            if not data:
                raise self._damaged("is cut short: the file ends inside the compressed stream")
        return engine.decompress(data, max_length=want)

    def readinto(self, buffer: Any) -> int:
        want = len(buffer)
        out = b""
        while want and not self._done and not out:
            try:
                out = self._step(want)
            except ParseError:
                raise
            except _ENGINE_ERRORS as exc:
                raise self._damaged(f"is damaged: {exc}") from None
        self._produced += len(out)
        if self._produced > self._limit:
            raise limit_error(f"the {self._name} stream", self._limit, self._compressed)
        buffer[:len(out)] = out
        return len(out)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _ZstdDecompressing(io.RawIOBase):
    """zstd frames decompressed by zstandard's reader, at most ``limit`` bytes in all."""

    def __init__(self, raw: BinaryIO, limit: int, compressed_size: int | None = None) -> None:
        super().__init__()
        self._raw, self._limit, self._produced, self._compressed = raw, limit, 0, compressed_size
        self._reader = zstd_reader(raw)
        self.trailing_offset: int | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            out = self._reader.read(len(buffer))
        except Exception as exc:  # zstandard.ZstdError
            raise ParseError(f"the zstd data is damaged: {exc}", Location(offset=self._raw.tell())) from None
        self._produced += len(out)
        if self._produced > self._limit:
            raise limit_error("the zstd stream", self._limit, self._compressed)
        buffer[:len(out)] = out
        return len(out)

    def close(self) -> None:
        self._reader.close()
        self._raw.close()
        super().close()


class JoblibStream(io.BufferedReader):
    """The decompressed pickle of a joblib file; says which compression it came from."""

    compression: str | None = None
    zfile: bool = False  # joblib < 0.10's b"ZF" + length header before the zlib data

    @property
    def trailing_offset(self) -> int | None:
        """Byte offset of data after the compressed stream (not part of the pickle), if any."""
        raw = self.raw
        return raw.trailing_offset if isinstance(raw, _Decompressing) else None


def _open(path: str | os.PathLike[str]) -> BinaryIO:
    try:
        return open(path, "rb")  # handed to the caller inside the stream
    except OSError as exc:
        raise UnreadableError(f"Cannot read {os.fspath(path)}: {exc.strerror or exc}") from None


def open_joblib(path: str | os.PathLike[str], max_bytes: int | None = None
                ) -> tuple[BinaryIO, str | None]:
    """(stream of the pickle, compression name or None) for a joblib file; the caller closes it.

    The compression is told by magic bytes (zlib, gzip, bz2, lzma, xz, lz4); a damaged stream
    raises ParseError while reading, one larger than ``max_bytes`` (by default
    ``decompression_limit`` of the file's size) DecompressionLimitError, a missing lz4
    UnsupportedError.
    """
    raw = _open(path)
    try:
        size = os.fstat(raw.fileno()).st_size
        if max_bytes is None:
            max_bytes = decompression_limit(size)
        head = raw.read(64 * 1024)
        found = compression_of(head)
        if found is None:
            raw.seek(0)
            return raw, None
        name = found[0]
        try:
            decompress_head(name, head, 64)
        except ModuleNotFoundError:
            raise UnsupportedError(_ZSTD_MISSING if name == "zstd" else _LZ4_MISSING) from None
        except _ENGINE_ERRORS as exc:
            if name not in STRONG:  # "x\x9c" or "]\0\0" by coincidence: not compressed after all
                raw.seek(0)
                return raw, None
            raise ParseError(f"the file starts like {name} data but does not decompress: {exc}",
                             Location(offset=0)) from None
        start = zfile_offset(head) if name == "zlib" else None
        raw.seek(start or 0)
        engine: io.RawIOBase = (_ZstdDecompressing(raw, max_bytes, size) if name == "zstd"
                                else _Decompressing(raw, name, max_bytes, size))
        stream = JoblibStream(engine, CHUNK)
    except BaseException:
        raw.close()
        raise
    stream.compression, stream.zfile = name, start is not None
    return stream, name


def _pieces(payload: bytes | bytearray | memoryview | IO[bytes] | Iterable[bytes]) -> Iterable[bytes]:
    if isinstance(payload, bytes | bytearray | memoryview):
        yield bytes(payload)
    elif hasattr(payload, "read"):
        while block := payload.read(CHUNK):  # type: ignore[union-attr]
            yield block
    else:
        yield from payload  # type: ignore[misc]


def _compressor(name: str, level: int) -> Any:
    if name == "zlib":
        return zlib.compressobj(level)
    if name == "bz2":
        return bz2.BZ2Compressor(max(1, level))
    if name == "xz":
        return lzma.LZMACompressor(format=lzma.FORMAT_XZ, preset=level)
    if name == "lzma":
        return lzma.LZMACompressor(format=lzma.FORMAT_ALONE, preset=level)
    if name == "zstd":
        module = zstandard_module()
        if module is None:
            raise UnsupportedError(_ZSTD_MISSING)
        return module.ZstdCompressor(level=level).compressobj()
    frame = lz4_frame()
    if frame is None:
        raise UnsupportedError(_LZ4_MISSING)
    return frame.LZ4FrameCompressor(compression_level=level)


def save_joblib_stream(path: str | os.PathLike[str],
                       payload: bytes | bytearray | memoryview | IO[bytes] | Iterable[bytes],
                       compression: str | None, *, level: int = 3, zfile: bool = False,
                       backup: bool = False) -> None:
    """Write ``payload`` (pickle bytes, a stream or byte chunks) to ``path`` atomically, compressed
    with ``compression`` (one of COMPRESSIONS, or None) as joblib would; ``zfile`` writes joblib
    < 0.10's ``ZF`` header before zlib data (it needs the length first, so bytes are buffered)."""
    if compression is not None and compression not in COMPRESSIONS + PANDAS_ONLY:
        raise ValueError(f"unknown compression {compression!r}; expected one of {COMPRESSIONS + PANDAS_ONLY}")
    if compression == "lz4" and lz4_frame() is None:
        raise UnsupportedError(_LZ4_MISSING)

    def write(handle: IO[bytes]) -> None:
        if compression is None:
            for piece in _pieces(payload):
                handle.write(piece)
            return
        if compression == "gzip":
            with gzip.GzipFile(fileobj=handle, mode="wb", compresslevel=level, mtime=0) as sink:
                for piece in _pieces(payload):
                    sink.write(piece)
            return
        pieces: Iterable[bytes] = _pieces(payload)
        if zfile:
            if compression != "zlib":
                raise ValueError("the ZF header only exists for zlib")
            data = b"".join(pieces)
            handle.write(b"ZF" + hex(len(data)).encode().ljust(ZF_HEADER - 2))
            pieces = (data,)
        engine = _compressor(compression, level)
        if compression == "lz4":
            handle.write(engine.begin())
        for piece in pieces:
            handle.write(engine.compress(piece))
        handle.write(engine.flush())

    atomic_write_with(path, write, backup=backup)


def save_zip_member(path: str | os.PathLike[str], payload: bytes, member: dict[str, Any], *,
                    backup: bool = False) -> None:
    """Write ``payload`` as the one member of a zip archive at ``path`` (pandas' ``.pkl.zip``),
    atomically, under the member name and compression ``member`` gives ({"name", "compress_type"})."""
    import zipfile

    method = member.get("compress_type", zipfile.ZIP_DEFLATED)
    if method not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        raise UnsupportedError(f"The zip member is compressed with method {method}, which Python's "
                               "zipfile cannot write; Save As another name writes it uncompressed.")

    def write(handle: IO[bytes]) -> None:
        with zipfile.ZipFile(handle, "w", compression=method, allowZip64=True) as archive, \
                archive.open(member["name"], "w", force_zip64=len(payload) >= 2**31) as sink:
            for start in range(0, len(payload), CHUNK * 64):
                sink.write(payload[start:start + CHUNK * 64])

    atomic_write_with(path, write, backup=backup)


# -- joblib < 0.10: arrays in companion files ---------------------------------------------------

_STRINGS = frozenset({"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE",
                      "BINUNICODE8"})


def companion_names(data: bytes) -> list[str]:
    """File names old joblib wrappers in the pickle ``data`` refer to: each string after a
    ``'filename'`` key (memo references followed), found by walking opcodes, nothing loaded."""
    names: list[str] = []
    memo: dict[object, str | None] = {}  # keyed by the index genops reads (an int)
    previous: str | None = None
    last: str | None = None
    try:
        for opcode, arg, _ in pickletools.genops(data):
            name = opcode.name
            if name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
                memo[len(memo) if name == "MEMOIZE" else arg] = last
                continue
            if name in _STRINGS:
                last = arg
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                last = memo.get(arg)
            else:
                last = None
            if previous == "filename" and isinstance(last, str):
                names.append(last)
            previous = last
    except (ValueError, KeyError, IndexError, UnicodeDecodeError):
        pass  # a damaged pickle: the names found before the damage
    return names


def companion_path(pkl_path: str | os.PathLike[str], filename: str) -> str:
    """The path of a companion file named in a pickle, refusing any that would leave its folder."""
    folder = os.path.dirname(os.path.abspath(os.fspath(pkl_path)))
    if (not isinstance(filename, str) or not filename or os.path.isabs(filename) or "\x00" in filename
            or os.path.normpath(filename).split(os.sep)[0] == os.pardir):
        raise ParseError(f"the pickle names a companion file {filename!r} outside its folder; refused")
    target = os.path.realpath(os.path.join(folder, filename))
    if os.path.commonpath([target, os.path.realpath(folder)]) != os.path.realpath(folder):
        raise ParseError(f"the companion file {filename!r} leads outside the folder of "
                         f"{os.path.basename(os.fspath(pkl_path))} (a link?); refused")
    return target


def _read_zfile(path: str, max_bytes: int | None) -> bytes:
    with _open(path) as handle:
        head = handle.read(ZF_HEADER + 1)
        start = zfile_offset(head + b"\x78")  # only the header is checked here
        try:
            declared = int(head[2:ZF_HEADER], 16)
        except ValueError:
            declared = -1
        if start is None or declared < 0:
            raise ParseError(f"{os.path.basename(path)} is not a joblib Z-file (no ZF header)",
                             Location(offset=0))
        if max_bytes is None:
            max_bytes = decompression_limit(os.fstat(handle.fileno()).st_size)
        if declared > max_bytes:
            raise limit_error(f"{os.path.basename(path)} (its header says it)", max_bytes,
                              os.fstat(handle.fileno()).st_size)
        handle.seek(ZF_HEADER + (head[ZF_HEADER:] == b" "))
        reader = _Decompressing(handle, "zlib", declared)
        data = bytearray()
        try:
            while block := reader.read(CHUNK):
                data += block
        except ParseError as exc:
            raise ParseError(f"{os.path.basename(path)}: {exc.message}", exc.location) from None
    if len(data) != declared:
        raise ParseError(f"{os.path.basename(path)} holds {len(data):,} bytes, its header says {declared:,}")
    return bytes(data)


def read_companion(pkl_path: str | os.PathLike[str], filename: str, *, dtype: Any = None,
                   shape: tuple[int, ...] | None = None, fortran_order: bool = False,
                   max_bytes: int | None = None) -> Any:
    """The array an old joblib pickle keeps in ``filename`` beside it, read without unpickling.

    ``NDArrayWrapper`` files are .npy (memory-mapped; an object array comes back as a
    :class:`PickledArray`); ``ZNDArrayWrapper`` files are zlib "Z-files" of raw data, shaped with the
    ``dtype``/``shape`` from the wrapper's state (raw uint8 bytes without them).
    """
    import numpy as np  # only old joblib files need numpy here

    from storage.formats.objects.npy_io import PickledArray, read_npy

    path = companion_path(pkl_path, filename)
    if not os.path.exists(path):
        raise UnreadableError(f"the array file {filename} that {os.path.basename(os.fspath(pkl_path))} "
                              "refers to is missing (joblib < 0.10 kept each array in a file beside the "
                              "pickle; copy them together)")
    with _open(path) as handle:
        magic = handle.read(6)
    if magic == b"\x93NUMPY":
        return read_npy(path)
    data = _read_zfile(path, max_bytes)
    if dtype is None:
        return np.frombuffer(data, dtype=np.uint8)
    dtype = np.dtype(dtype)
    if dtype.hasobject:
        return PickledArray(None, data)
    try:
        array = np.frombuffer(data, dtype=dtype)
        return array.reshape(shape, order="F" if fortran_order else "C") if shape is not None else array
    except ValueError as exc:
        raise ParseError(f"{filename}: its {len(data):,} bytes do not fit shape {shape} of {dtype} "
                         f"({exc})") from None
