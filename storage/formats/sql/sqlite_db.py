"""Opening SQLite databases safely, and reading their schema and row counts.

Every read goes through a ``mode=ro`` connection, so reading never writes the file. A WAL
database (or any with a ``-wal`` file beside it) opened for inspection only is read
``immutable=1`` as well: a read-only connection would otherwise create its ``-shm`` file, or
delete the ``-wal`` of an empty database (and changes made by others are then not seen, so live
refresh is off). A hot ``-journal`` is never rolled back here: opening then fails with
:class:`~storage.core.sqlite_recover.UnfinishedTransaction` and the user chooses. Edits use a
separate writable connection for one short transaction each (see :mod:`storage.formats.sql.edit`),
so no lock is held between edits.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import urllib.parse
from collections.abc import Callable
from typing import TypeVar

from storage.core.errors import KnownError, Location, ParseError, UnreadableError, UnsupportedError
from storage.core.sqlite_recover import BUSY_TIMEOUT_MS, UnfinishedTransaction, find_hot_journal, unfinished
from storage.formats.sql.bounds import VALUE_LIMIT, bound_connection
from storage.formats.sql.schema_types import Column, ForeignKey, Schema, SchemaObject, Table

T = TypeVar("T")

SQLITE_MAGIC = b"SQLite format 3\x00"
COUNT_CAP = 10_000
# SQLite's default SQLITE_MAX_COLUMN also limits a SELECT's result columns: stay below it.
MAX_GRID_COLUMNS = 1990


class LockedError(KnownError):
    """Another program holds a lock on the database."""


class Interrupted(KnownError):
    """The query was cancelled (``Connection.interrupt()``)."""


# sqlite3 raises UnicodeDecodeError (not sqlite3.Error) when SQLite's error message holds
# bytes that are not UTF-8, as "malformed database schema (...)" does for a damaged name.
SQL_ERRORS = (sqlite3.Error, UnicodeDecodeError)


def uri(path: str, *, immutable: bool = False) -> str:
    """The read-only URI of ``path``; ``immutable`` also skips locking and the -shm file."""
    quoted = urllib.parse.quote(os.path.abspath(path))
    return f"file:{quoted}?mode=ro" + ("&immutable=1" if immutable else "")


def read_header(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(100)
    except FileNotFoundError:
        raise UnreadableError(f"{path} no longer exists") from None
    except OSError as exc:
        raise UnreadableError(f"Cannot read {path}: {exc.strerror or exc}") from None


def check_header(path: str) -> bool:
    """Raise a clear error unless ``path`` starts like an SQLite database; return True for WAL
    (or for any header that is not plainly in rollback-journal mode, or a ``-wal`` beside it:
    a read-only reader must then open it immutable)."""
    head = read_header(path)
    # SQLite opens any database with a -wal beside it in WAL mode: a mode=ro reader would then
    # create -shm, or delete the -wal of an empty file.
    wal_file = os.path.lexists(path + "-wal")
    if len(head) == 0:
        return wal_file  # an empty file is a valid, empty database
    if not head.startswith(SQLITE_MAGIC):
        if len(head) >= 16 and len(set(head[:16])) > 12:
            raise UnsupportedError(
                f"{os.path.basename(path)} does not start with the SQLite header. If it is an "
                "encrypted (SQLCipher) database, it needs its key and SQLCipher to be opened; "
                "otherwise it is not an SQLite database.")
        raise ParseError(f"{os.path.basename(path)} is not an SQLite database (no SQLite header)",
                         Location(offset=0))
    if len(head) < 100:
        raise ParseError(f"{os.path.basename(path)} is truncated: its 100-byte header is incomplete")
    # Bytes 18/19 are the write/read versions: 1 rollback journal, 2 WAL. Reading a file whose
    # read version says WAL makes SQLite create -wal/-shm files even in mode=ro, so anything
    # but a plain (1, 1) header counts as WAL: the read-only reader then opens it immutable.
    return head[18:20] != b"\x01\x01" or wal_file


def explain(exc: BaseException, path: str = "", table: str | None = None) -> KnownError:
    """An sqlite3 error as a message a user can act on."""
    if isinstance(exc, KnownError):
        return exc
    if isinstance(exc, UnicodeDecodeError):  # SQLite's message quoted bytes of a damaged schema
        return ParseError(f"{os.path.basename(path) if path else 'the database'} is damaged: SQLite's "
                          "error message itself is not valid text (a corrupt schema?)",
                          Location(table=table) if table else None)
    text = str(exc)
    name = os.path.basename(path) if path else "the database"
    where = Location(table=table) if table else None
    low = text.lower()
    if "interrupt" in low:
        return Interrupted("Cancelled.")
    if "too big" in low:
        return KnownError(f"A value in {table or name} is larger than {VALUE_LIMIT // 2**20} MB, which "
                          "Datashelf does not read here (a view that computes a huge value?) "
                          f"(SQLite: {text})", where)
    if "locked" in low or "busy" in low:
        return LockedError(f"{name} is locked by another program; try again when it has "
                           f"finished writing ({text})", where)
    if "file is not a database" in low or "file is encrypted" in low:
        return ParseError(f"{name} is not a readable SQLite database: it is damaged, or encrypted "
                          f"(SQLCipher databases need their key) ({text})", where)
    if "malformed" in low or "corrupt" in low:
        return ParseError(f"{name} is damaged: {text}", where)
    if "unable to open" in low:
        return UnreadableError(f"Cannot open {name}: {text} (was it deleted or moved?)", where)
    if "readonly" in low or "read-only" in low:
        return KnownError(f"{name} cannot be written: {text}", where)
    if "disk i/o" in low:
        return UnreadableError(f"Cannot read {name}: {text} (was it deleted or moved?)", where)
    return KnownError(text, where)


def connect_reader(path: str, *, immutable: bool = False,
                   timeout: float = BUSY_TIMEOUT_MS / 1000) -> sqlite3.Connection:
    """A read-only connection usable from one worker thread at a time.

    A database left mid-transaction by a program that was killed has a "hot" ``-journal``: a
    read-only connection cannot roll it back and SQLite refuses to read. That raises
    :class:`UnfinishedTransaction` (nothing is touched); the caller offers to open it
    ``immutable`` (as it is on disk) or to roll back after the user confirmed.
    """
    if not os.path.exists(path):
        raise UnreadableError(f"{path} no longer exists")
    try:
        conn = _open_reader(path, immutable, timeout)
    except SQL_ERRORS as exc:
        raise (unfinished(exc, path) or explain(exc, path)) from None
    conn.text_factory = _text
    return conn


def _open_reader(path: str, immutable: bool, timeout: float) -> sqlite3.Connection:
    conn = sqlite3.connect(uri(path, immutable=immutable), uri=True, check_same_thread=False,
                           isolation_level=None, timeout=timeout)
    bound_connection(conn)  # no value past sqlite_bounds.VALUE_LIMIT is ever built or loaded
    try:
        conn.execute("PRAGMA query_only = 1")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def connect_writer(path: str) -> sqlite3.Connection:
    """A writable connection in autocommit mode: each edit opens its own transaction."""
    if not os.path.exists(path):
        raise UnreadableError(f"{path} no longer exists; the edit was not written")
    hot = find_hot_journal(path)
    if hot is not None:  # a writable connection would roll it back unasked
        raise UnfinishedTransaction(hot)
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000,
                               check_same_thread=False)
    except sqlite3.Error as exc:
        raise explain(exc, path) from None
    conn.text_factory = _text
    return conn


def quote_ident(name: str) -> str:
    """An SQL identifier in double quotes, inner quotes doubled (for PRAGMA arguments)."""
    return '"' + name.replace('"', '""') + '"'


_WITHOUT_ROWID = re.compile(r"\)\s*WITHOUT\s+ROWID\s*[;\s]*$", re.IGNORECASE)


def _describe_table(conn: sqlite3.Connection, kind: str, name: str, sql: str) -> Table:
    table = Table(name, kind, sql=sql or "")
    try:
        rows = conn.execute(f"PRAGMA table_xinfo({quote_ident(name)})").fetchall()
        fks: dict[str, ForeignKey] = {}
        if kind == "table":
            for fk in conn.execute(f"PRAGMA foreign_key_list({quote_ident(name)})"):
                fks.setdefault(fk[3], ForeignKey(fk[2], fk[4]))
    except sqlite3.Error as exc:
        table.error = str(exc)
        return table
    for _cid, col, decl, notnull, default, pk, hidden in rows:
        if hidden == 1:  # a virtual table's hidden column
            continue
        table.columns.append(Column(str(col), decl or "", int(pk), bool(notnull),
                                    None if default is None else str(default), int(hidden),
                                    fks.get(col)))
    if kind == "table":
        table.without_rowid = bool(_WITHOUT_ROWID.search(table.sql))
        names = {c.name.lower() for c in table.columns}
        table.rowid_name = next((n for n in ("rowid", "_rowid_", "oid") if n not in names), None)
        if table.sql.upper().startswith("CREATE VIRTUAL"):
            table.rowid_name = table.rowid_name if not table.without_rowid else None
    return table


def load_schema(conn: sqlite3.Connection, path: str = "") -> Schema:
    """Tables, views, indexes and triggers with their columns (internal sqlite_ tables included)."""
    schema = Schema()
    try:
        objects = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master "
                               "ORDER BY type, name").fetchall()
        schema.page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        schema.journal_mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        schema.encoding = conn.execute("PRAGMA encoding").fetchone()[0]
    except sqlite3.Error as exc:
        raise explain(exc, path) from None
    for kind, name, tbl_name, sql in objects:
        if kind in ("table", "view"):
            entry = _describe_table(conn, kind, str(name), sql)
            (schema.tables if kind == "table" else schema.views).append(entry)
        elif kind in ("index", "trigger"):
            target = schema.indexes if kind == "index" else schema.triggers
            target.append(SchemaObject(str(name), kind, str(tbl_name), sql or ""))
    return schema


def data_version(conn: sqlite3.Connection) -> int | None:
    """SQLite's counter of commits by other connections; None while the file is busy or gone."""
    try:
        return int(conn.execute("PRAGMA data_version").fetchone()[0])
    except sqlite3.Error:
        return None


class Reader:
    """One read-only connection shared by a document's workers, one query at a time.

    ``interrupt()`` may be called from any thread: SQLite's interrupt is thread-safe, and it
    makes the running statement fail with "interrupted", which :func:`explain` turns into
    :class:`Interrupted`.
    """

    def __init__(self, path: str, *, immutable: bool = False) -> None:
        self.path = path
        self.immutable = immutable
        self.lock = threading.Lock()
        self.conn = connect_reader(path, immutable=immutable)
        self._closed = False

    def run(self, func: Callable[[sqlite3.Connection], T]) -> T:
        with self.lock:
            if self._closed:
                raise Interrupted("The database was closed.")
            try:
                return func(self.conn)
            except SQL_ERRORS as exc:
                raise explain(exc, self.path) from None

    def interrupt(self) -> None:
        if not self._closed:
            self.conn.interrupt()

    def data_version(self) -> int | None:
        """SQLite's counter of commits by other connections; None when it cannot be read."""
        try:
            return int(self.run(lambda c: c.execute("PRAGMA data_version").fetchone()[0]))
        except KnownError:
            return None

    def close(self) -> None:
        self.interrupt()
        with self.lock:
            self._closed = True
            self.conn.close()
