"""Bounds for reading untrusted SQLite files: no value larger than a cap, no query without end.

An 8 KB database can hold views of ``printf('%.*c', 1000000000, 'x')``, ``zeroblob(1e9)`` or
``randomblob(…)``: each row SQLite computes is a gigabyte. ``bound_connection`` lowers the
connection's SQLITE_LIMIT_LENGTH, so SQLite refuses to build (or load) any value past
``VALUE_LIMIT`` with "string or blob too big" instead of allocating it; every reader of the
file (grid, counts, schema summary, inspect, exports, record form, foreign-key chooser) gets the
bound at once. A value the user asks for explicitly is read with ``raised_limit``.

A recursive view that never yields a row would keep a page query running forever;
``time_budget`` stops a statement after a number of seconds through the progress handler.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass

from storage.core.decompression import size_text
from storage.core.errors import KnownError

VALUE_LIMIT = 64 * 2**20  # bytes of one text or blob value a reader connection may build or load
FULL_VALUE_LIMIT = 2**30 - 1  # what a value asked for explicitly may be (SQLite's own default)
PAGE_SECONDS = 20.0  # a page of the grid or a capped count that takes longer is stopped
_CHECK_EVERY = 1_000  # virtual machine steps between two looks at the clock (a call such as
# printf() of a huge width runs between two steps: the budget is checked often)


def bound_connection(conn: sqlite3.Connection) -> sqlite3.Connection:
    """Cap the size of every value ``conn`` builds or loads at ``VALUE_LIMIT``."""
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, VALUE_LIMIT)
    return conn


@contextlib.contextmanager
def raised_limit(conn: object, limit: int = FULL_VALUE_LIMIT) -> Iterator[None]:
    """Let ``conn`` read values up to ``limit`` bytes (a value the user asked to see whole);
    a server connection is left as it is."""
    if not isinstance(conn, sqlite3.Connection):
        yield
        return
    old = conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, limit)
    try:
        yield
    finally:
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, old)


def is_too_big(exc: BaseException) -> bool:
    """True for SQLite's "string or blob too big" (a value past the connection's limit)."""
    return isinstance(exc, sqlite3.Error) and "too big" in str(exc).lower()


class TooLongError(KnownError):
    """A statement ran past its time budget and was stopped."""


class _Budget:
    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.seconds = seconds
        self.expired = False

    def __call__(self) -> int:
        if time.monotonic() > self.deadline:
            self.expired = True
            return 1
        return 0


@contextlib.contextmanager
def time_budget(conn: object, seconds: float = PAGE_SECONDS, what: str = "The query") -> Iterator[None]:
    """Stop a statement on ``conn`` (an sqlite3 connection; others are left alone) after
    ``seconds``; it then raises ``TooLongError`` saying so. The progress handler is restored."""
    if not isinstance(conn, sqlite3.Connection):
        yield
        return
    budget = _Budget(seconds)
    conn.set_progress_handler(budget, _CHECK_EVERY)
    try:
        yield
    except sqlite3.OperationalError as exc:
        if budget.expired and "interrupt" in str(exc).lower():
            raise TooLongError(f"{what} ran for more than {seconds:g} s and was stopped (a view that "
                               "never ends, such as a recursive query without a limit?)") from None
        raise
    finally:
        conn.set_progress_handler(None, 0)


@dataclass(frozen=True)
class LargeValue:
    """A stored text or blob too large for the grid: its size and first bytes, read without loading it.

    ``rowid`` and ``column`` say where it is, so the whole value can be read on request.
    """

    kind: str  # "text" or "blob"
    size: int  # bytes
    head: bytes
    table: str
    column: str
    rowid: int

    def label(self) -> str:
        return f"{size_text(self.size)} {self.kind} — show…"


def large_value(conn: sqlite3.Connection, table: str, column: str, rowid: int, kind: str,
                head: int = 256, schema: str = "main") -> LargeValue:
    """Size and first ``head`` bytes of one stored value, through an incremental blob handle
    (SQLite reads only those pages, whatever the value's size or the connection's limit)."""
    with conn.blobopen(table, column, rowid, readonly=True, name=schema) as blob:
        return LargeValue(kind, len(blob), blob.read(head), table, column, rowid)


def read_whole(conn: sqlite3.Connection, value: LargeValue) -> str | bytes:
    """The whole stored value (the user asked for it): read through the blob handle."""
    with conn.blobopen(value.table, value.column, value.rowid, readonly=True) as blob:
        data = blob.read()
    return data.decode("utf-8", "replace") if value.kind == "text" else data
