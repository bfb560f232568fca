"""The main window driven as a user would: open, route, drop, undo, close with changes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from tests.support.gui_helpers import EditableDocument, close_window, launch, make_samples, wait_documents

EXPECTED_TAB = {"json": "json", "sqlite": "sqlite", "pickle": "objects", "text": "files",
                "jsonl": "json"}


def tab_of(window, document) -> str:
    return next(p.tab_id for p in window.pages if document in p.all_documents())


def test_every_format_opens_in_its_tab(qtbot, tmp_path: Path) -> None:
    samples = make_samples(tmp_path / "files")
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in samples.values()}
    window = launch(qtbot, tmp_path / "settings", *samples.values())
    documents = wait_documents(qtbot, window, len(samples))
    by_path = {d.path: d for d in documents}
    for fmt, path in samples.items():
        document = by_path[str(path)]
        assert document.format == fmt, path.name
        assert tab_of(window, document) == EXPECTED_TAB[fmt], path.name
    # Opening only looked: bytes and modification times are untouched.
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in samples.values()} == before
    # The last file given is in front, and the status bar describes it.
    front = window.current_document()
    assert front.path == str(samples["jsonl"])
    assert window.path_label.text() == str(samples["jsonl"])
    assert window.format_label.text() == "JSONL"
    assert window.size_label.text().endswith("bytes")


def test_empty_tabs_show_what_they_open(qtbot, tmp_path: Path) -> None:
    window = launch(qtbot, tmp_path / "settings")
    for page in window.pages:
        assert page.stack.currentWidget() is page.empty
        assert page.empty.open_button.isVisibleTo(page)
    assert window.windowTitle() == "Datashelf"
    assert not window.actions.save.isEnabled()


def test_open_button_uses_dialog_and_remembers_folder(qtbot, tmp_path: Path, monkeypatch) -> None:
    samples = make_samples(tmp_path / "files")
    asked = []

    def fake_dialog(parent, caption, folder, filters, selected=""):
        asked.append(folder)
        return [str(samples["sqlite"])], ""

    monkeypatch.setattr(QFileDialog, "getOpenFileNames", fake_dialog)
    window = launch(qtbot, tmp_path / "settings")
    page = window.page("sqlite")
    window.tabs.setCurrentWidget(page)
    qtbot.mouseClick(page.empty.open_button, Qt.MouseButton.LeftButton)
    [document] = wait_documents(qtbot, window, 1)
    assert tab_of(window, document) == "sqlite"
    assert window.settings["dialogs.last_dirs"]["open"] == str(tmp_path / "files")
    qtbot.mouseClick(page.empty.open_button, Qt.MouseButton.LeftButton)  # hidden: no-op
    window.open_dialog()
    assert asked[-1] == str(tmp_path / "files")


def test_opening_the_same_file_twice_activates_it(qtbot, tmp_path: Path) -> None:
    samples = make_samples(tmp_path / "files")
    window = launch(qtbot, tmp_path / "settings", samples["json"], samples["text"])
    wait_documents(qtbot, window, 2)
    window.open_paths([str(samples["json"])])
    qtbot.waitUntil(lambda: window.current_document().path == str(samples["json"]))
    assert len(window.all_documents()) == 2


def test_dropping_files_opens_them(qtbot, tmp_path: Path) -> None:
    samples = make_samples(tmp_path / "files")
    window = launch(qtbot, tmp_path / "settings")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(samples["pickle"])),
                  QUrl.fromLocalFile(str(samples["sqlite"]))])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    documents = wait_documents(qtbot, window, 2)
    assert sorted(tab_of(window, d) for d in documents) == ["objects", "sqlite"]


@pytest.mark.parametrize("kind", ["missing", "directory", "fifo"])
def test_bad_paths_give_a_message_not_a_crash(qtbot, tmp_path: Path, kind: str) -> None:
    path = tmp_path / "bad"
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)  # reading it would block forever
    window = launch(qtbot, tmp_path / "settings")
    with qtbot.waitSignal(window.openFailed, timeout=5000):
        window.open_paths([str(path)])
    [message] = window.notices.messages()
    assert str(path) in message
    assert window.all_documents() == []


def test_undo_and_redo_follow_the_current_document(qtbot, tmp_path: Path) -> None:
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("one")
    second.write_text("two")
    window = launch(qtbot, tmp_path / "settings")
    page = window.page("files")
    doc_a, doc_b = EditableDocument(str(first)), EditableDocument(str(second))
    window.adopt_document(page, doc_a)
    window.adopt_document(page, doc_b)
    page.set_current_document(doc_a)
    doc_a.edit("one, edited")
    assert window.isWindowModified()
    assert "●" in page.documents.tabText(page.documents.indexOf(doc_a))
    window.actions.undo.trigger()
    assert doc_a.value == "one"
    window.actions.redo.trigger()
    assert doc_a.value == "one, edited"
    page.set_current_document(doc_b)
    assert not window.actions.undo.isEnabled()  # b has nothing to undo
    window.actions.undo.trigger()
    assert doc_a.value == "one, edited"
    assert window.actions.save.isEnabled()


def _answer_unsaved(button: QMessageBox.StandardButton) -> None:
    """Click ``button`` in the unsaved-changes box as soon as it is shown."""
    def click() -> None:
        boxes = [w for w in QApplication.topLevelWidgets()
                 if isinstance(w, QMessageBox) and w.objectName() == "unsavedChangesBox"
                 and w.isVisible()]
        if boxes:
            boxes[0].button(button).click()
        else:
            QTimer.singleShot(20, click)

    QTimer.singleShot(0, click)


def _window_with_an_edit(qtbot, tmp_path: Path):
    """A window holding one document whose text changed from "before" to "after"."""
    path = tmp_path / "draft.txt"
    path.write_text("before")
    window = launch(qtbot, tmp_path / "settings")
    document = EditableDocument(str(path))
    window.adopt_document(window.page("files"), document)
    document.edit("after")
    return window, document, path


def test_closing_with_unsaved_changes_asks(qtbot, tmp_path: Path) -> None:
    window, document, path = _window_with_an_edit(qtbot, tmp_path)

    _answer_unsaved(QMessageBox.StandardButton.Cancel)
    window.close()
    assert window.isVisible() and document.is_modified()

    _answer_unsaved(QMessageBox.StandardButton.Save)
    window.close()
    assert not window.isVisible()
    assert path.read_text() == "after" and document.saves == 1


def test_discard_closes_without_writing(qtbot, tmp_path: Path) -> None:
    window, _document, path = _window_with_an_edit(qtbot, tmp_path)
    _answer_unsaved(QMessageBox.StandardButton.Discard)
    window.close_current()
    assert window.all_documents() == []
    assert path.read_text() == "before"
    assert window.page("files").stack.currentWidget() is window.page("files").empty


def test_new_file_creates_and_opens(qtbot, tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "fresh.db"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *a, **k: (str(target), "SQLite database (*.db)"))
    window = launch(qtbot, tmp_path / "settings")
    window.actions.new.trigger()
    [document] = wait_documents(qtbot, window, 1)
    assert target.read_bytes().startswith(b"SQLite format 3\x00")
    assert tab_of(window, document) == "sqlite"
    assert document.report["ok"] is True


def test_recent_menu_lists_existing_files(qtbot, tmp_path: Path) -> None:
    samples = make_samples(tmp_path / "files")
    window = launch(qtbot, tmp_path / "settings", samples["json"], samples["text"])
    wait_documents(qtbot, window, 2)
    samples["text"].unlink()
    window.fill_recent_menu()
    tips = [a.toolTip() for a in window.actions.recent_menu.actions() if a.toolTip()]
    assert str(samples["json"]) in tips
    assert str(samples["text"]) not in tips
    # Each tab's empty state offers the recent files that belong to it.
    for document in window.all_documents():
        window.close_document(document)
    assert "config.pkl" in window.page("json").empty.recent_label.text()
    assert "config.pkl" not in window.page("sqlite").empty.recent_label.text()
    window.page("json").empty.recentClicked.emit(str(samples["json"]))
    [document] = wait_documents(qtbot, window, 1)
    assert document.path == str(samples["json"])


def test_status_bar_toggle_is_a_preference(qtbot, tmp_path: Path) -> None:
    window = launch(qtbot, tmp_path / "settings")
    window.actions.status_bar.trigger()
    assert not window.statusBar().isVisible()
    assert window.settings["view.status_bar"] is False
    close_window(qtbot, window)
    again = launch(qtbot, tmp_path / "settings")
    assert not again.statusBar().isVisible()
    assert not again.actions.status_bar.isChecked()


def test_window_shot_renders(qtbot, tmp_path: Path) -> None:
    samples = make_samples(tmp_path / "files")
    window = launch(qtbot, tmp_path / "settings", samples["json"])
    wait_documents(qtbot, window, 1)
    image = window.grab().toImage()
    assert image.width() > 300 and image.height() > 200
    # Not a blank frame: the rendering has more than a handful of colours.
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7)
               for y in range(0, image.height(), 7)}
    assert len(colours) > 10


def test_the_opener_owns_the_paths_being_sniffed(qtbot, tmp_path: Path) -> None:
    samples = make_samples(tmp_path / "files")
    window = launch(qtbot, tmp_path / "settings")
    path = str(samples["json"])
    with qtbot.waitSignal(window.documentOpened) as opened:
        window.open_paths([path, path])  # twice in one batch: sniffed and opened once
        assert window.opener.pending_paths() == [path]
    assert opened.args[0].path == path and window.opener.pending_paths() == []
    assert window.page_for_format("json") is window.page("json")
    assert window.page_for_format("no such format") is window.pages[0]


def test_optional_document_features_are_protocols(qtbot, tmp_path: Path) -> None:
    """What the window and the disk watch probe is checked with isinstance, not getattr."""
    from gui.common.disk_watch import ComparesWithDisk, WatchesSeveralFiles
    from gui.common.document import KindLabelled, Located, Reloadable, ServerDocument
    from gui.recovery.hooks import JournalJob

    samples = make_samples(tmp_path / "files")
    window = launch(qtbot, tmp_path / "settings", samples["json"], samples["pickle"], samples["text"])
    documents = {d.format: d for d in wait_documents(qtbot, window, 3)}
    json_doc, pickle_doc, text_doc = documents["json"], documents["pickle"], documents["text"]
    assert all(isinstance(d, Reloadable) for d in documents.values())
    assert isinstance(json_doc, ComparesWithDisk) and isinstance(text_doc, ComparesWithDisk)
    assert isinstance(pickle_doc, WatchesSeveralFiles) and not isinstance(json_doc, WatchesSeveralFiles)
    assert isinstance(pickle_doc, KindLabelled) and not isinstance(json_doc, KindLabelled)
    assert isinstance(text_doc, JournalJob) and not isinstance(json_doc, JournalJob)
    assert not any(isinstance(d, Located | ServerDocument) for d in (json_doc, pickle_doc, text_doc))


def test_a_file_still_being_sniffed_when_the_window_closes_opens_nowhere(qtbot, tmp_path: Path,
                                                                         monkeypatch) -> None:
    """A restore's copy or a hand-off that lands after Quit: kept in the session, opened nowhere
    (no document in a closed window, no answer reaching a deleted one)."""
    import threading

    from gui.app import early_sniff

    samples = make_samples(tmp_path / "files")
    release = threading.Event()
    real_sniff = early_sniff.sniff_all

    def slow_sniff(paths):
        release.wait(10)
        return real_sniff(paths)

    monkeypatch.setattr(early_sniff, "sniff_all", slow_sniff)
    window = launch(qtbot, tmp_path / "settings")
    window.open_paths([str(samples["json"])])
    close_window(qtbot, window)
    release.set()
    from PySide6.QtCore import QThreadPool

    qtbot.waitUntil(lambda: QThreadPool.globalInstance().activeThreadCount() == 0)
    qtbot.wait(50)  # the sniff's answer is delivered (and dropped) on this thread
    assert window.all_documents() == []
    reopened = launch(qtbot, tmp_path / "settings")  # it was kept in the session
    (document,) = wait_documents(qtbot, reopened, 1)
    assert document.path == str(samples["json"])


def _answer_reload(discard: bool) -> None:
    """Answer the Reload box as soon as it is shown: Discard and Reload, or Cancel."""
    def click() -> None:
        boxes = [w for w in QApplication.topLevelWidgets()
                 if isinstance(w, QMessageBox) and w.objectName() == "reloadBox" and w.isVisible()]
        if not boxes:
            QTimer.singleShot(20, click)
            return
        box = boxes[0]
        if discard:
            next(b for b in box.buttons() if b.text() == "Discard and Reload").click()
        else:
            box.button(QMessageBox.StandardButton.Cancel).click()

    QTimer.singleShot(0, click)


def test_reload_asks_before_it_drops_unsaved_changes(qtbot, tmp_path: Path) -> None:
    """View ▸ Reload reads the file again: with unsaved edits it asks first, Cancel keeps them."""
    path = tmp_path / "notes.txt"
    path.write_text("first line\n")
    window = launch(qtbot, tmp_path / "settings", path)
    (document,) = wait_documents(qtbot, window, 1)
    editor = document.pages["text"].editor
    qtbot.waitUntil(lambda: editor.toPlainText() == "first line\n")
    editor.moveCursor(editor.textCursor().MoveOperation.End)
    qtbot.keyClicks(editor, "second line")
    assert document.is_modified()

    _answer_reload(discard=False)
    window.actions.reload.trigger()
    assert document.is_modified() and editor.toPlainText() == "first line\nsecond line"

    _answer_reload(discard=True)
    window.actions.reload.trigger()
    qtbot.waitUntil(lambda: editor.toPlainText() == "first line\n")
    assert not document.is_modified()
    assert path.read_text() == "first line\n"

    window.actions.reload.trigger()  # nothing unsaved: reloads without asking
    qtbot.waitUntil(lambda: editor.toPlainText() == "first line\n")
