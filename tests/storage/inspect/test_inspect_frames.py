"""inspect on a pickle or joblib file whose value is a pandas DataFrame: its table summary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from storage.inspect.report import inspect_path
from tests.storage.formats.objects.pickle.test_frame import mismatched_pickle

pd = pytest.importorskip("pandas")


def _frame():
    return pd.DataFrame({"id": np.arange(5), "name": list("abcde"),
                         "when": pd.date_range("2024-01-01", periods=5, tz="UTC")})


@pytest.mark.parametrize("protocol", [2, 5])
def test_a_pickled_dataframe_gets_a_table_summary(tmp_path: Path, protocol: int) -> None:
    path = tmp_path / "f.pkl"
    _frame().to_pickle(path, protocol=protocol)
    report = inspect_path(path)
    assert report["format"] == "pickle"
    assert report["summary"]["table"] == {
        "rows": 5, "rows_exact": True,
        "columns": [{"name": "id", "type": "int64"}, {"name": "name", "type": "string"},
                    {"name": "when", "type": "datetime64[us, UTC]"}]}


def test_a_joblib_dataframe_with_a_named_index(tmp_path: Path) -> None:
    joblib = pytest.importorskip("joblib")
    path = tmp_path / "f.joblib"
    joblib.dump(_frame().set_index("name"), path, compress=3)
    table = inspect_path(path)["summary"]["table"]
    assert table["rows"] == 5 and [c["name"] for c in table["columns"]] == ["name", "id", "when"]


def test_no_table_for_other_values_and_a_clear_note_for_a_broken_frame(tmp_path: Path) -> None:
    plain = tmp_path / "d.pkl"
    pd.to_pickle({"a": 1}, plain)
    assert "table" not in inspect_path(plain)["summary"]
    broken = tmp_path / "bad.pkl"
    broken.write_bytes(mismatched_pickle())
    report = inspect_path(broken)
    assert "table" not in report["summary"]
    assert any("cannot be read as a table" in str(finding) for finding in report["findings"])
