""".npy and .npz files: headers, memory-mapped arrays, and object arrays as raw pickle bytes.

Nothing here unpickles: an object-dtype array is a pickle after the header, handed back as bytes
(:class:`PickledArray`) for the caller's safe loader. Numeric arrays are memory-mapped, never read
whole; a .npz is a zip whose members are opened one at a time, only when asked, with their
decompressed size capped so a zip bomb fails with a message.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
import struct
import tokenize
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Literal

import numpy as np
from numpy.lib import format as npformat

from storage.core.decompression import decompression_limit, limit_error
from storage.core.errors import Location, ParseError, UnreadableError

MAX_PICKLE_BYTES = 1 * 2**30  # an object array's pickle larger than this is not read
MAX_MEMBER_BYTES = 4 * 2**30  # a compressed .npz member decompressing to more is refused
MAX_MEMBERS = 10_000
HEADER_ERRORS = (ValueError, SyntaxError, TypeError, tokenize.TokenError, OSError, EOFError, zlib.error,
                 struct.error, zipfile.BadZipFile, RuntimeError, NotImplementedError, KeyError,
                 RecursionError)


@dataclass(frozen=True)
class ArrayInfo:
    """What a .npy header says: format version, shape, dtype, order, where the data starts."""

    version: tuple[int, int]
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    data_offset: int

    @property
    def object_dtype(self) -> bool:
        return bool(self.dtype.hasobject)

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    def describe(self) -> dict[str, Any]:
        """The JSON-friendly fields ``inspect`` reports."""
        return {"version": f"{self.version[0]}.{self.version[1]}", "shape": list(self.shape),
                "dtype": str(self.dtype), "fortran_order": bool(self.fortran_order),
                "object_dtype": self.object_dtype}


@dataclass(frozen=True)
class PickledArray:
    """An object-dtype array not loaded: its header and the raw pickle bytes that follow it."""

    info: ArrayInfo | None
    data: bytes

    def load(self, loads: Callable[[bytes], Any]) -> Any:
        """The array's content through the caller's (safe) loader."""
        return loads(self.data)


def _header_reader() -> Callable[..., Any]:
    """NumPy's header parser for every format version, with its size limit lifted where it has one."""
    impl = getattr(npformat, "_read_array_header", None)
    if impl is None:
        from numpy.lib import _format_impl  # NumPy 2 keeps it here

        impl = _format_impl._read_array_header  # type: ignore[attr-defined]  # private: not in NumPy's stubs
    if "max_header_size" in inspect.signature(impl).parameters:
        return functools.partial(impl, max_header_size=2**64)
    return impl  # NumPy < 1.24 had no limit to lift


def _read_array_header(handle: IO[bytes], version: tuple[int, int]) -> tuple[Any, bool, Any]:
    global _HEADER
    if _HEADER is None:
        _HEADER = _header_reader()
    return _HEADER(handle, version)


_HEADER: Callable[..., Any] | None = None


def read_header(handle: IO[bytes], base: int = 0) -> ArrayInfo:
    """Parse a .npy header from ``handle`` (positioned at the magic); never reads the data."""
    version = npformat.read_magic(handle)
    with warnings.catch_warnings():
        # a header Python 2 wrote ({'descr': '<i8', 'shape': (3L,)}) is read all the same; NumPy's
        # advice to save it again is not for the person looking at it
        warnings.filterwarnings("ignore", "Reading `.npy` or `.npz` file required additional header parsing",
                                UserWarning)
        # numpy.load(allow_pickle=True), the load that unpickles, ignores the 10,000-byte header
        # limit (format.read_array passes max_header_size=2**64): a header of any size is read here.
        shape, fortran, dtype = _read_array_header(handle, version)
    if any(not isinstance(n, int) or n < 0 for n in shape):
        raise ValueError(f"the shape {shape!r} is not a tuple of sizes")
    return ArrayInfo(version, tuple(shape), dtype, bool(fortran), base + handle.tell())


def _open(path: str) -> IO[bytes]:
    try:
        return open(path, "rb")  # closed by the callers' with blocks
    except OSError as exc:
        raise UnreadableError(f"Cannot read {path}: {exc.strerror or exc}") from None


def read_npy_info(path: str | os.PathLike[str]) -> ArrayInfo:
    """The header of a .npy file, or ParseError saying why it is not one."""
    name = os.fspath(path)
    with _open(name) as handle:
        try:
            return read_header(handle)
        except HEADER_ERRORS as exc:
            raise ParseError(f"not a valid .npy header: {exc}", Location(offset=0)) from None


