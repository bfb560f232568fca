"""pickle_frame: pickled pandas frames read as tables without pandas, checked cell by cell against
the frames pandas itself loads (pandas is imported by these tests only, never by storage)."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from storage.formats.objects.pickle.frame import FrameError, frame_table, is_frame, table_of
from storage.formats.objects.pickle.safe import load_safe

pd = pytest.importorskip("pandas")
BENIGN = Path(__file__).parents[4] / "data" / "benign"


def every_dtype():
    """One column of each dtype the reader rebuilds, with missing values where the dtype has them."""
    n = 7
    return pd.DataFrame({
        "int": np.arange(n, dtype=np.int64) - 3,
        "uint8": np.arange(n, dtype=np.uint8),
        "float": [0.1, -2.5, np.nan, 1e300, 0.0, 3.25, np.inf],
        "float32": np.linspace(0, 1, n, dtype=np.float32),
        "bool": [True, False] * 3 + [True],
        "object": [1, "two", None, 3.5, b"x", (1, 2), "é"],
        "str": ["a", "bb", None, "", "ünï", "x" * 50, "z"],
        "string": pd.array(["a", None, "c", "d", "", "f", "g"], dtype="string"),
        "string_python": pd.array(["p", None, "q", "r", "s", "t", "u"], dtype=pd.StringDtype("python")),
        "category": pd.Categorical(["x", "y", None, "x", "z", "y", "x"]),
        "ordered": pd.Categorical([3, 1, 2, 3, 1, None, 2], categories=[3, 2, 1], ordered=True),
        "datetime": pd.to_datetime(["2024-01-01", "2024-02-29 12:30", None, "1970-01-01",
                                    "2038-01-19 03:14:07", "1900-01-01", "2024-12-31 23:59:59.123456"],
                                   format="ISO8601"),
        "datetime_ns": (pd.to_datetime(["2024-01-01"] * n).as_unit("ns")
                        + pd.to_timedelta(range(n), unit="ns")),
        "tz_paris": pd.date_range("2024-03-30", periods=n, freq="6h", tz="Europe/Paris"),
        "tz_utc": pd.to_datetime(["2024-01-01", None] * 3 + ["2024-07-01"]).tz_localize("UTC"),
        "timedelta": pd.to_timedelta([1, -1, None, 86_400, 0.5, 3600, 7], unit="s"),
        "Int64": pd.array([1, None, 3, -4, 5, None, 7], dtype="Int64"),
        "UInt8": pd.array([1, None, 3, 4, 5, 6, 255], dtype="UInt8"),
        "Float64": pd.array([1.5, None, 3, 4, 5, 6, 7], dtype="Float64"),
        "boolean": pd.array([True, None, False, True, True, None, False], dtype="boolean"),
    }, index=pd.Index([f"r{i}" for i in range(n)], name="row"))


def expected_columns(frame) -> list[tuple[str, list]]:
    """The frame's index levels and columns as (name, values), as the table should hold them."""
    index = frame.index
    out = [(str(name) if name is not None else ("index" if index.nlevels == 1 else f"level_{i}"),
            list(index.get_level_values(i))) for i, name in enumerate(index.names)]
    for key in frame.columns:
        name = " / ".join(map(str, key)) if isinstance(key, tuple) else str(key)
        out.append((name, list(frame[key])))
    return out


def same(ours, theirs) -> bool:
    if theirs is None or (not isinstance(theirs, tuple | bytes | str) and pd.isna(theirs)):
        if isinstance(theirs, float) and not isinstance(ours, type(None)):
            return isinstance(ours, float) and ours != ours  # NaN stays NaN in float columns
        return ours is None or (isinstance(ours, float) and ours != ours) or (
            isinstance(ours, np.datetime64 | np.timedelta64) and np.isnat(ours))
    if isinstance(theirs, pd.Timestamp):
        return isinstance(ours, np.datetime64) and pd.Timestamp(ours) == theirs.tz_convert(None) \
            if theirs.tzinfo else pd.Timestamp(ours) == theirs
    if isinstance(theirs, pd.Timedelta):
        return isinstance(ours, np.timedelta64) and pd.Timedelta(ours) == theirs
    return type(ours) is not bool or (isinstance(theirs, bool | np.bool_) and ours == theirs) if \
        isinstance(ours, bool) else ours == theirs


