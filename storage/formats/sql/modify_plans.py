"""Modify Table: one plan for a whole edit of a table's columns (rename, add, drop, reorder, retype).

SQLite: native ``ALTER TABLE`` statements when the edit is only renames and adds ALTER can make;
otherwise the renames run natively first (so SQLite rewrites views, triggers and indexes itself)
and one rebuild of :mod:`storage.formats.sql.sqlite_rebuild` makes the rest, in the same transaction.
PostgreSQL: ALTER TABLE statements in one transaction (it cannot reorder columns: refused).
Undo is the inverse edit, refused when it would drop data added since.
"""

from __future__ import annotations

from dataclasses import replace

from storage.core.errors import KnownError, UnsupportedError
from storage.formats.sql import sqlite_rebuild as rebuild
from storage.formats.sql.ddl import ColumnSpec, Plan, _check_names, alter, column_sql, quote, table_name
from storage.formats.sql.schema_plans import Context, _native_add
from storage.formats.sql.sqlite_sqltext import CreateTable, mentions, split_create_table, tokens
from storage.formats.sql.table_edit import ColumnEdit, TableEdit, current_edit, simulate


def _body(spec: ColumnSpec) -> ColumnSpec:
    return replace(spec, name="", type=spec.type.strip(), default=spec.default or None,
                   check=spec.check or None)


def _has_word(item: str, word: str) -> bool:
    return any(t.kind == "word" and t.text.upper() == word for t in tokens(item))


class Diff:
    """What an edit changes, by the columns' current names."""

    def __init__(self, before: TableEdit, after: TableEdit) -> None:
        if not after.name.strip():
            raise UnsupportedError("The table needs a name")
        if not after.columns:
            raise UnsupportedError("A table needs at least one column: drop the table instead")
        _check_names([c.spec.name for c in after.columns], "column")
        self.spec = {c.spec.name: c.spec for c in before.columns}
        olds = [c.old for c in after.columns if c.old is not None]
        if len(set(olds)) != len(olds) or any(o not in self.spec for o in olds):
            raise KnownError("The table changed since the dialog was opened; reopen it")
        self.kept = [c for c in after.columns if c.old is not None]
        self.added = [c for c in after.columns if c.old is None]
        self.dropped = [n for n in self.spec if n not in set(olds)]
        self.renames = [(c.old, c.spec.name) for c in self.kept if c.old != c.spec.name]
        self.changed = [c for c in self.kept if _body(c.spec) != _body(self.spec[c.old or ""])]
        self.reordered = olds != [n for n in self.spec if n in set(olds)]
        self.rename_table = after.name != before.name
        self.old_name = before.name
        new_name = {c.old: c.spec.name for c in self.kept}
        self.pk_before = {new_name.get(n, n).lower() for n, s in self.spec.items() if s.primary_key}
        self.pk_after = [c.spec.name for c in after.columns if c.spec.primary_key]
        self.pk_changed = self.pk_before != {n.lower() for n in self.pk_after}
        taken = {n.lower(): n for n in self.spec}
        for old, new in self.renames:
            if new.lower() in taken and taken[new.lower()].lower() != (old or "").lower():
                raise UnsupportedError(f"{new!r} is the name of another column now: "
                                       "rename or drop in two steps")
        if not (self.added or self.dropped or self.renames or self.changed or self.reordered
                or self.rename_table):
            raise UnsupportedError("Nothing to change yet")


def modify_table(ctx: Context, before: TableEdit, after: TableEdit) -> Plan:
    """The plan that turns the table ``before`` into ``after``, with its undo recipe."""
    diff = Diff(before, after)
    plan = (_sqlite if ctx.sqlite else _server)(ctx, before, after, diff)
    lost = [d for d in diff.dropped if ctx.has_data(before.name, d, None)]
    if lost:
        return plan.with_undo(None, f"column {lost[0]!r} holds data; dropping it deletes the data")
    return plan.with_undo(_undo_recipe(ctx, before, after, diff))


def _renames(ctx: Context, name: str, renames: list[tuple[str, str]], new_name: str | None) -> list[str]:
    out = [alter(ctx.dialect, name, ctx.db_schema, f"RENAME COLUMN {quote(ctx.dialect, old)} TO "
                 f"{quote(ctx.dialect, new)}") for old, new in renames]
    if new_name is not None and new_name != name:
        out.append(alter(ctx.dialect, name, ctx.db_schema, f"RENAME TO {quote(ctx.dialect, new_name)}"))
    return out


