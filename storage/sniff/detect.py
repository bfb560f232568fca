"""Tell a file's format from its content (magic bytes, structure); the extension only breaks ties.

Reads a bounded head (and the last bytes) of a regular file, never runs anything from it (no
``pickle.load``) and never opens a directory, FIFO, socket or device, so it is safe and fast
enough for a folder of thousands of files. Each format's content tests are named in
``storage.formats.registry`` and run in their order; the built-in ones are below (text, JSON and
pickle-opcode checks in ``sniff_text``, shelf recognition in ``sniff_shelf``).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from storage.core.errors import KnownError, UnreadableError
from storage.formats import registry as format_registry
from storage.sniff import shelf as sniff_shelf
from storage.sniff.compressed import JOBLIB_MARKERS, sniff_compressed
from storage.sniff.text import pickle_protocol01, sniff_textual

HEAD_SIZE = 64 * 1024
TAIL_SIZE = 64

SQLITE_MAGIC = b"SQLite format 3\x00"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
HDF5_OFFSETS = (0, 512, 1024, 2048)
NPY_MAGIC = b"\x93NUMPY"
SEVEN_ZIP_MAGIC = b"7z\xbc\xaf\x27\x1c"
TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
DEEP_MARKER_SEARCH = 256 * 1024**2  # bytes of a pickle searched for joblib's array wrapper
DEEP_COMPRESSED_SEARCH = 16 * 1024**2  # decompressed bytes searched so (the open checks them all)

_KIND_NAMES = (
    (stat.S_ISDIR, "is a directory"),
    (stat.S_ISFIFO, "is a named pipe (FIFO), not a regular file"),
    (stat.S_ISSOCK, "is a socket, not a regular file"),
    (stat.S_ISCHR, "is a character device, not a regular file"),
    (stat.S_ISBLK, "is a block device, not a regular file"),
)


@dataclass(frozen=True)
class SniffResult:
    """A file's format and the evidence for it (``reason`` says which bytes matched)."""

    format: str
    reason: str
    magic: bytes = b""
    size: int = 0
    detail: dict[str, Any] = field(default_factory=dict)
    path: str = ""


def format_label(result: SniffResult) -> str:
    """The format as people read it: "pickle (gzip)" for pandas' .pkl.gz, "joblib (zlib)", "npy"."""
    compression = result.detail.get("compression")
    if result.format in ("pickle", "joblib") and compression:
        return f"{result.format} ({compression})"
    if result.detail.get("wrapper") == "zip":
        return f"{result.format} (zip)"
    return result.format


def show_bytes(data: bytes) -> str:
    """Bytes as they would be written in Python, without the b'' wrapper."""
    return repr(bytes(data))[2:-1]


def extension(path: str) -> str:
    """The lower-case extension used for tie-breaks ('' when there is none)."""
    return os.path.splitext(path)[1].lower()


def _os_error(path: str, exc: OSError) -> UnreadableError:
    if exc.errno == errno.ELOOP:
        why = "is a symbolic link loop"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        why = "cannot be read: permission denied"
    elif exc.errno == errno.ENOTDIR:
        why = "cannot be reached: a part of its path is not a folder"
    elif exc.errno == errno.ENAMETOOLONG:
        why = "has a name that is too long"
    else:
        why = f"cannot be read: {exc.strerror or exc}"
    return UnreadableError(f"{path} {why}")


def _stat(path: str) -> os.stat_result | sniff_shelf.ShelfMatch:
    """Stat ``path``; a missing path may still name a shelf."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        shelf = sniff_shelf.match_missing(path)
        if shelf:
            return shelf
        if os.path.islink(path):
            try:
                target = os.readlink(path)
            except OSError:
                target = "?"
            raise UnreadableError(f"{path} is a broken symbolic link (its target {target} does not "
                                  "exist)") from None
        raise UnreadableError(f"{path} does not exist") from None
    except OSError as exc:
        raise _os_error(path, exc) from None


def _read(path: str, size: int) -> tuple[bytes, bytes]:
    """The head and the last bytes of a regular file, opened without blocking."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _os_error(path, exc) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped after the stat
            raise UnreadableError(f"{path} is not a regular file")
        head = os.read(fd, HEAD_SIZE)
        tail = head[-TAIL_SIZE:]
        if size > len(head):
            tail = os.pread(fd, TAIL_SIZE, max(size - TAIL_SIZE, 0))
        return head, tail
    except OSError as exc:
        raise _os_error(path, exc) from None
    finally:
        os.close(fd)