def assert_same_table(table, frame) -> None:
    expected = expected_columns(frame)
    assert [c.name for c in table.columns] == [name for name, _ in expected]
    assert table.rows == len(frame)
    for column, (name, values) in zip(table.columns, expected, strict=True):
        assert not column.why, (name, column.why)
        ours = column.values()
        assert len(ours) == len(values), name
        for row, (a, b) in enumerate(zip(ours, values, strict=True)):
            assert same(a, b), f"{name}[{row}]: {a!r} != {b!r}"


def loaded(path_or_bytes) -> object:
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    return load_safe(data).value


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_every_dtype_cell_by_cell_at_each_protocol(tmp_path: Path, protocol: int) -> None:
    frame = every_dtype()
    path = tmp_path / "f.pkl"
    frame.to_pickle(path, protocol=protocol)
    value = loaded(path)
    assert is_frame(value)
    table = frame_table(value)
    assert_same_table(table, pd.read_pickle(path))
    dtypes = {c.name: c.dtype for c in table.columns}
    assert dtypes["Int64"] == "Int64" and dtypes["boolean"] == "boolean" and dtypes["category"] == "category"
    assert dtypes["tz_paris"].endswith(", Europe/Paris]") and dtypes["string"] == "string"
    assert dtypes["ordered"] == "category (ordered)"


def test_cells_read_as_pandas_prints_them() -> None:
    frame = every_dtype()
    table = frame_table(loaded(pickle.dumps(frame, 5)))
    by_name = {c.name: c for c in table.columns}
    assert by_name["tz_paris"].cells(0, 7) == [str(t) for t in frame["tz_paris"]]
    assert by_name["timedelta"].cells(0, 5) == ["0 days 00:00:01", "-1 days +23:59:59", "NaT",
                                                "1 days 00:00:00", "0 days 00:00:00.5"]
    assert by_name["Int64"].cells(0, 2) == ["1", "<NA>"]
    assert by_name["datetime"].cells(1, 3) == ["2024-02-29 12:30:00", "NaT"]
    assert by_name["float"].cells(0, 3) == ["0.1", "-2.5", "NaN"]
    assert by_name["category"].cells(0, 3) == ["x", "y", "<NA>"]
    assert table.tile(1, 3, 0, 2) == [["r1", "-2"], ["r2", "-1"]]


def test_multiindex_rows_and_columns() -> None:
    columns = pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1)], names=["top", "sub"])
    index = pd.MultiIndex.from_product([["x", "y"], pd.to_datetime(["2024-01-01", "2024-01-02"])],
                                       names=["k", None])
    frame = pd.DataFrame(np.arange(12).reshape(4, 3), index=index, columns=columns)
    table = frame_table(loaded(pickle.dumps(frame, 4)))
    assert [c.name for c in table.columns] == ["k", "level_1", "a / 1", "a / 2", "b / 1"]
    assert table.index_columns == 2
    assert_same_table(table, frame)


def test_series_range_and_datetime_indexes() -> None:
    series = pd.Series([1.5, None, 3.0], index=pd.RangeIndex(10, 16, 2), name="s")
    table = frame_table(loaded(pickle.dumps(series, 5)))
    assert table.kind == "Series" and [c.name for c in table.columns] == ["index", "s"]
    assert_same_table(table, series.to_frame())
    zoned = pd.DataFrame({"v": [1, 2]}, index=pd.date_range("2024-01-01", periods=2, tz="Asia/Tokyo"))
    table = frame_table(loaded(pickle.dumps(zoned, 4)))
    assert table.columns[0].dtype.endswith("Asia/Tokyo]")
    assert_same_table(table, zoned)


def test_a_frame_with_many_rows_is_read_lazily() -> None:
    frame = pd.DataFrame({"a": np.arange(200_000), "s": [f"s{i}" for i in range(200_000)]})
    table = frame_table(loaded(pickle.dumps(frame, 5)))
    assert table.rows == 200_000
    assert table.tile(199_998, 200_000, 0, 3) == [["199998", "199998", "s199998"],
                                                   ["199999", "199999", "s199999"]]


# -- older pandas: the samples in tests/data (written by pandas 1.x and 2.x) ----------------------
OLD = ["pd_categorical.pkl", "pd_dates.pkl", "pd_dates_p2.pkl", "pd_dates_p4.pkl", "pd_floats.pkl",
       "pd_index_series.pkl", "pd_ints.pkl", "pd_mixed_object.pkl", "pd_multiindex.pkl", "pd_nullable.pkl",
       "pd_series.pkl", "pd_strings.pkl", "pd_timedelta.pkl", "pd_tz_berlin.pkl", "pd_tz_utc.pkl",
       "pd_empty.pkl", "shipped_empty_frame_v1_2_4-GH#42345.pkl"]


