"""JSON values shown right: Add child gives a value to type into, the summary follows edits."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit

from tests.gui.json.test_json import index_of, open_json


def _summary(document) -> dict[str, str]:
    model = document.summary_model
    return {model.index(r, 0).data(): model.index(r, 1).data() for r in range(model.rowCount())}


def test_add_child_inserts_a_value_the_user_types_into_at_once(qtbot, tmp_path, _private_dirs) -> None:
    path = tmp_path / "d.json"
    value = {"ids": [1, 2], "tags": ["a"], "obj": {}, "rows": [{"a": 1}]}
    path.write_text(json.dumps(value, indent=2) + "\n")
    document = open_json(qtbot, _private_dirs, path)
    document.tree.setFocus()
    document.tree.add_child(["ids"])
    assert document.doc.root["ids"] == [1, 2, 0]  # a number among numbers, not null
    editor = QApplication.focusWidget()
    assert isinstance(editor, QLineEdit) and document.tree.state() == document.tree.State.EditingState
    editor.selectAll()
    qtbot.keyClicks(editor, "42")
    qtbot.keyClick(editor, Qt.Key.Key_Return)  # the delegate commits in a queued call
    qtbot.waitUntil(lambda: document.doc.root["ids"] == [1, 2, 42])
    qtbot.waitUntil(lambda: document.tree.state() != document.tree.State.EditingState)
    document.tree.add_child(["tags"])
    editor = QApplication.focusWidget()
    assert isinstance(editor, QLineEdit)
    qtbot.keyClicks(editor, "b")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: document.doc.root["tags"] == ["a", "b"])
    qtbot.waitUntil(lambda: document.tree.state() != document.tree.State.EditingState)
    document.tree.add_child(["obj"])  # an object member: its key is edited first
    editor = QApplication.focusWidget()
    assert isinstance(editor, QLineEdit) and editor.text() == "new key"
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    assert document.doc.root["obj"] == {"new key": ""}
    document.tree.add_child(["rows"])  # an array of records gets a record
    assert document.doc.root["rows"] == [{"a": 1}, {}]
    document.undo_stack.undo()
    document.undo_stack.undo()
    document.undo_stack.undo()
    document.undo_stack.undo()
    assert document.doc.root["tags"] == ["a"] and document.doc.root["ids"] == [1, 2, 42]
    document.undo_stack.undo()
    assert document.doc.root["ids"] == [1, 2, 0]


def test_a_null_can_be_typed_over_without_changing_its_type_first(qtbot, tmp_path, _private_dirs) -> None:
    path = tmp_path / "n.json"
    path.write_text('{"a": null, "b": null, "c": null}\n')
    document = open_json(qtbot, _private_dirs, path)
    model = document.model
    assert model.flags(index_of(document, "a").siblingAtColumn(1)) & Qt.ItemFlag.ItemIsEditable
    assert model.setData(index_of(document, "a").siblingAtColumn(1), "12")
    assert model.setData(index_of(document, "b").siblingAtColumn(1), "hello")
    assert model.setData(index_of(document, "c").siblingAtColumn(1), "true")
    assert document.doc.root == {"a": 12, "b": "hello", "c": True}


def test_the_summary_size_and_counts_follow_edits_and_undo(qtbot, tmp_path, _private_dirs) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"items": [1, 2, 3]}, indent=2) + "\n")
    size = path.stat().st_size
    document = open_json(qtbot, _private_dirs, path)
    qtbot.waitUntil(lambda: "max_depth" in _summary(document))
    assert _summary(document)["size"] == f"{size} bytes"
    assert _summary(document)["top_level_length"] == "1"
    document.tree.insert_after(["items"])
    grown = len(json.dumps({"items": [1, 2, 3], "new key": ""}, indent=2)) + 1
    qtbot.waitUntil(lambda: _summary(document)["size"] == f"{grown} bytes")
    assert _summary(document)["top_level_length"] == "2"
    document.undo_stack.undo()
    qtbot.waitUntil(lambda: _summary(document)["size"] == f"{size} bytes")
    assert _summary(document)["top_level_length"] == "1"
    document.summary_view.grab().save("/tmp/vals-json-summary.png")


def test_json_lines_records_count_from_1_and_the_level_box_says_what_it_does(
        qtbot, tmp_path, _private_dirs) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"id": "a"}\n{"id": "b"}\n')
    document = open_json(qtbot, _private_dirs, path)
    model = document.model
    assert [model.index(r, 0).data() for r in range(2)] == ["record 1", "record 2"]
    assert model.index(0, 0, model.index(0, 0)).data() == "id"  # keys inside stay keys
    document.set_mode("table")
    table = document.table_panel.table_model
    assert [table.headerData(r, Qt.Orientation.Vertical) for r in range(2)] == ["1", "2"]
    level = document.toolbar.level
    assert level.text() == "Expand to level 1" and "Lv" not in level.text()
    level.setValue(0)
    assert level.text() == "Collapse all"
    document.toolbar.grab().save("/tmp/vals-json-toolbar.png")


def test_invalid_utf8_in_the_window_says_line_column_and_byte(qtbot, tmp_path, _private_dirs) -> None:
    import shutil

    from tests.conftest import corpus_dir

    source = corpus_dir("JSONTestSuite", "test_parsing") / "n_array_invalid_utf8.json"
    path = tmp_path / source.name
    shutil.copy(source, path)
    document = open_json(qtbot, _private_dirs, path)
    qtbot.waitUntil(lambda: document.parse_error is not None)
    message = document.message.text()
    assert "not valid UTF-8 at byte 1" in message and "line 1, column 2" in message
    assert "line 1, column 2" in document.text_view.status.text()
    document.grab().save("/tmp/vals-json-invalid-utf8.png")