def _shelf_result(match: sniff_shelf.ShelfMatch) -> SniffResult:
    size = 0
    for part in match.files:
        try:
            size += os.stat(part).st_size
        except OSError:
            pass
    detail = {"shelf_backend": match.backend, "files": [os.path.basename(f) for f in match.files]}
    detail.update(match.extra)
    return SniffResult("shelve", match.reason, match.magic, size, detail, match.base)


def sniff(path: str | os.PathLike, *, deep: bool = True) -> SniffResult:
    """Detect the format of ``path`` from its content; raise UnreadableError when it can't be read.

    ``deep`` also searches a pickle beyond its head for joblib's array wrapper (``late_joblib_marker``);
    folder listings (``sniff_many``) skip that so that big pickles list fast.
    """
    name = os.fsdecode(os.fspath(path))
    info = _stat(name)
    if isinstance(info, sniff_shelf.ShelfMatch):
        return _shelf_result(info)
    for check, why in _KIND_NAMES:
        if check(info.st_mode):
            raise UnreadableError(f"{name} {why}")
    if not stat.S_ISREG(info.st_mode):
        raise UnreadableError(f"{name} is not a regular file")
    head, tail = _read(name, info.st_size)
    return _classify(name, info.st_size, head, tail, deep)


def sniff_many(paths: Iterable[str | os.PathLike], cancel: Callable[[], bool] | None = None
               ) -> Iterator[tuple[str | os.PathLike, SniffResult | KnownError]]:
    """Sniff each path in turn, yielding the error instead of raising; stop when ``cancel()``."""
    for path in paths:
        if cancel is not None and cancel():
            return
        try:
            yield path, sniff(path, deep=False)
        except KnownError as exc:
            yield path, exc


@dataclass(frozen=True)
class Probe:
    """What a sniff test is given: the bounded head and tail of a regular file.

    A test may take a further bounded look itself (the zip test reads the archive's directory);
    ``deep`` allows a search beyond the head (off for folder listings). ``result`` builds the
    answer. The tests are the registry's (``storage.formats.registry``), run in their order.
    """

    path: str
    size: int
    head: bytes
    tail: bytes
    ext: str
    deep: bool = True

    def result(self, fmt: str, reason: str, magic: bytes = b"", **detail: Any) -> SniffResult:
        return SniffResult(fmt, reason, magic, self.size, detail, self.path)


ORDER_EMPTY = 15  # the empty-file answer: after the shelf test (a shelf's .dir may be empty)


def _classify(path: str, size: int, head: bytes, tail: bytes, deep: bool = True) -> SniffResult:
    probe = Probe(path, size, head, tail, extension(path), deep)
    empty_checked = False
    for _fmt, test in format_registry.sniff_tests():
        if not empty_checked and test.order > ORDER_EMPTY:
            empty_checked = True
            if size == 0:
                return _empty(probe)
        found = format_registry.resolve(test.hook)(probe)
        if found is not None:
            return found
    return _empty(probe) if size == 0 else probe.result("binary", "no sniff test recognised it")


def _empty(probe: Probe) -> SniffResult:
    owner = format_registry.by_extension(probe.ext)
    if owner is not None:
        return probe.result(owner.name, "empty file; format from its extension")
    return probe.result("text", "empty file with no known extension; shown as text")


# -- the built-in formats' sniff tests (named in storage.formats.registry) -----------------------

def sniff_shelve(probe: Probe) -> SniffResult | None:
    shelf = sniff_shelf.match_content(probe.path, probe.head) or sniff_shelf.match_sibling(probe.path)
    return _shelf_result(shelf) if shelf else None


def sniff_sqlite(probe: Probe) -> SniffResult | None:
    if not probe.head.startswith(SQLITE_MAGIC):
        return None
    if sniff_shelf.is_sqlite_shelf(probe.path):
        return probe.result("shelve", "an SQLite file holding exactly one table Dict(key, value) "
                            "(Python 3.13's dbm.sqlite3 shelf)", SQLITE_MAGIC, shelf_backend="dbm.sqlite3",
                            files=[os.path.basename(probe.path)])
    return probe.result("sqlite", "starts with the SQLite magic 'SQLite format 3\\0' at offset 0",
                        SQLITE_MAGIC)


