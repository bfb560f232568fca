"""Edit ▸ Copy and Paste on an HDF5 dataset's table in the real window: TSV of the selected
cells, pasted into a writable file as one undoable change, refused while read-only."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt
from PySide6.QtWidgets import QApplication

from tests.gui.common.test_clipboard import press
from tests.support.hdf5_gui_helpers import cell, open_h5, select
from tests.support.hdf5_samples import make_sample


@pytest.fixture
def sample(tmp_path):
    return make_sample(tmp_path / "sample.h5")


def test_copy_cells_as_tsv_and_paste_them_as_one_step(qtbot, sample, _private_dirs, monkeypatch) -> None:
    window, document = open_h5(qtbot, _private_dirs, sample)
    select(qtbot, document, "/zipped")
    model, table = document.table_model, document.table
    assert cell(qtbot, document, 1, 2)
    table.setCurrentIndex(model.index(0, 1))
    table.selectionModel().select(QItemSelection(model.index(0, 1), model.index(1, 2)),
                                  QItemSelectionModel.SelectionFlag.ClearAndSelect)
    press(qtbot, window, table, Qt.Key.Key_C)
    copied = QApplication.clipboard().text()
    values = document.h5.handle["zipped"][0:2, 1:3]
    before = document.h5.handle["zipped"][2:4, 0:2]
    assert (before != values).any()
    assert copied == "\n".join("\t".join(repr(float(v)) for v in row) for row in values)

    table.setCurrentIndex(model.index(2, 0))
    press(qtbot, window, table, Qt.Key.Key_V)  # read-only: refused, and said why
    assert "Read-only: tick Writable to paste" in document.message.text()
    assert document.undo_stack.count() == 0

    monkeypatch.setattr(document.editor, "confirm_writable", lambda: True)
    document.editor.writable_box.click()
    assert document.h5.writable
    press(qtbot, window, table, Qt.Key.Key_V)
    assert document.undo_stack.count() == 1
    assert (document.h5.handle["zipped"][2:4, 0:2] == values).all()
    assert model.data(model.index(3, 1)) == repr(float(values[1, 1]))
    document.undo_stack.undo()  # one step takes back the four cells
    assert (document.h5.handle["zipped"][2:4, 0:2] == before).all()
    assert document.undo_stack.count() == 1 and document.undo_stack.index() == 0

    QApplication.clipboard().setText("7\tseven")  # one value is no number: nothing is written
    press(qtbot, window, table, Qt.Key.Key_V)
    assert "Nothing pasted: row 2, column 1" in document.message.text()
    assert (document.h5.handle["zipped"][2:4, 0:2] == before).all()
    assert document.undo_stack.count() == 1 and document.undo_stack.index() == 0


def test_copy_an_objects_path_from_the_tree(qtbot, sample, _private_dirs) -> None:
    window, document = open_h5(qtbot, _private_dirs, sample)
    select(qtbot, document, "/zipped")
    press(qtbot, window, document.tree, Qt.Key.Key_C)
    assert QApplication.clipboard().text() == "/zipped"
    press(qtbot, window, document.tree, Qt.Key.Key_C,
          Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.AltModifier)
    assert QApplication.clipboard().text() == 'f["/zipped"]'


def test_copy_reads_the_cells_the_table_has_not_shown(qtbot) -> None:
    """An array's lazy table (HDF5 datasets, Objects arrays): Select All, Copy gives every row."""
    import numpy as np

    from gui.arrays.pane import ArrayPane
    from gui.arrays.table import TiledClipboard

    pane = ArrayPane()
    qtbot.addWidget(pane)
    pane.show_array(np.arange(3000).reshape(1000, 3))
    pane.show()
    table = pane.table
    [clipboard] = table.findChildren(TiledClipboard)
    table.selectAll()
    text, said = clipboard.copy()
    lines = text.split("\n")
    assert len(lines) == 1000 and lines[0] == "0\t1\t2" and lines[-1] == "2997\t2998\t2999"
    assert said == "Copied 1,000 × 3 cells"
    assert pane.model.cached(999, 0) is None  # read for the copy, not kept in the table's tiles
    pane.stop()
