"""Shelves as raw bytes: open one from any of its files, list keys, read a value only when asked, edit.

Nothing here unpickles: values are pickle bytes for the caller's safe loader, and edits take pickle
bytes the caller wrote in the value's original protocol. dbm.dumb is read from its text index
(``ast.literal_eval`` per line, as dbm.dumb itself does) and saved crash-safely: the new ``.dat``
is the old one plus appended values, so the old ``.dir`` stays valid until the new one replaces it.
Python 3.13's SQLite shelf is read with ``sqlite3`` read-only and saved in one transaction.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import IO, Protocol

from storage.core.atomic import atomic_write, atomic_write_with
from storage.core.errors import ParseError, UnreadableError, UnsupportedError
from storage.formats.objects.pickle.scan import ScanReport, scan_bytes
from storage.formats.objects.shelf import sqlite as shelf_sqlite
from storage.formats.objects.shelf.native import NativeStore
from storage.sniff.detect import sniff
from storage.sniff.shelf import is_sqlite_shelf, read_dumb_dir

BLOCK = 512  # dbm.dumb starts every value on a 512-byte boundary


def decode_key(raw: bytes) -> str:
    """A key as text; undecodable bytes survive as surrogates, so ``encode_key`` gives them back."""
    return raw.decode("utf-8", "surrogateescape")


def encode_key(key: str | bytes) -> bytes:
    """The raw bytes of a key (shelve encodes str keys as UTF-8)."""
    return bytes(key) if isinstance(key, bytes | bytearray) else key.encode("utf-8", "surrogateescape")


def pickle_protocol(value: bytes, report: ScanReport | None = None) -> int | None:
    """The protocol a pickle was written with (0-5), or None when ``value`` is not a valid pickle.

    Protocols 2+ say so in their first two bytes; 0 and 1 differ only in the opcodes used.
    """
    if len(value) >= 2 and value[0] == 0x80:
        return value[1] if value[1] <= 5 else None
    report = report or scan_bytes(value)
    return None if report.error is not None else min(report.highest_opcode_protocol, 1)


class Store(Protocol):
    """What each backend provides: raw keys, one value, and applying a batch of changes."""

    backend: str
    files: tuple[str, ...]
    note: str  # what the user should know about how it was read ("" usually)

    def raw_keys(self) -> list[bytes]: ...
    def read(self, key: bytes) -> bytes: ...
    def items(self) -> Iterator[tuple[bytes, bytes | ParseError]]: ...
    def commit(self, changes: dict[bytes, bytes | None]) -> None: ...


class DumbStore:
    """A dbm.dumb shelf: ``base.dir`` (or ``base.bak``) index of (offset, size) into ``base.dat``."""

    backend = "dbm.dumb"
    note = ""

    def __init__(self, base: str) -> None:
        self.base = base
        self.dat, self.dir, self.bak = base + ".dat", base + ".dir", base + ".bak"
        self.files = tuple(p for p in (self.dat, self.dir, self.bak) if os.path.isfile(p))
        self._load()

    def _load(self) -> None:
        index = self.dir if os.path.isfile(self.dir) else self.bak
        self.index: dict[bytes, tuple[int, int]] = {}
        for key, offset, size in read_dumb_dir(index):
            try:
                raw = key.encode("latin-1")
            except UnicodeEncodeError:
                raise ParseError(f"the shelf index {os.path.basename(index)} holds the key {key!r}, which "
                                 "dbm.dumb cannot have written (not Latin-1)") from None
            self.index[raw] = (offset, size)

    def raw_keys(self) -> list[bytes]:
        return list(self.index)

    def _value(self, handle: IO[bytes], end: int, key: bytes) -> bytes:
        offset, size = self.index[key]
        if offset + size > end:
            raise ParseError(f"the value of key {decode_key(key)!r} lies beyond the end of "
                             f"{os.path.basename(self.dat)} (bytes {offset:,}-{offset + size:,} of "
                             f"{end:,}); the shelf is damaged")
        handle.seek(offset)
        return handle.read(size)

    def items(self) -> Iterator[tuple[bytes, bytes | ParseError]]:
        try:
            with open(self.dat, "rb") as handle:
                end = handle.seek(0, os.SEEK_END)
                for key in list(self.index):
                    try:
                        yield key, self._value(handle, end, key)
                    except ParseError as exc:
                        yield key, exc
        except OSError as exc:
            raise UnreadableError(f"Cannot read {self.dat}: {exc.strerror or exc}") from None

    def read(self, key: bytes) -> bytes:
        try:
            with open(self.dat, "rb") as handle:
                return self._value(handle, handle.seek(0, os.SEEK_END), key)
        except OSError as exc:
            raise UnreadableError(f"Cannot read {self.dat}: {exc.strerror or exc}") from None

    def commit(self, changes: dict[bytes, bytes | None]) -> None:
        index = dict(self.index)
        for key, value in changes.items():
            if value is None:
                index.pop(key, None)

        def write_dat(handle: IO[bytes]) -> None:
            with open(self.dat, "rb") as source:
                shutil.copyfileobj(source, handle)
            pos = handle.tell()
            for key, value in changes.items():
                if value is None:
                    continue
                start = -(-pos // BLOCK) * BLOCK
                handle.write(b"\0" * (start - pos) + value)
                index[key] = (start, len(value))
                pos = start + len(value)

        # Old offsets stay valid in the new .dat, so a crash before the .dir is replaced loses
        # only this save, never the shelf.
        atomic_write_with(self.dat, write_dat)
        if os.path.isfile(self.dir):
            with open(self.dir, "rb") as handle:
                atomic_write(self.bak, handle.read())  # dbm.dumb keeps the previous index as .bak
        lines = "".join(f"{key.decode('latin-1')!r}, {pos_size!r}\n" for key, pos_size in index.items())
        atomic_write(self.dir, lines.encode("latin-1"))
        self.files = tuple(p for p in (self.dat, self.dir, self.bak) if os.path.isfile(p))
        self.index = index


class Shelf:
    """A shelf's keys and raw values, with pending edits applied by ``save()``."""

    def __init__(self, store: Store, path: str) -> None:
        self._store = store
        self.path = path
        self._changes: dict[bytes, bytes | None] = {}
        self._order: list[bytes] = store.raw_keys()
        self._present = set(self._order)

    @property
    def backend(self) -> str:
        """"dbm.dumb", "dbm.sqlite3", "dbm.gnu", "dbm.ndbm" or "bsddb"."""
        return self._store.backend

    @property
    def files(self) -> tuple[str, ...]:
        return self._store.files

    @property
    def note(self) -> str:
        """How the shelf was read, when the user should know (an SQLite shelf read as on disk)."""
        return self._store.note

    @property
    def modified(self) -> bool:
        return bool(self._changes)

    def raw_keys(self) -> list[bytes]:
        return list(self._order)

    def keys(self) -> list[str]:
        """The keys as text (UTF-8; undecodable bytes as surrogates, see ``encode_key``)."""
        return [decode_key(key) for key in self._order]

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str | bytes) and encode_key(key) in self._present

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def _raw(self, key: str | bytes) -> bytes:
        raw = encode_key(key)
        if raw not in self._present:
            raise KeyError(key)
        return raw

    def raw_value(self, key: str | bytes) -> bytes:
        """The pickle bytes stored under ``key``, read now (pending edits included)."""
        raw = self._raw(key)
        pending = self._changes.get(raw)
        return pending if pending is not None else self._store.read(raw)

    def raw_items(self) -> Iterator[tuple[bytes, bytes | ParseError]]:
        """Every (raw key, value bytes) in one pass over the files; a damaged value as its error.

        For whole-shelf scans (``inspect``); pending edits are not included.
        """
        return self._store.items()

    def protocol_of(self, key: str | bytes) -> int | None:
        """The pickle protocol the value was written with (0-5), or None when it is not a pickle."""
        return pickle_protocol(self.raw_value(key))

    def set(self, key: str | bytes, raw_pickle: bytes) -> None:
        """Store ``raw_pickle`` under ``key`` (new or existing) at the next ``save()``."""
        raw = encode_key(key)
        if raw not in self._present:
            self._present.add(raw)
            self._order.append(raw)
        self._changes[raw] = bytes(raw_pickle)

    def delete(self, key: str | bytes) -> None:
        raw = self._raw(key)
        self._present.discard(raw)
        self._order.remove(raw)
        self._changes[raw] = None

    def rename(self, old: str | bytes, new: str | bytes) -> None:
        """Move a value to a new key; refuses to overwrite an existing key."""
        if encode_key(new) in self._present:
            raise ValueError(f"the shelf already has a key {decode_key(encode_key(new))!r}")
        value = self.raw_value(old)
        position = self._order.index(self._raw(old))
        self.delete(old)
        self.set(new, value)
        self._order.insert(position, self._order.pop())  # keep the key where it was

    def pending_state(self) -> tuple[list[bytes], dict[bytes, bytes | None]]:
        """The key order and the pending edits (copies), for crash recovery to save and replay."""
        return list(self._order), dict(self._changes)

    def set_pending_state(self, order: list[bytes], changes: dict[bytes, bytes | None]) -> None:
        """Put back a state taken by :meth:`pending_state` (a value not in ``changes`` is the one
        on disk, so every key of ``order`` must be on disk or in ``changes``)."""
        on_disk = set(self._store.raw_keys())
        missing = [k for k in order if k not in on_disk and changes.get(k) is None]
        if missing:
            raise ValueError(f"{len(missing)} key(s) have no value on disk or in the edits")
        self._order = list(order)
        self._present = set(order)
        self._changes = dict(changes)

    def save(self) -> None:
        """Write the pending edits (atomic per file for dbm.dumb, one transaction for SQLite)."""
        if not self._changes:
            return
        self._store.commit(self._changes)
        self._changes = {}

    def close(self) -> None:
        """Nothing is held open between calls; pending edits are dropped."""
        self._changes = {}

    def __enter__(self) -> Shelf:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _dumb_base(name: str) -> str | None:
    stem, ext = os.path.splitext(name)
    for base in ((stem,) if ext in (".dat", ".dir", ".bak") else ()) + (name,):
        if os.path.isfile(base + ".dat") and not os.path.exists(base + ".pag") and (
                os.path.isfile(base + ".dir") or os.path.isfile(base + ".bak")):
            return base
    return None