def _sqlite(ctx: Context, before: TableEdit, after: TableEdit, diff: Diff) -> Plan:
    title = f"modify table {before.name}"
    renames = _renames(ctx, before.name, diff.renames, after.name)  # type: ignore[arg-type]
    at_end = after.columns[len(diff.kept):] == diff.added
    if not (diff.dropped or diff.changed or diff.reordered) and at_end and all(_native_add(c.spec)
                                                                                 for c in diff.added):
        adds = [alter(ctx.dialect, after.name, None,
                      f"ADD COLUMN {column_sql(c.spec, ctx.dialect, after.name)}") for c in diff.added]
        return ctx.plan(title, renames + adds, before.name)
    table = ctx.table(before.name)
    schema = simulate(ctx.schema, renames) if renames else ctx.schema
    renamed = next(t for t in schema.tables if t.name == after.name)
    change = _rebuild(ctx, schema, renamed, after, diff)
    statements = rebuild.statements(ctx.dialect, schema, change)
    statements[3:3] = renames  # after foreign_keys OFF, BEGIN and the first foreign_key_check
    plan = Plan(title, "sqlite", statements, warnings=list(change.warnings), table=before.name,
                expect_sql=table.sql, check_foreign_keys=True)
    plan.warnings.insert(0, "ALTER TABLE cannot make this change: the table is rebuilt "
                            "(SQLite's 12-step procedure), keeping rows, rowids, indexes, triggers and views")
    return plan


def _rebuild(ctx: Context, schema, table, after: TableEdit, diff: Diff) -> rebuild.Rebuild:
    """The new CREATE TABLE: unchanged columns keep their text; edited ones are written from the grid."""
    create = split_create_table(table.sql)
    items = {(create.column_name(i) or "").lower(): i for i in create.items if create.column_name(i)}
    warnings: list[str] = []
    drop_indexes: set[str] = set()
    for name in diff.dropped:
        check = rebuild.drop_column(schema, table, name)  # refuses what views, triggers, keys need
        drop_indexes |= check.drop_indexes
        warnings.extend(w for w in check.warnings if w.startswith("The index"))
    changed = {id(c) for c in diff.changed}
    new_items = []
    for col in after.columns:
        original = items.get(col.spec.name.lower()) if col.old is not None else None
        inline_pk = original is not None and _has_word(original, "PRIMARY")
        only_key = col.old is not None and _body(replace(col.spec, primary_key=False)) == _body(
            replace(diff.spec[col.old], primary_key=False))  # a table-level PRIMARY KEY carries it
        keep = id(col) not in changed or only_key
        if original is not None and keep and not (diff.pk_changed and inline_pk):
            new_items.append(original)
            continue
        spec = replace(col.spec, primary_key=False)
        if spec.references and spec.references[0].lower() == diff.old_name.lower():  # refers to itself
            spec.references = (after.name, spec.references[1])
        text = column_sql(spec, ctx.dialect, after.name)
        if col.spec.primary_key and inline_pk and not diff.pk_changed:
            text += " PRIMARY KEY" + (" AUTOINCREMENT" if original and _has_word(original, "AUTOINCREMENT")
                                      else "")
        lost = [w for w in ("COLLATE", "GENERATED", "CONSTRAINT") if original and _has_word(original, w)]
        if lost:
            warnings.append(f"Column {col.spec.name!r} is rewritten from the grid: its {', '.join(lost)} "
                            "clause is not kept")
        new_items.append(text)
    for item in create.items:
        if create.column_name(item) is not None:
            continue
        primary = item.split(None, 1)[0].upper() == "PRIMARY"
        if diff.pk_changed and primary:
            continue
        gone = [d for d in diff.dropped if mentions(item, d)]
        if gone and table.without_rowid and primary:
            raise UnsupportedError(f"{gone[0]!r} is part of the primary key of a WITHOUT ROWID table")
        if gone:
            warnings.append(f"The table constraint {item!r} names {gone[0]!r} and is dropped with it")
            continue
        new_items.append(item)
    if diff.pk_changed and diff.pk_after:  # PRIMARY KEY (id) on an INTEGER column is still the rowid
        new_items.append(f"PRIMARY KEY ({', '.join(quote(ctx.dialect, n) for n in diff.pk_after)})")
    if table.without_rowid and not diff.pk_after:
        raise UnsupportedError("A WITHOUT ROWID table needs a primary key")
    hidden = {c.name.lower() for c in table.columns if c.hidden}
    copy = [(c.spec.name, c.spec.name) for c in diff.kept if c.spec.name.lower() not in hidden]
    return rebuild.Rebuild(table, CreateTable(create.head, new_items, create.tail), copy, drop_indexes,
                           None, warnings)


