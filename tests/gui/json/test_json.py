"""The JSON tab in the real window: tree, text and table views, edits with undo, saving."""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QApplication, QLineEdit

from gui.json.document import JsonDocument
from gui.json.table import RecordsTableModel
from gui.json.tree_model import JsonTreeModel
from storage.formats.json.doc import JsonDoc
from tests.conftest import corpus_dir
from tests.support.gui_helpers import launch, wait_documents

SAMPLE = {"name": "demo", "count": 3, "big": 123456789012345678901234567890,
          "items": [{"id": 1, "ok": True}, {"id": 2, "ok": False}], "nested": {"b": 1, "a": None}}


def open_json(qtbot, settings_dir, path) -> JsonDocument:
    window = launch(qtbot, settings_dir, path)
    (document,) = wait_documents(qtbot, window, 1)
    assert isinstance(document, JsonDocument)
    return document


def write_sample(tmp_path, name="sample.json", value=SAMPLE, indent=2):
    path = tmp_path / name
    path.write_text(json.dumps(value, indent=indent) + "\n")
    return path


def index_of(document: JsonDocument, *path) -> QModelIndex:
    index = document.model.index_for_path(list(path))
    assert index.isValid(), path
    return index


def test_tree_edits_undo_redo_and_save(qtbot, tmp_path, _private_dirs) -> None:
    path = write_sample(tmp_path)
    original = path.read_text()
    document = open_json(qtbot, _private_dirs, path)
    model, stack = document.model, document.undo_stack
    assert model.rowCount() == len(SAMPLE)
    assert model.data(index_of(document, "big").siblingAtColumn(1)) == str(SAMPLE["big"])

    # a value edited through the tree's own editor widget
    value_index = index_of(document, "name").siblingAtColumn(1)
    document.tree.setCurrentIndex(value_index)
    document.tree.edit(value_index)
    editor = document.tree.findChild(QLineEdit)
    qtbot.waitUntil(lambda: editor is not None and editor.isVisible())
    editor.selectAll()
    qtbot.keyClicks(editor, "renamed demo")
    qtbot.keyClick(editor, Qt.Key.Key_Return)  # the delegate commits in a queued call
    qtbot.waitUntil(lambda: document.doc.root["name"] == "renamed demo")
    assert stack.count() == 1 and document.is_modified()

    # a number keeps its type; a bad number is refused; keys rename in place
    assert model.setData(index_of(document, "count").siblingAtColumn(1), "99999999999999999999999")
    assert document.doc.root["count"] == 99999999999999999999999
    assert not model.setData(index_of(document, "count").siblingAtColumn(1), "12abc")
    assert model.setData(index_of(document, "nested"), "inner")
    assert list(document.doc.root) == ["name", "count", "big", "items", "inner"]
    assert not model.setData(index_of(document, "inner"), "name")  # the key exists

    document.tree.sort_keys(["inner"])
    assert list(document.doc.root["inner"]) == ["a", "b"]
    document.tree.duplicate(["items", 0])
    assert document.doc.root["items"] == [{"id": 1, "ok": True}, {"id": 1, "ok": True},
                                          {"id": 2, "ok": False}]
    document.tree.move(["items", 2], -1)
    document.tree.delete(["items", 0])
    assert [r["id"] for r in document.doc.root["items"]] == [2, 1]
    document.tree.change_type(["big"], "string")
    assert document.doc.root["big"] == str(SAMPLE["big"])
    document.tree.insert_after(["name"])
    document.tree.add_child(["items"])
    assert list(document.doc.root)[1] == "new key" and document.doc.root["items"][-1] == {}
    assert model.data(index_of(document, "items", 2)) == "2"
    assert model.node(index_of(document, "items", 1)).row == 1

    edited = json.loads(json.dumps(document.doc.root))
    count = stack.count()
    while stack.canUndo():
        stack.undo()
    assert json.dumps(document.doc.root) == json.dumps(SAMPLE)
    assert path.read_text() == original  # nothing written without a save
    for _ in range(count):
        stack.redo()
    assert document.doc.root == edited

    assert document.save()
    assert not document.is_modified()
    saved = path.read_text()
    assert json.loads(saved) == edited and saved.endswith("\n") and '\n  "new key"' in saved


