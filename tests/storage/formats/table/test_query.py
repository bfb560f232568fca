"""SQL over open files: names, a join of CSV × Parquet × Arrow × SQLite, errors, cancel, paging."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pytest

from storage.core.errors import KnownError
from storage.formats.table.query import (
    QueryError,
    TableRef,
    Workspace,
    describe_tables,
    file_ref,
    run_query,
    sql_names,
    sqlite_refs,
)
from storage.formats.table.source import Call, CancelledError, open_table


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    orders = tmp_path / "orders.csv"
    pd.DataFrame({"order_id": [1, 2, 3, 4], "customer_id": [10, 20, 10, 30],
                  "product": ["pen", "ink", "cup", "pen"]}).to_csv(orders, index=False)
    prices = tmp_path / "prices.parquet"
    pd.DataFrame({"product": ["pen", "ink", "cup"], "price": [1.5, 7.25, 4.0]}).to_parquet(prices)
    stock = tmp_path / "stock.feather"
    feather.write_feather(pa.table({"product": ["pen", "ink", "cup"], "left": [5, 0, 2]}), stock)
    shop = tmp_path / "shop.db"
    with sqlite3.connect(shop) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, since TEXT)")
        conn.executemany("INSERT INTO customers VALUES (?, ?, ?)",
                         [(10, "Ada", "2020-01-02"), (20, "Grace", "2021-05-06"), (30, "Linus", None)])
        conn.execute("CREATE TABLE big (n INTEGER)")
        conn.executemany("INSERT INTO big VALUES (?)", [(i,) for i in range(50_000)])
    conn.close()
    return {"orders": orders, "prices": prices, "stock": stock, "shop": shop}


@pytest.fixture
def refs(files: dict[str, Path]):
    sources = [open_table(str(files["orders"]), "csv"), open_table(str(files["prices"]), "parquet"),
               open_table(str(files["stock"]), "arrow")]
    yield [file_ref(s) for s in sources] + sqlite_refs(str(files["shop"]))
    for source in sources:
        source.close()


def test_names_are_stems_and_clashes_are_numbered() -> None:
    refs = [TableRef("orders.csv", "orders"), TableRef("Orders.parquet", "Orders"),
            TableRef("my data-2024.csv", "my data-2024"), TableRef("2024.csv", "2024"),
            TableRef("shop.db ▸ orders", "orders")]
    assert [t.name for t in sql_names(refs)] == ["orders", "orders_2", "my_data_2024", "t_2024", "orders_3"]


def test_join_across_csv_parquet_arrow_and_sqlite(files: dict[str, Path], refs) -> None:
    shop = files["shop"]
    before = (hashlib.sha256(shop.read_bytes()).hexdigest(), os.stat(shop).st_mtime_ns)
    names = {name: origin for name, origin, _cols in describe_tables(refs)}
    assert names == {"orders": "orders.csv", "prices": "prices.parquet", "stock": "stock.feather",
                     "big": "shop.db ▸ big", "customers": "shop.db ▸ customers"}
    result = run_query(refs, "SELECT o.order_id, c.name, p.price, s.left\n"
                             "FROM orders o JOIN prices p USING (product)\n"
                             "JOIN customers c ON c.id = o.customer_id JOIN stock s USING (product)\n"
                             "ORDER BY o.order_id")
    try:
        assert [c.name for c in result.info.columns] == ["order_id", "name", "price", "left"]
        assert result.rows == [(1, "Ada", 1.5, 5), (2, "Grace", 7.25, 0), (3, "Ada", 4.0, 2),
                               (4, "Linus", 1.5, 5)]
        assert result.complete and result.info.rows == 4 and result.info.rows_exact
        assert result.text_page(1, 2, columns=[1, 2]) == [["Grace", "7.25"], ["Ada", "4.0"]]
        # the result again, whole, for export
        assert result.record_batches().read_all().num_rows == 4
        # a second statement and a self-join read the SQLite table again (a fresh stream per scan)
        again = result.workspace.run("SELECT 1;\nSELECT count(*) FROM customers a, customers b")
        assert again.rows == [(9,)]
        assert any("2 statements" in note for note in again.info.notes)
    finally:
        result.close()
    after = (hashlib.sha256(shop.read_bytes()).hexdigest(), os.stat(shop).st_mtime_ns)
    assert after == before
    assert sorted(p.name for p in shop.parent.iterdir() if p.name.startswith("shop")) == ["shop.db"]


def test_rows_arrive_in_pages(refs) -> None:
    result = run_query(refs, "SELECT n FROM big ORDER BY n", first=100)
    try:
        assert len(result.rows) == 100 and not result.complete and not result.info.rows_exact
        assert result.fetch_more(1000) == 1000
        assert result.rows[1099] == (1099,)
        while result.fetch_more(20_000):
            pass
        assert result.complete and result.info.rows == 50_000
    finally:
        result.close()


def test_sqlite_value_types_and_misfits(tmp_path: Path) -> None:
    db = tmp_path / "loose.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (a, b INTEGER, c BLOB)")
        conn.executemany("INSERT INTO t VALUES (?, ?, ?)",
                         [(1, 2, b"\x00\x01"), (2.5, 3, None), ("x", None, b"z")])
    conn.close()
    result = run_query(sqlite_refs(str(db)), "SELECT * FROM t")
    try:
        assert [c.type for c in result.info.columns] == ["VARCHAR", "BIGINT", "BLOB"]
        assert result.rows == [("1", 2, b"\x00\x01"), ("2.5", 3, None), ("x", None, b"z")]
    finally:
        result.close()


@pytest.mark.parametrize(("sql", "words", "line", "column"), [
    ("SELECT *\nFROM nope", "nope does not exist", 2, 6),
    ("SELECT 1;\nSELEC 2", "syntax error", 2, 1),
    ("SELECT order_id, bogus\nFROM orders", "bogus", 1, 18),
])
def test_errors_carry_duckdb_message_and_position(refs, sql: str, words: str, line: int, column: int) -> None:
    with pytest.raises(QueryError) as caught:
        run_query(refs, sql)
    assert words in caught.value.message
    assert (caught.value.location.line, caught.value.location.column) == (line, column)


@pytest.mark.parametrize("sql", ["CREATE TABLE x (a INT)", "COPY orders TO '/tmp/out.csv'",
                                 "SELECT 1; DELETE FROM orders"])
def test_writing_statements_are_refused(refs, sql: str, tmp_path: Path) -> None:
    with pytest.raises(QueryError, match="read-only"):
        run_query(refs, sql)


def test_empty_text_is_a_message(refs) -> None:
    with pytest.raises(KnownError, match="no statement"):
        run_query(refs, "  -- nothing\n")


def test_cancel_stops_a_long_query(refs) -> None:
    call = Call()
    outcome: dict[str, BaseException] = {}

    def work() -> None:
        try:
            run_query(refs, "SELECT count(*) FROM range(20000000000) a, big", call)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=work)
    thread.start()
    time.sleep(0.5)
    call.cancel()
    thread.join(30)
    assert not thread.is_alive()
    assert isinstance(outcome.get("error"), CancelledError)


def test_a_closed_file_is_left_out_with_a_note(files: dict[str, Path]) -> None:
    source = open_table(str(files["orders"]), "csv")
    ref = file_ref(source)
    source.close()
    os.unlink(files["orders"])
    workspace = Workspace([ref, *sqlite_refs(str(files["shop"]))])
    try:
        assert any("orders.csv" in note for note in workspace.notes)
        assert workspace.run("SELECT count(*) FROM customers").rows == [(3,)]
    finally:
        workspace.close()


def test_a_huge_result_keeps_a_bounded_number_of_rows(refs, monkeypatch: pytest.MonkeyPatch) -> None:
    import storage.formats.table.query as query

    monkeypatch.setattr(query, "MAX_CACHED_CELLS", 2500)  # 2,500 rows of one column
    result = run_query(refs, "SELECT n FROM big", first=1000)
    try:
        while result.fetch_more(1000):
            pass
        assert len(result.rows) == 2500 and result.capped and not result.complete
        assert result.record_batches().read_all().num_rows == 50_000  # export still reads them all
    finally:
        result.close()


def test_a_wal_database_is_read_without_touching_it(tmp_path: Path) -> None:
    db = tmp_path / "wal.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (a INTEGER)")
    conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(10)])
    conn.commit()
    conn.close()  # the last connection checkpoints and removes -wal and -shm
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wal.db"]
    before = (db.read_bytes(), os.stat(db).st_mtime_ns)
    result = run_query(sqlite_refs(str(db)), "SELECT sum(a) FROM t")
    try:
        assert result.rows == [(45,)]
    finally:
        result.close()
    assert (db.read_bytes(), os.stat(db).st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wal.db"]
