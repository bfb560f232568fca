"""A pickled DataFrame (and a NumPy 2-D or structured array) converted to CSV, Parquet, JSON Lines
and SQLite: written by pandas, read back with pandas, pyarrow and sqlite3, compared cell by cell and
type by type with the real frame."""

from __future__ import annotations

import datetime as dt
import json
import math
import pickle
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from storage.core.convert import Target, convert
from storage.formats.objects.pickle.frame import frame_table, table_of
from storage.formats.objects.pickle.frame_rows import frame_rows, raw_columns
from storage.formats.objects.pickle.safe import load_safe
from tests.storage.formats.objects.pickle.test_frame import every_dtype

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

# The Parquet type each pandas dtype of every_dtype() becomes.
ARROW = {"int": "int64", "uint8": "int64", "float": "double", "float32": "double", "bool": "bool",
         "object": "string", "str": "string", "string": "string", "string_python": "string",
         "category": "string", "ordered": "int64", "datetime": "timestamp[us]",
         "datetime_ns": "timestamp[us]", "tz_paris": "timestamp[us, tz=Europe/Paris]",
         "tz_utc": "timestamp[us, tz=UTC]", "timedelta": "duration[us]", "Int64": "int64",
         "nullable_u8": "int64", "Float64": "double", "boolean": "bool", "date": "date32[day]",
         "row": "string"}
SQLITE = {"int": "INTEGER", "uint8": "INTEGER", "float": "REAL", "float32": "REAL", "bool": "BOOLEAN",
          "object": "TEXT", "str": "TEXT", "string": "TEXT", "string_python": "TEXT", "category": "TEXT",
          "ordered": "INTEGER", "datetime": "TIMESTAMP", "datetime_ns": "TIMESTAMP", "tz_paris": "TIMESTAMP",
          "tz_utc": "TIMESTAMP", "timedelta": "TEXT", "Int64": "INTEGER", "nullable_u8": "INTEGER",
          "Float64": "REAL", "boolean": "BOOLEAN", "date": "DATE", "row": "TEXT"}


def frame():
    """Every dtype the reader rebuilds, a column of dates, and a named index."""
    f = every_dtype().rename(columns={"UInt8": "nullable_u8"})  # SQLite ignores the case of names
    f["date"] = [dt.date(2024, 1, 1) + dt.timedelta(days=40 * i) for i in range(len(f))]
    f.loc["r2", "date"] = None
    f["datetime_ns"] = f["datetime_ns"].dt.floor("us")  # Python's datetime stops at microseconds
    return f


def table_from(value: Any):
    return table_of(load_safe(pickle.dumps(value, protocol=5)).value)


def python(value: Any) -> Any:
    """A pandas cell as the Python value the converted file should hold (None when missing)."""
    if isinstance(value, tuple | bytes | list):
        return value
    if value is None or pd.isna(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, pd.Timedelta):
        return value.to_pytimedelta()
    if isinstance(value, np.generic):
        return value.item()
    return value


def columns_of(f) -> list[tuple[str, list[Any]]]:
    """What pandas' to_csv/to_parquet write: index levels (none for a default RangeIndex), columns."""
    if not (isinstance(f.index, pd.RangeIndex) and f.index.name is None and f.index.start == 0):
        f = f.reset_index()
    return [(str(name), [python(v) for v in f[name].astype(object)]) for name in f.columns]


def same_cell(ours: Any, theirs: Any) -> bool:
    if theirs is None:
        return ours is None or (isinstance(ours, float) and math.isnan(ours))
    if isinstance(theirs, float) and math.isinf(theirs):
        return ours == theirs
    if isinstance(theirs, float):
        return isinstance(ours, float) and ours == pytest.approx(theirs, rel=1e-15)
    if isinstance(theirs, bool):
        return type(ours) is bool and ours == theirs
    if isinstance(theirs, int):
        return type(ours) is int and ours == theirs
    if isinstance(theirs, dt.datetime):
        return (isinstance(ours, dt.datetime) and ours == theirs
                and (ours.tzinfo is None) == (theirs.tzinfo is None))
    return type(ours) is type(theirs) and ours == theirs