def open_shelf(path: str | os.PathLike[str]) -> Shelf:
    """Open a shelf from any of its files (``x.dat``/``x.dir``/``x.bak``/``x.db``/``x``) or its base name."""
    name = os.fsdecode(os.fspath(path))
    base = _dumb_base(name)
    if base is not None:
        return Shelf(DumbStore(base), base)
    if name.endswith(".dat") and os.path.isfile(name):
        raise UnreadableError(f"{os.path.basename(name)} looks like the data of a dbm.dumb shelf, but its "
                              f"index {os.path.basename(name[:-4])}.dir is missing (and no .bak copy)")
    if not os.path.exists(name) and os.path.isfile(name + ".db") and is_sqlite_shelf(name + ".db"):
        name += ".db"  # the base name of an SQLite shelf someone saved as x.db
    result = sniff(name)
    if result.format != "shelve":
        raise ParseError(f"{os.path.basename(name)} is not a shelf: it looks like {result.format} "
                         f"({result.reason})")
    backend = result.detail.get("shelf_backend", "")
    if backend == "dbm.dumb":
        return Shelf(DumbStore(result.path), result.path)
    if backend == "dbm.sqlite3":
        return Shelf(shelf_sqlite.SqliteStore(result.path), result.path)
    if backend in ("dbm.gnu", "dbm.ndbm"):
        berkeley = str(result.detail.get("engine", "")).startswith("berkeley-db")
        return Shelf(NativeStore("bsddb" if berkeley else backend, result.path,
                                 tuple(result.detail.get("files", ()))), result.path)
    raise UnsupportedError(f"{os.path.basename(name)} is a shelf of an unknown kind ({backend or '?'})")
