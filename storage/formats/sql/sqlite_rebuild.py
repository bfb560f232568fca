"""SQLite's documented 12-step table rebuild (https://www.sqlite.org/lang_altertable.html#otheralter).

Used for the changes ``ALTER TABLE`` cannot make. The new table's CREATE statement is the old
one edited item by item, so CHECK constraints, collations and generated columns survive. Rowids,
AUTOINCREMENT counters, indexes, triggers and views are kept; views and triggers that name the
table are dropped before and recreated after (SQLite refuses the final RENAME while a view names
a missing table). Anything that would be lost is refused or named in the plan's warnings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.engine import Dialect

from storage.core.errors import UnsupportedError
from storage.formats.sql.ddl import quote
from storage.formats.sql.schema_types import Schema, SchemaObject, Table
from storage.formats.sql.sqlite_sqltext import CreateTable, head_named, mentions, split_create_table, tokens

ROWID_NAMES = ("rowid", "_rowid_", "oid")
FK_CHECK = "PRAGMA foreign_key_check"


@dataclass
class Rebuild:
    """What a rebuild changes: the new items, how each new column is filled, what is dropped."""

    table: Table
    create: CreateTable
    copy: list[tuple[str, str]]  # (new column, old column) pairs copied by INSERT … SELECT
    drop_indexes: set[str] = field(default_factory=set)
    index_sql: list[str] | None = None  # recreate these instead of the table's current indexes
    warnings: list[str] = field(default_factory=list)


def dependents(schema: Schema, name: str) -> list[SchemaObject | Table]:
    """Views and triggers that name ``name``, and views and triggers naming those, in schema order."""
    found: list[SchemaObject | Table] = []
    names = [name]
    changed = True
    candidates: list[SchemaObject | Table] = [*schema.views, *schema.triggers]
    while changed:
        changed = False
        for obj in candidates:
            if obj in found:
                continue
            if any(mentions(obj.sql, n) for n in names) or (
                    isinstance(obj, SchemaObject) and obj.table.lower() == name.lower()):
                found.append(obj)
                if isinstance(obj, Table):
                    names.append(obj.name)
                changed = True
    order = {id(o): i for i, o in enumerate([*schema.views, *schema.triggers])}
    return sorted(found, key=lambda o: order[id(o)])


def _kind(obj: SchemaObject | Table) -> str:
    return "VIEW" if isinstance(obj, Table) else "TRIGGER"


def fresh_name(schema: Schema, base: str) -> str:
    taken = {t.name.lower() for t in schema.tables + schema.views}
    taken |= {o.name.lower() for o in schema.indexes + schema.triggers}
    name, n = f"new_{base}", 1
    while name.lower() in taken:
        n += 1
        name = f"new{n}_{base}"
    return name


def statements(dialect: Dialect, schema: Schema, plan: Rebuild) -> list[str]:
    """The rebuild's statements, from ``PRAGMA foreign_keys = OFF`` to ``COMMIT``."""
    table = plan.table
    old_name = quote(dialect, table.name)
    new_name = fresh_name(schema, table.name)
    new_create = plan.create.render(head_named(plan.create, quote(dialect, new_name)))
    old_cols = {c.name.lower() for c in table.columns}
    new_cols = {n.lower() for n in plan.create.columns()}
    rowid = None
    if not table.without_rowid and "WITHOUT" not in plan.create.tail.upper():
        rowid = next((r for r in ROWID_NAMES if r not in old_cols and r not in new_cols), None)
        if rowid is None:
            plan.warnings.append("Columns named rowid, _rowid_ and oid hide the rowid: rowids are renumbered")
    targets = ([rowid] if rowid else []) + [quote(dialect, n) for n, _o in plan.copy]
    sources = ([rowid] if rowid else []) + [quote(dialect, o) for _n, o in plan.copy]
    deps = dependents(schema, table.name)
    out = ["PRAGMA foreign_keys = OFF", "BEGIN IMMEDIATE", FK_CHECK]
    for obj in reversed(deps):
        out.append(f"DROP {_kind(obj)} {quote(dialect, obj.name)}")
    out.append(new_create)
    out.append(f"INSERT INTO {quote(dialect, new_name)} ({', '.join(targets)}) "
               f"SELECT {', '.join(sources)} FROM {old_name}")
    sequence = any(t.name == "sqlite_sequence" for t in schema.tables)
    if sequence and "AUTOINCREMENT" in plan.create.render().upper():
        literal_new, literal_old = _literal(new_name), _literal(table.name)
        out.append(f"DELETE FROM sqlite_sequence WHERE name = {literal_new}")
        out.append(f"INSERT INTO sqlite_sequence (name, seq) SELECT {literal_new}, seq "
                   f"FROM sqlite_sequence WHERE name = {literal_old}")
    out.append(f"DROP TABLE {old_name}")
    out.append(f"ALTER TABLE {quote(dialect, new_name)} RENAME TO {old_name}")
    if plan.index_sql is not None:
        out.extend(plan.index_sql)
    else:
        out.extend(i.sql for i in schema.indexes
                   if i.table.lower() == table.name.lower() and i.sql and i.name not in plan.drop_indexes)
    out.extend(obj.sql for obj in deps if isinstance(obj, Table))
    out.extend(obj.sql for obj in deps if not isinstance(obj, Table))
    out.extend([FK_CHECK, "COMMIT"])
    return out


