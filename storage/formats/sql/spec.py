"""What a grid shows (:class:`QuerySpec`), without SQLAlchemy.

An SQLite file's statements are built by :class:`storage.formats.sql.sqlite_query.SqliteQuery`
(plain text, identifiers always double-quoted, values always bound); a server's by
:class:`storage.formats.sql.query.Query` with SQLAlchemy Core and the server's dialect, imported on
first use; :func:`storage.formats.sql.pager.query_for` picks one. Opening an SQLite file so never
imports SQLAlchemy before its first page is shown (issue 16: SQLAlchemy alone is about a third of
a second of the launch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storage.formats.sql.filters import Filter

PAGE_SIZE = 256
PREVIEW_CHARS = 256  # longer text and blobs are cut in the grid; the editor loads them whole
MAX_SEARCH_COLUMNS = 400  # SQLite's expression depth limit (1000) bounds an OR chain


@dataclass(frozen=True)
class SortKey:
    column: str
    descending: bool = False


@dataclass(frozen=True)
class QuerySpec:
    """What a grid shows: a table's columns, in an order, filtered. ``keys`` identify rows."""

    table: str
    columns: tuple[str, ...]
    keys: tuple[str, ...] = ()
    sort: tuple[SortKey, ...] = ()
    filters: tuple[Filter, ...] = ()
    search: str = ""
    with_sizes: bool = True  # look up the full length of values cut for the grid
    schema: str | None = None  # a server's schema of ``table``
    not_null: tuple[str, ...] = ()  # columns known NOT NULL: the keyset skips their NULL tests
    types: tuple[str, ...] = ()  # declared types of ``columns`` (a server's: which ones to cut)
    where: str = ""  # a free-form SQL condition typed by the user (the WHERE box), ANDed in


def is_sqlite(dialect: Any) -> bool:
    """``dialect`` (an SQLAlchemy dialect, or None for SQLite) is SQLite's."""
    return dialect is None or dialect.name == "sqlite"
