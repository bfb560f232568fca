"""Database maintenance: integrity and foreign-key checks, VACUUM, ANALYZE and SQLite's pragmas.

Checks read through the document's read-only connection; VACUUM, ANALYZE (on SQLite) and pragma
changes open a writable connection for the one statement, as edits do (no lock held after).
Long work stops when ``cancel()`` turns true: SQLite's progress handler interrupts the statement.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from storage.core.errors import KnownError
from storage.formats.sql.sqlite_db import SQL_ERRORS, Interrupted, connect_writer, explain, quote_ident

# What the Pragmas panel reads, in order.
PRAGMAS = ("journal_mode", "page_size", "page_count", "freelist_count", "auto_vacuum", "user_version",
           "application_id", "encoding", "foreign_keys", "synchronous")
# Pragmas stored in the file that the panel may set, with the values offered (None: an integer).
SETTABLE: dict[str, tuple[str, ...] | None] = {
    "user_version": None,
    "application_id": None,
    "journal_mode": ("delete", "truncate", "persist", "wal"),
    "auto_vacuum": ("none", "full", "incremental"),
}
_AUTO_VACUUM = {0: "none", 1: "full", 2: "incremental"}
_SYNCHRONOUS = {0: "off", 1: "normal", 2: "full", 3: "extra"}
MAX_PROBLEMS = 1000


@dataclass(frozen=True)
class FkViolation:
    """A row of ``table`` whose foreign key names no row of ``parent``."""

    table: str
    rowid: Any
    parent: str
    fk_index: int


def _watch(conn: sqlite3.Connection, cancel: Callable[[], bool] | None) -> None:
    if cancel is not None:
        conn.set_progress_handler(lambda: 1 if cancel() else 0, 10_000)


def integrity_check(conn: Any, quick: bool = False, limit: int = MAX_PROBLEMS,
                    cancel: Callable[[], bool] | None = None) -> list[str]:
    """SQLite's integrity_check (or the faster quick_check): ``["ok"]``, or the problems found.

    A file damaged badly enough that the check itself fails reports that failure as its problem.
    """
    if isinstance(conn, sqlite3.Connection):
        _watch(conn, cancel)
    try:
        pragma = "quick_check" if quick else "integrity_check"
        return [str(r[0]) for r in conn.execute(f"PRAGMA {pragma}({int(limit)})").fetchall()]
    except sqlite3.DatabaseError as exc:
        if "interrupt" in str(exc).lower():
            raise Interrupted("Cancelled.") from None
        return [f"The check itself failed: {exc}"]
    finally:
        if isinstance(conn, sqlite3.Connection):
            conn.set_progress_handler(None, 0)


def foreign_key_check(conn: Any, table: str | None = None,
                      cancel: Callable[[], bool] | None = None) -> list[FkViolation]:
    """Rows whose foreign keys point at no row (SQLite's foreign_key_check), first MAX_PROBLEMS."""
    if isinstance(conn, sqlite3.Connection):
        _watch(conn, cancel)
    try:
        sql = "PRAGMA foreign_key_check" + (f"({quote_ident(table)})" if table else "")
        cursor = conn.execute(sql)
        return [FkViolation(str(t), rowid, str(parent), int(fk)) for t, rowid, parent, fk
                in cursor.fetchmany(MAX_PROBLEMS)]
    finally:
        if isinstance(conn, sqlite3.Connection):
            conn.set_progress_handler(None, 0)


def read_pragmas(conn: Any) -> dict[str, Any]:
    """The common pragmas as readable values (numbers, or names for the enumerated ones)."""
    values: dict[str, Any] = {}
    for name in PRAGMAS:
        try:
            value = conn.execute(f"PRAGMA {name}").fetchone()[0]
        except sqlite3.Error as exc:
            value = f"? ({exc})"
        if name == "auto_vacuum":
            value = _AUTO_VACUUM.get(value, value)
        elif name == "synchronous":
            value = f"{_SYNCHRONOUS.get(value, value)} (this connection)"
        elif name == "foreign_keys":
            value = f"{'on' if value else 'off'} (this connection)"
        elif name == "journal_mode":
            value = str(value).lower()
        values[name] = value
    return values


def check_pragma_value(name: str, value: Any) -> Any:
    """The value to write for a settable pragma, or a KnownError saying what is allowed."""
    if name not in SETTABLE:
        raise KnownError(f"PRAGMA {name} cannot be set here.")
    allowed = SETTABLE[name]
    if allowed is None:
        try:
            number = int(str(value).strip(), 0)
        except ValueError:
            raise KnownError(f"{name} must be a whole number, not {value!r}.") from None
        if not -(2 ** 31) <= number < 2 ** 31:
            raise KnownError(f"{name} must fit in 32 bits (-2147483648 … 2147483647).")
        return number
    text = str(value).strip().lower()
    if text not in allowed:
        raise KnownError(f"{name} must be one of {', '.join(allowed)}, not {value!r}.")
    return text


@contextmanager
def _writing(path: str, table: str | None = None,
             cancel: Callable[[], bool] | None = None) -> Iterator[sqlite3.Connection]:
    """A writable connection for one maintenance statement: errors explained, always closed."""
    conn = connect_writer(path)
    try:
        _watch(conn, cancel)
        yield conn
    except SQL_ERRORS as exc:
        raise explain(exc, path, table) from None
    finally:
        conn.close()


def set_pragma(path: str, name: str, value: Any) -> Any:
    """Set one persistent pragma in the file; return the value SQLite reports afterwards."""
    value = check_pragma_value(name, value)
    with _writing(path) as conn:
        conn.execute(f"PRAGMA {name} = {value if isinstance(value, int) else value.upper()}")
        now = conn.execute(f"PRAGMA {name}").fetchone()[0]
    if name == "auto_vacuum":
        return _AUTO_VACUUM.get(now, now)
    return str(now).lower() if name == "journal_mode" else now


def vacuum(path: str, cancel: Callable[[], bool] | None = None) -> tuple[int, int]:
    """Rebuild the file without its free pages; (size before, size after) in bytes.

    It needs no other connection reading at the time: the document closes its readers first.
    """
    before = _size(path)
    with _writing(path, cancel=cancel) as conn:
        conn.execute("VACUUM")
        if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the main file shrinks only here
    return before, _size(path)


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def analyze_statement(kind: str, table: str | None = None, schema: str | None = None,
                      dialect: Any = None) -> str:
    """``ANALYZE`` for the whole database or one table, quoted for the backend."""
    if not table:
        return "ANALYZE"
    if dialect is not None:
        prep = dialect.identifier_preparer
        name = prep.quote(table) if not schema else f"{prep.quote_schema(schema)}.{prep.quote(table)}"
    else:
        name = quote_ident(table) if not schema else f"{quote_ident(schema)}.{quote_ident(table)}"
    return f"ANALYZE {name}"


def analyze_sqlite(path: str, table: str | None = None, cancel: Callable[[], bool] | None = None) -> None:
    """Run ANALYZE on an SQLite file (it writes the sqlite_stat tables)."""
    with _writing(path, table, cancel) as conn:
        conn.execute(analyze_statement("sqlite", table))
