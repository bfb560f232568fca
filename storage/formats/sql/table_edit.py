"""A table's columns as an editable list (Modify Table), read from SQLite or PostgreSQL.

:class:`TableEdit` is what the Modify Table grid shows: one :class:`ColumnEdit` per column, each
holding the column's definition and the name it has in the database now (None for a new column),
so renames, drops and reorders are told apart. Table constraints the grid cannot show (several
columns, named) are listed and kept as they are.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from storage.core.errors import KnownError, UnsupportedError
from storage.formats.sql.ddl import ColumnSpec, quote
from storage.formats.sql.schema_plans import Context
from storage.formats.sql.schema_types import Schema
from storage.formats.sql.sqlite_db import load_schema
from storage.formats.sql.sqlite_sqltext import Token, split_create_table, tokens

_PG_ACTIONS = {"a": "", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}


@dataclass
class ColumnEdit:
    spec: ColumnSpec
    old: str | None = None  # the column's name in the database now; None for a column to add


@dataclass
class TableEdit:
    name: str
    columns: list[ColumnEdit]
    constraints: list[str] = field(default_factory=list)  # table constraints kept as they are (shown)
    # PostgreSQL: (column, "unique" / "check" / "fk") or ("", "pk") -> the constraint's name
    names: dict[tuple[str, str], str] = field(default_factory=dict)
    without_rowid: bool = False


def _words(toks: list[Token]) -> list[str]:
    return [t.text.upper() for t in toks if t.kind == "word"]


def _parenthesized(item: str, after: int) -> str:
    """The text inside the parentheses that open at or after offset ``after`` of ``item``."""
    depth, start = 0, -1
    for tok in tokens(item):
        if tok.start < after or tok.kind != "other":
            continue
        if tok.text == "(":
            depth += 1
            if depth == 1:
                start = tok.start + 1
        elif tok.text == ")":
            depth -= 1
            if depth == 0:
                return item[start:tok.start].strip()
    return ""


def _action(words: list[str], verb: str) -> str:
    for pos in range(len(words) - 2):
        if words[pos] == "ON" and words[pos + 1] == verb:
            rest = words[pos + 2:pos + 4]
            return " ".join(rest) if rest[:1] in (["SET"], ["NO"]) else rest[0]
    return ""


def sqlite_edit(ctx: Context, table_name: str) -> TableEdit:
    """The columns of an SQLite table as the grid shows them; inline UNIQUE, CHECK and REFERENCES
    come from the CREATE TABLE text (PRAGMAs do not report them)."""
    table = ctx.table(table_name)
    if table.kind != "table":
        raise UnsupportedError(f"{table_name!r} is a {table.kind}, not a table")
    create = split_create_table(table.sql)
    items = {(create.column_name(i) or "").lower(): i for i in create.items}
    columns = []
    for col in table.columns:
        if col.hidden == 1:
            continue
        item = items.get(col.name.lower(), "")
        toks = tokens(item)
        words = _words(toks)
        check = next((_parenthesized(item, t.start) for t in toks if t.kind == "word"
                      and t.text.upper() == "CHECK"), None)
        references = None
        if "REFERENCES" in words and col.foreign_key is not None:
            references = (col.foreign_key.table, col.foreign_key.column or "")
        spec = ColumnSpec(col.name, col.decl_type, col.pk > 0, col.notnull, "UNIQUE" in words,
                          col.default, check or None, references,
                          _action(words, "DELETE") if references else "",
                          _action(words, "UPDATE") if references else "")
        columns.append(ColumnEdit(spec, col.name))
    constraints = [i for i in create.items if create.column_name(i) is None]
    return TableEdit(table.name, columns, constraints, without_rowid=table.without_rowid)


def server_edit(ctx: Context, table_name: str) -> TableEdit:
    """The columns of a PostgreSQL table from the catalog, with the names of single-column
    constraints (dropping one needs its name)."""
    regclass = f"{quote(ctx.dialect, ctx.db_schema or 'public')}.{quote(ctx.dialect, table_name)}"
    rows = ctx.lookup(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
        "pg_get_expr(d.adbin, d.adrelid), a.attnum FROM pg_attribute a "
        "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        (regclass,))
    if not rows:
        raise KnownError(f"There is no table {table_name!r} (any more)")
    by_num = {r[4]: ColumnSpec(r[0], r[1], False, bool(r[2]), default=r[3]) for r in rows}
    edit = TableEdit(table_name, [ColumnEdit(spec, spec.name) for spec in by_num.values()])
    constraints = ctx.lookup(
        "SELECT c.conname, c.contype, c.conkey, pg_get_constraintdef(c.oid), r.relname, fa.attname, "
        "c.confdeltype, c.confupdtype FROM pg_constraint c LEFT JOIN pg_class r ON r.oid = c.confrelid "
        "LEFT JOIN pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = c.confkey[1] "
        "WHERE c.conrelid = to_regclass(%s) ORDER BY c.conname", (regclass,))
    for name, kind, keys, definition, ref_table, ref_col, on_delete, on_update in constraints:
        keys = list(keys or [])
        specs = [by_num[k] for k in keys if k in by_num]
        if kind == "p":
            for key_spec in specs:
                key_spec.primary_key = True
            edit.names[("", "pk")] = name
            continue
        single = len(specs) == 1
        spec = specs[0] if single else None
        if spec is not None and kind == "u" and (spec.name, "unique") not in edit.names:
            spec.unique = True
            edit.names[(spec.name, "unique")] = name
        elif spec is not None and kind == "c" and (spec.name, "check") not in edit.names \
                and definition.startswith("CHECK (") and definition.endswith(")"):
            spec.check = definition[len("CHECK ("):-1]
            edit.names[(spec.name, "check")] = name
        elif spec is not None and kind == "f" and ref_table and (spec.name, "fk") not in edit.names:
            spec.references = (ref_table, ref_col or "")
            spec.on_delete = _PG_ACTIONS.get(on_delete, "")
            spec.on_update = _PG_ACTIONS.get(on_update, "")
            edit.names[(spec.name, "fk")] = name
        else:
            edit.constraints.append(f"CONSTRAINT {quote(ctx.dialect, name)} {definition}")
    return edit


def current_edit(ctx: Context, table_name: str) -> TableEdit:
    return sqlite_edit(ctx, table_name) if ctx.sqlite else server_edit(ctx, table_name)


def data_probe(ctx: Context, edit: TableEdit) -> dict[str | None, bool]:
    """Which columns hold data (and whether the table has rows), for previews without database access."""
    found: dict[str | None, bool] = {None: ctx.has_data(edit.name, None, None)}
    for col in edit.columns:
        found[col.spec.name] = found[None] and ctx.has_data(edit.name, col.spec.name, None)
    return found


def simulate(schema: Schema, statements: list[str]) -> Schema:
    """The schema after ``statements`` (native renames), found by replaying the schema, without
    data, in memory: SQLite's own RENAME rewrites views, triggers and indexes exactly."""
    mem = sqlite3.connect(":memory:")
    try:
        pending = [t.sql for t in schema.tables if t.sql and not t.name.lower().startswith("sqlite_")]
        pending += [v.sql for v in schema.views] + [o.sql for o in schema.indexes + schema.triggers if o.sql]
        errors: dict[str, str] = {}
        while pending:
            left = []
            for sql in pending:
                try:
                    mem.execute(sql)
                except sqlite3.Error as exc:
                    errors[sql] = str(exc)
                    left.append(sql)
            if len(left) == len(pending):
                break
            pending = left
        needed = [s for s in pending if not s.lstrip().upper().startswith("CREATE TABLE")]
        if needed:
            raise UnsupportedError(f"Could not prepare the change: {errors[needed[0]]} in {needed[0][:80]!r}")
        for sql in statements:
            try:
                mem.execute(sql)
            except sqlite3.Error as exc:
                raise UnsupportedError(f"SQLite refuses {sql!r}: {exc}") from None
        return load_schema(mem)
    finally:
        mem.close()
