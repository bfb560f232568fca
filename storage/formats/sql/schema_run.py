"""Running schema-change plans: SQLite scripts on their own connection, other dialects in a transaction.

An SQLite plan holds its own BEGIN/COMMIT because a rebuild must switch foreign keys off outside
the transaction; ``PRAGMA foreign_key_check`` runs before and after, and the change is rolled back
when it adds a violation (the rows are named). Any failure rolls back: the database is unchanged.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Dialect

from storage.core.errors import KnownError
from storage.formats.sql.ddl import Plan, quote
from storage.formats.sql.schema_plans import Context, Recipe
from storage.formats.sql.sqlite_db import connect_writer, explain, load_schema
from storage.formats.sql.sqlite_rebuild import FK_CHECK

SQLITE = sqlite_dialect.dialect()


def _violations(rows: set[tuple[Any, Any, Any]]) -> str:
    shown = sorted(rows, key=str)[:5]
    text = "; ".join(f"row {rowid} of {table!r} references a missing row of {parent!r}"
                     for table, rowid, parent in shown)
    more = f" (and {len(rows) - len(shown)} more)" if len(rows) > len(shown) else ""
    return f"The change was rolled back: it would break foreign keys: {text}{more}"


def run_sqlite_plan(conn: sqlite3.Connection, plan: Plan, path: str = "") -> None:
    """Run ``plan``'s statements on an autocommit connection; roll back on any failure."""
    foreign_keys = conn.execute("PRAGMA foreign_keys").fetchone()[0]
    baseline: set[tuple[Any, Any, Any]] | None = None
    try:
        for statement in plan.statements:
            if statement == FK_CHECK:
                rows = {(r[0], r[1], r[2]) for r in conn.execute(statement).fetchall()}
                if baseline is None:
                    baseline = rows
                elif rows - baseline:
                    raise KnownError(_violations(rows - baseline))
                continue
            conn.execute(statement)
            if statement.startswith("BEGIN") and plan.expect_sql is not None:
                row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                                   (plan.table,)).fetchone()
                if row is None or row[0] != plan.expect_sql:
                    raise KnownError(f"Table {plan.table!r} was changed by another program since this change "
                                     "was prepared; nothing was written. Refresh and try again.")
    except sqlite3.Error as exc:
        raise explain(exc, path, plan.table) from None
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.execute(f"PRAGMA foreign_keys = {int(foreign_keys)}")


def run_statements(conn: Any, plan: Plan) -> None:
    """Run a server plan's statements on ``conn`` inside the caller's transaction."""
    for statement in plan.statements:
        conn.execute(statement)


def sqlite_has_data(conn: Any, dialect: Dialect = SQLITE) -> Callable[[str, str | None, str | None], bool]:
    """A probe: does ``table`` have rows, or ``column`` a value that is not NULL (nor ``default``)?"""
    def probe(table: str, column: str | None, default: str | None) -> bool:
        where = ""
        if column is not None:
            col = quote(dialect, column)
            where = f" WHERE {col} IS NOT NULL" + (f" AND {col} <> ({default})" if default else "")
        sql = f"SELECT 1 FROM {quote(dialect, table)}{where} LIMIT 1"
        return conn.execute(sql).fetchone() is not None
    return probe


def sqlite_context(conn: sqlite3.Connection, path: str = "") -> Context:
    return Context(SQLITE, load_schema(conn, path), sqlite_has_data(conn))


def apply_sqlite(path: str, plan_or_recipe: Plan | Recipe) -> Plan:
    """Run a plan (or build one from the database as it is now, then run it); return the plan run."""
    conn = connect_writer(path)
    try:
        if isinstance(plan_or_recipe, Plan):
            plan = plan_or_recipe
        else:
            try:
                plan = plan_or_recipe(sqlite_context(conn, path))
            except sqlite3.Error as exc:
                raise explain(exc, path) from None
        run_sqlite_plan(conn, plan, path)
        return plan
    finally:
        conn.close()


def server_context(conn: Any, dialect: Dialect, schema: Any = None, db_schema: str = "public") -> Context:
    """A context on a DB-API connection of a server database (PostgreSQL through psycopg)."""
    from storage.formats.sql.ddl import table_name

    def probe(table: str, column: str | None, default: str | None) -> bool:
        where = ""
        if column is not None:
            col = quote(dialect, column)
            where = f" WHERE {col} IS NOT NULL"
            if default:
                where += f" AND {col} IS DISTINCT FROM ({default})"
        sql = f"SELECT 1 FROM {table_name(dialect, table, db_schema)}{where} LIMIT 1"
        return conn.execute(sql).fetchone() is not None

    def lookup(sql: str, params: tuple) -> list[tuple]:
        return list(conn.execute(sql, params).fetchall())

    ctx = Context(dialect, has_data=probe, db_schema=db_schema, lookup=lookup)
    if schema is not None:
        ctx.schema = schema
    return ctx


def apply_server(conn: Any, dialect: Dialect, plan_or_recipe: Plan | Recipe,
                 db_schema: str = "public") -> Plan:
    """Inside the caller's transaction (``Database.write``): build the plan if needed, run it."""
    plan = plan_or_recipe if isinstance(plan_or_recipe, Plan) else plan_or_recipe(
        server_context(conn, dialect, db_schema=db_schema))
    run_statements(conn, plan)
    return plan


def build_plan(db: Any, recipe: Recipe, db_schema: str | None = None) -> Plan:
    """Build a plan from ``db`` as it is now (its schema and data probes), on a reading connection."""
    reader = db.reader()
    try:
        if db.is_sqlite:
            return reader.run(lambda conn: recipe(sqlite_context(conn, db.path)))
        space = db_schema or "public"
        return reader.run(lambda conn: recipe(server_context(conn, db.dialect, db_schema=space)))
    finally:
        reader.close()


def apply_plan(db: Any, plan_or_recipe: Plan | Recipe, db_schema: str | None = None) -> Plan:
    """Run a plan on a :class:`storage.formats.sql.db.Database`: an SQLite script on its own connection
    (foreign keys are switched outside the transaction), else one ``Database.write`` transaction."""
    if db.is_sqlite:
        return apply_sqlite(db.path, plan_or_recipe)
    return db.write(lambda conn: apply_server(conn, db.dialect, plan_or_recipe, db_schema or "public"))
