"""Schema changes as plans: the exact SQL each one runs, compiled for a SQLAlchemy dialect.

A :class:`Plan` is built before anything runs, so the user reads the statements in a preview;
it carries its inverse (for undo) or the reason it has none. Quoting and column specs come from
SQLAlchemy's DDL compiler (CreateTable, CreateColumn, CreateIndex, DropIndex); declared types,
defaults and CHECK expressions are SQL the user typed and are passed through as written.
SQLite changes that ALTER TABLE cannot make are planned by :mod:`storage.formats.sql.sqlite_rebuild`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKeyConstraint,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    TextClause,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateColumn, CreateIndex, CreateTable, DropIndex, DropTable, SchemaItem
from sqlalchemy.types import UserDefinedType

from storage.core.errors import UnsupportedError

if TYPE_CHECKING:
    from storage.formats.sql.schema_plans import Recipe

FK_ACTIONS = ["", "CASCADE", "SET NULL", "SET DEFAULT", "RESTRICT", "NO ACTION"]
COMMON_TYPES = {
    "sqlite": ["INTEGER", "TEXT", "REAL", "BLOB", "NUMERIC", "BOOLEAN", "DATE", "DATETIME", ""],
    "postgresql": ["integer", "bigint", "serial", "bigserial", "text", "varchar(255)", "boolean",
                   "numeric(12,2)", "double precision", "date", "timestamp", "timestamptz", "jsonb",
                   "bytea", "uuid"],
}


class Declared(UserDefinedType):
    """A column type written as the user declared it (``VARCHAR(20)``, ``NUMERIC(10,2)``)."""

    cache_ok = True

    def __init__(self, decl: str = "") -> None:
        self.decl = decl

    def get_col_spec(self, **_kw: object) -> str:
        return self.decl


@dataclass
class ColumnSpec:
    name: str
    type: str = ""
    primary_key: bool = False
    not_null: bool = False
    unique: bool = False
    default: str | None = None  # an SQL expression: 0, 'text', CURRENT_TIMESTAMP
    check: str | None = None
    references: tuple[str, str] | None = None  # (table, column)
    on_delete: str = ""
    on_update: str = ""


@dataclass
class TableSpec:
    name: str
    columns: list[ColumnSpec]
    checks: list[str] = field(default_factory=list)
    without_rowid: bool = False
    autoincrement: bool = False  # SQLite: INTEGER PRIMARY KEY AUTOINCREMENT
    schema: str | None = None


@dataclass
class IndexSpec:
    name: str
    table: str
    columns: list[str]
    unique: bool = False
    schema: str | None = None


@dataclass
class Plan:
    """One schema change: the statements it runs, and how (or whether) it is undone.

    SQLite plans are scripts that hold their own BEGIN/COMMIT (a rebuild must switch foreign
    keys off outside the transaction); other dialects' statements run in one transaction.
    """

    title: str
    dialect: str
    statements: list[str]
    warnings: list[str] = field(default_factory=list)
    undo: Recipe | None = None  # makes the plan that reverses this one
    irreversible: str = ""  # why this change cannot be undone; empty when it can
    table: str | None = None
    expect_sql: str | None = None  # SQLite rebuild: the table's SQL the plan was built from
    check_foreign_keys: bool = False

    @property
    def script(self) -> bool:
        return self.dialect == "sqlite"

    def preview(self) -> str:
        notes = [*self.warnings, *([f"Cannot be undone: {self.irreversible}"] if self.irreversible else [])]
        lines = ["-- " + " ".join(note.split()) for note in notes]  # one comment line each
        body = list(self.statements) if self.script else ["BEGIN", *self.statements, "COMMIT"]
        return "\n".join(lines + [s.rstrip().rstrip(";") + ";" for s in body])

    def with_undo(self, undo: Recipe | None, reason: str = "") -> Plan:
        self.undo, self.irreversible = undo, ("" if undo is not None else reason)
        return self


def sql(construct: object, dialect: Dialect) -> str:
    return str(construct.compile(dialect=dialect)).strip()  # type: ignore[attr-defined]


def quote(dialect: Dialect, name: str) -> str:
    return dialect.identifier_preparer.quote(name)


def table_name(dialect: Dialect, name: str, schema: str | None = None) -> str:
    return dialect.identifier_preparer.format_table(Table(name, MetaData(), schema=schema))


def _check_names(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if not name.strip():
            raise UnsupportedError(f"Every {what} needs a name")
        if name.lower() in seen:
            raise UnsupportedError(f"Two {what}s are named {name!r}")
        seen.add(name.lower())


def _default(col: ColumnSpec) -> TextClause | None:
    return text(col.default) if col.default not in (None, "") else None


def build_table(spec: TableSpec, dialect: Dialect) -> Table:
    """The SQLAlchemy Table of ``spec`` (targets of foreign keys as stub tables)."""
    _check_names([c.name for c in spec.columns], "column")
    if not spec.name.strip():
        raise UnsupportedError("The table needs a name")
    if not spec.columns:
        raise UnsupportedError("A table needs at least one column")
    if dialect.name != "sqlite" and any(not c.type.strip() for c in spec.columns):
        raise UnsupportedError(f"{dialect.name} needs a type for every column")
    meta = MetaData()
    args: list[SchemaItem] = []
    for col in spec.columns:
        extra = [CheckConstraint(text(col.check))] if col.check else []
        args.append(Column(col.name, Declared(col.type), *extra,
                           nullable=not (col.not_null or col.primary_key), unique=col.unique or None,
                           autoincrement=False, server_default=_default(col)))
    keys = [c.name for c in spec.columns if c.primary_key]
    if keys:
        args.append(PrimaryKeyConstraint(*keys))
    elif spec.without_rowid:
        raise UnsupportedError("A WITHOUT ROWID table needs a primary key")
    args.extend(CheckConstraint(text(c)) for c in spec.checks if c.strip())
    kwargs: dict[str, Any] = {}  # dialect options (sqlite_with_rowid)
    if dialect.name == "sqlite":
        kwargs["sqlite_with_rowid"] = not spec.without_rowid
        if spec.autoincrement:
            key_types = [c.type.upper() for c in spec.columns if c.primary_key]
            if key_types != ["INTEGER"]:
                raise UnsupportedError("AUTOINCREMENT needs a single INTEGER primary key column")
            if spec.without_rowid:
                raise UnsupportedError("AUTOINCREMENT is not allowed on a WITHOUT ROWID table")
    table = Table(spec.name, meta, *args, schema=spec.schema, **kwargs)
    for col in spec.columns:
        if not col.references:
            continue
        target_table, target_col = col.references
        if not target_table or not target_col:
            raise UnsupportedError(f"The foreign key of {col.name!r} needs a table and a column")
        if target_table == spec.name:
            if target_col not in table.c:
                raise UnsupportedError(f"{spec.name!r} has no column {target_col!r} to reference")
            target = table
        else:
            key = target_table if spec.schema is None else f"{spec.schema}.{target_table}"
            found = meta.tables.get(key)
            target = found if found is not None else Table(target_table, meta, schema=spec.schema)
            if target_col not in target.c:
                target.append_column(Column(target_col, Declared("")))
        table.append_constraint(ForeignKeyConstraint([col.name], [target.c[target_col]],
                                                     ondelete=col.on_delete or None,
                                                     onupdate=col.on_update or None))
    return table


def create_table_sql(spec: TableSpec, dialect: Dialect) -> str:
    statement = re.sub(r" ?\n\t", "\n  ", sql(CreateTable(build_table(spec, dialect)), dialect))
    if dialect.name == "sqlite" and spec.autoincrement:
        key = quote(dialect, next(c.name for c in spec.columns if c.primary_key))
        statement = statement.replace(f"PRIMARY KEY ({key})", f"PRIMARY KEY ({key} AUTOINCREMENT)", 1)
    return statement


def column_sql(col: ColumnSpec, dialect: Dialect, table: str = "t", schema: str | None = None) -> str:
    """A column definition for ADD COLUMN: SQLAlchemy's spec plus the column's inline constraints."""
    if not col.name.strip():
        raise UnsupportedError("The column needs a name")
    if dialect.name != "sqlite" and not col.type.strip():
        raise UnsupportedError(f"{dialect.name} needs a type for the column")
    column = Column(col.name, Declared(col.type), nullable=not col.not_null, autoincrement=False,
                    server_default=_default(col))
    Table(table, MetaData(), column, schema=schema)
    parts = [sql(CreateColumn(column), dialect)]
    if col.primary_key:
        parts.append("PRIMARY KEY")
    if col.unique:
        parts.append("UNIQUE")
    if col.check:
        parts.append(f"CHECK ({col.check})")
    if col.references:
        target_table, target_col = col.references
        parts.append(f"REFERENCES {table_name(dialect, target_table, schema)} ({quote(dialect, target_col)})")
        if col.on_delete:
            parts.append(f"ON DELETE {col.on_delete}")
        if col.on_update:
            parts.append(f"ON UPDATE {col.on_update}")
    return " ".join(p for p in parts if p)


def create_index_sql(spec: IndexSpec, dialect: Dialect) -> str:
    if not spec.name.strip():
        raise UnsupportedError("The index needs a name")
    if not spec.columns:
        raise UnsupportedError("An index needs at least one column")
    table = Table(spec.table, MetaData(), *(Column(c, Declared("")) for c in spec.columns),
                  schema=spec.schema)
    index = Index(spec.name, *(table.c[c] for c in spec.columns), unique=spec.unique)
    return sql(CreateIndex(index), dialect)


def drop_index_sql(name: str, dialect: Dialect, schema: str | None = None) -> str:
    table = Table("t", MetaData(), Column("c", Declared("")), schema=schema)
    return sql(DropIndex(Index(name, table.c.c)), dialect)


def drop_table_sql(name: str, dialect: Dialect, schema: str | None = None) -> str:
    return sql(DropTable(Table(name, MetaData(), schema=schema)), dialect)


def alter(dialect: Dialect, name: str, schema: str | None, clause: str) -> str:
    return f"ALTER TABLE {table_name(dialect, name, schema)} {clause}"
