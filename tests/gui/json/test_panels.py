"""The JSON document's parts on their own: the tree view's edits and the table panel, each built
over a value tree model and an undo stack, with no document around them."""

from __future__ import annotations

import copy

from PySide6.QtGui import QUndoStack

from gui.json.edit import JsonTreeView
from gui.json.table_view import JsonTablePanel
from gui.json.tree_model import JsonTreeModel
from storage.formats.json.doc import JsonDoc

VALUE = {"name": "demo", "rows": [{"id": 1, "tag": "a"}, {"id": 2, "tag": "b"}]}


def _tree(qtbot) -> tuple[JsonTreeView, QUndoStack, JsonDoc]:
    doc = JsonDoc(copy.deepcopy(VALUE))
    stack = QUndoStack()
    model = JsonTreeModel(JsonDoc(None))
    view = JsonTreeView(model, stack, lambda value: (repr(value), True))
    qtbot.addWidget(view)
    view.set_document(doc)
    return view, stack, doc


def test_tree_view_edits_are_undo_commands_on_the_value_tree(qtbot, qtmodeltester) -> None:
    view, stack, doc = _tree(qtbot)
    assert view.select_path(["rows", 1, "tag"]) and view.current_path() == ["rows", 1, "tag"]
    view.add_child(["rows"])
    assert len(doc.root["rows"]) == 3 and view.current_path() == ["rows", 2]
    view.sort_keys(["rows", 0])
    view.change_type(["name"], "array")
    assert doc.root["name"] == []
    qtmodeltester.check(view.tree_model)
    while stack.canUndo():
        stack.undo()
    assert doc.root == VALUE


def test_tree_view_without_a_document_offers_no_menu(qtbot) -> None:
    view, _stack, _doc = _tree(qtbot)
    view.select_path(["name"])
    assert view.build_context_menu() is not None
    view.set_document(None)
    assert view.build_context_menu() is None


def test_table_panel_shows_the_nearest_array_of_objects_and_edits_through_the_stack(qtbot) -> None:
    doc = JsonDoc(copy.deepcopy(VALUE))
    stack = QUndoStack()
    model = JsonTreeModel(doc)
    panel = JsonTablePanel(model, stack)
    qtbot.addWidget(panel)
    states = []
    panel.viewStateChanged.connect(lambda: states.append(panel.view_state()))
    panel.show_source(doc, ["name"])  # not a table: the first array of objects under the root
    assert panel.table_model.path == ["rows"] and panel.table_label.text() == "2 records at /rows"
    table = panel.table_model
    table.setData(table.index(0, table.columns.index("tag")), "z")
    assert doc.root["rows"][0]["tag"] == "z"
    stack.undo()
    panel.refresh()
    assert doc.root["rows"][0]["tag"] == "a"
    panel.table.setColumnWidth(0, 150)
    assert states[-1] == {"table_columns": {"/rows": {"id": 150}}}