def _read_pickle(handle: IO[bytes], info: ArrayInfo, limit: int, what: str,
                 compressed_size: int | None = None) -> PickledArray:
    # In chunks: read(limit + 1) allocates the whole limit (1 GiB) up front, even for 200 bytes.
    chunks: list[bytes] = []
    left = limit + 1
    while left > 0 and (chunk := handle.read(min(left, 1 << 22))):
        chunks.append(chunk)
        left -= len(chunk)
    data = b"".join(chunks)
    if len(data) > limit:
        if compressed_size is not None:
            raise limit_error(f"{what} (pickled objects)", limit, compressed_size)
        raise ParseError(f"{what}: the pickled objects take more than {limit:,} bytes; not read")
    return PickledArray(info, data)


def read_npy(path: str | os.PathLike[str], max_pickle_bytes: int = MAX_PICKLE_BYTES
             ) -> np.ndarray | PickledArray:
    """A read-only memory map of a .npy array, or for object arrays the raw pickle bytes."""
    name = os.fspath(path)
    info = read_npy_info(name)
    if info.object_dtype:
        with _open(name) as handle:
            handle.seek(info.data_offset)
            return _read_pickle(handle, info, max_pickle_bytes, os.path.basename(name))
    size = os.path.getsize(name)
    present = size - info.data_offset
    if present < info.nbytes:
        raise ParseError(f"the array data is cut short: {info.nbytes:,} bytes expected, {present:,} present",
                         Location(offset=size))
    if info.nbytes == 0:  # mmap cannot map nothing
        return np.empty(info.shape, info.dtype, order="F" if info.fortran_order else "C")
    try:
        return np.memmap(name, dtype=info.dtype, mode="r", offset=info.data_offset, shape=info.shape,
                         order="F" if info.fortran_order else "C")
    except (OSError, ValueError) as exc:
        raise UnreadableError(f"Cannot map {name}: {exc}") from None


# -- .npz ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NpzMember:
    """One array of a .npz: its zip entry and its header (``error`` when the header is unreadable)."""

    name: str
    info: ArrayInfo | None
    file_size: int
    compressed: bool
    error: str | None = None

    @property
    def key(self) -> str:
        """The name ``np.load`` uses: the member name without ``.npy``."""
        return self.name[:-4] if self.name.endswith(".npy") else self.name

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "size": self.file_size, "compressed": self.compressed}
        if self.info is not None:
            out.update(self.info.describe())
        if self.error:
            out["error"] = self.error
        return out