def test_every_dtype_to_parquet_keeps_types_and_values(tmp_path: Path) -> None:
    f = frame()
    path = tmp_path / "out.parquet"
    assert convert(frame_rows(table_from(f)), Target("parquet", str(path))) == len(f)
    read = pq.read_table(path)
    expected = columns_of(f)
    assert read.column_names == [name for name, _ in expected]
    for name, values in expected:
        assert str(read.schema.field(name).type) == ARROW[name], name
        ours = read.column(name).to_pylist()
        if name == "object":  # mixed values: each as JSON text in one string column
            values = [None if v is None else json.dumps(list(v) if isinstance(v, tuple) else v,
                                                        ensure_ascii=False)
                      for v in values if not isinstance(v, bytes)]
            ours = [v for v in ours if not (v or "").startswith('{"$base64"')]
        for row, (a, b) in enumerate(zip(ours, values, strict=True)):
            assert same_cell(a, b), f"{name}[{row}]: {a!r} != {b!r}"
    # pandas reads the zone back, and the same instants
    back = pd.read_parquet(path)
    assert str(back["tz_paris"].dt.tz) == "Europe/Paris"
    utc = f["tz_paris"].dt.tz_convert("UTC").to_numpy()
    assert (back["tz_paris"].dt.tz_convert("UTC").to_numpy() == utc).all()
    assert back["timedelta"].dtype.kind == "m" and back["date"].dtype == object


def test_every_dtype_to_sqlite_keeps_types_and_values(tmp_path: Path) -> None:
    f = frame()
    path = tmp_path / "records.sqlite"
    assert convert(frame_rows(table_from(f)), Target("sqlite", str(path), "weather")) == len(f)
    conn = sqlite3.connect(path)
    declared = {row[1]: row[2] for row in conn.execute('PRAGMA table_info("weather")')}
    rows = conn.execute('SELECT * FROM "weather"').fetchall()
    conn.close()
    expected = columns_of(f)
    assert list(declared) == [name for name, _ in expected]
    for i, (name, values) in enumerate(expected):
        assert declared[name] == SQLITE[name], name
        for row, b in enumerate(values):
            a = rows[row][i]
            if b is None:
                assert a is None, (name, row, a)
            elif isinstance(b, bool):
                assert a == int(b) and type(a) is int, (name, row)
            elif isinstance(b, dt.datetime):
                assert dt.datetime.fromisoformat(a) == b and "T" not in a, (name, row, a)
                assert (dt.datetime.fromisoformat(a).tzinfo is None) == (b.tzinfo is None)
            elif isinstance(b, dt.date):
                assert a == b.isoformat()
            elif isinstance(b, dt.timedelta):
                assert pd.to_timedelta(a) == b, (name, row, a)
            elif name == "object":
                # a TEXT column: numbers as their text, bytes a BLOB, a tuple its JSON
                want = {tuple: json.dumps(list(b)) if isinstance(b, tuple) else None, bytes: b, str: b}.get(
                    type(b), str(b))
                assert a == want, (row, a)
            else:
                assert same_cell(a, b), f"{name}[{row}]: {a!r} != {b!r}"
    assert rows[0][[n for n, _ in expected].index("tz_paris")] == "2024-03-30 00:00:00+01:00"


