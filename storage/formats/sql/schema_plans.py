"""Plans of schema changes for SQLite and server databases, each with its undo recipe.

A builder reads what it needs from a :class:`Context` (the dialect, the schema as just read,
and a probe for data) and returns a :class:`~storage.formats.sql.ddl.Plan`. Undo and redo rebuild
their plan from a fresh context when they run (a recipe), so they never act on a stale schema.
A change whose undo would lose data has no undo: the plan says why, for the preview.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.engine import Dialect

from storage.core.errors import KnownError, UnsupportedError
from storage.formats.sql import sqlite_rebuild as rebuild
from storage.formats.sql.ddl import (
    ColumnSpec,
    IndexSpec,
    Plan,
    TableSpec,
    alter,
    column_sql,
    create_index_sql,
    create_table_sql,
    drop_index_sql,
    drop_table_sql,
    quote,
)
from storage.formats.sql.schema_types import Schema, Table

Recipe = Callable[["Context"], Plan]
_CONSTANT = re.compile(
    r"""^\s*(NULL|TRUE|FALSE|[+-]?\d+(\.\d*)?([eE][+-]?\d+)?|'([^']|'')*'|[xX]'[0-9a-fA-F]*')\s*$""",
    re.IGNORECASE)


@dataclass
class Context:
    """What plan builders may look at: the dialect, the current schema, and a data probe."""

    dialect: Dialect
    schema: Schema = field(default_factory=Schema)
    # (table, column or None, ignoring values equal to this SQL expression) -> whether data is there
    has_data: Callable[[str, str | None, str | None], bool] = lambda _t, _c, _d: False
    db_schema: str | None = None  # a server database's schema (PostgreSQL "public")
    lookup: Callable[[str, tuple], list[tuple]] = lambda _sql, _params: []
    sqlite_version: tuple[int, ...] = sqlite3.sqlite_version_info

    @property
    def sqlite(self) -> bool:
        return self.dialect.name == "sqlite"

    def table(self, name: str) -> Table:
        found = next((t for t in self.schema.tables if t.name == name), None)
        if found is None and self.sqlite:
            raise KnownError(f"There is no table {name!r} (any more)")
        return found or Table(name, "table")

    def plan(self, title: str, statements: list[str], table: str | None = None) -> Plan:
        body = ["BEGIN IMMEDIATE", *statements, "COMMIT"] if self.sqlite else statements
        return Plan(title, self.dialect.name, body, table=table)


def create_table(ctx: Context, spec: TableSpec) -> Plan:
    spec.schema = spec.schema or (None if ctx.sqlite else ctx.db_schema)
    plan = ctx.plan(f"create table {spec.name}", [create_table_sql(spec, ctx.dialect)], spec.name)
    return plan.with_undo(lambda c: drop_table(c, spec.name, undoing=True))


def saved_table(ctx: Context, name: str) -> tuple[list[str], str]:
    from storage.formats.sql.pg_saved import saved_table as read  # it imports Context from here

    return read(ctx, name)


def drop_table(ctx: Context, name: str, undoing: bool = False) -> Plan:
    has_data = ctx.has_data(name, None, None)
    if undoing and has_data:
        raise KnownError(f"Cannot undo: table {name!r} now holds rows, which dropping it would delete")
    plan = ctx.plan(f"drop table {name}", [drop_table_sql(name, ctx.dialect, ctx.db_schema)], name)
    if ctx.sqlite:  # SQLite keeps views and other tables' triggers that name it: they stop working
        broken = [o for o in rebuild.dependents(ctx.schema, name)
                  if isinstance(o, Table) or o.table.lower() != name.lower()]
        plan.warnings.extend(f"{'View' if isinstance(o, Table) else 'Trigger'} {o.name!r} depends on this "
                             "table and stops working until it is recreated" for o in broken)
    if has_data:
        return plan.with_undo(None, f"table {name!r} holds rows; dropping it deletes them")
    if not ctx.sqlite:
        saved, why = saved_table(ctx, name) if ctx.dialect.name == "postgresql" else ([], "")
        if not saved:
            why = why or f"{ctx.dialect.name} does not keep the table's full definition"
            return plan.with_undo(None, why)
        plan.warnings.append("Undo recreates the columns, constraints, indexes and triggers; "
                             "grants and comments are not kept")
        return plan.with_undo(lambda c: c.plan(f"recreate table {name}", saved, name))
    table = ctx.table(name)
    saved = [table.sql] + [i.sql for i in ctx.schema.indexes if i.table == name and i.sql]
    saved += [t.sql for t in ctx.schema.triggers if t.table == name]
    return plan.with_undo(lambda c: c.plan(f"recreate table {name}", saved, name))


def _native_add(col: ColumnSpec) -> bool:
    """SQLite's ADD COLUMN limits (lang_altertable.html#altertabaddcol)."""
    if col.primary_key or col.unique:
        return False
    if col.default not in (None, "") and not _CONSTANT.match(col.default):
        return False
    return not (col.not_null and col.default in (None, ""))


