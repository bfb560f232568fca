"""Row counts that would be slow on a big PostgreSQL table: the grid shows the server's estimate
("≈ N rows (estimate)") when counting runs past the statement timeout, and the schema tree shows
the estimate for tables too big to count."""

from __future__ import annotations

import gui.sql.browse
import gui.sql.server
from storage.formats.sql.estimate import RowEstimate, plan_estimate, query_estimate, table_estimate
from storage.formats.sql.filters import Filter
from storage.formats.sql.pager import Pager
from storage.formats.sql.query import QuerySpec
from storage.formats.sql.url import open_database_url
from tests.gui.sql.test_pg import open_pg, run

ROWS = 20_000  # more than COUNT_CAP: the grid counts exactly after its capped count


def make_big(url: str, analyze: bool = True) -> None:
    run(url, "CREATE TABLE big (id int PRIMARY KEY, n int, s text)")
    run(url, f"INSERT INTO big SELECT g, g % 10, 's' || g FROM generate_series(1, {ROWS}) g")
    run(url, "CREATE TABLE small (id int PRIMARY KEY)")
    run(url, "INSERT INTO small VALUES (1), (2), (3)")
    if analyze:
        run(url, "ANALYZE big; ANALYZE small")


def test_estimates_from_statistics_and_from_the_plan(pg_url: str) -> None:
    run(pg_url, "CREATE TABLE fresh (id int PRIMARY KEY)")  # never analyzed: no statistics
    run(pg_url, 'CREATE SCHEMA "Odd Schema"; CREATE TABLE "Odd Schema"."Odd Table" (id int)')
    make_big(pg_url)
    run(pg_url, 'INSERT INTO "Odd Schema"."Odd Table" SELECT generate_series(1, 50); '
                'ANALYZE "Odd Schema"."Odd Table"')
    db = open_database_url(pg_url)
    reader = db.reader()
    try:
        assert reader.run(lambda c: table_estimate(c, db.dialect, "big")) == ROWS
        assert reader.run(lambda c: table_estimate(c, db.dialect, "Odd Table", "Odd Schema")) == 50
        assert reader.run(lambda c: table_estimate(c, db.dialect, "fresh")) is None
        assert reader.run(lambda c: table_estimate(c, db.dialect, "no_such_table")) is None
        planned = reader.run(lambda c: plan_estimate(c, "SELECT * FROM big WHERE n = 3", {}))
        assert planned is not None and ROWS // 20 <= planned <= ROWS // 5  # about a tenth
        whole = Pager(QuerySpec("big", ("id", "n", "s"), ("id",)), dialect=db.dialect)
        assert reader.run(lambda c: query_estimate(c, whole.query)) == ROWS
        spec = QuerySpec("big", ("id", "n", "s"), ("id",), filters=(Filter("n", "=", "3"),))
        filtered = Pager(spec, dialect=db.dialect)
        rows = reader.run(lambda c: query_estimate(c, filtered.query))
        assert rows is not None and ROWS // 20 <= rows <= ROWS // 5
    finally:
        reader.close()
        db.close()
    assert str(RowEstimate(1234567)) == "≈ 1,234,567"


def test_a_count_past_the_statement_timeout_shows_the_estimate(qtbot, pg_url: str, monkeypatch) -> None:
    make_big(pg_url)
    real_count = gui.sql.browse.count_query

    def slow_exact_count(counter, pager, cap):
        if cap is None:  # the exact count: as slow as on a table of a billion rows
            counter.run(lambda conn: conn.execute("SELECT pg_sleep(5)").fetchone())
        return real_count(counter, pager, cap)

    monkeypatch.setattr(gui.sql.browse, "count_query", slow_exact_count)
    document = open_pg(qtbot, pg_url)
    document.database.statement_timeout = 0.3  # the server stops the slow count
    document.tree.setCurrentItem(document.tree.table_item("big"))
    qtbot.waitUntil(lambda: "(estimate)" in document.browse.rows_label.text(), timeout=20_000)
    assert document.browse.rows_label.text() == f"≈ {ROWS:,} rows (estimate)"
    assert "estimate" in document.browse.rows_label.toolTip()
    assert document.model.rowCount() > 0  # the rows counted so far stay browsable
    # filtered: the planner's estimate of the filtered query
    document.browse.set_filter("n", ">", "-1")
    qtbot.waitUntil(lambda: "(estimate)" in document.browse.rows_label.text(), timeout=20_000)
    assert document.browse.rows_label.text().startswith("≈ ")
    # a small table is counted exactly, as before
    document.tree.setCurrentItem(document.tree.table_item("small"))
    qtbot.waitUntil(lambda: document.browse.rows_label.text() == "3 rows", timeout=20_000)
    assert not document.browse.rows_label.toolTip()
    document.close_document()


def test_the_schema_tree_shows_estimates_for_tables_too_big_to_count(qtbot, pg_url: str,
                                                                     monkeypatch) -> None:
    make_big(pg_url)
    monkeypatch.setattr(gui.sql.server, "SLOW_COUNT", ROWS // 2)  # big counts as "slow to count"
    document = open_pg(qtbot, pg_url)
    big, small = document.tree.table_item("big"), document.tree.table_item("small")
    qtbot.waitUntil(lambda: big.text(1).startswith("≈"), timeout=20_000)
    assert big.text(1) == f"≈ {ROWS:,}" and "estimate" in big.toolTip(1)
    assert small.text(1) == "3"
    document.close_document()


def test_the_schema_tree_counts_exactly_without_statistics(qtbot, pg_url: str, monkeypatch) -> None:
    make_big(pg_url, analyze=False)  # no statistics yet: nothing to estimate from, so it counts
    monkeypatch.setattr(gui.sql.server, "SLOW_COUNT", ROWS // 2)
    document = open_pg(qtbot, pg_url)
    big = document.tree.table_item("big")
    qtbot.waitUntil(lambda: big.text(1) == f"{ROWS:,}", timeout=20_000)
    document.close_document()