def test_model_keeps_rows_right_while_editing(qtmodeltester, qtbot) -> None:
    model = JsonTreeModel(JsonDoc({"a": list(range(2500)), "b": {"x": 1}, "c": "s"}))
    qtmodeltester.check(model, force_py=True)
    root = QModelIndex()
    model.fetchMore(root)
    a = model.index(0, 0)
    model.fetchMore(a)
    model.apply_insert(["a"], 5, 5, "five")
    assert model.data(model.index(6, 0, a)) == "6" and model.node(model.index(6, 0, a)).row == 6
    model.apply_remove(["a"], 0)
    assert model.data(model.index(4, 1, a)) == "five"
    while model.canFetchMore(a):
        model.fetchMore(a)
    assert model.rowCount(a) == 2500
    model.apply_insert([], 1, "new", {"k": [1]})
    model.apply_rename([], 0, "A")
    model.apply_set(["b"], [1, 2])
    model.apply_reorder([], ["c", "b", "new", "A"])
    model.fetchMore(root)
    assert [model.data(model.index(r, 0)) for r in range(4)] == ["c", "b", "new", "A"]
    # the tester attached by check() above has verified every insert, remove and reset since


def test_million_children_expand_first_rows_quickly(qtbot) -> None:
    model = JsonTreeModel(JsonDoc({"big": list(range(1_000_000))}))
    model.fetchMore(QModelIndex())
    big = model.index(0, 0)
    start = time.perf_counter()
    model.fetchMore(big)
    assert time.perf_counter() - start < 0.1
    assert model.rowCount(big) == 1000


def test_parse_error_opens_text_at_the_error_and_fixing_it_shows_the_tree(qtbot, tmp_path,
                                                                          _private_dirs) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "a": 1,\n  "b": [1, 2,, 3]\n}\n')
    document = open_json(qtbot, _private_dirs, path)
    assert document.mode() == "text" and document.doc is None
    assert "line 3, column 14" in document.message.text()
    cursor = document.text_view.editor.textCursor()
    assert (cursor.blockNumber(), cursor.positionInBlock()) == (2, 13)
    assert not document.save()  # invalid text is never written
    document.text_view.editor.setPlainText('{\n  "a": 1,\n  "b": [1, 2, 3]\n}\n')
    qtbot.waitUntil(lambda: document.doc is not None)
    assert document.model.rowCount() == 2 and document.is_modified()
    assert document.save()
    assert json.loads(path.read_text()) == {"a": 1, "b": [1, 2, 3]}


def test_text_edits_reparse_into_the_tree_with_undo(qtbot, tmp_path, _private_dirs) -> None:
    document = open_json(qtbot, _private_dirs, write_sample(tmp_path))
    document.set_mode("text")
    assert json.loads(document.text_view.text()) == SAMPLE
    document.text_view.editor.setPlainText('{"only": [1, 2]')
    document.text_view.reparse()
    assert document.text_view.error is not None and document.doc.root == SAMPLE
    document.text_view.editor.setPlainText('{"only": [1, 2]}')
    qtbot.waitUntil(lambda: document.doc.root == {"only": [1, 2]})
    assert document.model.root_value() == {"only": [1, 2]}
    document.undo_stack.undo()
    assert document.doc.root == SAMPLE
    assert json.loads(document.text_view.text()) == SAMPLE  # the text follows the undo

    # selecting a node shows its text; editing that text replaces the node
    document.set_mode("tree")
    qtbot.waitUntil(lambda: document.model.rowCount() == len(SAMPLE))  # the view fetches the root
    document.select_path(["items", 1])
    assert json.loads(document.node_text.text()) == {"id": 2, "ok": False}
    document.node_text.editor.setPlainText('{"id": 20}')
    document.node_text.reparse()
    assert document.doc.root["items"][1] == {"id": 20}


def test_chinook_opens_searches_and_shows_tables(qtbot, tmp_path, _private_dirs, qtmodeltester) -> None:
    source = corpus_dir("chinook") / "ChinookData.json"
    path = tmp_path / "ChinookData.json"
    shutil.copy(source, path)
    os.chmod(path, 0o644)
    document = open_json(qtbot, _private_dirs, path)
    assert document.model.rowCount() == 11

    toolbar = document.toolbar
    toolbar.search_edit.setText("AC/DC")
    with qtbot.waitSignal(toolbar.searchFinished, timeout=10_000):
        toolbar.start_search()
    assert toolbar.hits and toolbar.hits[0] == ["Artist", 0, "Name"]
    assert document.current_path() == ["Artist", 0, "Name"]
    toolbar.step(+1)
    assert document.current_path() == toolbar.hits[1]
    toolbar.regex.setChecked(True)
    toolbar.search_edit.setText(r"^Jazz$")
    with qtbot.waitSignal(toolbar.searchFinished, timeout=10_000):
        toolbar.start_search()
    assert document.current_path() == ["Genre", 1, "Name"]

    toolbar.query_edit.setText("/Track/10/Name")
    qtbot.keyClick(toolbar.query_edit, Qt.Key.Key_Return)
    assert document.current_path() == ["Track", 10, "Name"]

    document.set_mode("table")
    table = document.table_panel.table_model
    assert table.path == ["Track"] and table.rowCount() == 3503
    assert "Composer" in table.columns
    qtmodeltester.check(table, force_py=True)
    name = table.columns.index("Name")
    table.sort(name, Qt.SortOrder.AscendingOrder)
    first = table.data(table.index(0, name))
    assert first == min((r["Name"] for r in document.doc.root["Track"]), key=str.casefold)
    assert table.setData(table.index(0, name), "Edited")
    record = table.record_index(0)
    assert document.doc.root["Track"][record]["Name"] == "Edited"
    document.undo_stack.undo()
    assert document.doc.root["Track"][record]["Name"] == first
    qtmodeltester.check(table, force_py=True)