def test_every_dtype_to_csv_reads_back_with_pandas(tmp_path: Path) -> None:
    f = frame()
    path = tmp_path / "out.csv"
    convert(frame_rows(table_from(f)), Target("csv", str(path)))
    back = pd.read_csv(path, dtype_backend="numpy_nullable", keep_default_na=False, na_values=[""])
    expected = dict(columns_of(f))
    assert list(back.columns) == list(expected)
    for name in ("int", "uint8", "ordered"):
        assert back[name].dtype.kind == "i", name
        assert [None if v is pd.NA else v for v in back[name]] == expected[name], name
    assert str(back["Int64"].dtype) == "Int64"
    assert [None if v is pd.NA else v for v in back["Int64"]] == expected["Int64"]
    assert back["bool"].tolist() == expected["bool"]
    assert [None if v is pd.NA else v for v in back["boolean"]] == expected["boolean"]
    assert back["float"].tolist()[:2] == expected["float"][:2] and math.isinf(back["float"].iloc[6])
    naive = pd.to_datetime(back["datetime"], format="ISO8601")
    assert [None if pd.isna(v) else v.to_pydatetime() for v in naive] == expected["datetime"]
    paris = pd.to_datetime(back["tz_paris"], utc=True, format="ISO8601")
    assert (paris.to_numpy() == f["tz_paris"].dt.tz_convert("UTC").to_numpy()).all()
    durations = pd.to_timedelta(back["timedelta"])
    assert [None if pd.isna(v) else v.to_pytimedelta() for v in durations] == expected["timedelta"]
    assert [None if v is pd.NA else dt.date.fromisoformat(v) for v in back["date"]] == expected["date"]
    assert back["category"].tolist()[:2] == ["x", "y"] and back["row"].tolist() == list(f.index)


def test_json_lines_keep_numbers_and_write_dates_as_iso_text(tmp_path: Path) -> None:
    f = frame()
    path = tmp_path / "out.jsonl"
    convert(frame_rows(table_from(f)), Target("jsonl", str(path)))
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == len(f)
    assert [r["Int64"] for r in lines] == [1, None, 3, -4, 5, None, 7]
    assert [r["boolean"] for r in lines][:3] == [True, None, False]
    assert lines[0]["tz_paris"] == "2024-03-30 00:00:00+01:00" and lines[0]["date"] == "2024-01-01"
    assert lines[1]["timedelta"] == "-1 days +23:59:59" and lines[6]["float"] is None  # JSON has no inf


def test_a_default_range_index_is_left_out_a_multiindex_becomes_one_column_per_level(tmp_path: Path) -> None:
    plain = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    rows = frame_rows(table_from(plain))
    assert [f.name for f in rows.fields] == ["a", "b"]

    index = pd.MultiIndex.from_tuples([("north", 2023), ("north", 2024), ("south", 2024)],
                                      names=["region", None])
    multi = pd.DataFrame({"sales": [1.5, 2.5, None]}, index=index)
    path = tmp_path / "multi.parquet"
    convert(frame_rows(table_from(multi)), Target("parquet", str(path)))
    read = pq.read_table(path)
    assert read.column_names == ["region", "level_1", "sales"]
    assert [str(t) for t in read.schema.types] == ["string", "int64", "double"]
    assert read.to_pylist()[1] == {"region": "north", "level_1": 2024, "sales": 2.5}
    assert read.column("sales").to_pylist()[2] is None or math.isnan(read.column("sales").to_pylist()[2])

    shifted = pd.DataFrame({"a": [1, 2]}, index=pd.RangeIndex(5, 7, name="n"))
    assert [f.name for f in frame_rows(table_from(shifted)).fields] == ["n", "a"]
    csv_path = tmp_path / "shifted.csv"
    convert(frame_rows(table_from(shifted)), Target("csv", str(csv_path)))
    assert csv_path.read_bytes() == b"n,a\r\n5,1\r\n6,2\r\n"


def test_a_column_not_rebuilt_is_written_as_its_text(tmp_path: Path) -> None:
    f = pd.DataFrame({"month": pd.period_range("2024-01", periods=3, freq="M"), "n": [1, 2, 3]})
    table = table_from(f)
    assert raw_columns(table) == ["month"]
    rows = frame_rows(table)
    assert [(x.name, x.kind) for x in rows.fields] == [("month", "text"), ("n", "integer")]
    path = tmp_path / "raw.sqlite"
    convert(rows, Target("sqlite", str(path), "t"))
    conn = sqlite3.connect(path)
    got = conn.execute("SELECT month, n, typeof(month) FROM t").fetchall()
    conn.close()
    shown = table.columns[[c.name for c in table.columns].index("month")].cells(0, 3)
    assert got == [(shown[i], i + 1, "text") for i in range(3)]


