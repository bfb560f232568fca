"""Foreign-key choices against a hand-written query: one page of a big referenced table, never all of it.

Uses the tables of :mod:`benchmarks.bench_sqlite` (10M rows, 1M with ``--quick``).
"""

from __future__ import annotations

from .bench_sqlite import SMALL, big_rows, database
from .harness import Result, benchmark, interleave, timed


def _choices(path, search: str = ""):
    from storage.formats.sql.fk import choices
    from storage.formats.sql.sqlite_db import Reader

    reader = Reader(str(path))

    def run() -> object:
        return reader.run(lambda conn: choices(conn, "sqlite", "t", "id", "name", search))

    return reader, run


def _raw(path, sql: str, params: tuple = ()):
    """The hand-written query on the same kind of connection (read-only Reader, text decoding)."""
    from storage.formats.sql.sqlite_db import Reader

    reader = Reader(str(path))
    return reader, lambda: reader.run(lambda conn: conn.execute(sql, params).fetchall())


@benchmark("fk choices: first page of a big table vs raw ORDER BY key LIMIT", target="≤ 1.5×")
def first_page(repeats: int) -> Result:
    path = database(big_rows(repeats))
    reader, ours = _choices(path)
    conn, raw = _raw(path, "SELECT id, name FROM t ORDER BY id LIMIT 100")
    try:
        mine, base = interleave(timed(ours), timed(raw), repeats)
    finally:
        reader.close()
        conn.close()
    return Result(mine, base, note=f"{big_rows(repeats):,} rows")


@benchmark("fk choices: search 'name 5000' vs raw LIKE ... LIMIT", target="≤ 1.5×")
def search(repeats: int) -> Result:
    path = database(big_rows(repeats))
    reader, ours = _choices(path, "name 5000")
    conn, raw = _raw(path, "SELECT id, name FROM t WHERE CAST(id AS TEXT) LIKE ? OR name LIKE ? "
                     "ORDER BY id LIMIT 100", ("%name 5000%", "%name 5000%"))
    try:
        mine, base = interleave(timed(ours), timed(raw), repeats)
    finally:
        reader.close()
        conn.close()
    return Result(mine, base, note="matches are spread over the table; both stop at 100")


@benchmark("fk choices: first page, big table vs 100k rows", target="≤ 1.5×")
def laziness(repeats: int) -> Result:
    big, small = database(big_rows(repeats)), database(SMALL)
    big_reader, ours = _choices(big)
    small_reader, baseline = _choices(small)
    try:
        mine, base = interleave(timed(ours), timed(baseline), repeats)
    finally:
        big_reader.close()
        small_reader.close()
    return Result(mine, base, note=f"ours = {big_rows(repeats):,} rows, baseline = {SMALL:,} rows")


@benchmark("fk choices on postgres: first page vs raw psycopg ORDER BY key LIMIT", target="≤ 1.5×")
def postgres_first_page(repeats: int) -> Result:
    from storage.formats.sql.fk import choices
    from storage.formats.sql.url import open_database_url

    from .bench_postgres import rows_for, table

    rows = rows_for(repeats)
    url, name = table(rows)
    db = open_database_url(url)
    reader = db.reader()
    raw = db.connect()  # a plain psycopg connection to the same server
    sql = f"SELECT id, name FROM {name} ORDER BY id LIMIT 100"
    try:
        def ours() -> object:
            return reader.run(lambda c: choices(c, "postgresql", name, "id", "name", dialect=db.dialect))

        mine, base = interleave(timed(ours), timed(lambda: raw.execute(sql).fetchall()), max(repeats, 30),
                                warmup=5)
    finally:
        reader.close()
        raw.close()
        db.close()
    return Result(mine, base, note=f"{rows:,} rows")
