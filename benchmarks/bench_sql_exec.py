"""Execute SQL on PostgreSQL: a query read once from one cursor, against raw psycopg and against
the OFFSET paging it replaced (which re-ran the query for every page, and lost rows of a sort on
duplicates). Uses the tables of :mod:`benchmarks.bench_postgres` (generated once).
"""

from __future__ import annotations

import time

from .bench_postgres import rows_for, table
from .harness import Result, benchmark, interleave

SORTED = "SELECT id, k, name, x, tag FROM {name} ORDER BY k"  # k repeats: a sort on duplicates


def _session(url: str):
    from storage.formats.sql.execute import SqlSession
    from storage.formats.sql.url import open_database_url

    db = open_database_url(url)
    db.statement_timeout = 0
    return db, SqlSession(db)


@benchmark("execute sql (postgres): first 1,000 rows of ORDER BY k vs a raw psycopg named cursor",
           target="≤ 1.5×")
def first_rows(repeats: int) -> Result:
    from storage.formats.sql.execute import FIRST_ROWS, Statement

    rows = rows_for(repeats)
    url, name = table(rows)
    db, session = _session(url)
    raw = db.connect()
    sql = SORTED.format(name=name)

    def ours() -> float:
        start = time.perf_counter()
        [outcome] = session.run([Statement(0, len(sql), sql)])
        elapsed = time.perf_counter() - start
        assert outcome.error is None and len(outcome.result.rows) == FIRST_ROWS
        return elapsed

    def baseline() -> float:
        start = time.perf_counter()
        with raw.transaction(), raw.cursor(name="bench") as cursor:
            cursor.execute(sql)
            got = cursor.fetchmany(FIRST_ROWS)
        elapsed = time.perf_counter() - start
        assert len(got) == FIRST_ROWS
        return elapsed

    try:
        return Result(*interleave(ours, baseline, max(repeats, 5)), note=f"{rows:,} rows, sorted on a "
                      "non-key column")
    finally:
        session.close()
        raw.close()
        db.close()


@benchmark("execute sql (postgres): 10,000 rows of ORDER BY k from one cursor vs OFFSET pages "
           "(the old paging)", target="≤ 1×")
def scroll(repeats: int) -> Result:
    from storage.formats.sql.execute import Statement

    url, name = table(100_000)
    db, session = _session(url)
    raw = db.connect()
    sql = SORTED.format(name=name)
    wanted, page = 10_000, 256
    distinct: list[int] = []  # distinct ids among the first 10,000 rows the OFFSET pages gave

    def ours() -> float:
        start = time.perf_counter()
        [outcome] = session.run([Statement(0, len(sql), sql)])
        while len(outcome.result.rows) < wanted and session.fetch(outcome.result, 1000):
            pass
        elapsed = time.perf_counter() - start
        assert len({r[0] for r in outcome.result.rows[:wanted]}) == wanted  # no row twice
        return elapsed

    def baseline() -> float:
        start = time.perf_counter()
        ids = []
        for first in range(0, wanted, page):  # what the old ResultPager did for each page
            ids += [r[0] for r in raw.execute(f"SELECT * FROM ({sql}) AS result LIMIT {page} "
                                              f"OFFSET {first}").fetchall()]
        elapsed = time.perf_counter() - start
        distinct.append(len(set(ids[:wanted])))
        return elapsed

    try:
        ours_runs, baseline_runs = interleave(ours, baseline, max(repeats, 3))
        return Result(ours_runs, baseline_runs,
                      note=f"100,000 rows; the baseline re-runs the sort for each 256-row page and gave "
                           f"{min(distinct):,} distinct ids of {wanted:,} (ours: all)")
    finally:
        session.close()
        raw.close()
        db.close()