def _server(ctx: Context, before: TableEdit, after: TableEdit, diff: Diff) -> Plan:
    if diff.reordered:
        raise UnsupportedError(f"{ctx.dialect.name} cannot reorder columns: keep their order "
                               "(new columns are added at the end)")
    q = lambda n: quote(ctx.dialect, n)  # noqa: E731
    out: list[str] = []

    def add(clause: str) -> None:
        out.append(alter(ctx.dialect, before.name, ctx.db_schema, clause))

    def drop_constraint(column: str, kind: str) -> None:
        name = before.names.get((column, kind))
        if name:
            add(f"DROP CONSTRAINT {q(name)}")

    pairs = [(c, diff.spec[c.old or ""]) for c in diff.changed]
    for col, old in pairs:
        if old.unique and not col.spec.unique:
            drop_constraint(old.name, "unique")
        if old.check and old.check != col.spec.check:
            drop_constraint(old.name, "check")
        if old.references and (old.references, old.on_delete, old.on_update) != (
                col.spec.references, col.spec.on_delete, col.spec.on_update):
            drop_constraint(old.name, "fk")
    if diff.pk_changed and ("", "pk") in before.names:
        add(f"DROP CONSTRAINT {q(before.names[('', 'pk')])}")
    for name in diff.dropped:
        add(f"DROP COLUMN {q(name)}")
    out.extend(_renames(ctx, before.name, diff.renames, None))  # type: ignore[arg-type]
    for col, old in pairs:
        new, spec = q(col.spec.name), col.spec
        retyped = spec.type.strip() != old.type.strip()
        if retyped:
            if not spec.type.strip():
                raise UnsupportedError(f"{ctx.dialect.name} needs a type for column {spec.name!r}")
            if old.default:  # the old default may not cast to the new type: set it again after
                add(f"ALTER COLUMN {new} DROP DEFAULT")
            add(f"ALTER COLUMN {new} TYPE {spec.type} USING {new}::{spec.type}")
        if (retyped and old.default and spec.default) or (spec.default or None) != (old.default or None):
            add(f"ALTER COLUMN {new} SET DEFAULT {spec.default}" if spec.default
                else f"ALTER COLUMN {new} DROP DEFAULT")
        if spec.not_null != old.not_null and not (spec.primary_key and not spec.not_null):
            add(f"ALTER COLUMN {new} {'SET' if spec.not_null else 'DROP'} NOT NULL")
    for col in diff.added:
        spec = replace(col.spec, primary_key=False)
        add(f"ADD COLUMN {column_sql(spec, ctx.dialect, before.name, ctx.db_schema)}")
    for col, old in pairs:
        new, spec = q(col.spec.name), col.spec
        if spec.unique and not old.unique:
            add(f"ADD UNIQUE ({new})")
        if spec.check and spec.check != old.check:
            add(f"ADD CHECK ({spec.check})")
        if spec.references and (old.references, old.on_delete, old.on_update) != (
                spec.references, spec.on_delete, spec.on_update):
            target, column = spec.references
            clause = (f"ADD FOREIGN KEY ({new}) REFERENCES {table_name(ctx.dialect, target, ctx.db_schema)} "
                      f"({q(column)})")
            clause += f" ON DELETE {spec.on_delete}" if spec.on_delete else ""
            clause += f" ON UPDATE {spec.on_update}" if spec.on_update else ""
            add(clause)
    if diff.pk_changed and diff.pk_after:
        add(f"ADD PRIMARY KEY ({', '.join(q(n) for n in diff.pk_after)})")
    if diff.rename_table:
        add(f"RENAME TO {q(after.name)}")
    plan = ctx.plan(f"modify table {before.name}", out, before.name)
    if after.columns[len(after.columns) - len(diff.added):] != diff.added:
        plan.warnings.append(f"{ctx.dialect.name} adds new columns at the end of the table")
    return plan


def _undo_recipe(ctx: Context, before: TableEdit, after: TableEdit, diff: Diff):
    """Undo: the edit back (added columns dropped, refused if they now hold data; dropped ones
    re-added empty). SQLite restores the saved CREATE TABLE and indexes by a rebuild."""
    added = [(c.spec.name, c.spec.default) for c in diff.added]
    title = f"undo modify table {before.name}"
    if ctx.sqlite:
        table = ctx.table(before.name)
        saved_sql = table.sql
        saved_indexes = [i.sql for i in rebuild.table_indexes(ctx.schema, table)]

    def undo(c: Context) -> Plan:
        for name, default in added:
            if c.has_data(after.name, name, default or None):
                raise KnownError(f"Cannot undo: column {name!r} of {after.name!r} now holds data")
        back = [(new, old) for old, new in diff.renames]
        if not c.sqlite:
            inverse = [ColumnEdit(b.spec, next((a.spec.name for a in after.columns if a.old == b.old), None))
                       for b in before.columns]
            plan = modify_table(c, current_edit(c, after.name), TableEdit(before.name, inverse))
            plan.title = title
            return plan
        renames = _renames(c, after.name, back, before.name)  # type: ignore[arg-type]
        if not (diff.added or diff.dropped or diff.changed or diff.reordered):
            return c.plan(title, renames, after.name)
        schema = simulate(c.schema, renames) if renames else c.schema
        current = next(t for t in schema.tables if t.name == before.name)
        change = rebuild.restore(current, saved_sql, saved_indexes)
        statements = rebuild.statements(c.dialect, schema, change)
        statements[3:3] = renames
        return Plan(title, "sqlite", statements, warnings=list(change.warnings), table=after.name,
                    expect_sql=c.table(after.name).sql, check_foreign_keys=True)
    return undo


def modify_recipe(table: str, after: TableEdit):
    """Redo: the same edit, planned again from the database as it is then."""
    return lambda c: modify_table(c, current_edit(c, table), after)
