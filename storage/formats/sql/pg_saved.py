"""A PostgreSQL table's full definition as statements, read from the catalog before it is dropped.

Undo of Drop Table on an empty table replays them: the columns (types, defaults, NOT NULL,
identity), owned serial sequences with their position, every constraint (pg_get_constraintdef),
the other indexes (pg_get_indexdef) and the triggers (pg_get_triggerdef). Grants and comments
are not kept; the plan says so.
"""

from __future__ import annotations

from storage.formats.sql.ddl import quote, table_name
from storage.formats.sql.schema_plans import Context


def saved_table(ctx: Context, name: str) -> tuple[list[str], str]:
    """(statements that recreate table ``name``, or [] and why they cannot)."""
    space = ctx.db_schema or "public"
    reg = f"{quote(ctx.dialect, space)}.{quote(ctx.dialect, name)}"
    full = table_name(ctx.dialect, name, space)
    kind = ctx.lookup("SELECT c.relkind, EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = c.oid "
                      "OR inhparent = c.oid) FROM pg_class c WHERE c.oid = to_regclass(%s)", (reg,))
    if not kind:
        return [], f"the definition of {name!r} could not be read"
    if kind[0][0] != "r" or kind[0][1]:
        return [], f"{name!r} is partitioned or inherits: its definition is not kept"
    columns = ctx.lookup(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
        "pg_get_expr(d.adbin, d.adrelid), a.attidentity, pg_get_serial_sequence(%s, a.attname) "
        "FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        (reg, reg))
    before: list[str] = []
    after: list[str] = []
    parts = []
    for col, decl, notnull, default, identity, sequence in columns:
        text = f"{quote(ctx.dialect, col)} {decl}"
        if identity in ("a", "d"):
            text += f" GENERATED {'ALWAYS' if identity == 'a' else 'BY DEFAULT'} AS IDENTITY"
        elif default is not None:
            text += f" DEFAULT {default}"
            if sequence:
                state = ctx.lookup(f"SELECT last_value, is_called FROM {sequence}", ())
                before.append(f"CREATE SEQUENCE {sequence}")
                after.append(f"ALTER SEQUENCE {sequence} OWNED BY {full}.{quote(ctx.dialect, col)}")
                if state:
                    after.append(f"SELECT setval('{sequence.replace(chr(39), chr(39) * 2)}', "
                                 f"{int(state[0][0])}, {'true' if state[0][1] else 'false'})")
        if notnull:
            text += " NOT NULL"
        parts.append(text)
    statements = [*before, f"CREATE TABLE {full} (\n  " + ",\n  ".join(parts) + "\n)", *after]
    for con, definition in ctx.lookup(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = to_regclass(%s) "
            "ORDER BY contype = 'f', conname", (reg,)):
        statements.append(f"ALTER TABLE {full} ADD CONSTRAINT {quote(ctx.dialect, con)} {definition}")
    statements += [r[0] for r in ctx.lookup(
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid = to_regclass(%s) AND NOT "
        "EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid) "
        "ORDER BY i.indexrelid", (reg,))]
    statements += [r[0] for r in ctx.lookup(
        "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = to_regclass(%s) AND NOT tgisinternal "
        "ORDER BY tgname", (reg,))]
    return statements, ""