def test_table_model_union_of_keys_and_missing_cells(qtmodeltester) -> None:
    model = RecordsTableModel()
    model.set_records(["rows"], [{"a": 1}, {"b": "x"}, {"a": 2, "c": None}])
    assert model.columns == ["a", "b", "c"]
    assert model.data(model.index(1, 0)) == "" and model.data(model.index(2, 2)) == "null"
    qtmodeltester.check(model, force_py=True)


def test_jsonl_bad_lines_reported_and_rest_opens(qtbot, tmp_path, _private_dirs) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"id": 1}\n{oops}\n{"id": 3}\n')
    document = open_json(qtbot, _private_dirs, path)
    assert document.model.rowCount() == 2
    assert "line 2" in document.message.text()
    document.set_mode("text")
    assert document.text_view.text() == '{"id":1}\n{"id":3}\n'
    document.set_mode("table")
    assert document.table_panel.table_model.rowCount() == 2


def test_nan_save_is_refused_with_a_message(qtbot, tmp_path, _private_dirs) -> None:
    path = write_sample(tmp_path)
    before = path.read_bytes()
    document = open_json(qtbot, _private_dirs, path)
    document.model.editRequested.emit(["count"], 1, float("nan"))
    assert not document.save()
    assert "NaN or Infinity" in document.message.text()
    assert path.read_bytes() == before


def test_view_state_round_trip_and_clipboard(qtbot, tmp_path, _private_dirs) -> None:
    document = open_json(qtbot, _private_dirs, write_sample(tmp_path))
    document.select_path(["items", 1, "ok"])
    document.tree.header().resizeSection(0, 180)
    state = document.view_state()
    assert state["selected"] == ["items", 1, "ok"] and state["columns"][0] == 180
    document.select_path(["name"])
    document.apply_view_state({**state, "mode": "table"})
    assert document.current_path() == ["items", 1, "ok"] and document.mode() == "table"
    menu = document.tree.build_context_menu()
    texts = [a.text() for a in menu.actions()]
    assert "Copy JSON Pointer" in texts and "Delete" in texts
    next(a for a in menu.actions() if a.text() == "Copy JSON Pointer").trigger()
    assert QApplication.clipboard().text() == "/items/1/ok"
    next(a for a in menu.actions() if a.text() == "Copy dotted path").trigger()
    assert QApplication.clipboard().text() == "$.items[1].ok"