@pytest.mark.parametrize("name", OLD)
def test_pickles_of_older_pandas_cell_by_cell(name: str) -> None:
    path = BENIGN / name
    real = pd.read_pickle(path)
    frame = real.to_frame() if isinstance(real, pd.Series) else real
    assert_same_table(frame_table(loaded(path)), frame)


@pytest.mark.parametrize("name", ["pd_interval.pkl", "pd_period.pkl"])
def test_a_dtype_not_rebuilt_keeps_its_raw_value_and_says_why(name: str) -> None:
    table = frame_table(loaded(BENIGN / name))
    (column,) = [c for c in table.columns if not c.is_index]
    assert column.why and "not a dtype this reader rebuilds" in column.why
    assert column.raw is not None and column.dtype.startswith("raw ")
    assert column.length == table.rows == len(pd.read_pickle(BENIGN / name))


def test_pickles_of_pandas_0_x_under_python_2() -> None:
    """pandas 3 itself cannot read these any more (latin-1 bytes, FrozenNDArray codes)."""
    table = frame_table(loaded(BENIGN / "shipped_test_py27.pkl"))
    assert [c.name for c in table.columns] == ["index", "a", "b", "c"]
    assert table.tile(0, 1, 0, 4) == [["0", "0.481743402318779", "-1.8761806254690436", "0.5089872228379175"]]
    table = frame_table(loaded(BENIGN / "shipped_test_mi_py27.pkl"))  # a MultiIndex of columns
    assert [c.name for c in table.columns] == ["index", "a / A", "b / B", "c / C"]
    assert all(c.dtype == "float64" for c in table.columns[1:])


def test_the_pandas_2_manager_layout() -> None:
    """pandas 2.0 wrote BlockManager's 4-tuple state (the "0.14.1" blocks), as the Series does;
    a DataFrame in that shape, built from the Series' own state, reads the same."""
    frame = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5]})
    data = pickle.dumps(frame, 4)
    value = loaded(data)
    manager = value.state["_mgr"]
    blocks, axes = manager.args
    listed = [{"values": b.args[0], "mgr_locs": b.args[1]} for b in blocks]
    extra = {"0.14.1": {"axes": axes, "blocks": listed}}
    manager.args, manager.state = (), (axes, [], [], extra)
    assert_same_table(frame_table(value), frame)


# -- bad input ----------------------------------------------------------------------------------------
def mismatched_pickle() -> bytes:
    """A DataFrame whose RangeIndex says 2 rows while its block holds 3."""
    data = pickle.dumps(pd.DataFrame({"a": [1, 2, 3]}), protocol=4)
    assert data.count(b"\x8c\x04stop\x94K\x03") == 1
    return data.replace(b"\x8c\x04stop\x94K\x03", b"\x8c\x04stop\x94K\x02")


def test_mismatched_block_shapes_raise_a_clear_error() -> None:
    value = loaded(mismatched_pickle())
    with pytest.raises(FrameError, match="has 3 values but the index has 2 labels"):
        frame_table(value)


def test_blocks_placed_twice_or_outside_raise_clear_errors() -> None:
    value = loaded(pickle.dumps(pd.DataFrame({"a": [1, 2], "b": [3, 4]}), 4))
    (block,) = value.state["_mgr"].args[0]
    block.args = (block.args[0], slice(0, 5, 1), 2)
    with pytest.raises(FrameError, match="outside its columns"):
        frame_table(value)
    block.args = (block.args[0], slice(0, 1, 1), 2)
    with pytest.raises(FrameError, match="holds 2 columns but is placed on 1"):
        frame_table(value)
    value.state["_mgr"].args = ((), value.state["_mgr"].args[1])
    with pytest.raises(FrameError, match="no block of the pickled DataFrame holds column 'a'"):
        frame_table(value)
    index = value.state["_mgr"].args[1][1]
    index.args = (index.args[0], {"start": 0, "stop": "2", "step": 1})
    with pytest.raises(FrameError, match="RangeIndex"):
        frame_table(value)
    index.args = (index.args[0], None)
    with pytest.raises(FrameError):
        frame_table(value)