def sniff_hdf5(probe: Probe) -> SniffResult | None:
    for offset in HDF5_OFFSETS:
        if probe.head[offset:offset + 8] == HDF5_MAGIC:
            where = "at offset 0" if offset == 0 else f"at offset {offset} (after a user block)"
            return probe.result("hdf5", f"has the HDF5 signature '{show_bytes(HDF5_MAGIC)}' {where}",
                                HDF5_MAGIC, signature_offset=offset)
    return None


def sniff_npy(probe: Probe) -> SniffResult | None:
    head = probe.head
    if not head.startswith(NPY_MAGIC):
        return None
    version = f"{head[6]}.{head[7]}" if len(head) >= 8 else "?"
    return probe.result("npy", f"starts with the NumPy magic '\\x93NUMPY' (format version {version})",
                        NPY_MAGIC, npy_version=version)


def sniff_zip(probe: Probe) -> SniffResult | None:
    if not probe.head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return None
    return _zip(probe.path, probe.head, probe.ext, probe.result)


def sniff_seven_zip(probe: Probe) -> SniffResult | None:
    if not probe.head.startswith(SEVEN_ZIP_MAGIC):
        return None
    return probe.result("binary", "starts with the 7z archive signature '7z\\xbc\\xaf'\\x1c'",
                        SEVEN_ZIP_MAGIC, container="7z")


def sniff_pickle_proto(probe: Probe) -> SniffResult | None:
    head = probe.head
    if not (len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5):
        return None
    return _pickle(head, probe.ext, probe.result,
                   lambda: late_joblib_marker(probe.path, probe.size) if probe.deep else None)


def sniff_compressed_pickle(probe: Probe) -> SniffResult | None:
    compressed = sniff_compressed(probe.head, probe.ext)
    if not compressed:
        return None
    fmt, reason, magic, detail = compressed
    if fmt == "pickle" and probe.deep and "pickle_protocol" in detail:
        late = late_compressed_marker(probe.path)
        if late is not None:
            fmt, reason = "joblib", reason.split(" without joblib's")[0] + (
                f" that mentions {late[0].decode()} at decompressed byte {late[1]:,}")
    return probe.result(fmt, reason, magic, **detail)


def sniff_pickle_protocol01(probe: Probe) -> SniffResult | None:
    proto = pickle_protocol01(probe.head, probe.size, probe.tail, probe.ext)
    if proto is None:
        return None
    protocol, why = proto
    joblib = any(m in probe.head for m in JOBLIB_MARKERS) or probe.ext in (".joblib", ".jbl")
    late = None if joblib or not probe.deep else late_joblib_marker(probe.path, probe.size)
    if late is not None:
        why += f" and mentions {late[0].decode()} at byte {late[1]:,}"
    fmt = "joblib" if joblib or late is not None else "pickle"
    return probe.result(fmt, why, b"", pickle_protocol=protocol)


def sniff_lone_proto(probe: Probe) -> SniffResult | None:
    if probe.head != b"\x80":
        return None
    return probe.result("binary", "a single byte 0x80: a pickle PROTO opcode with nothing after it "
                        "(truncated)", b"\x80", truncated=True)


def sniff_text_or_json(probe: Probe) -> SniffResult:
    fmt, reason, detail = sniff_textual(probe.head, probe.size, probe.ext)
    return probe.result(fmt, reason, **detail)


def late_joblib_marker(path: str, size: int, limit: int = DEEP_MARKER_SEARCH) -> tuple[bytes, int] | None:
    """(marker, offset) of joblib's array wrapper beyond the sniffed head, or None.

    joblib writes the wrapper's global where the first array is pickled, which can be far into
    the file (a model whose first array follows a long vocabulary); detection must not depend on
    an early array. The search is a memory-mapped ``find`` over at most ``limit`` bytes.
    """
    if size <= HEAD_SIZE:
        return None
    import mmap

    try:
        with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
            end = min(size, limit)
            found = [(view.find(marker, HEAD_SIZE - len(marker), end), marker) for marker in JOBLIB_MARKERS]
    except (OSError, ValueError):
        return None
    hits = [(offset, marker) for offset, marker in found if offset >= 0]
    if not hits:
        return None
    offset, marker = min(hits)
    return marker, offset


