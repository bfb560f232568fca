"""Recognise the files of a ``shelve`` database, whichever ``dbm`` backend wrote them.

A shelf is one to three files beside a base name: ``name.dat``/``name.dir``/``name.bak``
(dbm.dumb), ``name.pag``/``name.dir`` (ndbm), ``name.db`` (Berkeley DB), ``name`` itself
(GNU dbm, or Python 3.13's SQLite shelf). Any of them identifies the shelf. Nothing here
opens a shelf with ``shelve``: that would unpickle its values.
"""

from __future__ import annotations

import os
import re
import struct
import urllib.parse
from dataclasses import dataclass, field

from storage.core.errors import Location, ParseError, UnreadableError

GDBM_MAGICS = frozenset({0x13579ACE, 0x13579ACD, 0x13579ACF, 0x13579AD0, 0x13579AD1})
BDB_MAGICS = {0x00061561: "hash", 0x00053162: "btree", 0x00042253: "queue"}
DIR_LIMIT = 64 * 1024 * 1024  # a dumb index larger than this is not read

# One line of a dbm.dumb index: "'key', (offset, size)" (the key is a repr of a str).
_DUMB_LINE = re.compile(
    r"""^\s*(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")\s*,\s*\(\s*\d+\s*,\s*\d+\s*\)\s*$""")


@dataclass(frozen=True)
class ShelfMatch:
    """What identified a shelf: its backend, base name, the evidence and its files."""

    backend: str
    base: str
    reason: str
    magic: bytes = b""
    files: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)


def _u32(data: bytes, offset: int) -> tuple[int, int] | None:
    """The little- and big-endian readings of 4 bytes at ``offset``."""
    if len(data) < offset + 4:
        return None
    return (struct.unpack_from("<I", data, offset)[0], struct.unpack_from(">I", data, offset)[0])


def gdbm_magic(head: bytes) -> bool:
    """True when ``head`` starts with a GNU dbm magic number (either byte order)."""
    values = _u32(head, 0)
    return values is not None and any(v in GDBM_MAGICS for v in values)


def bdb_kind(head: bytes) -> str | None:
    """'hash'/'btree'/'queue' when a Berkeley DB magic number sits at offset 12."""
    values = _u32(head, 12)
    if values is None:
        return None
    for value in values:
        if value in BDB_MAGICS:
            return BDB_MAGICS[value]
    return None


def looks_like_dumb_dir(data: bytes) -> bool:
    """True when ``data`` reads like a dbm.dumb index (empty counts: an empty shelf)."""
    lines = [line for line in data.decode("latin-1").splitlines() if line.strip()]
    if len(data) >= 4096 and not data.endswith(b"\n") and lines:
        lines.pop()  # the head may end in the middle of a line
    return all(_DUMB_LINE.match(line) for line in lines[:50])


