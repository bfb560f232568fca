"""Convert: every target from a CSV, Parquet and Arrow file, a JSON array and SQL rows; types kept."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3

import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

from storage.core.convert import Cancelled, Field, Rows, Target, convert, records_source, sqlite_tables
from storage.core.errors import KnownError
from storage.formats.sql.transfer import export_rows
from storage.formats.table.convert import TableRows
from storage.formats.table.source import View, open_table

FRAME = pd.DataFrame({
    "id": [1, 2, 3, 40000000000],
    "name": ["a", "b,c", "line\nbreak", None],
    "day": [dt.date(2024, 1, 31), dt.date(2023, 12, 1), None, dt.date(2000, 2, 29)],
    "at": pd.to_datetime(["2024-01-02 03:04:05", "2024-01-03 00:00:01.5", None, "1999-12-31 23:59:59"],
                         format="ISO8601"),
    "x": [1.5, None, 3.25, -0.0],
    "ok": [True, False, None, True],
})


def _write_sources(folder) -> dict[str, str]:
    paths = {"csv": str(folder / "in.csv"), "parquet": str(folder / "in.parquet"),
             "arrow": str(folder / "in.arrow")}
    FRAME.to_csv(paths["csv"], index=False)
    FRAME.to_parquet(paths["parquet"])
    frame = FRAME.copy()
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    feather.write_feather(pa.Table.from_pandas(frame, preserve_index=False), paths["arrow"])
    return paths


@pytest.fixture
def sources(tmp_path):
    return _write_sources(tmp_path)


def _convert_file(path: str, fmt: str, target: Target, **kwargs) -> int:
    source = open_table(path, fmt)
    try:
        return convert(TableRows(source), target, **kwargs)
    finally:
        source.close()


@pytest.mark.parametrize("fmt", ["csv", "parquet", "arrow"])
def test_to_parquet_keeps_types(sources, tmp_path, fmt):
    out = str(tmp_path / "out.parquet")
    assert _convert_file(sources[fmt], fmt, Target("parquet", out)) == 4
    schema = pq.read_schema(out)
    assert schema.field("id").type == pa.int64()
    assert schema.field("day").type == pa.date32()
    assert pa.types.is_timestamp(schema.field("at").type)
    assert schema.field("x").type == pa.float64()
    assert schema.field("ok").type == pa.bool_()
    back = pd.read_parquet(out)
    assert back["id"].tolist() == [1, 2, 3, 40000000000]
    assert back["day"].tolist()[:2] == [dt.date(2024, 1, 31), dt.date(2023, 12, 1)]
    assert back["at"][1] == pd.Timestamp("2024-01-03 00:00:01.5")
    assert back["name"][2] == "line\nbreak"


@pytest.mark.parametrize("fmt", ["csv", "parquet", "arrow"])
def test_to_sqlite_declares_types(sources, tmp_path, fmt):
    out = str(tmp_path / "records.sqlite")
    assert _convert_file(sources[fmt], fmt, Target("sqlite", out, table="people")) == 4
    conn = sqlite3.connect(out)
    declared = {r[1]: r[2] for r in conn.execute("PRAGMA table_info(people)")}
    assert declared == {"id": "INTEGER", "name": "TEXT", "day": "DATE", "at": "TIMESTAMP", "x": "REAL",
                        "ok": "BOOLEAN"}
    rows = conn.execute("SELECT id, typeof(id), day, at, x, ok FROM people ORDER BY rowid").fetchall()
    conn.close()
    assert rows[0] == (1, "integer", "2024-01-31", "2024-01-02 03:04:05", 1.5, 1)
    assert rows[1][3] == "2024-01-03 00:00:01.500000"
    assert rows[3][:3] == (40000000000, "integer", "2000-02-29")
    assert rows[2][2] is None


def test_to_csv_and_back(sources, tmp_path):
    out = str(tmp_path / "out.csv")
    _convert_file(sources["parquet"], "parquet", Target("csv", out))
    back = pd.read_csv(out, parse_dates=["at"], date_format="ISO8601")
    assert back["id"].dtype == "int64"
    assert back["at"][0] == pd.Timestamp("2024-01-02 03:04:05")
    assert back["name"][2] == "line\nbreak"
    assert back["ok"].tolist()[:2] == [True, False]
    source = open_table(out, "csv")  # DuckDB reads the types back
    try:
        types = {c.name: c.type for c in source.info.columns}
    finally:
        source.close()
    assert types["id"] == "BIGINT" and types["day"] == "DATE" and types["at"] == "TIMESTAMP"


def test_to_json_lines(sources, tmp_path):
    out = str(tmp_path / "out.jsonl")
    _convert_file(sources["csv"], "csv", Target("jsonl", out))
    with open(out, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    assert len(lines) == 4
    first = json.loads(lines[0])
    assert first == {"id": 1, "name": "a", "day": "2024-01-31", "at": "2024-01-02 03:04:05", "x": 1.5,
                     "ok": True}
    back = pd.read_json(out, lines=True)
    assert back["id"].dtype == "int64"


def test_a_filtered_sorted_view_is_what_is_written(sources, tmp_path):
    source = open_table(sources["csv"], "csv")
    out = str(tmp_path / "some.csv")
    try:
        convert(TableRows(source, View(order=((0, True),), filters=((0, "<10"),))), Target("csv", out))
    finally:
        source.close()
    assert pd.read_csv(out)["id"].tolist() == [3, 2, 1]


def test_json_records_to_every_target(tmp_path):
    records = [{"n": 1, "when": "2024-01-02", "tags": ["a"], "v": 1.5}, {"n": 2, "extra": True, "v": 2}]
    for fmt, name in (("csv", "r.csv"), ("parquet", "r.parquet"), ("jsonl", "r.jsonl"), ("sqlite", "r.db")):
        assert convert(records_source(records), Target(fmt, str(tmp_path / name), table="r")) == 2
    schema = pq.read_schema(tmp_path / "r.parquet")
    assert schema.names == ["n", "when", "tags", "v", "extra"]
    assert schema.field("n").type == pa.int64() and schema.field("v").type == pa.float64()
    assert pd.read_parquet(tmp_path / "r.parquet")["tags"][0] == '["a"]'
    conn = sqlite3.connect(tmp_path / "r.db")
    assert conn.execute("SELECT n, v, extra FROM r").fetchall() == [(1, 1.5, None), (2, 2.0, 1)]
    conn.close()
    with pytest.raises(KnownError, match="array of objects"):
        records_source([1, 2])


def test_sql_rows_to_parquet_keep_declared_dates(tmp_path):
    db = tmp_path / "src.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t (id INTEGER, born DATE, note TEXT)")
    conn.executemany("INSERT INTO t VALUES (?, ?, ?)", [(1, "2020-05-06", "x"), (2, None, "y")])
    conn.commit()
    out = str(tmp_path / "t.parquet")
    n = export_rows(conn, "SELECT * FROM t", (), ["id", "born", "note"], out, "csv",
                    target=Target("parquet", out), types=["INTEGER", "DATE", "TEXT"])
    conn.close()
    assert n == 2
    table = pq.read_table(out)
    assert table.schema.field("born").type == pa.date32()
    assert table.column("born").to_pylist() == [dt.date(2020, 5, 6), None]


def test_existing_sqlite_file_keeps_its_other_tables_and_appends(sources, tmp_path):
    out = str(tmp_path / "keep.sqlite")
    conn = sqlite3.connect(out)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.execute("INSERT INTO notes VALUES ('mine')")
    conn.commit()
    conn.close()
    _convert_file(sources["csv"], "csv", Target("sqlite", out, table="people"))
    _convert_file(sources["parquet"], "parquet", Target("sqlite", out, table="people", append=True))
    with pytest.raises(KnownError, match="already has a table"):
        _convert_file(sources["csv"], "csv", Target("sqlite", out, table="people"))
    conn = sqlite3.connect(out)
    assert conn.execute("SELECT body FROM notes").fetchall() == [("mine",)]
    assert conn.execute("SELECT count(*) FROM people").fetchone() == (8,)
    conn.close()
    assert sqlite_tables(out) == ["notes", "people"]


def test_append_needs_matching_columns(sources, tmp_path):
    out = str(tmp_path / "other.sqlite")
    conn = sqlite3.connect(out)
    conn.execute("CREATE TABLE people (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(KnownError, match="has no column"):
        _convert_file(sources["csv"], "csv", Target("sqlite", out, table="people", append=True))
    assert sqlite_tables(out) == ["people"]


def test_a_cancelled_conversion_to_sqlite_leaves_no_file(sources, tmp_path):
    out = str(tmp_path / "out.sqlite")
    batches: list[float] = []
    with pytest.raises(Cancelled):
        _convert_file(sources["csv"], "csv", Target("sqlite", out, table="t"), batch=1,
                      cancel=lambda: len(batches) >= 2, progress=batches.append)
    assert batches  # it had started: two batches were in the new file
    assert sorted(os.listdir(tmp_path)) == ["in.arrow", "in.csv", "in.parquet"]  # no temporary left


@pytest.mark.parametrize("target", ["csv", "parquet", "jsonl"])
def test_a_cancelled_copy_leaves_no_file(sources, tmp_path, target):
    """Files are written by DuckDB's COPY: a cancel during it (or before it is moved into place)
    leaves nothing behind."""
    out = str(tmp_path / f"out.{target}")
    calls: list[int] = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) >= 2  # asked once before the COPY: the next question stops it

    with pytest.raises(Cancelled):
        _convert_file(sources["csv"], "csv", Target(target, out), cancel=cancel)
    assert sorted(os.listdir(tmp_path)) == ["in.arrow", "in.csv", "in.parquet"]


def test_a_cancel_interrupts_a_long_copy(tmp_path):
    big = tmp_path / "big.parquet"
    import numpy as np
    pd.DataFrame({"v": np.random.default_rng(1).random(3_000_000)}).to_parquet(big)
    source = open_table(str(big), "parquet")
    calls: list[int] = []

    def cancel() -> bool:  # the watcher's first look, 0.1 s into the sort, stops the query
        calls.append(1)
        return len(calls) >= 2

    try:
        with pytest.raises(Cancelled):
            convert(TableRows(source, View(order=((0, True),))), Target("csv", str(tmp_path / "o.csv")),
                    cancel=cancel)
    finally:
        source.close()
    assert sorted(os.listdir(tmp_path)) == ["big.parquet"]


def test_a_cancelled_append_to_an_existing_file_writes_nothing(sources, tmp_path):
    out = str(tmp_path / "keep.sqlite")
    _convert_file(sources["csv"], "csv", Target("sqlite", out, table="people"))
    seen = []
    with pytest.raises(Cancelled):
        _convert_file(sources["csv"], "csv", Target("sqlite", out, table="more"), batch=1,
                      cancel=lambda: len(seen) >= 2, progress=seen.append)
    assert sqlite_tables(out) == ["people"]
    conn = sqlite3.connect(out)
    assert conn.execute("SELECT count(*) FROM people").fetchone() == (4,)
    conn.close()


def test_progress_reaches_the_end(sources, tmp_path):
    seen: list[float] = []
    _convert_file(sources["parquet"], "parquet", Target("sqlite", str(tmp_path / "p.db"), table="p"),
                  batch=2, progress=seen.append)
    assert seen == [0.5, 1.0]
    seen.clear()
    _convert_file(sources["parquet"], "parquet", Target("csv", str(tmp_path / "p.csv")), progress=seen.append)
    assert seen[-1] == 1.0


def test_parquet_refuses_a_value_of_another_type_with_a_message(tmp_path):
    out = tmp_path / "mixed.parquet"
    rows = Rows([Field("n", "integer")], [[(1,), (2,)], [("n/a",)]])  # SQLite lets a column hold anything
    with pytest.raises(KnownError, match="Row 3, column 'n' holds 'n/a'"):
        convert(rows, Target("parquet", str(out)))
    assert not out.exists()
    mixed = sqlite3.connect(":memory:")  # seen in one batch, a mixed column is text
    mixed.execute("CREATE TABLE t (n INTEGER)")
    mixed.executemany("INSERT INTO t VALUES (?)", [(1,), ("n/a",)])
    export_rows(mixed, "SELECT n FROM t", (), ["n"], str(out), "csv", target=Target("parquet", str(out)))
    assert pq.read_table(out).column("n").to_pylist() == ["1", "n/a"]


def test_not_an_sqlite_file_is_refused(sources, tmp_path):
    out = tmp_path / "text.db"
    out.write_text("hello")
    with pytest.raises(KnownError, match="not an SQLite database"):
        _convert_file(sources["csv"], "csv", Target("sqlite", str(out), table="t"))
    assert out.read_text() == "hello"


def test_closing_the_file_stops_a_conversion_with_a_message(tmp_path):
    import threading

    import numpy as np
    big = tmp_path / "big.parquet"
    pd.DataFrame({"v": np.random.default_rng(3).random(3_000_000)}).to_parquet(big)
    source = open_table(str(big), "parquet")
    started = threading.Event()
    outcome: list[BaseException] = []

    def work() -> None:
        try:
            convert(TableRows(source, View(order=((0, True),))),
                    Target("sqlite", str(tmp_path / "o.db"), table="t"), batch=1000,
                    progress=lambda _f: started.set())
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)
        finally:
            started.set()

    thread = threading.Thread(target=work)
    thread.start()
    started.wait()
    source.close()
    thread.join()
    assert outcome and isinstance(outcome[0], KnownError)
    assert sorted(os.listdir(tmp_path)) == ["big.parquet"]


def test_columns_taken_by_range_keep_their_dtypes(tmp_path):
    """NumPy arrays (and so a pickled DataFrame's columns: FrameColumn.values) as a RowSource."""
    import numpy as np

    from storage.core.convert import ColumnarRows

    arrays = {
        "n": np.array([1, 2, 3], dtype="int64"),
        "x": np.array([0.5, np.nan, 2.0]),
        "ok": np.array([True, False, True]),
        "at": np.array(["2024-01-02T03:04:05", "NaT", "2000-01-01"], dtype="datetime64[ns]"),
        "who": np.array(["a", None, "c"], dtype=object),
    }
    names = list(arrays)
    rows = ColumnarRows(names, [str(a.dtype) for a in arrays.values()],
                        [lambda a, b, arr=arr: list(arr[a:b]) for arr in arrays.values()], 3)
    assert [f.kind for f in rows.fields] == ["integer", "real", "boolean", "timestamp", "text"]
    convert(rows, Target("sqlite", str(tmp_path / "f.db"), table="f"), batch=2)
    conn = sqlite3.connect(tmp_path / "f.db")
    assert conn.execute("SELECT * FROM f").fetchall() == [
        (1, 0.5, 1, "2024-01-02 03:04:05", "a"), (2, None, 0, None, None),
        (3, 2.0, 1, "2000-01-01 00:00:00", "c")]
    conn.close()
    rows = ColumnarRows(names, [str(a.dtype) for a in arrays.values()],
                        [lambda a, b, arr=arr: list(arr[a:b]) for arr in arrays.values()], 3)
    convert(rows, Target("parquet", str(tmp_path / "f.parquet")))
    schema = pq.read_schema(tmp_path / "f.parquet")
    assert [str(t) for t in schema.types] == ["int64", "double", "bool", "timestamp[us]", "string"]
