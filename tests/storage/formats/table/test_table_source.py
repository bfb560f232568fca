"""Tables in files: sniffing, the dialect, TableSource over DuckDB, inspect, and the bad inputs."""

from __future__ import annotations

import csv
import hashlib
import json
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

from storage.core.errors import KnownError
from storage.formats.table.dialect import CsvDialect, detect_dialect
from storage.formats.table.source import Call, CancelledError, View, cell_text, open_table
from storage.inspect.report import inspect_path
from storage.sniff.detect import sniff


def frame(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame({"id": np.arange(n), "city": rng.choice(["Oslo", "Lima", "Kyoto"], n),
                         "price": np.round(rng.normal(100, 10, n), 2),
                         "note": [f"line {i}\nsecond" if i % 5 == 0 else f"n{i}" for i in range(n)]})


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    df = frame()
    out = {"csv": tmp_path / "t.csv", "parquet": tmp_path / "t.parquet", "feather": tmp_path / "t.feather",
           "tsv": tmp_path / "t.tsv", "semi": tmp_path / "semi.data", "pipe": tmp_path / "pipe.txt"}
    df.to_csv(out["csv"], index=False)
    df.to_parquet(out["parquet"])
    df.to_feather(out["feather"])
    df.to_csv(out["tsv"], sep="\t", index=False)
    df.to_csv(out["semi"], sep=";", index=False)
    df.to_csv(out["pipe"], sep="|", index=False)
    return out


# -- sniffing -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("key", "fmt", "delimiter"), [
    ("csv", "csv", ","), ("tsv", "csv", "\t"), ("semi", "csv", ";"), ("pipe", "csv", "|"),
    ("parquet", "parquet", None), ("feather", "arrow", None)])
def test_sniffed_by_content(files: dict[str, Path], key: str, fmt: str, delimiter: str | None) -> None:
    result = sniff(files[key])
    assert result.format == fmt, result.reason
    if delimiter:
        assert result.detail["delimiter"] == delimiter


def test_feather_v1_and_arrow_stream_names(tmp_path: Path) -> None:
    table = pa.table({"a": [1, 2, 3]})
    feather.write_feather(table, tmp_path / "v1.bin", version=1)
    assert sniff(tmp_path / "v1.bin").format == "arrow"
    source = open_table(str(tmp_path / "v1.bin"), "arrow")
    assert source.page(0, 5) == [(1,), (2,), (3,)]
    source.close()


@pytest.mark.parametrize(("name", "data", "expected"), [
    ("lines.csv", '{"a": 1, "b": 2}\n{"a": 3, "b": 4}\n{"a": 5, "b": 6}\n', "jsonl"),
    ("doc.data", '[{"a": 1, "b": 2},\n {"a": 3, "b": 4}]\n', "json"),
    ("prose.txt", "Well, here we are.\nYes, and there they go.\nNo, not again.\n", "text"),
    ("code.py", "a, b = 1, 2\nc, d = 3, 4\ne, f = 5, 6\n", "text"),
    ("indented.txt", "\tone\n\ttwo\n\tthree\n", "text"),
    ("quoted.csv", 'a,b\n1,"two\nlines"\n3,"x, y"\n', "csv"),
])
def test_sniff_does_not_steal(tmp_path: Path, name: str, data: str, expected: str) -> None:
    path = tmp_path / name
    path.write_text(data)
    assert sniff(path).format == expected


