"""Objects values shown right: '4' is not 4, Add item… asks for a typed value, summaries follow edits."""

from __future__ import annotations

import pickle
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMenu

from gui.objects.add_item import AddItemDialog
from gui.objects.model import ObjectTreeModel
from storage.formats.objects.doc import ObjectDoc
from tests.gui.objects.test_objects import index_of, open_one


def test_the_string_4_does_not_look_like_the_number_4(qtbot, qtmodeltester, tmp_path: Path) -> None:
    path = tmp_path / "alike.pkl"
    path.write_bytes(pickle.dumps({"as text": "4", "as number": 4, "4": "key is text", 4: "key is int",
                                   "None": None, "multi": "a\nb"}, 4))
    _window, document = open_one(qtbot, tmp_path, path)
    text, number = index_of(document, [0, "as text"]), index_of(document, [0, "as number"])
    assert text.data() == "'4'" and number.data() == "4"
    assert text.siblingAtColumn(2).data() == "str" and number.siblingAtColumn(2).data() == "int"
    assert text.data(Qt.ItemDataRole.EditRole) == "4"  # the editor starts with the text itself
    text_key, int_key = index_of(document, [0, "4"], 0), index_of(document, [0, 4], 0)
    assert (text_key.data(), int_key.data()) == ("'4'", "4")
    assert index_of(document, [0, "None"], 0).data() == "'None'"
    assert index_of(document, [0, "as text"], 0).data() == "as text"  # plain keys stay plain
    assert index_of(document, [0, "multi"]).data() == "'a\\nb'"
    view = document.view
    view.tree.expandAll()
    view.tree.header().resizeSection(0, 140)
    view.tree.header().resizeSection(1, 140)
    view.resize(640, 260)
    view.grab().save("/tmp/vals-objects-4-vs-4.png")
    assert document.view.model.setData(text_key, "five")  # a quoted key is renamed as text
    assert "five" in document.view.model.doc.get([0])
    qtmodeltester.check(document.view.model)


def test_add_item_opens_a_dialog_proposing_int_for_a_list_of_ints(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "ints.pkl"
    path.write_bytes(pickle.dumps({"ids": [10, 20, 30]}, 4))
    _window, document = open_one(qtbot, tmp_path, path)
    view = document.view
    ids = index_of(document, [0, "ids"])
    view.tree.setCurrentIndex(ids)
    assert view.text.toPlainText() == "list of 3 items"
    menu: QMenu = view.build_menu(ids)
    (add,) = [a for a in menu.actions() if a.text() == "Add item…"]
    add.trigger()
    dialog = view.findChild(AddItemDialog)
    assert dialog is not None and dialog.isVisible() and dialog.key_edit is None
    assert dialog.type_combo.currentText() == "int" and dialog.value_edit.text() == "0"
    dialog.value_edit.clear()
    qtbot.keyClicks(dialog.value_edit, "forty")
    qtbot.keyClick(dialog.value_edit, Qt.Key.Key_Return)
    dialog.grab().save("/tmp/vals-objects-add-item.png")
    assert dialog.isVisible() and "not a valid int" in dialog.problem.text()  # stays open, says why
    dialog.value_edit.clear()
    qtbot.keyClicks(dialog.value_edit, "40")
    qtbot.keyClick(dialog.value_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert view.model.doc.get([0, "ids"]) == [10, 20, 30, 40]
    assert view.current_path() == [0, "ids", 3]
    view.tree.setCurrentIndex(index_of(document, [0, "ids"]))
    assert view.text.toPlainText() == "list of 4 items"
    document.undo_stack.undo()  # the summary follows the undo without reselecting
    assert view.text.toPlainText() == "list of 3 items"
    document.undo_stack.redo()
    assert view.text.toPlainText() == "list of 4 items"


def test_add_item_to_a_dict_asks_for_a_key_and_a_value_of_the_chosen_type(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "d.pkl"
    path.write_bytes(pickle.dumps({"a": "x", "b": "y"}, 4))
    _window, document = open_one(qtbot, tmp_path, path)
    view = document.view
    dialog = view.add_item([0])
    assert dialog.key_edit is not None and dialog.type_combo.currentText() == "str"
    qtbot.keyClicks(dialog.key_edit, "a")
    dialog.type_combo.setCurrentText("float")
    dialog.value_edit.setText("2.5")
    dialog.accept()
    assert dialog.isVisible() and "already exists" in dialog.problem.text()
    dialog.key_edit.setText("c")
    dialog.accept()
    assert view.model.doc.get([0]) == {"a": "x", "b": "y", "c": 2.5}
    cancel = view.add_item([0])
    cancel.reject()
    assert len(view.model.doc.get([0])) == 3


def test_type_proposal_and_model_with_quoted_strings_pass_the_tester(qtmodeltester) -> None:
    from gui.objects.add_item import proposed_kind

    assert proposed_kind([1, 2, "x"]) == "int" and proposed_kind({"a": 1.5}) == "float"
    assert proposed_kind([]) == "str" and proposed_kind([None]) == "str"
    model = ObjectTreeModel(ObjectDoc(["4", 4, {"4": 4}], 4, label="x.pkl"))
    qtmodeltester.check(model)


class _System:
    """Pickles as a call of os.system (never run: the safe loader only names it)."""

    def __reduce__(self):
        import os

        return (os.system, ("true",))


def _inspected(path: Path) -> dict:
    from storage.inspect.report import inspect_path

    return inspect_path(path)["summary"]


def test_the_window_says_the_protocol_inspect_says(qtbot, tmp_path: Path) -> None:
    stacked = tmp_path / "stacked.pkl"
    stacked.write_bytes(pickle.dumps([1, 2], 1) + pickle.dumps({"a": "x" * 10}, 4))
    headless = tmp_path / "headless.pkl"  # protocol-4 opcodes, no PROTO header
    headless.write_bytes(pickle.dumps({"a": [1, 2]}, 4)[2:])
    for path in (stacked, headless):
        window, document = open_one(qtbot, tmp_path / path.stem, path)
        expected = _inspected(path)["protocol"]
        assert expected == 4
        assert f"protocol {expected}" in document.facts.text()
        assert document.protocol_combo.currentText() == f"{expected} (original)"
        window.close_document(document)


def test_the_findings_where_column_gives_the_byte_offsets_inspect_gives(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"keep": 1, "run": _System()}, 2))
    _window, document = open_one(qtbot, tmp_path, path)
    offsets = {g["global"]: g["offset"] for g in _inspected(path)["globals"]}
    table = document.safety.table
    rows = {table.item(r, 1).text(): table.item(r, 3).text() for r in range(table.rowCount())}
    (system,) = [name for name in rows if name.endswith(".system")]
    assert rows[system] == f"byte {offsets[system]:,}"  # was empty: only inspect said where