def test_numpy_2d_and_structured_arrays(tmp_path: Path) -> None:
    grid = np.arange(12, dtype=np.int32).reshape(4, 3)
    path = tmp_path / "grid.parquet"
    convert(frame_rows(table_from(grid)), Target("parquet", str(path)))
    read = pq.read_table(path)
    assert read.column_names == ["0", "1", "2"] and {str(t) for t in read.schema.types} == {"int64"}
    assert [list(r.values()) for r in read.to_pylist()] == grid.tolist()

    people = np.array([("Ada", 36, 1.5, np.datetime64("2024-01-02T03:04:05")),
                       ("Bob", 41, np.nan, np.datetime64("NaT"))],
                      dtype=[("name", "U10"), ("age", "i2"), ("score", "f8"), ("seen", "M8[s]")])
    path = tmp_path / "people.sqlite"
    convert(frame_rows(table_from(people)), Target("sqlite", str(path), "people"))
    conn = sqlite3.connect(path)
    declared = [r[2] for r in conn.execute("PRAGMA table_info(people)")]
    assert declared == ["TEXT", "INTEGER", "REAL", "TIMESTAMP"]
    assert conn.execute("SELECT * FROM people").fetchall() == [
        ("Ada", 36, 1.5, "2024-01-02 03:04:05"), ("Bob", 41, None, None)]
    conn.close()


def test_a_series_and_a_structured_array_with_a_sub_array_field(tmp_path: Path) -> None:
    series = pd.Series([1.5, None, 3.0], index=pd.Index(["a", "b", "c"], name="key"), name="value")
    rows = frame_rows(table_from(series))
    assert [(x.name, x.kind) for x in rows.fields] == [("key", "text"), ("value", "real")]
    points = np.array([(1, [0.5, 1.5]), (2, [2.5, 3.5])], dtype=[("id", "i4"), ("xy", "f8", (2,))])
    path = tmp_path / "points.parquet"
    convert(frame_rows(table_from(points)), Target("parquet", str(path)))
    read = pq.read_table(path)
    assert [str(t) for t in read.schema.types] == ["int64", "string"]
    assert read.to_pylist() == [{"id": 1, "xy": "[0.5 1.5]"}, {"id": 2, "xy": "[2.5 3.5]"}]


def test_unsigned_64_bit_integers_beyond_int64_are_written_exactly_as_text(tmp_path: Path) -> None:
    f = pd.DataFrame({"small": np.array([1, 2], dtype=np.uint64),
                      "big": np.array([1, 2**64 - 1], dtype=np.uint64)})
    rows = frame_rows(table_from(f))
    assert [(x.name, x.kind) for x in rows.fields] == [("small", "integer"), ("big", "text")]
    path = tmp_path / "u.sqlite"
    convert(rows, Target("sqlite", str(path), "u"))
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT * FROM u").fetchall() == [(1, "1"), (2, str(2**64 - 1))]
    conn.close()


def test_a_frame_pickled_inside_a_dict_converts_from_its_node(tmp_path: Path) -> None:
    f = pd.DataFrame({"when": pd.to_datetime(["2024-01-01", None]), "n": pd.array([1, None], dtype="Int64")})
    value = load_safe(pickle.dumps({"table": f})).value
    rows = frame_rows(frame_table(value["table"]))
    assert [(x.name, x.kind) for x in rows.fields] == [("when", "timestamp"), ("n", "integer")]
    assert list(rows.batches(10, lambda: False)) == [[(dt.datetime(2024, 1, 1), 1), (None, None)]]