def test_truncated_parquet_is_parquet_and_says_so(tmp_path: Path, files: dict[str, Path]) -> None:
    data = files["parquet"].read_bytes()
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(data[: len(data) // 2])
    result = sniff(cut)
    assert result.format == "parquet" and result.detail["damaged"]
    before = digest(cut)
    with pytest.raises(KnownError, match="not a complete Parquet file"):
        open_table(str(cut), "parquet")
    report = inspect_path(cut)
    assert not report["ok"] and "Parquet" in report["error"]["message"]
    assert digest(cut) == before


# -- the dialect ----------------------------------------------------------------------------------

def test_dialect_detected_and_overridable(tmp_path: Path) -> None:
    path = tmp_path / "legacy.csv"
    with open(path, "w", newline="", encoding="cp1252") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["name", "city", "amount"])
        for i in range(40):
            writer.writerow([f"Jos\u00e9 {i}", "Z\u00fcrich" if i % 2 else "Gen\u00e8ve", f"{i}.5"])
    dialect = detect_dialect(str(path))
    assert (dialect.delimiter, dialect.header, dialect.encoding) == (";", True, "cp1252")
    source = open_table(str(path), "csv")
    assert [c.name for c in source.info.columns] == ["name", "city", "amount"]
    assert source.page(0, 2)[1][:2] == ("Jos\u00e9 1", "Z\u00fcrich")
    source.close()
    # the user says: no header row
    plain = open_table(str(path), "csv", dialect.with_changes(header=False))
    assert plain.page(0, 1)[0][0] == "name"
    plain.close()


def test_utf16_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "u16.csv"
    path.write_bytes("a,b\n1,\u00e9\n2,\u00fc\n".encode("utf-16"))
    source = open_table(str(path), "csv")
    assert source.dialect is not None and source.dialect.encoding == "utf-16"
    assert source.page(0, 5) == [(1, "\u00e9"), (2, "\u00fc")]
    source.close()


# -- TableSource ---------------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["csv", "parquet", "feather"])
def test_pages_sort_filter_search(files: dict[str, Path], key: str) -> None:
    df = frame()
    source = open_table(str(files[key]), "arrow" if key == "feather" else key)
    info = source.info
    assert [c.name for c in info.columns] == list(df.columns)
    assert (info.rows, info.rows_exact) == (len(df), True)
    assert source.page(0, 3) == [tuple(r) for r in df.head(3).itertuples(index=False)]
    top = source.page(0, 5, View(order=((2, True),)))
    assert [r[2] for r in top] == sorted(df.price, reverse=True)[:5]
    oslo = View(filters=((1, "oslo"),))
    assert source.count(oslo) == (df.city == "Oslo").sum()
    cheap = View(filters=((2, "<90"),))
    assert source.count(cheap) == (df.price < 90).sum()
    assert source.count(View(search="n17")) == df.note.str.contains("n17").sum()
    assert source.page(0, 1, View(search="second"))[0][0] == 0  # newline text is searched too
    source.close()


def test_stats_histogram_record(files: dict[str, Path]) -> None:
    df = frame()
    source = open_table(str(files["parquet"]), "parquet")
    stats = source.stats(2)
    assert stats["rows"] == len(df) and stats["nulls"] == 0
    assert float(stats["min"]) == df.price.min() and float(stats["max"]) == df.price.max()
    bars = source.histogram(2)
    assert sum(n for _label, n in bars) == len(df) and len(bars) == 20
    cities = dict(source.histogram(1))
    assert cities == df.city.value_counts().to_dict()
    record = source.record(5)
    assert record[3] == ("note", "VARCHAR", "line 5\nsecond")
    source.close()


def test_nested_parquet_types_show_as_json(tmp_path: Path) -> None:
    table = pa.table({"tags": [["a", "b"], [], None], "point": [{"x": 1, "y": 2}, None, {"x": 3, "y": 4}]})
    path = tmp_path / "nested.parquet"
    pq.write_table(table, path)
    source = open_table(str(path), "parquet")
    assert source.info.notes and "JSON" in source.info.notes[0]
    rows = source.text_page(0, 3)
    assert rows[0] == ['["a", "b"]', '{"x": 1, "y": 2}']
    assert source.stats(1)["nulls"] == 1
    source.close()


def test_ten_thousand_columns(tmp_path: Path) -> None:
    table = pa.table({f"c{i}": [i, i + 1] for i in range(10_000)})
    path = tmp_path / "wide.parquet"
    pq.write_table(table, path)
    source = open_table(str(path), "parquet")
    assert len(source.info.columns) == 10_000
    assert source.text_page(1, 1, columns=range(9_998, 10_000)) == [["9999", "10000"]]
    source.close()


def test_cancel_stops_a_query(tmp_path: Path) -> None:
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"a": np.arange(3_000_000), "b": np.arange(3_000_000) % 7919}), path)
    source = open_table(str(path), "parquet")
    call = Call()
    failures: list[BaseException] = []

    def slow() -> None:
        try:
            source._run("SELECT sum(x.a * y.b) FROM t x, t y", (), call)
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.3)
    call.cancel()
    thread.join(20)
    assert not thread.is_alive()
    assert failures and isinstance(failures[0], CancelledError)
    source.close()


