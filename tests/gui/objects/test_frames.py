"""Pickled pandas DataFrames in the Objects tab: a grid with index and column names, a Raw toggle."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.gui.objects.test_objects import open_one

pd = pytest.importorskip("pandas")


def _frame():
    return pd.DataFrame({"city": ["Oslo", "Lima", None], "temp": [3.5, 19.25, np.nan],
                         "when": pd.to_datetime(["2024-01-01", "2024-06-01", None]).tz_localize("UTC"),
                         "count": pd.array([4, None, 7], dtype="Int64")},
                        index=pd.Index([10, 20, 30], name="station"))


def _cell(model, row: int, col: int) -> str:
    return model.data(model.index(row, col))


def test_a_pickled_dataframe_shows_as_a_grid_with_a_raw_toggle(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "weather.pkl"
    _frame().to_pickle(path)
    _window, document = open_one(qtbot, tmp_path, path)
    pane = document.view.frame_pane
    assert pane is not None and pane.isVisibleTo(document)
    model = pane.model
    assert model.rowCount() == 3 and model.columnCount() == 5
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(5)]
    assert headers == ["station", "city", "temp", "when", "count"]
    assert "Int64" in model.headerData(4, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert "UTC" in model.headerData(3, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    qtbot.waitUntil(lambda: _cell(model, 2, 4) != "…")  # tiles are formatted on a worker
    assert [_cell(model, 0, c) for c in range(5)] == ["10", "Oslo", "3.5", "2024-01-01 00:00:00+00:00", "4"]
    assert [_cell(model, 2, c) for c in range(5)] == ["30", "<NA>", "NaN", "NaT", "7"]
    assert "3 rows × 4 columns" in pane.info.text()
    qtbot.mouseClick(pane.raw_button, Qt.MouseButton.LeftButton)
    assert pane.pages.currentWidget() is pane.raw_page  # the internals, as the tree shows them
    raw = pane.raw_page.model()
    assert raw.rowCount(raw.index(0, 0)) > 0
    qtbot.mouseClick(pane.raw_button, Qt.MouseButton.LeftButton)
    assert pane.pages.currentWidget() is pane.table
    if shot := os.environ.get("FRAMES_SHOT"):
        document.window().resize(1100, 500)
        qtbot.wait(200)
        document.window().grab().save(shot)


def test_a_nested_dataframe_shows_when_selected(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "nested.pkl"
    path.write_bytes(pickle.dumps({"name": "run 1", "table": _frame()}, protocol=4))
    _window, document = open_one(qtbot, tmp_path, path)
    label = document.view.model.index_for_path([0, "table"]).siblingAtColumn(1)
    assert label.data() == "DataFrame 3 rows × 4 columns"  # not pandas.DataFrame()
    assert document.view.select_path([0, "table"])
    pane = document.view.frame_pane
    assert pane is not None and pane.isVisibleTo(document)
    assert pane.model.rowCount() == 3
    if shot := os.environ.get("FRAMES_SHOT_RAW"):
        pane.raw_button.click()
        document.window().resize(1100, 560)
        qtbot.wait(200)
        document.window().grab().save(shot)


def test_a_joblib_dataframe_shows_as_a_grid(qtbot, tmp_path: Path) -> None:
    joblib = pytest.importorskip("joblib")
    path = tmp_path / "frame.joblib"
    joblib.dump(pd.DataFrame({"a": np.arange(100), "b": np.arange(100) * 0.5}), path)
    _window, document = open_one(qtbot, tmp_path, path)
    pane = document.view.frame_pane
    assert pane is not None and pane.isVisibleTo(document)
    assert pane.model.rowCount() == 100 and pane.model.columnCount() == 3
    qtbot.waitUntil(lambda: _cell(pane.model, 99, 2) == "49.5")


def test_mismatched_blocks_get_a_message_not_a_grid(qtbot, tmp_path: Path) -> None:
    from tests.storage.formats.objects.pickle.test_frame import mismatched_pickle

    path = tmp_path / "bad.pkl"
    path.write_bytes(mismatched_pickle())
    _window, document = open_one(qtbot, tmp_path, path)
    assert document.view.detail.currentWidget() is document.view.text
    assert "cannot be shown as a table" in document.view.text.toPlainText()