def read_dumb_dir(path: str, limit: int = DIR_LIMIT) -> list[tuple[str, int, int]]:
    """Parse a dbm.dumb ``.dir`` index into (key, offset, size) without running anything."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size  # read(limit + 1) would allocate the limit first
            data = handle.read(min(size, limit) + 1)
    except OSError as exc:
        raise UnreadableError(f"Cannot read the shelf index {path}: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise ParseError(f"The shelf index {path} is larger than {limit // 2**20} MB")
    import ast  # a dbm.dumb index: rare, so not imported by every sniff

    entries = []
    for number, line in enumerate(data.decode("latin-1").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            key, (offset, size) = ast.literal_eval(line)
            if not (isinstance(key, str) and isinstance(offset, int) and isinstance(size, int)):
                raise ValueError("wrong types")
            if offset < 0 or size < 0:
                raise ValueError("negative offset or size")
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
            raise ParseError(f"The shelf index {os.path.basename(path)} is damaged: line {number} "
                             f"is not \"'key', (offset, size)\" ({exc})",
                             Location(line=number, column=1)) from None
        entries.append((key, offset, size))
    return entries


def sqlite_uri(path: str) -> str:
    """A read-only, immutable URI: SQLite neither writes nor locks the file."""
    return f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=ro&immutable=1"


def is_sqlite_shelf(path: str) -> bool:
    """True for Python 3.13's dbm.sqlite3 layout: exactly one table ``Dict(key, value)``."""
    import sqlite3  # only SQLite files get here: not imported by every sniff

    try:
        conn = sqlite3.connect(sqlite_uri(path), uri=True)
    except sqlite3.Error:
        return False
    try:
        tables = [row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")]
        if tables != ["Dict"]:
            return False
        columns = [row[1] for row in conn.execute('PRAGMA table_info("Dict")')]
        return columns == ["key", "value"]
    except (sqlite3.Error, UnicodeDecodeError):  # a damaged schema: its error text is not UTF-8
        return False
    finally:
        conn.close()


def _exists(path: str) -> bool:
    return os.path.isfile(path)


def _read_small(path: str, limit: int = 4096) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return b""
    try:
        return os.read(fd, limit)
    except OSError:
        return b""
    finally:
        os.close(fd)


def _dumb(base: str, why: str) -> ShelfMatch | None:
    """A .dat/.dir pair (and no .pag, which would make it ndbm) is a dbm.dumb shelf."""
    directory, data = base + ".dir", base + ".dat"
    if not _exists(directory) or not _exists(data) or _exists(base + ".pag"):
        return None
    files = tuple(p for p in (data, directory, base + ".bak") if _exists(p))
    name = os.path.basename(directory)
    if looks_like_dumb_dir(_read_small(directory)):
        return ShelfMatch("dbm.dumb", base, why + f"; {name} holds \"'key', (offset, size)\" lines "
                          "(a dbm.dumb index)", files=files)
    return ShelfMatch("dbm.dumb", base, why + f"; {os.path.basename(data)} and {name} form a dbm.dumb "
                      f"pair, but {name} does not read like its index (damaged?)", files=files,
                      extra={"damaged": True})


def _ndbm(base: str, why: str) -> ShelfMatch | None:
    if _exists(base + ".pag") and _exists(base + ".dir"):
        return ShelfMatch("dbm.ndbm", base, why + "; .pag and .dir files side by side (ndbm)",
                          files=(base + ".pag", base + ".dir"))
    return None


def match_content(path: str, head: bytes) -> ShelfMatch | None:
    """A shelf recognised from a file's own bytes (GNU dbm, Berkeley DB)."""
    if gdbm_magic(head):
        return ShelfMatch("dbm.gnu", path, "starts with a GNU dbm magic number at offset 0",
                          head[:4], files=(path,))
    kind = bdb_kind(head)
    if kind:
        base = path[:-3] if path.endswith(".db") else path
        return ShelfMatch("dbm.ndbm", base, f"has the Berkeley DB {kind} magic number at offset 12",
                          head[12:16], files=(path,), extra={"engine": f"berkeley-db {kind}"})
    return None


def match_sibling(path: str) -> ShelfMatch | None:
    """A shelf recognised from a file's name and its sibling files (.dat/.dir/.bak/.pag)."""
    stem, ext = os.path.splitext(path)
    name = os.path.basename(path)
    if ext in (".dat", ".dir", ".bak"):
        found = _dumb(stem, f"{name} belongs to a dbm.dumb shelf")
        if found:
            return found
    if ext in (".pag", ".dir"):
        return _ndbm(stem, f"{name} belongs to an ndbm shelf")
    return None


def match_missing(base: str) -> ShelfMatch | None:
    """``base`` does not exist: is it the name a shelf's files are built on?"""
    name = os.path.basename(base)
    found = _dumb(base, f"{name} is the base name of a shelf")
    if found:
        return found
    if _exists(base + ".db"):
        head = _read_small(base + ".db")
        content = match_content(base + ".db", head)
        if content:
            return ShelfMatch(content.backend, base, f"{name}.db {content.reason}", content.magic,
                              content.files, content.extra)
    return _ndbm(base, f"{name} is the base name of a shelf")
