"""FrameTableModel: a pickled DataFrame's table as a tiled model, through the model tester."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from PySide6.QtCore import Qt

from gui.arrays.frame import FramePane, FrameTableModel
from storage.formats.objects.pickle.frame import frame_table, table_of
from storage.formats.objects.pickle.safe import load_safe

pd = pytest.importorskip("pandas")


def _table():
    frame = pd.DataFrame({"n": pd.array([1, None, 3] * 40, dtype="Int64"), "s": ["a", "b", None] * 40},
                         index=pd.Index(range(100, 220), name="id"))
    return frame_table(load_safe(pickle.dumps(frame, 5)).value)


def test_frame_model_passes_the_tester_while_tiles_arrive(qtmodeltester, qtbot) -> None:
    model = FrameTableModel(_table())
    qtmodeltester.check(model, force_py=True)  # stays connected while the tiles arrive
    assert model.data(model.index(119, 2)) == "…"  # asked for, formatted on a worker
    qtbot.waitUntil(lambda: model.data(model.index(119, 2)) == "<NA>")
    assert [model.data(model.index(1, c)) for c in range(3)] == ["101", "<NA>", "b"]
    assert model.headerData(1, Qt.Orientation.Horizontal) == "n"
    assert model.headerData(1, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole) == "n · Int64"
    assert "index" in model.headerData(0, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert model.data(model.index(0, 0), Qt.ItemDataRole.BackgroundRole) is not None  # the index is shaded
    model.set_table(None)
    assert model.rowCount() == 0
    model.stop()


def test_a_raw_column_says_why_in_its_header_tooltip(qtbot) -> None:
    frame = pd.DataFrame({"p": pd.period_range("2024-01", periods=3, freq="M")})
    table = frame_table(load_safe(pickle.dumps(frame, 4)).value)
    pane = FramePane()
    qtbot.addWidget(pane)
    pane.show_table(table)
    tip = pane.model.headerData(1, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert "Shown raw" in tip and "PeriodArray" in tip
    assert "shown raw (dtype not rebuilt): p" in pane.info.text()
    assert not pane.raw_button.isEnabled()  # no internals page was given
    pane.stop()


def test_a_structured_array_as_a_frame_table(qtbot) -> None:
    records = np.array([(1, 2.5), (2, -1.0)], dtype=[("id", "i4"), ("x", "f8")])
    model = FrameTableModel(table_of(records))
    assert model.columnCount() == 2 and model.headerData(1, Qt.Orientation.Horizontal) == "x"
    qtbot.waitUntil(lambda: model.data(model.index(1, 1)) == "-1.0")
    model.stop()


def test_numbers_are_right_aligned_and_text_is_not(qtbot) -> None:
    """As in the Tables tab and every spreadsheet: digits line up by their last place."""
    from gui.arrays.table import ArrayTableModel

    right = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    frame = pd.DataFrame({"n": pd.array([1, None], dtype="Int64"), "f": [0.5, 2.0], "s": ["a", "b"],
                          "b": [True, False]})
    model = FrameTableModel(frame_table(load_safe(pickle.dumps(frame, 5)).value))
    alignment = [model.data(model.index(0, c), Qt.ItemDataRole.TextAlignmentRole) for c in range(5)]
    assert alignment == [right, right, right, None, None]  # RangeIndex, Int64, float64 | str, bool
    model.stop()
    records = ArrayTableModel(np.array([(1, "x")], dtype=[("id", "i4"), ("name", "U3")]))
    assert [records.data(records.index(0, c), Qt.ItemDataRole.TextAlignmentRole) for c in range(2)] == [
        right, None]
    records.stop()
