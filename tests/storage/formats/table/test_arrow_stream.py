"""Arrow IPC streams (``pyarrow.ipc.new_stream``): the grid's pages, SQL, Convert, inspect, and the
bad inputs (cut in a batch, cut in the schema, schema only, dictionary and nested columns)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from storage.core.convert import Target, convert
from storage.core.errors import KnownError
from storage.formats.table.convert import TableRows
from storage.formats.table.query import file_ref, run_query
from storage.formats.table.source import View, is_numeric_type, open_table
from storage.inspect.report import inspect_path
from storage.sniff.detect import sniff


def frame(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    return pd.DataFrame({"id": np.arange(n), "city": rng.choice(["Oslo", "Lima", "Kyoto"], n),
                         "price": np.round(rng.normal(100, 10, n), 2),
                         "note": [f"line {i}\nsecond" if i % 5 == 0 else f"n{i}" for i in range(n)]})


def write_stream(path: Path, table: pa.Table, batch_rows: int = 100, **options) -> Path:
    with ipc.new_stream(path, table.schema, options=ipc.IpcWriteOptions(**options)) as writer:
        for batch in table.to_batches(max_chunksize=batch_rows):
            writer.write_batch(batch)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def stream(tmp_path: Path) -> Path:
    return write_stream(tmp_path / "t.arrows", pa.Table.from_pandas(frame(), preserve_index=False))


def test_a_stream_is_a_table(stream: Path) -> None:
    result = sniff(stream)
    assert result.format == "arrow", result.reason
    assert (result.detail["flavour"], result.detail["damaged"]) == ("arrow-stream", False)
    df = frame()
    source = open_table(str(stream), "arrow")
    try:
        assert (source.arrow_kind, source.label) == ("stream", "Arrow IPC stream")
        assert [c.name for c in source.info.columns] == list(df.columns)
        assert (source.info.rows, source.info.rows_exact, source.info.notes) == (300, True, [])
        assert source.page(0, 3) == [tuple(r) for r in df.head(3).itertuples(index=False)]
        assert source.page(250, 1)[0][0] == 250  # past the first batches of 100 rows
        top = source.page(0, 5, View(order=((2, True),)))
        assert [r[2] for r in top] == sorted(df.price, reverse=True)[:5]
        assert source.count(View(filters=((1, "oslo"),))) == (df.city == "Oslo").sum()
        assert source.count(View(filters=((2, "<90"),))) == (df.price < 90).sum()
        assert source.count(View(search="n17")) == df.note.str.contains("n17").sum()
        stats = source.stats(2)
        assert (stats["rows"], stats["nulls"], float(stats["max"])) == (300, 0, df.price.max())
        assert dict(source.histogram(1)) == df.city.value_counts().to_dict()
        assert source.record(5)[3] == ("note", "VARCHAR", "line 5\nsecond")
    finally:
        source.close()


def test_legacy_stream_without_continuation_marker(tmp_path: Path) -> None:
    path = write_stream(tmp_path / "old.arrow", pa.table({"a": [1, 2, 3]}), use_legacy_format=True)
    assert path.read_bytes()[:4] != b"\xff\xff\xff\xff"
    result = sniff(path)
    assert result.format == "arrow" and result.detail["legacy"] is True, result.reason
    source = open_table(str(path), "arrow")
    assert source.page(0, 5) == [(1,), (2,), (3,)]
    source.close()


def test_batches_are_memory_mapped_not_copied(tmp_path: Path) -> None:
    rows = 2_000_000  # 16 MB of int64 and as much of float64
    table = pa.table({"a": np.arange(rows), "b": np.arange(rows) * 0.5})
    path = write_stream(tmp_path / "big.arrows", table, batch_rows=100_000)
    del table
    before = pa.total_allocated_bytes()
    source = open_table(str(path), "arrow")
    try:
        assert source.info.rows == rows
        assert pa.total_allocated_bytes() - before < 1024 * 1024  # batches are slices of the map
        assert source.page(rows - 1, 1) == [(rows - 1, (rows - 1) * 0.5)]
    finally:
        source.close()


def test_dictionary_and_nested_columns(tmp_path: Path) -> None:
    first = pa.record_batch({"city": pa.array(["Oslo", "Lima"]).dictionary_encode(),
                             "tags": pa.array([["a", "b"], []]),
                             "point": pa.array([{"x": 1, "y": "p"}, None], pa.struct([("x", pa.int64()),
                                                                                     ("y", pa.string())]))})
    # a second batch with a new dictionary: a stream may replace it between batches
    second = pa.record_batch({"city": pa.array(["Kyoto", "Kyoto", None]).dictionary_encode(),
                              "tags": pa.array([None, ["c"], ["d", "e"]]),
                              "point": pa.array([{"x": 3, "y": "q"}, None, None],
                                                first.schema.field(2).type)})
    path = tmp_path / "mixed.arrows"
    with ipc.new_stream(path, first.schema) as writer:
        writer.write_batch(first)
        writer.write_batch(second)
    source = open_table(str(path), "arrow")
    try:
        assert source.info.rows == 5
        assert any("JSON" in note and "tags" in note and "point" in note for note in source.info.notes)
        assert source.text_page(0, 5) == [["Oslo", '["a", "b"]', '{"x": 1, "y": "p"}'], ["Lima", "[]", ""],
                                          ["Kyoto", "", '{"x": 3, "y": "q"}'], ["Kyoto", '["c"]', ""],
                                          ["", '["d", "e"]', ""]]
        assert source.count(View(filters=((0, "=Kyoto"),))) == 2
        assert dict(source.histogram(0)) == {"Kyoto": 2, "Oslo": 1, "Lima": 1, "(null)": 1}
        ordered = [r[0] for r in source.page(0, 5, View(order=((0, False),)))]
        assert ordered == ["Kyoto", "Kyoto", "Lima", "Oslo", None]
        assert source.stats(1)["nulls"] == 1
        # a struct with an integer field is not a number: its histogram is of its values, not bins
        assert source.info.columns[2].type == "STRUCT(x BIGINT, y VARCHAR)"
        assert dict(source.histogram(2)) == {"(null)": 3, "{'x': 1, 'y': p}": 1, "{'x': 3, 'y': q}": 1}
    finally:
        source.close()


@pytest.mark.parametrize(("kind", "numeric"), [
    ("BIGINT", True), ("DECIMAL(9,2)", True), ("DOUBLE", True), ("UHUGEINT", True), ("FLOAT", True),
    ("STRUCT(x BIGINT, y VARCHAR)", False), ("BIGINT[]", False), ("INTEGER[3]", False),
    ("INTERVAL", False), ("MAP(VARCHAR, INTEGER)", False), ("VARCHAR", False), ("POINT", False)])
def test_numeric_types(kind: str, numeric: bool) -> None:
    assert is_numeric_type(kind) is numeric


def test_schema_only_stream_is_an_empty_table(tmp_path: Path) -> None:
    path = tmp_path / "empty.arrows"
    with ipc.new_stream(path, pa.schema([("a", pa.int64()), ("b", pa.string())])):
        pass
    assert sniff(path).format == "arrow"
    source = open_table(str(path), "arrow")
    try:
        assert [(c.name, c.type) for c in source.info.columns] == [("a", "BIGINT"), ("b", "VARCHAR")]
        assert (source.info.rows, source.page(0, 10), source.count()) == (0, [], 0)
        assert source.stats(0)["rows"] == 0 and source.histogram(0) == []
    finally:
        source.close()
    report = inspect_path(path)
    assert report["ok"] and report["summary"]["table"]["rows"] == 0


def test_stream_cut_inside_a_batch_shows_the_batches_before(stream: Path, tmp_path: Path) -> None:
    data = stream.read_bytes()
    cut = tmp_path / "cut.arrows"
    cut.write_bytes(data[: len(data) * 2 // 3])
    before = digest(cut)
    assert sniff(cut).format == "arrow"
    source = open_table(str(cut), "arrow")
    try:
        assert source.complete is False
        rows = source.info.rows
        assert rows in (100, 200) and source.page(rows - 1, 1)[0][0] == rows - 1
        assert any("cut short" in note and f"{rows:,} rows" in note for note in source.info.notes)
    finally:
        source.close()
    report = inspect_path(cut)
    assert report["ok"] and report["summary"]["arrow"] == {"layout": "stream", "label": "Arrow IPC stream",
                                                           "complete": False}
    assert any("cut short" in f["message"] for f in report["findings"])
    assert digest(cut) == before


def test_stream_cut_inside_its_schema_is_refused(stream: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.arrows"
    cut.write_bytes(stream.read_bytes()[:120])
    result = sniff(cut)
    assert result.format == "arrow" and result.detail["damaged"] is True, result.reason
    assert "truncated" in result.reason
    before = digest(cut)
    with pytest.raises(KnownError, match="not a readable Arrow IPC stream: its schema cannot be read"):
        open_table(str(cut), "arrow")
    report = inspect_path(cut)
    assert not report["ok"] and "Arrow IPC stream" in report["error"]["message"]
    assert digest(cut) == before


def test_not_a_stream_named_arrow_gets_a_message(tmp_path: Path) -> None:
    path = tmp_path / "junk.arrows"
    path.write_bytes(b"\xff\xff\xff\xff" + bytes(range(256)) * 4)
    assert sniff(path).format == "binary"
    with pytest.raises(KnownError, match="not a readable Arrow IPC stream"):
        open_table(str(path), "arrow")
    path.write_bytes(b"")
    assert sniff(path).format == "arrow"  # by its extension
    with pytest.raises(KnownError, match="is empty"):
        open_table(str(path), "arrow")


def test_inspect_says_stream(stream: Path) -> None:
    report = inspect_path(stream)
    assert report["ok"] and report["format"] == "arrow"
    assert "stream" in report["summary"]["detected_by"]
    assert report["summary"]["arrow"] == {"layout": "stream", "label": "Arrow IPC stream", "complete": True}
    table = report["summary"]["table"]
    assert (table["rows"], table["rows_exact"]) == (300, True)
    assert [c["name"] for c in table["columns"]] == ["id", "city", "price", "note"]
    json.dumps(report)


def test_sql_joins_a_stream_with_a_csv(stream: Path, tmp_path: Path) -> None:
    cities = tmp_path / "cities.csv"
    pd.DataFrame({"city": ["Oslo", "Lima", "Kyoto"], "country": ["NO", "PE", "JP"]}).to_csv(cities,
                                                                                             index=False)
    sources = [open_table(str(stream), "arrow"), open_table(str(cities), "csv")]
    try:
        result = run_query([file_ref(s) for s in sources],
                           "SELECT c.country, count(*) AS n FROM t JOIN cities c USING (city) "
                           "GROUP BY c.country ORDER BY c.country")
        expected = frame().city.map({"Oslo": "NO", "Lima": "PE", "Kyoto": "JP"}).value_counts()
        assert result.rows == sorted(expected.items())
        result.close()
    finally:
        for source in sources:
            source.close()


def test_convert_a_stream_to_parquet_and_sqlite(stream: Path, tmp_path: Path) -> None:
    before = digest(stream)
    source = open_table(str(stream), "arrow")
    try:
        out = tmp_path / "out.parquet"
        assert convert(TableRows(source, View(filters=((1, "=Oslo"),))), Target("parquet", str(out))) \
            == (frame().city == "Oslo").sum()
        back = pq.read_table(out)
        assert back.schema.field("id").type == pa.int64() and set(back.column("city").to_pylist()) == {"Oslo"}
        db = tmp_path / "records.db"
        assert convert(TableRows(source), Target("sqlite", str(db), table="t")) == 300
    finally:
        source.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*), max(id) FROM t").fetchone() == (300, 299)
    conn.close()
    assert digest(stream) == before


def test_pages_in_file_order_are_slices_that_read_as_the_scan_does(tmp_path: Path) -> None:
    import datetime as dt
    from decimal import Decimal

    n = 40
    table = pa.table({
        "id": pa.array(range(n), pa.int64()),
        "at": pa.array([dt.datetime(2024, 1, 1, i % 24, tzinfo=dt.UTC) for i in range(n)],
                       pa.timestamp("us", tz="UTC")),
        "amount": pa.array([Decimal(f"{i}.25") for i in range(n)], pa.decimal128(9, 2)),
        "day": pa.array([dt.date(2024, 1, 1 + i % 28) for i in range(n)]),
        "blob": pa.array([bytes([i, 255]) for i in range(n)]),
        "attrs": pa.array([[("k", i)] for i in range(n)], pa.map_(pa.string(), pa.int64())),
    })
    path = write_stream(tmp_path / "types.arrows", table, batch_rows=7)  # pages cross batches
    source = open_table(str(path), "arrow")
    try:
        by_id = View(order=((0, False),))  # the same rows through DuckDB's scan, sort and OFFSET
        for offset, limit in ((0, 3), (5, 10), (33, 20), (40, 5)):
            assert source.page(offset, limit) == source.page(offset, limit, by_id)
            assert source.text_page(offset, limit, columns=[5, 1]) == source.text_page(offset, limit, by_id,
                                                                                      [5, 1])
        assert [r[0] for r in source.page(35, 10)] == [35, 36, 37, 38, 39]
        assert source.record(12)[2] == ("amount", "DECIMAL(9,2)", "12.25")
    finally:
        source.close()


def test_compressed_batches_are_unpacked_to_a_temporary_file_not_ram(tmp_path: Path, monkeypatch) -> None:
    import storage.formats.table.source as source_module

    monkeypatch.setattr(source_module, "SPOOL_BYTES", 1024 * 1024)
    rows = 400_000  # 3 MB a column unpacked, a few KB packed
    ids = np.arange(rows)
    cities = ["Oslo", "Lima", "Kyoto", "Paris"]
    path = tmp_path / "packed.arrows"
    schema = pa.schema([("id", pa.int64()), ("city", pa.dictionary(pa.int32(), pa.string()))])
    with ipc.new_stream(path, schema, options=ipc.IpcWriteOptions(compression="zstd")) as writer:
        for start in range(0, rows, 50_000):  # each batch its own dictionary: the spool must keep them
            chunk = ids[start:start + 50_000]
            turn = start // 50_000 % 4
            city = pa.DictionaryArray.from_arrays(pa.array((chunk % 4).astype(np.int32)),
                                                  pa.array(cities[turn:] + cities[:turn]))
            writer.write_batch(pa.record_batch([pa.array(chunk), city], schema=schema))
    feather_path = tmp_path / "packed.feather"
    pd.DataFrame({"id": ids, "x": ids * 0.5}).to_feather(feather_path)  # pandas writes LZ4
    for file, kind in ((path, "stream"), (feather_path, "file")):
        before = digest(file)
        allocated = pa.total_allocated_bytes()
        source = open_table(str(file), "arrow")
        try:
            spooled = source._spooled
            assert source.arrow_kind == kind and spooled is not None and Path(spooled).exists()
            assert any("compressed" in note for note in source.info.notes)
            assert pa.total_allocated_bytes() - allocated < 4 * 1024 * 1024  # not the 6 MB unpacked
            assert source.info.rows == rows and source.count() == rows
            assert source.page(rows - 1, 1)[0][0] == rows - 1
            assert source.count(View(filters=((0, ">=350000"),))) == 50_000
        finally:
            source.close()
        assert not Path(spooled).exists() and digest(file) == before
    # what the stream's dictionaries say, batch by batch, survives the spool
    expected = ipc.open_stream(path).read_all().column("city").to_pylist()
    monkeypatch.setattr(source_module, "SPOOL_BYTES", 1024 * 1024)
    source = open_table(str(path), "arrow")
    try:
        assert [r[0] for r in source.page(0, rows, columns=[1])] == expected
    finally:
        source.close()


def test_cancel_while_unpacking_leaves_no_temporary_file(tmp_path: Path, monkeypatch) -> None:
    import tempfile

    import storage.formats.table.source as source_module

    monkeypatch.setattr(source_module, "SPOOL_BYTES", 0)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "temp"))
    (tmp_path / "temp").mkdir()
    table = pa.table({"a": np.arange(100_000)})
    path = write_stream(tmp_path / "packed.arrows", table, batch_rows=10_000, compression="lz4")
    asked = []

    def cancel() -> bool:
        asked.append(1)
        return len(asked) > 3

    with pytest.raises(KnownError, match="Stopped"):
        open_table(str(path), "arrow", cancel=cancel)
    assert list((tmp_path / "temp").iterdir()) == []


def test_no_room_to_unpack_gets_a_message(tmp_path: Path, monkeypatch) -> None:
    import errno
    import tempfile

    import storage.formats.table.source as source_module

    monkeypatch.setattr(source_module, "SPOOL_BYTES", 0)

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tempfile, "mkstemp", full)
    path = write_stream(tmp_path / "packed.arrows", pa.table({"a": np.arange(50_000)}), batch_rows=10_000,
                        compression="zstd")
    with pytest.raises(KnownError, match=r"Cannot unpack the compressed batches of packed\.arrows into a "
                                         r"temporary file: .*No space left"):
        open_table(str(path), "arrow")
