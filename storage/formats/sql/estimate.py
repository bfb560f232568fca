"""PostgreSQL's own row estimates, for when counting exactly would be too slow.

``count(*)`` on PostgreSQL reads the whole table; on a big table it can run past the statement
timeout. The server keeps an estimate in ``pg_class.reltuples`` (updated by VACUUM, ANALYZE and
autovacuum), and the planner estimates the rows of any query; the grid and the schema tree show
those, labelled as estimates, instead of no count at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # a server's: SQLAlchemy is imported where one is asked
    from sqlalchemy.engine import Dialect

SLOW_COUNT = 1_000_000  # a table estimated this big is not counted exactly for the schema tree


@dataclass(frozen=True)
class RowEstimate:
    """An estimated row count (not exact): shown as ``≈ N``."""

    rows: int

    def __str__(self) -> str:
        return f"≈ {self.rows:,}"


def has_estimates(dialect: Dialect | None) -> bool:
    return dialect is not None and dialect.name == "postgresql"


def table_estimate(conn: Any, dialect: Dialect, name: str, schema: str | None = None) -> int | None:
    """``pg_class.reltuples`` of a table or materialized view; None when the server has no
    statistics for it yet (never vacuumed or analyzed: PostgreSQL 14+ says -1) or no such table."""
    from sqlalchemy import bindparam, text

    from storage.formats.sql.query import compiled, quote_table

    reltuples = text("SELECT CAST(reltuples AS bigint) FROM pg_class "
                     "WHERE oid = to_regclass(:name)").bindparams(bindparam("name"))
    sql, params = compiled(reltuples.bindparams(name=quote_table(name, schema, dialect)), dialect)
    row = conn.execute(sql, params).fetchone()
    if row is None or row[0] is None or int(row[0]) < 0:
        return None
    return int(row[0])


def plan_estimate(conn: Any, sql: str, params: dict[str, Any]) -> int | None:
    """The planner's estimate of the rows of ``sql`` (EXPLAIN, nothing is run)."""
    row = conn.execute(f"EXPLAIN (FORMAT JSON) {sql}", params).fetchone()
    if row is None:
        return None
    plan = json.loads(row[0]) if isinstance(row[0], str) else row[0]
    rows = plan[0]["Plan"].get("Plan Rows")
    return int(rows) if rows is not None else None


def query_estimate(conn: Any, query: Any) -> int | None:
    """Rows of a grid's :class:`storage.formats.sql.query.Query`: the table's ``reltuples`` when nothing
    filters it, else (or when the table has no statistics yet) the planner's estimate."""
    spec = query.spec
    if query.where is None:
        rows = table_estimate(conn, query.dialect, spec.table, spec.schema)
        if rows is not None:
            return rows
    sql, params = query.rows_statement()
    return plan_estimate(conn, sql, params)
