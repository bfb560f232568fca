"""The HDF5 tab's edits in the real window: writable mode, .bak, undo/redo, the cell editor, export."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from tests.support.hdf5_gui_helpers import cell, open_h5, plot_text, select
from tests.support.hdf5_samples import h5py, make_sample


@pytest.fixture
def sample(tmp_path):
    return make_sample(tmp_path / "sample.h5")


def test_writable_edits_with_undo_and_backup(qtbot, sample, _private_dirs, monkeypatch) -> None:
    original = sample.read_bytes()
    _window, document = open_h5(qtbot, _private_dirs, sample)
    bak = sample.with_name("sample.h5.bak")
    select(qtbot, document, "/zipped")
    assert cell(qtbot, document, 0, 1) == "1.0"
    assert not document.table_model.flags(document.table_model.index(0, 1)) & Qt.ItemFlag.ItemIsEditable

    monkeypatch.setattr(document.editor, "confirm_writable", lambda: False)
    document.editor.writable_box.click()
    assert not document.editor.writable_box.isChecked() and not bak.exists()
    monkeypatch.setattr(document.editor, "confirm_writable", lambda: True)
    document.editor.writable_box.click()
    assert document.editor.writable_box.isChecked() and document.h5.writable
    assert bak.read_bytes() == original  # the copy is made before the first write

    model, stack = document.table_model, document.undo_stack
    assert model.flags(model.index(0, 1)) & Qt.ItemFlag.ItemIsEditable
    assert not model.setData(model.index(0, 1), "abc")  # not a number: refused, nothing pushed
    assert stack.count() == 0 and "not a number" in document.message.text()
    model.setData(model.index(0, 1), "-42.5")
    assert stack.count() == 1 and model.data(model.index(0, 1)) == "-42.5"
    assert document.h5.handle["zipped"][0, 1] == -42.5
    stack.undo()
    assert document.h5.handle["zipped"][0, 1] == 1.0 and model.data(model.index(0, 1)) == "1.0"
    stack.redo()
    assert document.h5.handle["zipped"][0, 1] == -42.5
    qtbot.waitUntil(lambda: "colour -42.5" in plot_text(document))  # the plot shows the edit

    # off and on again: the .bak keeps the original, not the edited file
    document.editor.writable_box.click()
    document.editor.writable_box.click()
    assert document.h5.writable and bak.read_bytes() == original

    # attributes
    qtbot.waitUntil(lambda: document.attr_model.editable)
    assert document.editor.set_attribute("/zipped", "units", "'metres'")
    qtbot.waitUntil(lambda: any(a.name == "units" for a in document.attr_model.attributes))
    assert document.h5.handle["zipped"].attrs["units"] == "metres"
    stack.undo()
    assert "units" not in document.h5.handle["zipped"].attrs
    qtbot.waitUntil(lambda: not any(a.name == "units" for a in document.attr_model.attributes))

    # create and delete, with the tree following
    tree = document.tree_model
    root = tree.index(0, 0)
    count = tree.rowCount(root)
    assert document.editor.create_group("/", "made")
    qtbot.waitUntil(lambda: tree.index_for_path("/made").isValid())
    assert document.editor.create_dataset("/made", "zeros", (4, 3), "int16")
    assert document.h5.handle["made/zeros"].shape == (4, 3)
    select(qtbot, document, "/cube")
    edits = stack.count()
    document.tree.setFocus()
    qtbot.keyClick(document.tree, Qt.Key.Key_Delete)  # the Delete key deletes the selected node
    assert stack.count() == edits + 1 and stack.command(edits).text() == "Delete /cube"
    qtbot.waitUntil(lambda: not tree.index_for_path("/cube").isValid()
                    and tree.rowCount(tree.index(0, 0)) == count)
    assert "cube" not in document.h5.handle
    stack.undo()
    qtbot.waitUntil(lambda: tree.index_for_path("/cube").isValid())
    assert list(document.h5.handle["cube"][1, 2]) == [20, 21, 22, 23]
    stack.undo()
    stack.undo()
    assert "made" not in document.h5.handle
    assert not document.is_modified()  # every edit is on disk already

    document.editor.writable_box.click()  # back to read-only: edits are flushed and refused
    assert not document.h5.writable and not document.editor.set_attribute("/", "x", "1")
    with h5py.File(sample, "r") as f:
        assert f["zipped"][0, 1] == -42.5 and "made" not in f and "cube" in f


def test_export_slice(qtbot, sample, tmp_path, _private_dirs) -> None:
    _window, document = open_h5(qtbot, _private_dirs, sample)
    select(qtbot, document, "/cube")
    document.axes.spins[0].setValue(1)
    dest = tmp_path / "cube.csv"
    with qtbot.waitSignal(document.exportFinished) as blocker:
        document.editor.export_to(str(dest), "csv")
    assert blocker.args[0].startswith("Exported 3 rows")
    assert dest.read_text().splitlines()[1:] == ["12,13,14,15", "16,17,18,19", "20,21,22,23"]
    npy = tmp_path / "line.npy"
    select(qtbot, document, "/line")
    with qtbot.waitSignal(document.exportFinished):
        document.editor.export_to(str(npy), "npy")
    assert np.load(npy).shape == (5000,)


def test_export_can_be_cancelled(qtbot, tmp_path, _private_dirs) -> None:
    path = tmp_path / "long.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("long", shape=(400_000, 2), dtype="f8", chunks=(65_536, 2))
    _window, document = open_h5(qtbot, _private_dirs, path)
    select(qtbot, document, "/long")
    dest = tmp_path / "long.csv"
    with qtbot.waitSignal(document.exportFinished, timeout=60_000) as blocker:
        document.editor.export_to(str(dest), "csv")
        assert document.editor.cancel_export_button.isVisible()
        document.editor.cancel_export_button.click()
    assert blocker.args[0].startswith("Export cancelled")
    assert not dest.exists() and not list(tmp_path.glob(".long.csv*"))
    assert not document.editor.cancel_export_button.isVisible() and document.editor.export_button.isEnabled()


def test_cell_edit_through_the_table_editor(qtbot, sample, _private_dirs, monkeypatch) -> None:
    _window, document = open_h5(qtbot, _private_dirs, sample)
    select(qtbot, document, "/cube")
    monkeypatch.setattr(document.editor, "confirm_writable", lambda: True)
    document.editor.writable_box.click()
    assert cell(qtbot, document, 1, 1) == "5"
    index = document.table_model.index(1, 1)
    document.table.setCurrentIndex(index)
    document.table.edit(index)
    editor = document.table.findChild(QLineEdit)
    qtbot.waitUntil(lambda: editor is not None and editor.isVisible())
    editor.selectAll()
    qtbot.keyClicks(editor, "77")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: document.undo_stack.count() == 1)
    assert document.table_model.data(index) == "77" and document.h5.handle["cube"][0, 1, 1] == 77
    document.undo_stack.undo()
    assert document.table_model.data(index) == "5" and document.h5.handle["cube"][0, 1, 1] == 5


def test_the_editor_reports_each_write_and_its_undo_by_signal(qtbot, sample, _private_dirs,
                                                              monkeypatch) -> None:
    _window, document = open_h5(qtbot, _private_dirs, sample)
    editor = document.editor
    select(qtbot, document, "/zipped")
    monkeypatch.setattr(editor, "confirm_writable", lambda: True)
    assert editor.set_writable(True)
    with qtbot.waitSignal(editor.cellWritten) as written:
        assert editor.edit_cell(0, 1, "7")
    assert written.args == ["/zipped", (0, 1), 7.0]
    with qtbot.waitSignal(editor.cellWritten) as written:
        document.undo_stack.undo()  # the command writes the old value back and says so
    assert written.args == ["/zipped", (0, 1), 1.0]
    with qtbot.waitSignal(editor.structureChanged) as changed:
        assert editor.create_group("/", "made")
    assert changed.args == ["/"]
    with qtbot.waitSignal(editor.attributesChanged) as changed:
        assert editor.set_attribute("/made", "n", "3")
    assert changed.args == ["/made"]