# -- bad input -----------------------------------------------------------------------------------

def test_ragged_rows_give_a_grid(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n")
    before = digest(path)
    source = open_table(str(path), "csv")
    assert source.page(0, 5)[1][:3] == (4, 5, None)
    assert source.info.notes
    source.close()
    assert digest(path) == before


def test_type_change_far_down_reads_as_text(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    rows = [f"{i},x{i}" for i in range(30_000)] + ["oops,y"]
    path.write_text("n,s\n" + "\n".join(rows) + "\n")
    source = open_table(str(path), "csv")
    assert source.count() == 30_001
    assert source.page(30_000, 1) == [("oops", "y")]
    source.close()


def test_mixed_encoding_message(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    body = "a,b\n" + "".join(f"{i},caf\u00e9\n" for i in range(60_000))
    path.write_bytes(body.encode("utf-8") + "9,d\u00e9j\u00e0\n".encode("latin-1"))
    source = open_table(str(path), "csv")
    with pytest.raises(KnownError, match="not valid in the chosen encoding at line 60002"):
        source.page(59_990, 20)
    source.close()
    fixed = open_table(str(path), "csv", CsvDialect(",", '"', True, "latin-1"))
    assert fixed.count() == 60_001
    fixed.close()


def test_one_huge_line(tmp_path: Path) -> None:
    path = tmp_path / "line.csv"
    with open(path, "wb") as handle:
        handle.write(b"a,b\n")
        handle.write(b"x" * (20 * 1024 * 1024) + b",1\n")
    with pytest.raises(KnownError, match="record longer than"):
        source = open_table(str(path), "csv")
        source.count()


def test_inspect_table_summary(files: dict[str, Path], tmp_path: Path) -> None:
    for key, fmt in (("csv", "csv"), ("parquet", "parquet"), ("feather", "arrow")):
        report = inspect_path(files[key])
        assert report["ok"] and report["format"] == fmt
        table = report["summary"]["table"]
        assert table["rows"] == 300 and table["rows_exact"] is True
        assert [c["name"] for c in table["columns"]] == ["id", "city", "price", "note"]
        json.dumps(report)
    big = tmp_path / "big.csv"
    frame(40_000).to_csv(big, index=False)
    table = inspect_path(big)["summary"]["table"]
    assert table["rows_exact"] is False and 36_000 < table["rows"] < 44_000


def test_cell_text() -> None:
    assert cell_text(None) == "" and cell_text([1, {"a": None}]) == '[1, {"a": null}]'
    assert cell_text("a\nb") == "a⏎b" and cell_text(0.1) == "0.1"


def test_empty_and_header_only_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert sniff(empty).format == "csv"
    source = open_table(str(empty), "csv")
    assert (source.info.columns, source.info.rows, source.page(0, 5)) == ([], 0, [])
    source.close()
    header = tmp_path / "header.csv"
    header.write_text("a,b,c\n")
    source = open_table(str(header), "csv")
    assert [c.name for c in source.info.columns] == ["a", "b", "c"] and source.count() == 0
    source.close()