def _index_body(sql: str) -> str:
    """An index's SQL after its name (``ON table (columns) WHERE …``): what it depends on."""
    toks = tokens(sql)
    at = next((t.start for t in toks if t.kind == "word" and t.text.upper() == "ON"), 0)
    return sql[at:]


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def table_indexes(schema: Schema, table: Table) -> list[SchemaObject]:
    return [i for i in schema.indexes if i.table.lower() == table.name.lower() and i.sql]


def add_column(table: Table, column_def: str) -> Rebuild:
    """Rebuild with ``column_def`` appended after the last column (before table constraints)."""
    create = split_create_table(table.sql)
    last = max((pos for pos, item in enumerate(create.items) if create.column_name(item) is not None),
               default=-1)
    create.items.insert(last + 1, column_def)
    return Rebuild(table, create, [(c.name, c.name) for c in table.columns if not c.hidden])


def drop_column(schema: Schema, table: Table, column: str) -> Rebuild:
    """Rebuild without ``column``; refuse when a view, trigger or other column needs it."""
    create = split_create_table(table.sql)
    pos = create.index_of(column)
    del create.items[pos]
    for obj in dependents(schema, table.name):
        if mentions(obj.sql, column):
            raise UnsupportedError(f"The {_kind(obj).lower()} {obj.name!r} uses column {column!r}: drop or "
                                   "change it first (it would stop working)")
    for other in schema.tables:
        for col in other.columns:
            fk = col.foreign_key
            if other is not table and fk and fk.table.lower() == table.name.lower() \
                    and (fk.column or "").lower() == column.lower():
                raise UnsupportedError(f"Column {other.name}.{col.name} references {table.name}.{column}: "
                                       "drop that foreign key first")
    warnings = []
    kept = []
    for item in create.items:
        name = create.column_name(item)
        if not mentions(item, column):
            kept.append(item)
        elif name is not None:
            raise UnsupportedError(f"The definition of column {name!r} uses {column!r} (a generated column "
                                   "or CHECK): change it first")
        elif table.without_rowid and item.split(None, 1)[0].upper() == "PRIMARY":
            raise UnsupportedError(f"{column!r} is part of the primary key of a WITHOUT ROWID table")
        else:
            warnings.append(f"The table constraint {item!r} names {column!r} and is dropped with it")
    create.items = kept
    if not create.columns():
        raise UnsupportedError("A table needs at least one column: drop the table instead")
    dropped = {i.name for i in table_indexes(schema, table) if mentions(_index_body(i.sql), column)}
    warnings.extend(f"The index {name!r} uses {column!r} and is dropped with it" for name in sorted(dropped))
    copy = [(c.name, c.name) for c in table.columns if not c.hidden and c.name.lower() != column.lower()]
    return Rebuild(table, create, copy, dropped, None, warnings)


def restore(table: Table, sql: str, index_sql: list[str]) -> Rebuild:
    """Rebuild ``table`` back to a saved definition (undo): columns present in both are copied."""
    create = split_create_table(sql)
    now = {c.name.lower(): c.name for c in table.columns if not c.hidden}
    copy = [(n, now[n.lower()]) for n in create.columns() if n.lower() in now]
    return Rebuild(table, create, copy, index_sql=index_sql)


def needs_rebuild_to_drop(schema: Schema, table: Table, column: str) -> bool:
    """Whether native DROP COLUMN would refuse: the column is in a key, index, constraint or
    another column's definition (sqlite.org/lang_altertable.html#altertabdropcol)."""
    create = split_create_table(table.sql)
    own = create.items[create.index_of(column)]
    words = {t.upper() for t in own.replace("(", " ").split()}
    if words & {"PRIMARY", "UNIQUE", "REFERENCES", "CHECK", "GENERATED", "AS"}:
        return True
    if any(mentions(item, column) for item in create.items if item is not own):
        return True
    return any(mentions(_index_body(i.sql), column) for i in table_indexes(schema, table))
