"""The JSON tab's views in the real window: the paged text view of a big document, JSONPath
queries, drag and drop, table column widths across launches, the changed-on-disk diff."""

from __future__ import annotations

import json

from PySide6.QtCore import QModelIndex, QPoint, Qt
from PySide6.QtWidgets import QApplication

from gui.json.tree_model import JsonTreeModel
from storage.formats.json.doc import JsonDoc
from tests.gui.json.test_json import SAMPLE, index_of, open_json, write_sample
from tests.support.gui_helpers import close_window, launch, wait_documents


def big_records(count: int = 80_000) -> dict:
    """About 500,000 values: above the editable text view's limit."""
    return {"title": "big", "records": [{"id": i, "name": f"n{i}", "tags": [i, i + 1]}
                                        for i in range(count)]}


def test_big_document_text_view_pages_and_follows_the_selection(qtbot, tmp_path,
                                                                 _private_dirs) -> None:
    path = write_sample(tmp_path, "big.json", big_records())
    document = open_json(qtbot, _private_dirs, path)
    assert document.select_path(["records", 70_000, "name"])
    paged = document.text_view.paged
    with qtbot.waitSignal(paged.spanShown, timeout=20_000):
        document.set_mode("text")
    assert document.text_view.is_paged()
    image = paged.image
    assert image.line_count > 500_000
    assert paged.span_text() == '"name": "n70000"'
    line = image.line_of(paged.span[0])
    assert paged.first_visible_line() <= line < paged.first_visible_line() + paged.visible_line_count()
    assert image.line(line).strip() == '"name": "n70000",'
    # the search follows in the text view too: a hit's node is highlighted there
    with qtbot.waitSignal(paged.spanShown, timeout=20_000):
        document.select_path(["records", 12, "tags", 1])
    assert paged.span_text() == "13" and document.mode() == "text"
    paged.grab().save(str(tmp_path / "big-text.png"))
    # a click on a line of the text selects that node in the tree
    clicked = image.line_of(paged.span[0]) - 3  # the "name" line above the tags
    assert image.line(clicked).strip() == '"name": "n12",'
    y = (clicked - paged.first_visible_line()) * paged.fontMetrics().lineSpacing() + 3
    with qtbot.waitSignal(paged.spanShown, timeout=20_000):
        qtbot.mouseClick(paged.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(200, y))
    assert document.current_path() == ["records", 12, "name"]
    # the node's text edited on the right: the big text is written again and shows the edit
    document.node_text.editor.setPlainText('"renamed"')
    with qtbot.waitSignal(paged.spanShown, timeout=20_000):
        document.node_text.reparse()
    assert paged.span_text() == '"name": "renamed"' and paged.image is not image
    document.undo_stack.undo()
    qtbot.waitUntil(lambda: paged.span_text() == '"name": "n12"', timeout=20_000)
    qtbot.keyClick(paged, Qt.Key.Key_PageDown)
    assert paged.first_visible_line() > 0


def test_jsonpath_query_lists_matches_and_selects_them(qtbot, tmp_path, _private_dirs) -> None:
    value = {"store": {"books": [{"title": "A", "price": 8}, {"title": "B", "price": 22},
                                 {"title": "C", "price": 30}]}, "title": "top"}
    document = open_json(qtbot, _private_dirs, write_sample(tmp_path, value=value))
    toolbar = document.toolbar
    toolbar.query_edit.setText("$.store.books[?(@.price > 20)].title")
    with qtbot.waitSignal(toolbar.queryFinished, timeout=10_000):
        qtbot.keyClick(toolbar.query_edit, Qt.Key.Key_Return)
    results = toolbar.results
    assert results.isVisible()
    assert [results.item(i).text() for i in range(results.count())] == [
        "/store/books/1/title", "/store/books/2/title"]
    assert document.current_path() == ["store", "books", 1, "title"]  # the first is selected
    results.setCurrentRow(1)
    assert document.current_path() == ["store", "books", 2, "title"]
    assert "2 match" in toolbar.results_label.text()

    toolbar.query_edit.setText("$..title")
    with qtbot.waitSignal(toolbar.queryFinished, timeout=10_000):
        qtbot.keyClick(toolbar.query_edit, Qt.Key.Key_Return)
    assert results.count() == 4

    toolbar.query_edit.setText("$.store[")
    with qtbot.waitSignal(toolbar.queryFinished, timeout=10_000):
        qtbot.keyClick(toolbar.query_edit, Qt.Key.Key_Return)
    assert not results.isVisible() and "not a JSONPath query" in toolbar.results_label.text()

    toolbar.query_edit.setText("/store/books/0")  # a JSON Pointer still goes straight there
    qtbot.keyClick(toolbar.query_edit, Qt.Key.Key_Return)
    assert document.current_path() == ["store", "books", 0]