def test_keyboard_edits_on_the_tree(qtbot, tmp_path, _private_dirs) -> None:
    document = open_json(qtbot, _private_dirs, write_sample(tmp_path))
    document.tree.setFocus()
    document.select_path(["items", 0])
    qtbot.keyClick(document.tree, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert len(document.doc.root["items"]) == 3 and document.current_path() == ["items", 1]
    qtbot.keyClick(document.tree, Qt.Key.Key_Delete)  # the copy; the next element becomes current
    assert document.current_path() == ["items", 1]
    qtbot.keyClick(document.tree, Qt.Key.Key_Delete)
    assert document.doc.root["items"] == [{"id": 1, "ok": True}]
    document.undo_stack.undo()
    document.undo_stack.undo()
    document.undo_stack.undo()
    assert document.doc.root["items"] == SAMPLE["items"]


@pytest.mark.parametrize("level", [0, 2])
def test_expand_to_level(qtbot, tmp_path, _private_dirs, level: int) -> None:
    document = open_json(qtbot, _private_dirs, write_sample(tmp_path))
    document.toolbar.level.setValue(level)
    assert document.tree.isExpanded(index_of(document, "items")) == (level > 0)
    assert document.tree.isExpanded(index_of(document, "items", 0)) == (level > 1)


@pytest.mark.parametrize("name", ["n_structure_100000_opening_arrays.json",
                                  "i_structure_500_nested_arrays.json", "y_object_duplicated_key.json",
                                  "n_structure_no_data.json"])
def test_suite_extremes_open_in_the_window(qtbot, tmp_path, _private_dirs, name: str) -> None:
    source = corpus_dir("JSONTestSuite", "test_parsing") / name
    path = tmp_path / name
    shutil.copy(source, path)
    document = open_json(qtbot, _private_dirs, path)
    if name.startswith("n_"):
        assert document.doc is None and document.mode() == "text"
        assert "line 1" in document.message.text()
    else:
        assert document.doc is not None and document.model.rowCount() >= 1
    if name == "y_object_duplicated_key.json":
        qtbot.waitUntil(lambda: "Duplicate keys" in document.message.text())
    assert path.read_bytes() == source.read_bytes()


def test_million_level_nesting_opens_as_a_located_error(qtbot, tmp_path, _private_dirs) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 1_000_000 + "]" * 1_000_000)
    document = open_json(qtbot, _private_dirs, path)
    assert document.doc is None and "nesting too deep" in document.message.text()
    assert "column 901" in document.message.text()


_ops = st.lists(st.tuples(st.sampled_from(["insert", "remove", "move", "rename", "set", "sort"]),
                          st.integers(0, 30), st.integers(0, 30)), max_size=20)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=_ops)
def test_random_edits_keep_the_model_right_and_undo_restores(qtmodeltester, monkeypatch, ops) -> None:
    from PySide6.QtGui import QUndoStack

    import gui.values.tree

    monkeypatch.setattr(gui.values.tree, "BATCH", 8)  # small batches: rows partly made

    from gui.values.commands import (
        InsertCommand,
        MoveCommand,
        RemoveCommand,
        RenameCommand,
        SetValueCommand,
        SortKeysCommand,
    )

    original = {"list": list(range(20)), "obj": {f"k{i}": i for i in range(12)}}
    doc = JsonDoc(json.loads(json.dumps(original)))
    model = JsonTreeModel(doc)
    qtmodeltester.check(model, force_py=True)
    model.fetchMore(model.index(0, 0))  # "list": first batch made
    model.fetchMore(model.index(1, 0))  # "obj": partly made
    stack = QUndoStack()
    for op, a, b in ops:
        target = ["list"] if a % 2 else ["obj"]
        size = len(doc.get(target))
        if op == "insert":
            key = a if target == ["list"] else f"new{a}-{b}"
            if key not in doc.get(target) or target == ["list"]:
                stack.push(InsertCommand(model, target, min(b, size), key, b))
        elif size and op == "remove":
            stack.push(RemoveCommand(model, target, b % size))
        elif size and op == "move":
            stack.push(MoveCommand(model, target, b % size, a % size))
        elif size and op == "rename" and target == ["obj"] and f"r{a}{b}" not in doc.root["obj"]:
            stack.push(RenameCommand(model, target, b % size, f"r{a}{b}"))
        elif size and op == "set":
            stack.push(SetValueCommand(model, [*target, b % size if target == ["list"]
                                               else list(doc.root["obj"])[b % size]], [a]))
        elif op == "sort":
            stack.push(SortKeysCommand(model, ["obj"]))
        for parent in (model.index(0, 0), model.index(1, 0)):
            node = model.node(parent)
            for row, child in enumerate(node.made_children or []):
                assert child.row == row
                if isinstance(node.value, list):
                    assert child.key == row and child.value is node.value[row]
                else:
                    assert node.value[child.key] is child.value
    while stack.canUndo():
        stack.undo()
    assert json.dumps(doc.root) == json.dumps(original)


def test_indent_kept_or_chosen_by_the_user(qtbot, tmp_path, _private_dirs) -> None:
    path = write_sample(tmp_path, indent=4)
    document = open_json(qtbot, _private_dirs, path)
    assert document.toolbar.indent.currentText() == "Indent 4"
    combo = document.toolbar.indent
    combo.setCurrentIndex(combo.findText("Compact"))
    combo.activated.emit(combo.currentIndex())
    assert document.is_modified()
    assert document.save()
    assert path.read_text() == json.dumps(SAMPLE, separators=(",", ":")) + "\n"
    document.undo_stack.undo()
    assert combo.currentText() == "Indent 4"
    assert document.save()
    assert path.read_text() == json.dumps(SAMPLE, indent=4) + "\n"

