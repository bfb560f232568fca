"""The schema as Datashelf sees it, on every backend: tables and views with their columns, keys
and foreign keys, plus indexes and triggers.

Plain data: :func:`storage.formats.sql.sqlite_db.load_schema` fills it from a SQLite file and
:mod:`storage.formats.sql.pg_schema` from a PostgreSQL server.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ForeignKey:
    table: str
    column: str | None


@dataclass
class Column:
    name: str
    decl_type: str = ""
    pk: int = 0  # position in the primary key, 1-based; 0 when not part of it
    notnull: bool = False
    default: str | None = None
    hidden: int = 0
    foreign_key: ForeignKey | None = None

    @property
    def affinity(self) -> str:
        return affinity(self.decl_type)


@dataclass
class Table:
    """A table or view: its columns and how its rows are identified."""

    name: str
    kind: str  # "table" or "view"
    columns: list[Column] = field(default_factory=list)
    without_rowid: bool = False
    rowid_name: str | None = None  # rowid, _rowid_ or oid: the first not shadowed by a column
    sql: str = ""
    error: str = ""
    schema: str | None = None  # a server's schema (PostgreSQL's namespace); None for SQLite
    key: list[str] | None = None  # a server table's row key: primary key or unique NOT NULL key
    key_note: str = ""  # why a server table has no row key, for the user
    page_key: list[str] = field(default_factory=list)  # pages a keyless server table (ctid)

    @property
    def qualified(self) -> str:
        """The name the document uses for the table: schema.name outside the default schema."""
        return self.name if self.schema in (None, "public", "main") else f"{self.schema}.{self.name}"

    @property
    def key_columns(self) -> list[str]:
        """The columns that identify a row: the rowid, or the primary key of a WITHOUT ROWID table."""
        if self.kind != "table":
            return []
        if self.key is not None:
            return list(self.key)
        if not self.without_rowid:
            return [self.rowid_name] if self.rowid_name else []
        return [c.name for c in sorted((c for c in self.columns if c.pk), key=lambda c: c.pk)]

    @property
    def editable(self) -> bool:
        return self.kind == "table" and bool(self.key_columns) and not self.error


@dataclass
class SchemaObject:
    name: str
    kind: str  # index / trigger
    table: str
    sql: str
    schema: str | None = None


@dataclass
class Schema:
    tables: list[Table] = field(default_factory=list)
    views: list[Table] = field(default_factory=list)
    indexes: list[SchemaObject] = field(default_factory=list)
    triggers: list[SchemaObject] = field(default_factory=list)
    page_size: int = 0
    journal_mode: str = ""
    encoding: str = ""
    schemas: list[str] = field(default_factory=list)  # a server's schemas (empty for SQLite)
    materialized: list[Table] = field(default_factory=list)  # PostgreSQL's materialized views
    # A server's sequences and functions (kind "sequence" / "function"), each with its DDL.
    routines: list[SchemaObject] = field(default_factory=list)

    def find(self, name: str) -> Table | None:
        every = self.tables + self.views + self.materialized
        return next((t for t in every if t.qualified == name), None) or next(
            (t for t in every if t.name == name), None)


def affinity(decl_type: str) -> str:
    """SQLite's column affinity rules (section 3.1 of the datatype documentation)."""
    text = (decl_type or "").upper()
    if "INT" in text:
        return "INTEGER"
    if any(word in text for word in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if "BLOB" in text or not text:
        return "BLOB"
    if any(word in text for word in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"