def test_numpy_2d_and_structured_arrays_become_tables() -> None:
    grid = np.arange(6.0).reshape(2, 3)
    table = table_of(grid)
    assert table is not None and table.rows == 2 and [c.name for c in table.columns] == ["0", "1", "2"]
    assert table.tile(0, 2, 0, 3) == [["0.0", "1.0", "2.0"], ["3.0", "4.0", "5.0"]]
    records = np.array([(1, 2.5, b"ab"), (2, -1.0, b"c")], dtype=[("id", "i4"), ("x", "f8"), ("tag", "S2")])
    table = table_of(records)
    assert table is not None and [(c.name, c.dtype) for c in table.columns] == [
        ("id", "int32"), ("x", "float64"), ("tag", "|S2")]
    assert table.columns[1].values() == [2.5, -1.0]
    assert table_of(np.arange(3)) is None and table_of({"a": 1}) is None


def test_storage_never_imports_pandas(tmp_path: Path) -> None:
    path = tmp_path / "f.pkl"
    every_dtype().to_pickle(path)
    code = ("import sys; from storage.formats.objects.pickle.safe import load_safe;"
            "from storage.formats.objects.pickle.frame import frame_table;"
            f"t = frame_table(load_safe(open({str(path)!r}, 'rb').read()).value);"
            "t.tile(0, t.rows, 0, len(t.columns));"
            "assert 'pandas' not in sys.modules and 'pyarrow' not in sys.modules, 'imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[5])


def test_pyarrow_backed_columns_chunks_and_slices() -> None:
    pa = pytest.importorskip("pyarrow")
    frame = pd.DataFrame({"i": pd.array([1, None, 3], dtype="int64[pyarrow]"),
                          "f": pd.array([1.5, None, 3], dtype="float64[pyarrow]"),
                          "s": pd.array(["u", None, "w"], dtype="string[pyarrow]"),
                          "b": pd.array([True, None, False], dtype="bool[pyarrow]")})
    table = frame_table(loaded(pickle.dumps(frame, 5)))
    assert [c.dtype for c in table.columns[1:]] == ["int64[pyarrow]", "double[pyarrow]", "string",
                                                    "bool[pyarrow]"]
    assert_same_table(table, frame)
    # pandas 2.x kept a ChunkedArray; a sliced array keeps its offset
    from storage.formats.objects.pickle.frame import _arrow_column

    chunked = loaded(pickle.dumps(pa.chunked_array([["a", None], ["c"]]), 5))
    assert _arrow_column("x", chunked).values() == ["a", None, "c"]
    sliced = loaded(pickle.dumps(pa.array(["x", "y", None, "z"]).slice(1), 5))
    assert _arrow_column("x", sliced).values() == ["y", None, "z"]
    numbers = loaded(pickle.dumps(pa.array([1, None, 3], pa.int32()).slice(1), 5))
    assert _arrow_column("x", numbers).values() == [None, 3]


def test_raw_columns_show_the_arrays_found_inside() -> None:
    interval = frame_table(loaded(BENIGN / "pd_interval.pkl")).columns[1]
    real = pd.read_pickle(BENIGN / "pd_interval.pkl")["i"]
    assert interval.dtype == "raw int64 | int64"
    assert interval.values(0, 2) == [f"{int(v.left)} | {int(v.right)}" for v in real[:2]]
    period = frame_table(loaded(BENIGN / "pd_period.pkl")).columns[1]
    assert period.dtype == "raw int64"
    assert period.values() == [p.ordinal for p in pd.read_pickle(BENIGN / "pd_period.pkl")["p"]]


@pytest.mark.parametrize("protocol", [2, 5])
def test_other_index_types(protocol: int) -> None:
    for index in (pd.CategoricalIndex(["a", "b"], name="c"), pd.to_timedelta([1, 2], unit="h"),
                  pd.Index([0.5, 1.5]), pd.Index(["x", None], dtype=object),
                  pd.DatetimeIndex(["2024-01-01", "2024-06-01"], tz="America/New_York", name="t")):
        frame = pd.DataFrame({"v": [1, 2]}, index=index)
        assert_same_table(frame_table(loaded(pickle.dumps(frame, protocol))), frame)
    for index, text in ((pd.period_range("2024-01", periods=2, freq="M"), ["648", "649"]),
                        (pd.interval_range(0, 2), ["0 | 1", "1 | 2"])):
        table = frame_table(loaded(pickle.dumps(pd.DataFrame({"v": [1, 2]}, index=index), protocol)))
        assert table.columns[0].why and table.columns[0].cells(0, 2) == text  # raw, and says why
        assert table.columns[1].values() == [1, 2]