def add_column(ctx: Context, table_name: str, col: ColumnSpec) -> Plan:
    definition = column_sql(col, ctx.dialect, table_name, None if ctx.sqlite else ctx.db_schema)
    title = f"add column {col.name} to {table_name}"
    if ctx.sqlite:
        table = ctx.table(table_name)
        if col.name.lower() in {c.name.lower() for c in table.columns}:
            raise UnsupportedError(f"{table_name!r} already has a column {col.name!r}")
    if not ctx.sqlite or _native_add(col):
        plan = ctx.plan(title, [alter(ctx.dialect, table_name, ctx.db_schema, f"ADD COLUMN {definition}")],
                        table_name)
    else:
        plan = _rebuild_plan(ctx, title, rebuild.add_column(table, definition))
    default = col.default if col.default not in (None, "") else None
    return plan.with_undo(lambda c: drop_column(c, table_name, col.name, undoing=True, default=default))


def rename_column(ctx: Context, table_name: str, old: str, new: str) -> Plan:
    if not new.strip():
        raise UnsupportedError("The column needs a name")
    if ctx.sqlite and ctx.sqlite_version < (3, 25):
        raise UnsupportedError("Renaming a column needs SQLite 3.25 or newer")
    clause = f"RENAME COLUMN {quote(ctx.dialect, old)} TO {quote(ctx.dialect, new)}"
    plan = ctx.plan(f"rename column {old} to {new}", [alter(ctx.dialect, table_name, ctx.db_schema, clause)],
                    table_name)
    return plan.with_undo(lambda c: rename_column(c, table_name, new, old))


def drop_column(ctx: Context, table_name: str, column: str, undoing: bool = False,
                default: str | None = None) -> Plan:
    """Drop a column; undo puts it back (same definition and position on SQLite) when it held no data."""
    has_data = ctx.has_data(table_name, column, default)
    if undoing and has_data:
        raise KnownError(f"Cannot undo: column {column!r} of {table_name!r} now holds data")
    title = f"drop column {column} from {table_name}"
    native = alter(ctx.dialect, table_name, ctx.db_schema, f"DROP COLUMN {quote(ctx.dialect, column)}")
    if not ctx.sqlite:
        plan = ctx.plan(title, [native], table_name)
        found = ctx.lookup(
            "SELECT format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid) "
            "FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE a.attrelid = to_regclass(%s) AND a.attname = %s AND NOT a.attisdropped",
            (f"{quote(ctx.dialect, ctx.db_schema or 'public')}.{quote(ctx.dialect, table_name)}", column))
        if has_data or not found:
            return plan.with_undo(None, f"column {column!r} holds data; dropping it deletes the data")
        decl, notnull, expr = found[0]
        spec = ColumnSpec(column, decl, not_null=bool(notnull), default=expr)
        plan.warnings.append("Undo adds the column back at the end, with its type, NOT NULL and default")
        return plan.with_undo(lambda c: add_column(c, table_name, spec))
    table = ctx.table(table_name)
    change = rebuild.drop_column(ctx.schema, table, column)  # refuses what would break views/triggers
    if ctx.sqlite_version >= (3, 35) and not rebuild.needs_rebuild_to_drop(ctx.schema, table, column):
        plan = ctx.plan(title, [native], table_name)
    else:
        plan = _rebuild_plan(ctx, title, change)
    if has_data:
        return plan.with_undo(None, f"column {column!r} holds data; dropping it deletes the data")
    saved_sql = table.sql
    saved_indexes = [i.sql for i in rebuild.table_indexes(ctx.schema, table)]
    title = f"restore column {column} of {table_name}"
    return plan.with_undo(lambda c: _rebuild_plan(
        c, title, rebuild.restore(c.table(table_name), saved_sql, saved_indexes)))


def _rebuild_plan(ctx: Context, title: str, change: rebuild.Rebuild) -> Plan:
    statements = rebuild.statements(ctx.dialect, ctx.schema, change)
    plan = Plan(title, "sqlite", statements, warnings=list(change.warnings), table=change.table.name,
                expect_sql=change.table.sql, check_foreign_keys=True)
    plan.warnings.insert(0, "ALTER TABLE cannot make this change: the table is rebuilt "
                            "(SQLite's 12-step procedure), keeping rows, rowids, indexes, triggers and views")
    return plan


def create_index(ctx: Context, spec: IndexSpec) -> Plan:
    spec.schema = spec.schema or (None if ctx.sqlite else ctx.db_schema)
    plan = ctx.plan(f"create index {spec.name}", [create_index_sql(spec, ctx.dialect)], spec.table)
    return plan.with_undo(lambda c: drop_index(c, spec.name))


def drop_index(ctx: Context, name: str) -> Plan:
    saved = next((i.sql for i in ctx.schema.indexes if i.name == name), "")
    if ctx.sqlite and name not in {i.name for i in ctx.schema.indexes}:
        raise KnownError(f"There is no index {name!r} (any more)")
    if ctx.sqlite and not saved:
        raise UnsupportedError(f"The index {name!r} belongs to a PRIMARY KEY or UNIQUE constraint; "
                               "it goes only with the constraint")
    if not saved and not ctx.sqlite:
        rows = ctx.lookup("SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND indexname = %s",
                          (ctx.db_schema or "public", name))
        saved = rows[0][0] if rows else ""
    plan = ctx.plan(f"drop index {name}", [drop_index_sql(name, ctx.dialect, ctx.db_schema)])
    if not saved:
        return plan.with_undo(None, f"the definition of index {name!r} could not be read")
    return plan.with_undo(lambda c: c.plan(f"create index {name}", [saved]))
