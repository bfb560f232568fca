"""Python 3.13's SQLite shelf (dbm.sqlite3: one table ``Dict(key BLOB, value BLOB)``) read with sqlite3.

Python 3.11 has no dbm.sqlite3, so the table is read directly. Reads use a ``mode=ro`` URI and
never change the file; a WAL database, one with a ``-wal`` beside it or one with an unfinished
transaction (a hot ``-journal``) is read ``immutable``, as it is on disk: a read-only connection
would otherwise create ``-shm`` (or delete the ``-wal`` of an empty file), and nothing here rolls
a journal back. A save is one transaction, refused while a hot journal waits.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from collections.abc import Iterator
from typing import Any

from storage.core.errors import ParseError, UnreadableError, WriteError
from storage.core.sqlite_recover import BUSY_TIMEOUT_MS, find_hot_journal


def _blob(value: Any) -> bytes:
    """A column value as bytes (dbm.sqlite3 stores BLOBs; hand-made shelves may hold TEXT)."""
    if isinstance(value, bytes):
        return value
    if value is None:
        return b""
    return str(value).encode("utf-8")


def readonly_uri(path: str) -> str:
    """``mode=ro``, plus ``immutable=1`` for WAL, a ``-wal`` beside it, or a hot journal."""
    uri = f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=ro"
    try:
        with open(path, "rb") as handle:
            # Bytes 18/19 (write/read version) other than 1, 1: WAL, or a damaged header that
            # SQLite would treat as WAL; either way a plain mode=ro read could leave -wal/-shm.
            wal = handle.read(20)[18:20] != b"\x01\x01"
    except OSError:
        wal = False
    if wal or os.path.lexists(path + "-wal") or find_hot_journal(path) is not None:
        uri += "&immutable=1"
    return uri


def _write_error(path: str, exc: Exception) -> WriteError:
    return WriteError(f"Could not save {os.path.basename(path)}: {exc}. The shelf is unchanged.")


class SqliteStore:
    """Keys by rowid (so TEXT-typed keys of hand-made shelves still work), values read one at a time."""

    backend = "dbm.sqlite3"

    def __init__(self, path: str) -> None:
        self.path = path
        self.files: tuple[str, ...] = (path,)
        self.note = ""
        self._rowids: dict[bytes, int] = {}
        self._load()

    def _connect(self) -> sqlite3.Connection:
        try:
            return sqlite3.connect(readonly_uri(self.path), uri=True)
        except sqlite3.Error as exc:
            raise UnreadableError(f"Cannot open the shelf {self.path}: {exc}") from None

    def _query(self, sql: str, args: tuple = ()) -> list[tuple]:
        conn = self._connect()
        try:
            return conn.execute(sql, args).fetchall()
        except (sqlite3.Error, UnicodeDecodeError) as exc:  # a damaged schema's message is not UTF-8
            raise ParseError(f"the shelf's Dict table cannot be read: {exc}") from None
        finally:
            conn.close()

    def _load(self) -> None:
        hot = find_hot_journal(self.path)
        self.note = (hot.describe() + " It is shown as it is on disk; saving is refused until the "
                     "change is rolled back (the SQLite tab offers that).") if hot else ""
        self._rowids = {_blob(key): rowid for rowid, key in self._query("SELECT rowid, key FROM Dict")}

    def raw_keys(self) -> list[bytes]:
        return list(self._rowids)

    def read(self, key: bytes) -> bytes:
        rows = self._query("SELECT value FROM Dict WHERE rowid = ?", (self._rowids[key],))
        if not rows:
            raise ParseError(f"the key {key!r} disappeared from the shelf (changed by another program?)")
        return _blob(rows[0][0])

    def items(self) -> Iterator[tuple[bytes, bytes | ParseError]]:
        conn = self._connect()
        try:
            for key, value in conn.execute("SELECT key, value FROM Dict"):
                yield _blob(key), _blob(value)
        except (sqlite3.Error, UnicodeDecodeError) as exc:  # a damaged schema's message is not UTF-8
            raise ParseError(f"the shelf's Dict table cannot be read: {exc}") from None
        finally:
            conn.close()

    def commit(self, changes: dict[bytes, bytes | None]) -> None:
        hot = find_hot_journal(self.path)
        if hot is not None:  # a writable connection would roll it back unasked
            raise WriteError(f"Could not save: {hot.describe()} Open it in the SQLite tab to roll "
                             "that change back first. The shelf is unchanged.")
        try:
            conn = sqlite3.connect(f"file:{urllib.parse.quote(os.path.abspath(self.path))}?mode=rw",
                                   uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as exc:
            raise _write_error(self.path, exc) from None
        try:
            conn.execute("BEGIN IMMEDIATE")
            for key, value in changes.items():
                rowid = self._rowids.get(key)
                if value is None:
                    if rowid is not None:
                        conn.execute("DELETE FROM Dict WHERE rowid = ?", (rowid,))
                elif rowid is not None:
                    conn.execute("UPDATE Dict SET value = CAST(? AS BLOB) WHERE rowid = ?", (value, rowid))
                else:
                    conn.execute("REPLACE INTO Dict (key, value) VALUES (CAST(? AS BLOB), CAST(? AS BLOB))",
                                 (key, value))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise _write_error(self.path, exc) from None
        finally:
            conn.close()
        self._load()