class NpzArchive:
    """A .npz opened lazily: ``members`` from the headers only, ``read(name)`` one array at a time."""

    def __init__(self, path: str | os.PathLike[str], max_member_bytes: int = MAX_MEMBER_BYTES,
                 trusted: bool = False) -> None:
        self.path = os.fspath(path)
        self.max_member_bytes = max_member_bytes
        self.trusted = trusted  # the user chose "Open anyway": members may unpack past their budget
        self._unpacked = 0  # bytes the compressed members read so far unpacked to (one budget for all)
        try:
            self._zip = zipfile.ZipFile(self.path)
        except OSError as exc:
            raise UnreadableError(f"Cannot read {self.path}: {exc.strerror or exc}") from None
        except (*HEADER_ERRORS, struct.error) as exc:
            raise ParseError(f"the .npz is not a readable zip archive: {exc}") from None
        # not ZipInfo.is_dir(): it raises IndexError for a member whose name is empty
        infos = [i for i in self._zip.infolist() if not i.filename.endswith("/")]
        if len(infos) > MAX_MEMBERS:
            self._zip.close()
            raise ParseError(f"the .npz has {len(infos):,} members, more than {MAX_MEMBERS:,}; not opened")
        self._infos = {i.filename: i for i in infos}
        self.members = [self._member(i) for i in infos]

    def _member(self, info: zipfile.ZipInfo) -> NpzMember:
        compressed = info.compress_type != zipfile.ZIP_STORED
        try:
            with self._zip.open(info) as handle:
                header = read_header(handle)
        except HEADER_ERRORS as exc:
            return NpzMember(info.filename, None, info.file_size, compressed,
                             f"no readable .npy header ({exc})")
        return NpzMember(info.filename, header, info.file_size, compressed)

    def __enter__(self) -> NpzArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()

    def _limit(self, zinfo: zipfile.ZipInfo) -> int:
        """How much one member may unpack to: relative to its compressed size and to what the
        archive's other members unpacked already, unless trusted."""
        if self.trusted or zinfo.compress_type == zipfile.ZIP_STORED:
            return self.max_member_bytes
        archive = decompression_limit(os.path.getsize(self.path)) - self._unpacked
        return max(0, min(self.max_member_bytes, decompression_limit(zinfo.compress_size), archive))

    def _data_start(self, info: zipfile.ZipInfo) -> int:
        """Offset in the archive file of a stored member's first byte (after its local header)."""
        with _open(self.path) as handle:
            handle.seek(info.header_offset)
            local = handle.read(30)
        if len(local) < 30 or local[:4] != b"PK\x03\x04":
            raise ParseError(f"member {info.filename}: its local header is damaged",
                             Location(offset=info.header_offset))
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        return info.header_offset + 30 + name_len + extra_len

    def read(self, name: str) -> np.ndarray | PickledArray:
        """One member's array (memory-mapped when stored uncompressed), or its pickle for objects."""
        member = next((m for m in self.members if name in (m.name, m.key)), None)
        if member is None:
            raise KeyError(name)
        if member.info is None:
            raise ParseError(f"member {member.name}: {member.error}")
        info, zinfo = member.info, self._infos[member.name]
        if info.object_dtype:
            limit = min(self._limit(zinfo), MAX_PICKLE_BYTES)
            packed = zinfo.compress_size if member.compressed else None
            with self._zip.open(zinfo) as handle:
                read_header(handle)
                return self._guard(member, lambda: _read_pickle(handle, info, limit, f"member {member.name}",
                                                                packed))
        if info.nbytes > zinfo.file_size - info.data_offset:
            raise ParseError(f"member {member.name}: the array data is cut short ({info.nbytes:,} bytes "
                             f"expected, {zinfo.file_size - info.data_offset:,} present)")
        order: Literal["F", "C"] = "F" if info.fortran_order else "C"
        if info.nbytes == 0:
            return np.empty(info.shape, info.dtype, order=order)
        if not member.compressed and not zinfo.flag_bits & 1:
            offset = self._data_start(zinfo) + info.data_offset
            return np.memmap(self.path, dtype=info.dtype, mode="r", offset=offset, shape=info.shape,
                             order=order)
        if info.nbytes > self._limit(zinfo):
            raise limit_error(f"member {member.name}", self._limit(zinfo), zinfo.compress_size)
        self._unpacked += info.nbytes

        def load() -> np.ndarray:
            with self._zip.open(zinfo) as handle:
                read_header(handle)
                data = handle.read(info.nbytes)
            if len(data) < info.nbytes:
                raise ParseError(f"member {member.name}: the array data is cut short")
            array = np.frombuffer(data, dtype=info.dtype).reshape(info.shape, order=order)
            return array

        return self._guard(member, load)

    def stats(self, name: str, max_elements: int = 10_000_000) -> dict[str, Any] | None:
        """min/max/mean of a numeric member; a compressed one is streamed, never held whole, and
        only its first ``max_elements`` values are used when it is longer (``sampled``)."""
        from storage.core.array_stats import array_stats, numeric, stats_of_pieces

        member = next((m for m in self.members if name in (m.name, m.key)), None)
        if member is None:
            raise KeyError(name)
        info = member.info
        if info is None or not numeric(info.dtype):
            return None
        if not member.compressed or info.nbytes <= min(self.max_member_bytes, 64 * 2**20):
            array = self.read(name)
            assert isinstance(array, np.ndarray)  # a numeric member is never a pickle
            return array_stats(array, max_elements)
        zinfo = self._infos[member.name]
        wanted = min(math.prod(info.shape), max_elements)

        def pieces() -> Iterator[np.ndarray]:
            with self._zip.open(zinfo) as handle:
                read_header(handle)
                left = wanted
                while left:
                    data = handle.read(min(left, 2**20) * info.dtype.itemsize)
                    if not data:
                        raise ParseError(f"member {member.name}: the array data is cut short")
                    piece = np.frombuffer(data, dtype=info.dtype)
                    left -= piece.size
                    yield piece

        return self._guard(member, lambda: stats_of_pieces(pieces(), info.dtype, math.prod(info.shape),
                                                           wanted < math.prod(info.shape)))

    @staticmethod
    def _guard(member: NpzMember, read: Callable[[], Any]) -> Any:
        try:
            return read()
        except ParseError:
            raise
        except HEADER_ERRORS as exc:
            raise ParseError(f"member {member.name} cannot be read: {exc}") from None


def read_npz(path: str | os.PathLike[str], max_member_bytes: int = MAX_MEMBER_BYTES,
             trusted: bool = False) -> NpzArchive:
    """Open a .npz lazily (close it, or use it in ``with``)."""
    return NpzArchive(path, max_member_bytes, trusted)


# -- saving -------------------------------------------------------------------------------------
