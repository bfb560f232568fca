"""One small driver per backend for the schema-editing tests: run SQL, build plans, apply them."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from storage.formats.sql.ddl import Plan
from storage.formats.sql.schema_run import SQLITE, apply_server, apply_sqlite, server_context, sqlite_context


class SqliteBackend:
    kind = "sqlite"
    dialect = SQLITE

    def __init__(self, tmp_path: Path) -> None:
        self.path = str(tmp_path / "s.db")
        sqlite3.connect(self.path).close()

    def sql(self, statement: str, params: tuple = ()) -> list[tuple]:
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            return conn.execute(statement.replace("%s", "?"), params).fetchall()
        finally:
            conn.close()

    def script(self, statements: str) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None)
        conn.executescript(statements)
        conn.close()

    def plan(self, build) -> Plan:
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            return build(sqlite_context(conn, self.path))
        finally:
            conn.close()

    def apply(self, plan_or_recipe) -> Plan:
        return apply_sqlite(self.path, plan_or_recipe)

    def tables(self) -> list[str]:
        return [r[0] for r in self.sql("SELECT name FROM sqlite_master WHERE type = 'table' "
                                       "AND name NOT LIKE 'sqlite_%' ORDER BY name")]

    def columns(self, table: str) -> list[str]:
        return [r[0] for r in self.sql("SELECT name FROM pragma_table_info(?)", (table,))]

    def indexes(self, table: str) -> list[str]:
        return [r[0] for r in self.sql("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                                       "AND sql IS NOT NULL ORDER BY name", (table,))]

    def close(self) -> None:
        pass


class PostgresBackend:
    kind = "postgresql"

    def __init__(self, url: str) -> None:
        import psycopg
        from sqlalchemy.dialects import postgresql

        self.dialect = postgresql.dialect()
        self.conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)

    def sql(self, statement: str, params: tuple = ()) -> list[tuple]:
        cur = self.conn.execute(statement.replace("?", "%s"), params)
        return cur.fetchall() if cur.description else []

    def script(self, statements: str) -> None:
        for statement in statements.split(";"):
            if statement.strip():
                self.conn.execute(statement)

    def plan(self, build) -> Plan:
        return build(server_context(self.conn, self.dialect))

    def apply(self, plan_or_recipe) -> Plan:
        with self.conn.transaction():
            return apply_server(self.conn, self.dialect, plan_or_recipe)

    def tables(self) -> list[str]:
        return [r[0] for r in self.sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                                       "ORDER BY tablename")]

    def columns(self, table: str) -> list[str]:
        return [r[0] for r in self.sql(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
            "AND table_name = %s ORDER BY ordinal_position", (table,))]

    def indexes(self, table: str) -> list[str]:
        return [r[0] for r in self.sql(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename = %s AND "
            "indexname NOT LIKE '%%pkey' AND indexname NOT LIKE '%%key' ORDER BY indexname", (table,))]

    def close(self) -> None:
        self.conn.close()


def make_backend(kind: str, tmp_path: Path, request: Any) -> SqliteBackend | PostgresBackend:
    if kind == "sqlite":
        return SqliteBackend(tmp_path)
    return PostgresBackend(request.getfixturevalue("pg_url"))
