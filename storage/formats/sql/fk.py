"""Foreign keys of a table, and the rows a foreign-key cell may point at, read lazily.

Choices are never the whole referenced table: one page of it ordered by its key, or the first
rows whose key or display column match what was typed (``LIKE`` in SQL), so a referenced table
of millions of rows costs one short indexed query. Functions take a DB-API connection (sqlite3,
or psycopg 3 through :class:`storage.formats.sql.db.Database`) and the backend's ``kind``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from storage.formats.sql.filters import escape_like
from storage.formats.sql.schema_types import Schema, Table
from storage.formats.sql.sqlite_db import quote_ident

if TYPE_CHECKING:  # SQLAlchemy is imported by the functions that build statements (issue 16)
    from sqlalchemy import BindParameter

CHOICES = 100  # rows offered at once; typing narrows them in SQL


@dataclass(frozen=True)
class ForeignKeyInfo:
    """One foreign key constraint: ``columns`` of a table reference ``ref_columns`` of ``ref_table``."""

    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]
    ref_schema: str | None = None

    @property
    def composite(self) -> bool:
        return len(self.columns) > 1

    def describe(self) -> str:
        return (f"({', '.join(self.columns)}) → {self.ref_table}({', '.join(self.ref_columns)})"
                if self.composite else f"→ {self.ref_table}.{self.ref_columns[0]}")


Choice = tuple  # (key, display value): rows as the driver returns them, no object per row


def choice_label(key: Any, display: Any) -> str:
    """"key — display value", as the editor lists a choice."""
    text = "NULL" if key is None else str(key)
    return text if display is None else f"{text} — {display}"


def dialect_for(kind: str, dialect: Any = None) -> Any:
    """The SQLAlchemy dialect to compile with: the given one, else one for ``kind``."""
    if dialect is not None:
        return dialect
    if kind == "sqlite":
        from storage.formats.sql.query import _DIALECT

        return _DIALECT
    from sqlalchemy.dialects import postgresql

    return postgresql.psycopg.dialect()


def _compiled(statement: Any, kind: str, dialect: Any = None) -> tuple[str, dict[str, Any]]:
    done = statement.compile(dialect=dialect_for(kind, dialect))
    return str(done), dict(done.params)


def _placeholder(kind: str, name: str) -> str:
    return f":{name}" if kind == "sqlite" else f"%({name})s"


def foreign_keys(conn: Any, kind: str, table_name: str, schema: str | None = None) -> list[ForeignKeyInfo]:
    """The foreign keys of one table, composite ones with all their columns in order."""
    groups: dict[Any, list[tuple]] = {}
    if kind == "sqlite":
        for row in conn.execute(f"PRAGMA foreign_key_list({quote_ident(table_name)})").fetchall():
            fk_id, _seq, ref, src, dst = row[:5]
            groups.setdefault(fk_id, []).append((src, ref, dst, None))
        result = []
        for rows in groups.values():
            ref = rows[0][1]
            if any(r[2] is None for r in rows):  # REFERENCES parent: the parent's primary key
                pk = _sqlite_primary_key(conn, ref)
                rows = [(r[0], ref, pk[i] if i < len(pk) else None, None) for i, r in enumerate(rows)]
            result.append(ForeignKeyInfo(tuple(r[0] for r in rows), ref,
                                         tuple(r[2] or "rowid" for r in rows)))
        return result
    sql = f"""
        SELECT con.conname, att.attname, ref.relname, refatt.attname, refns.nspname
        FROM pg_constraint con
        JOIN pg_class cls ON cls.oid = con.conrelid
        JOIN pg_namespace ns ON ns.oid = cls.relnamespace
        JOIN pg_class ref ON ref.oid = con.confrelid
        JOIN pg_namespace refns ON refns.oid = ref.relnamespace
        CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(col, refcol, ord)
        JOIN pg_attribute att ON att.attrelid = con.conrelid AND att.attnum = k.col
        JOIN pg_attribute refatt ON refatt.attrelid = con.confrelid AND refatt.attnum = k.refcol
        WHERE con.contype = 'f' AND cls.relname = {_placeholder(kind, 't')}
          AND ns.nspname = {_placeholder(kind, 's')}
        ORDER BY con.conname, k.ord"""
    rows = conn.execute(sql, {"t": table_name, "s": schema or "public"}).fetchall()
    for name, src, ref, dst, ref_schema in rows:
        groups.setdefault(name, []).append((src, ref, dst, ref_schema))
    return [ForeignKeyInfo(tuple(r[0] for r in rows), rows[0][1], tuple(r[2] for r in rows), rows[0][3])
            for rows in groups.values()]


def _sqlite_primary_key(conn: Any, table_name: str) -> list[str]:
    rows = conn.execute(f"PRAGMA table_info({quote_ident(table_name)})").fetchall()
    return [r[1] for r in sorted((r for r in rows if r[5]), key=lambda r: r[5])]


def display_column(target: Table | None, key: str) -> str | None:
    """The column shown next to a key: the first text-like column that is not the key."""
    if target is None:
        return None
    for col in target.columns:
        decl = (col.decl_type or "").upper()
        if col.name != key and any(word in decl for word in ("CHAR", "TEXT", "CLOB", "NAME")):
            return col.name
    return None


def choices(conn: Any, kind: str, ref_table: str, key: str, display: str | None, search: str = "",
            limit: int = CHOICES, schema: str | None = None, dialect: Any = None) -> list[Choice]:
    """Up to ``limit`` rows of the referenced table ordered by key, matching ``search`` if given.

    The search is a case-insensitive ``LIKE '%text%'`` on the key (as text) and on the display
    column; rows come in key order (the key's index) and ``LIMIT`` stops at the first matches,
    so the table is never read whole for the first page.
    """
    sql, params = choices_statement(kind, ref_table, key, display, search, limit, schema, dialect)
    return conn.execute(sql, params).fetchall()


def choices_statement(kind: str, ref_table: str, key: str, display: str | None, search: str = "",
                      limit: int = CHOICES, schema: str | None = None,
                      dialect: Any = None) -> tuple[str, dict[str, Any]]:
    """The SQL of :func:`choices` and its parameters (the SQL is compiled once per shape)."""
    text = search.strip()
    sql, params = _choices_sql(kind, ref_table, key, display, bool(text), int(limit), schema,
                               dialect_for(kind, dialect))
    params = dict(params)  # the cached statement's own dict stays untouched
    if text:
        params["pattern"] = f"%{escape_like(text)}%"
    return sql, params


@lru_cache(maxsize=64)
def _choices_sql(kind: str, ref_table: str, key: str, display: str | None, searching: bool, limit: int,
                 schema: str | None, dialect: Any) -> tuple[str, dict[str, Any]]:
    from sqlalchemy import String, bindparam, cast, column, literal_column, or_, select, table

    tbl = table(ref_table, column(key), *([column(display)] if display else []), schema=schema)
    key_col = tbl.c[key]
    shown = tbl.c[display] if display else literal_column("NULL")
    stmt = select(key_col, shown).order_by(key_col).limit(limit)
    if searching:
        pattern: BindParameter[str] = bindparam("pattern", "")
        targets = [cast(key_col, String)] + ([cast(tbl.c[display], String)] if display else [])
        # SQLite's LIKE ignores ASCII case already; ILIKE elsewhere (lower() would cost a call per row).
        tests = [t.like(pattern, escape="\\") if kind == "sqlite" else t.ilike(pattern, escape="\\")
                 for t in targets]
        stmt = stmt.where(or_(*tests))
    sql, params = _compiled(stmt, kind, dialect)
    return sql, params


def key_exists(conn: Any, kind: str, ref_table: str, key: str, value: Any, schema: str | None = None,
               dialect: Any = None) -> bool:
    """Whether the referenced table has a row with ``key = value`` (NULL always passes)."""
    if value is None:
        return True
    from sqlalchemy import column, exists, select, table

    tbl = table(ref_table, column(key), schema=schema)
    sql, params = _compiled(select(exists().where(tbl.c[key] == value)), kind, dialect)
    return bool(conn.execute(sql, params).fetchone()[0])


def existing_keys(conn: Any, kind: str, ref_table: str, key: str, values: list[Any],
                  schema: str | None = None, dialect: Any = None) -> set[Any]:
    """Which of ``values`` name a row of the referenced table (one indexed ``IN`` query)."""
    wanted = [v for v in dict.fromkeys(values)
              if isinstance(v, int | float | str) and not isinstance(v, bool)]
    if not wanted:
        return set()
    from sqlalchemy import bindparam, column, select, table

    tbl = table(ref_table, column(key), schema=schema)
    stmt = select(tbl.c[key]).where(tbl.c[key].in_([bindparam(f"v{i}", v) for i, v in enumerate(wanted)]))
    sql, params = _compiled(stmt, kind, dialect)
    found = {row[0] for row in conn.execute(sql, params).fetchall()}
    # SQLite compares '3' and 3 as equal in an INTEGER key column; keep the value as asked.
    return {v for v in wanted if v in found or str(v) in {str(f) for f in found}}


def referencing(schema: Schema, table_name: str,
                table_schema: str | None = None) -> list[tuple[str, str, str | None]]:
    """Columns that reference ``table_name``: (qualified table, column, referenced column or None).

    A foreign key names its table without a schema, so on a server the referencing table's own
    schema is taken to be the target's (the usual case).
    """
    return [(t.qualified, c.name, c.foreign_key.column) for t in schema.tables for c in t.columns
            if c.foreign_key is not None and c.foreign_key.table == table_name and t.schema == table_schema]