def late_compressed_marker(path: str, limit: int = DEEP_COMPRESSED_SEARCH) -> tuple[bytes, int] | None:
    """(marker, decompressed offset) of joblib's array wrapper in a compressed pickle, or None:
    joblib's first array may follow a long vocabulary, far beyond the sniffed start."""
    from storage.formats.objects.joblib_io import open_joblib  # joblib_io builds on sniff_compressed

    keep = max(len(m) for m in JOBLIB_MARKERS) - 1
    seen, carry = 0, b""
    try:
        stream, _ = open_joblib(path, max_bytes=limit + 1024 * 1024)
        with stream:
            while seen < limit and (block := stream.read(1024 * 1024)):
                window = carry + block
                hits = [(window.find(m), m) for m in JOBLIB_MARKERS]
                hits = [(at, m) for at, m in hits if at >= 0]
                if hits:
                    at, marker = min(hits)
                    return marker, seen - len(carry) + at
                seen += len(block)
                carry = window[-keep:]
    except (KnownError, OSError):
        return None  # damaged or missing a module: the open says so
    return None


def _pickle(head: bytes, ext: str, result: Callable[..., SniffResult],
            late: Callable[[], tuple[bytes, int] | None] = lambda: None) -> SniffResult:
    protocol = head[1]
    magic = head[:2]
    why = f"starts with the pickle PROTO opcode '{show_bytes(magic)}' (protocol {protocol})"
    if head.startswith(TORCH_LEGACY_MAGIC):
        return result("pickle", why + " followed by PyTorch's legacy magic number", magic,
                      pickle_protocol=protocol, wrapper="pytorch-legacy")
    marker = next((m for m in JOBLIB_MARKERS if m in head), None)
    if marker:
        return result("joblib", why + f" and mentions {marker.decode()}", magic, pickle_protocol=protocol)
    if ext in (".joblib", ".jbl"):
        return result("joblib", why + f"; the {ext} extension says joblib wrote it", magic,
                      pickle_protocol=protocol)
    found = late()
    if found is not None:
        return result("joblib", why + f" and mentions {found[0].decode()} at byte {found[1]:,}", magic,
                      pickle_protocol=protocol)
    return result("pickle", why, magic, pickle_protocol=protocol)


def _zip(path: str, head: bytes, ext: str, result: Callable[..., SniffResult]) -> SniffResult:
    import zipfile  # on first use, with the bz2 and lzma it imports: most files are no zip

    magic = head[:4]
    lone_pickle = False
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if len(names) == 1 and not names[0].endswith((".npy", "/")):
                with archive.open(names[0]) as member:  # two bytes: a bounded peek
                    first = member.read(2)
                lone_pickle = len(first) == 2 and first[0] == 0x80 and 2 <= first[1] <= 5
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError, RuntimeError) as exc:
        return result("binary", f"starts with the zip signature '{show_bytes(magic)}' but its "
                      f"directory cannot be read ({exc})", magic, container="zip", damaged=True)
    if (names and all(name.endswith(".npy") for name in names)) or (not names and ext == ".npz"):
        return result("npz", f"a zip archive ('{show_bytes(magic)}') whose {len(names)} members "
                      "are all .npy arrays", magic, members=len(names))
    if lone_pickle:  # what pandas' to_pickle(compression="zip") writes (any name: read_pickle infers it)
        return result("pickle", f"a zip archive ('{show_bytes(magic)}') whose one member {names[0]} is a "
                      "pickle (pandas writes .pkl.zip so)", magic, wrapper="zip", members=1)
    pickles = [n for n in names if n == "data.pkl" or n.endswith("/data.pkl")]
    if pickles:
        return result("pickle", f"a zip archive ('{show_bytes(magic)}') with a {pickles[0]} member "
                      "(a PyTorch checkpoint)", magic, wrapper="pytorch-zip", members=len(names))
    return result("binary", f"a zip archive ('{show_bytes(magic)}') with {len(names)} members",
                  magic, container="zip", members=len(names))
