"""A PostgreSQL database's schema from pg_catalog, in a handful of bulk queries (no Qt).

Five queries whatever the number of tables (relations, columns, keys, foreign keys, indexes and
triggers), so a schema of thousands of tables opens as fast as a small one. A table that the user
may not read is listed all the same; reading its rows then fails with a message naming it.
"""

from __future__ import annotations

from typing import Any

from storage.formats.sql.schema_types import Column, ForeignKey, Schema, SchemaObject, Table

_SYSTEM = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' " \
          "AND n.nspname NOT LIKE 'pg_temp%'"

_RELATIONS = f"""
SELECT c.oid, n.nspname, c.relname, c.relkind,
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) ELSE '' END
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {_SYSTEM}
ORDER BY n.nspname, c.relname"""

_COLUMNS = f"""
SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid)
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {_SYSTEM}
ORDER BY a.attrelid, a.attnum"""

# Unique indexes usable as row keys: the primary key first, then unique ones on plain columns.
_KEYS = f"""
SELECT i.indrelid, i.indisprimary, ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(num, pos)
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.num ORDER BY k.pos),
       bool_and(a2.attnotnull), i.indexprs IS NULL AND i.indpred IS NULL
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a2 ON a2.attrelid = i.indrelid AND a2.attnum = ANY(i.indkey)
WHERE i.indisunique AND i.indisvalid AND {_SYSTEM}
GROUP BY i.indexrelid, i.indrelid, i.indisprimary, i.indkey, i.indexprs, i.indpred
ORDER BY i.indrelid, i.indisprimary DESC, array_length(i.indkey, 1)"""

_FOREIGN = f"""
SELECT con.conrelid, a.attname, fn.nspname, fc.relname, fa.attname
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class fc ON fc.oid = con.confrelid JOIN pg_namespace fn ON fn.oid = fc.relnamespace
JOIN LATERAL unnest(con.conkey, con.confkey) AS k(col, fcol) ON true
JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.col
JOIN pg_attribute fa ON fa.attrelid = con.confrelid AND fa.attnum = k.fcol
WHERE con.contype = 'f' AND {_SYSTEM}"""

_INDEXES = f"""
SELECT n.nspname, ic.relname, c.relname, pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {_SYSTEM} ORDER BY n.nspname, ic.relname"""

_TRIGGERS = f"""
SELECT n.nspname, t.tgname, c.relname, pg_get_triggerdef(t.oid)
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT t.tgisinternal AND {_SYSTEM} ORDER BY n.nspname, t.tgname"""

# Sequences as a CREATE SEQUENCE that makes the same one (PostgreSQL has no pg_get_sequencedef).
_SEQUENCES = f"""
SELECT n.nspname, c.relname,
       format('CREATE SEQUENCE %I.%I AS %s INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s CACHE %s%s;',
              n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqincrement, s.seqmin, s.seqmax,
              s.seqstart, s.seqcache, CASE WHEN s.seqcycle THEN ' CYCLE' ELSE '' END)
FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {_SYSTEM} ORDER BY n.nspname, c.relname"""

# Functions and procedures (not aggregates: pg_get_functiondef refuses them), with their arguments.
_FUNCTIONS = f"""
SELECT n.nspname, p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
       CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END, pg_get_functiondef(p.oid)
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.prokind IN ('f', 'p') AND {_SYSTEM}
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
ORDER BY n.nspname, p.proname"""

_SCHEMAS = f"SELECT n.nspname FROM pg_namespace n WHERE {_SYSTEM} ORDER BY n.nspname"

_KINDS = {"r": "table", "p": "table", "f": "table", "v": "view", "m": "materialized view"}


def load_pg_schema(conn: Any) -> Schema:
    """Tables (with row keys), views, materialized views, indexes, triggers, sequences and
    functions of every schema."""
    schema = Schema()
    schema.schemas = [str(r[0]) for r in conn.execute(_SCHEMAS).fetchall()]
    by_oid: dict[int, Table] = {}
    relkinds: dict[int, str] = {}
    for oid, space, name, kind, sql in conn.execute(_RELATIONS).fetchall():
        table = Table(str(name), _KINDS[kind], sql=str(sql or ""), schema=str(space))
        relkinds[id(table)] = kind
        if kind == "f":
            table.key_note = "a foreign table: read-only"
        by_oid[oid] = table
        target = {"table": schema.tables, "view": schema.views}.get(table.kind, schema.materialized)
        target.append(table)
    for oid, name, decl, notnull, default in conn.execute(_COLUMNS).fetchall():
        owner = by_oid.get(oid)
        if owner is not None:
            owner.columns.append(Column(str(name), str(decl), 0, bool(notnull),
                                        None if default is None else str(default)))
    for oid, primary, names, notnull, plain in conn.execute(_KEYS).fetchall():
        owner = by_oid.get(oid)
        if owner is None or owner.key is not None or not plain or not (primary or notnull):
            continue
        owner.key = [str(n) for n in names]
        if primary:
            positions = {n: i + 1 for i, n in enumerate(owner.key)}
            for column in owner.columns:
                column.pk = positions.get(column.name, 0)
    for oid, name, space, target, target_col in conn.execute(_FOREIGN).fetchall():
        owner = by_oid.get(oid)
        col = next((c for c in owner.columns if c.name == name), None) if owner else None
        if col is not None and col.foreign_key is None:
            other = target if space == "public" else f"{space}.{target}"
            col.foreign_key = ForeignKey(str(other), str(target_col))
    for table in schema.tables + schema.materialized:
        plain = relkinds[id(table)] in ("r", "m")  # a partitioned or foreign table has no usable ctid
        if table.kind == "table" and table.key:
            continue
        table.key = table.key if table.kind == "table" else None
        if table.kind == "table":
            table.key = []
        if plain:
            table.page_key = ["ctid"]
        if table.kind == "table":
            how = ("paged by the physical row address (ctid)" if plain else "paged by OFFSET")
            table.key_note = table.key_note or (f"no primary key or unique NOT NULL key: rows are {how} "
                                                "and cannot be edited")
    for space, name, table_name, sql in conn.execute(_INDEXES).fetchall():
        schema.indexes.append(SchemaObject(str(name), "index", str(table_name), str(sql), str(space)))
    for space, name, table_name, sql in conn.execute(_TRIGGERS).fetchall():
        schema.triggers.append(SchemaObject(str(name), "trigger", str(table_name), str(sql), str(space)))
    for space, name, sql in conn.execute(_SEQUENCES).fetchall():
        schema.routines.append(SchemaObject(str(name), "sequence", "", str(sql), str(space)))
    for space, name, kind, sql in conn.execute(_FUNCTIONS).fetchall():
        schema.routines.append(SchemaObject(str(name), str(kind), "", str(sql), str(space)))
    return schema