def drop_on(tree, source_index, target_index, above: bool = False) -> None:
    """Deliver a real drag-enter/move/drop of ``source_index`` onto (or just above) a row."""
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent

    data = tree.model().mimeData([source_index])
    rect = tree.visualRect(target_index)
    point = QPointF(rect.center().x(), rect.top() + 1 if above else rect.center().y())
    args = (Qt.DropAction.MoveAction, data, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    viewport = tree.viewport()
    QApplication.sendEvent(viewport, QDragEnterEvent(point.toPoint(), *args))
    QApplication.sendEvent(viewport, QDragMoveEvent(point.toPoint(), *args))
    QApplication.sendEvent(viewport, QDropEvent(point, *args))


def test_drag_and_drop_moves_nodes_with_undo(qtbot, tmp_path, _private_dirs, qtmodeltester) -> None:
    value = {"list": [1, 2, 3], "other": [], "obj": {"k": "v"}, "k": "top"}
    document = open_json(qtbot, _private_dirs, write_sample(tmp_path, value=value))
    tree, model, stack = document.tree, document.model, document.undo_stack
    assert tree.dragEnabled() and tree.acceptDrops()
    document.expand_to_level(2)
    qtmodeltester.check(model, force_py=True)

    # onto a container: appended to it (an object member keeps its key)
    drop_on(tree, index_of(document, "list", 0), index_of(document, "other"))
    assert document.doc.root["list"] == [2, 3] and document.doc.root["other"] == [1]
    assert document.current_path() == ["other", 0]
    # a key that the target object already has gets a fresh name
    drop_on(tree, index_of(document, "k"), index_of(document, "obj"))
    assert document.doc.root["obj"] == {"k": "v", "k (2)": "top"} and "k" not in document.doc.root
    # within one array: the element goes between rows
    drop_on(tree, index_of(document, "list", 1), index_of(document, "list", 0), above=True)
    assert document.doc.root["list"] == [3, 2]
    # never into itself
    assert not model.canDropMimeData(model.mimeData([index_of(document, "obj")]),
                                     Qt.DropAction.MoveAction, -1, 0, index_of(document, "obj"))
    # a node dragged from another document's tree is not this document's node
    other = JsonTreeModel(JsonDoc({"list": [9]}))
    other.fetchMore(QModelIndex())
    foreign = other.mimeData([other.index(0, 0)])
    assert not model.canDropMimeData(foreign, Qt.DropAction.MoveAction, -1, 0,
                                     index_of(document, "obj"))
    assert stack.count() == 3 and stack.text(0).startswith("Move /list/0")
    while stack.canUndo():
        stack.undo()
    assert document.doc.root == value and list(document.doc.root) == list(value)
    assert [model.data(model.index(r, 0)) for r in range(model.rowCount())] == list(value)
    stack.redo()
    assert document.doc.root["other"] == [1]



def test_table_column_widths_survive_a_relaunch(qtbot, tmp_path, _private_dirs) -> None:
    value = {"meta": {"n": 2}, "rows": [{"id": 1, "name": "a", "note": "x"},
                                        {"id": 2, "name": "b", "note": "y"}]}
    path = write_sample(tmp_path, "rows.json", value)
    window = launch(qtbot, _private_dirs, path)
    (document,) = wait_documents(qtbot, window, 1)
    document.set_mode("table")
    assert document.table_panel.table_model.columns == ["id", "name", "note"]
    header = document.table_panel.table.horizontalHeader()
    header.resizeSection(0, 141)  # as a user dragging the divider would
    header.resizeSection(1, 203)
    close_window(qtbot, window)

    again = launch(qtbot, _private_dirs)
    (restored,) = wait_documents(qtbot, again, 1)
    qtbot.waitUntil(lambda: restored.mode() == "table")
    table = restored.table_panel.table
    assert table.columnWidth(0) == 141 and table.columnWidth(1) == 203
    # another table in the same document keeps its own widths; the first ones come back
    restored.select_path(["meta"])
    restored.set_mode("tree")
    restored.set_mode("table")
    assert restored.table_panel.table.columnWidth(0) == 141


def test_change_on_disk_is_noticed(qtbot, tmp_path, _private_dirs) -> None:
    path = write_sample(tmp_path)
    document = open_json(qtbot, _private_dirs, path)
    assert document.save()  # our own (atomic, replacing) save is not a change on disk
    qtbot.wait(200)
    assert not document.disk.is_showing() and not document.message.isVisible()
    document.model.editRequested.emit(["count"], 1, 4)  # an unsaved edit of mine
    changed = {**SAMPLE, "name": "theirs", "added": [1, 2]}
    path.write_text(json.dumps(changed, indent=2) + "\n")
    qtbot.waitUntil(document.disk.is_showing, timeout=5000)
    assert "changed on disk" in document.disk.bar.label.text()
    with qtbot.waitSignal(document.disk.diffShown, timeout=10_000):
        document.disk.bar.compare_button.click()
    dialog = document.disk.diff_dialog
    assert dialog.isVisible() and "discard" in dialog.reload_button.text()
    diff = dialog.diff.toPlainText().splitlines()
    assert '-  "name": "demo",' in diff and '+  "name": "theirs",' in diff
    assert '-  "count": 4,' in diff and '+  "count": 3,' in diff
    assert '+  "added": [' in diff and "3 removed, 7 added" in dialog.summary.text()
    dialog.grab().save(str(path.with_suffix(".diff.png")))
    dialog.keep_button.click()  # keep mine: nothing reloaded, still unsaved, no more nagging
    assert document.doc.root["name"] == "demo" and document.is_modified()
    assert not document.disk.is_showing() and document.disk.diff_dialog is None

    path.write_text(json.dumps({"changed": True}))
    qtbot.waitUntil(document.disk.is_showing, timeout=5000)
    with qtbot.waitSignal(document.disk.diffShown, timeout=10_000):
        document.disk.bar.compare_button.click()
    document.disk.diff_dialog.reload_button.click()
    qtbot.waitUntil(lambda: document.doc is not None and "changed" in document.doc.root)
    assert not document.is_modified()


def test_big_broken_file_is_shown_read_only_at_the_error(qtbot, tmp_path, _private_dirs) -> None:
    value = big_records(60_000)
    text = json.dumps(value, indent=2)
    bad = text.replace('"name": "n50000",', '"name": "n50000",,')
    path = tmp_path / "broken.json"
    path.write_text(bad)
    document = open_json(qtbot, _private_dirs, path)
    assert document.doc is None and document.mode() == "text"
    assert document.text_view.is_paged() and "text editor" in document.message.text()
    paged = document.text_view.paged
    line = bad[:bad.index(",,")].count("\n")
    assert paged.image.line_of(paged.span[0]) == line  # the error, on screen
    assert paged.first_visible_line() <= line < paged.first_visible_line() + paged.visible_line_count()
    assert "line" in document.text_view.status.text()
    assert path.read_text() == bad  # nothing written

    path.write_text(text)  # fixed elsewhere: nothing edited here, so it is reloaded unasked
    qtbot.waitUntil(lambda: document.doc is not None, timeout=20_000)
    assert not document.disk.is_showing()
    assert document.doc.root["records"][50_000]["name"] == "n50000"
