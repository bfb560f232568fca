"""Changes on disk, through the real window: the bar, Reload / Keep mine / Compare, and the
question before saving over a file that another program changed (text, JSON, pickle, HDF5)."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QPushButton

from gui.files.document import FileDocument
from gui.json.document import JsonDocument
from gui.objects.document import ObjectsDocument
from tests.support.gui_helpers import launch, wait_documents

SHOTS = os.environ.get("DATASHELF_SHOTS")  # a folder: screenshots of the bar and the diff


def open_one(qtbot, settings: Path, path: Path, kind: type):
    window = launch(qtbot, settings, path)
    (document,) = wait_documents(qtbot, window, 1)
    assert isinstance(document, kind), type(document)
    return window, document


def answer(monkeypatch, button: str) -> list[str]:
    """Make the changed-on-disk question click ``button`` (an object name); collect its texts."""
    asked: list[str] = []

    def exec_(box: QMessageBox) -> int:
        asked.append(box.text())
        box.findChild(QPushButton, button).click()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", exec_)
    return asked


def replace(path: Path, data: bytes) -> None:
    """Write as many programs do: a new file renamed over the old one (the watch must survive)."""
    temp = path.with_name(path.name + ".tmp")
    temp.write_bytes(data)
    os.replace(temp, path)


def shot(widget, name: str) -> None:
    if SHOTS:
        widget.grab().save(os.path.join(SHOTS, name))


def text_of(document: FileDocument) -> str:
    return document.pages["text"].editor.text()


def type_at_start(qtbot, document: FileDocument, text: str) -> None:
    editor = document.pages["text"].editor
    qtbot.keyClick(editor, Qt.Key.Key_Home, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(editor, text)


def test_text_bar_compare_keep_reload_and_save_over(qtbot, tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("one\ntwo\nthree\n")
    window, document = open_one(qtbot, tmp_path / "settings", path, FileDocument)
    qtbot.waitUntil(lambda: text_of(document) == "one\ntwo\nthree\n")
    type_at_start(qtbot, document, "mine ")
    assert document.is_modified()

    # Our own save is not a change on disk, however the watcher reports it.
    assert window.save_current()
    assert path.read_text() == "mine one\ntwo\nthree\n"
    assert not document.disk.check_now() and not document.disk.is_showing()

    type_at_start(qtbot, document, "again ")
    replace(path, b"mine one\nTWO from elsewhere\nthree\n")
    qtbot.waitUntil(document.disk.is_showing, timeout=5000)
    bar = document.disk.bar
    assert "changed on disk" in bar.label.text() and "unsaved changes are kept" in bar.label.text()
    assert bar.compare_button.isVisibleTo(document) and bar.reload_button.isVisibleTo(document)
    window.resize(900, 500)
    shot(window, "text-bar.png")

    with qtbot.waitSignal(document.disk.diffShown, timeout=10_000):
        bar.compare_button.click()
    dialog = document.disk.diff_dialog
    lines = dialog.diff.toPlainText().splitlines()
    assert "-again mine one" in lines and "+mine one" in lines
    assert "-two" in lines and "+TWO from elsewhere" in lines
    shot(dialog, "text-diff.png")
    dialog.keep_button.click()  # Keep mine: the edits stay, unsaved
    assert text_of(document).startswith("again mine one") and document.is_modified()
    assert not document.disk.is_showing() and document.disk.diff_dialog is None

    # Changed again, bar ignored: saving asks; Cancel leaves the disk alone, Overwrite writes.
    replace(path, b"theirs\n")
    qtbot.waitUntil(document.disk.is_showing, timeout=5000)
    asked = answer(monkeypatch, "cancelButton")
    assert not window.save_current()
    assert asked and "changed on disk since you opened it" in asked[0]
    assert path.read_bytes() == b"theirs\n" and document.is_modified()
    answer(monkeypatch, "overwriteButton")
    assert window.save_current()
    assert path.read_text() == "again mine one\ntwo\nthree\n" and not document.is_modified()
    assert not document.disk.is_showing()

    # Reload shows the new content and drops the edits.
    type_at_start(qtbot, document, "lost ")
    replace(path, b"new content\n")
    qtbot.waitUntil(document.disk.is_showing, timeout=5000)
    bar.reload_button.click()
    qtbot.waitUntil(lambda: text_of(document) == "new content\n")
    assert not document.is_modified() and not document.disk.is_showing()


def test_without_edits_a_change_reloads_quietly(qtbot, tmp_path: Path) -> None:
    """As in VS Code: nothing of yours to lose, so no question; the status bar says it."""
    path = tmp_path / "log.txt"
    path.write_text("first\n")
    window, document = open_one(qtbot, tmp_path / "settings", path, FileDocument)
    qtbot.waitUntil(lambda: text_of(document) == "first\n")
    reloads = []
    document.disk.changeShown.connect(lambda: reloads.append("bar"))
    with qtbot.waitSignal(document.disk.reloadedQuietly, timeout=5000):
        replace(path, b"first\nsecond\n")
    qtbot.waitUntil(lambda: text_of(document) == "first\nsecond\n")
    assert not document.disk.is_showing() and not document.is_modified() and reloads == []
    assert "log.txt changed on disk: reloaded" in window.statusBar().currentMessage()

    # With an edit, the bar asks (the edit is never dropped unasked).
    type_at_start(qtbot, document, "mine ")
    replace(path, b"third\n")
    qtbot.waitUntil(document.disk.is_showing, timeout=5000)
    assert text_of(document).startswith("mine first") and reloads == ["bar"]
    shot(window, "text-bar-with-edits.png")


def test_touch_or_same_bytes_is_no_change(qtbot, tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "same.txt"
    path.write_text("same\n")
    window, document = open_one(qtbot, tmp_path / "settings", path, FileDocument)
    qtbot.waitUntil(lambda: document.disk.recorded is not None and bool(document.disk.recorded.digest))
    os.utime(path, ns=(1, 1))  # touched: other date, same bytes
    replace(path, b"same\n")  # written back identical, as a new file
    assert not document.disk.check_now()
    asked = answer(monkeypatch, "cancelButton")
    type_at_start(qtbot, document, "x")
    assert window.save_current() and not asked  # nothing to ask about
    qtbot.waitUntil(lambda: bool(document.disk.recorded.digest))
    # Same size and mtime, other bytes: the ctime and the hash see it.
    info = os.stat(path)
    path.write_bytes(b"Xsame\n"[:info.st_size].replace(b"X", b"Y"))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert document.disk.check_now()


def test_json_compare_keep_and_save_over(qtbot, tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"name": "demo", "count": 3}, indent=2))
    window, document = open_one(qtbot, tmp_path / "settings", path, JsonDocument)
    document.model.editRequested.emit(["count"], 1, 4)
    replace(path, json.dumps({"name": "theirs", "count": 3}, indent=2).encode())
    qtbot.waitUntil(document.disk.is_showing, timeout=5000)
    with qtbot.waitSignal(document.disk.diffShown, timeout=10_000):
        document.disk.bar.compare_button.click()
    lines = document.disk.diff_dialog.diff.toPlainText().splitlines()
    assert '+  "name": "theirs",' in lines and '-  "count": 4' in lines
    shot(document.disk.diff_dialog, "json-diff.png")
    document.disk.diff_dialog.reject()  # Keep mine
    assert document.doc.root == {"name": "demo", "count": 4} and document.is_modified()

    replace(path, b'{"other": true}')
    qtbot.waitUntil(document.disk.is_showing, timeout=5000)
    answer(monkeypatch, "cancelButton")
    assert not window.save_current() and path.read_bytes() == b'{"other": true}'
    answer(monkeypatch, "overwriteButton")
    assert window.save_current() and json.loads(path.read_text()) == {"name": "demo", "count": 4}
    document.disk.check()  # our save, looked at again: still nothing to say
    qtbot.wait(300)
    assert not document.disk.is_showing()

    replace(path, b'{"reloaded": 1}')  # no edits since the save: reloaded without asking
    qtbot.waitUntil(lambda: document.doc is not None and document.doc.root == {"reloaded": 1}, timeout=5000)
    assert not document.is_modified() and not document.disk.is_showing()


def test_pickle_reload_keep_and_save_over(qtbot, tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "values.pkl"
    path.write_bytes(pickle.dumps({"count": 3}, protocol=4))
    window, document = open_one(qtbot, tmp_path / "settings", path, ObjectsDocument)
    model = document.view.model
    assert model.setData(model.index_for_path([0, "count"]).siblingAtColumn(1), "41")
    replace(path, pickle.dumps({"count": 7, "new": True}, protocol=4))
    qtbot.waitUntil(document.disk.is_showing, timeout=5000)
    bar = document.disk.bar
    assert bar.compare_button.isHidden() and not bar.reload_button.isHidden()
    shot(document, "pickle-bar.png")
    bar.keep_button.click()
    assert document.is_modified() and not document.disk.is_showing()
    assert model.index_for_path([0, "count"]).siblingAtColumn(1).data() == "41"

    other = pickle.dumps({"count": 8}, protocol=4)
    replace(path, other)
    qtbot.waitUntil(document.disk.is_showing, timeout=5000)
    answer(monkeypatch, "cancelButton")
    assert not window.save_current() and path.read_bytes() == other
    answer(monkeypatch, "overwriteButton")
    assert window.save_current() and pickle.loads(path.read_bytes()) == {"count": 41}
    assert not document.disk.check_now() and not document.disk.is_showing()  # our own save

    replace(path, pickle.dumps({"count": 99}, protocol=4))  # no edits since the save: reloaded
    qtbot.waitUntil(lambda: document.view.model.index_for_path([0, "count"]).isValid()
                    and document.view.model.index_for_path([0, "count"]).siblingAtColumn(1).data() == "99",
                    timeout=5000)
    assert not document.is_modified() and not document.disk.is_showing()


def test_shelf_watches_its_files(qtbot, tmp_path: Path) -> None:
    import dbm.dumb
    import shelve

    base = tmp_path / "store"
    with shelve.Shelf(dbm.dumb.open(str(base), "c"), protocol=4) as shelf:
        shelf["a"] = 1
    _window, document = open_one(qtbot, tmp_path / "settings", base.with_suffix(".dat"), ObjectsDocument)
    assert {"store.dat", "store.dir"} <= {os.path.basename(p) for p in document.watched_paths()}
    with shelve.Shelf(dbm.dumb.open(str(base), "w"), protocol=4) as shelf:
        shelf["b"] = 2
    qtbot.waitUntil(lambda: document.shelf_panel is not None and document.shelf_panel.keys.count() == 2,
                    timeout=5000)
    assert not document.disk.is_showing()


def test_hdf5_reload_and_writable_warning(qtbot, tmp_path: Path, monkeypatch) -> None:
    h5py = pytest.importorskip("h5py")
    import numpy as np

    from tests.support.hdf5_gui_helpers import cell, open_h5, select

    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as f:
        f["values"] = np.arange(6.0).reshape(2, 3)
    window, document = open_h5(qtbot, tmp_path / "settings", path)
    fresh = tmp_path / "fresh.h5"
    with h5py.File(fresh, "w") as f:
        f["values"] = np.arange(6.0).reshape(2, 3)
        f["added"] = np.zeros(2)
    os.replace(fresh, path)  # read-only, nothing to lose: reloaded without a bar
    qtbot.waitUntil(lambda: document.tree_model.index_for_path("/added").isValid(), timeout=5000)
    assert not document.disk.is_showing()
    bar = document.disk.bar
    assert bar.keep_button.text() == "Keep showing"

    # Writable: our own edits (written in place) raise no bar; another program's write warns.
    monkeypatch.setattr(document.editor, "confirm_writable", lambda: True)
    document.editor.writable_box.click()
    assert document.h5.writable
    select(qtbot, document, "/values")
    model = document.table_model
    assert cell(qtbot, document, 0, 1) == "1.0"
    model.setData(model.index(0, 1), "42")  # the undo command writes it
    assert document.h5.handle["values"][0, 1] == 42
    assert not document.disk.check_now()
    with open(path, "r+b") as handle:  # another program, writing in place
        handle.seek(0, os.SEEK_END)
        handle.write(b"\0" * 16)
    qtbot.waitUntil(document.disk.is_showing, timeout=5000)  # writable: the bar warns, never reloads
    assert "open for writing" in bar.label.text() and bar.compare_button.isHidden()
    shot(document, "hdf5-bar.png")
    answer(monkeypatch, "cancelButton")
    before = path.read_bytes()
    assert not window.save_current() and path.read_bytes() == before
    bar.keep_button.click()  # keep showing: edits here are on disk already, nothing to mark
    assert not document.disk.is_showing() and not document.is_modified()
    answer(monkeypatch, "overwriteButton")
    with open(path, "r+b") as handle:  # once more, then Save (a flush) over it
        handle.seek(0, os.SEEK_END)
        handle.write(b"\0" * 16)
    qtbot.waitUntil(document.disk.is_showing, timeout=5000)
    assert window.save_current() and not document.disk.check_now()
    with open(path, "r+b") as handle:
        handle.seek(0, os.SEEK_END)
        handle.write(b"\0" * 16)
    qtbot.waitUntil(document.disk.is_showing, timeout=5000)
    bar.reload_button.click()  # reopens read-only
    qtbot.waitUntil(lambda: document.h5 is not None and not document.h5.writable)
