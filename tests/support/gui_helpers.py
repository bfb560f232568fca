"""Shared pieces for the window tests: launching, waiting for documents, sample files."""

from __future__ import annotations

import json
import pickle
import sqlite3
from pathlib import Path

from PySide6.QtGui import QUndoCommand

from gui.common.document import Document, PendingWrites
from storage.core.atomic import atomic_write


def launch(qtbot, settings_dir: Path, *files: Path, show: bool = True):
    """Start the real app the way main.py does and return its main window."""
    import main

    _app, window = main.build(["--settings-dir", str(settings_dir), *map(str, files)])
    # At teardown, drop unsaved test edits so closing never waits on the Save/Discard box.
    qtbot.addWidget(window, before_close_func=forget_edits)
    if show:
        window.show()
        qtbot.waitExposed(window)
    return window


def forget_edits(window) -> None:
    """What Discard in the unsaved-changes box leaves: nothing counts as unsaved any more."""
    for document in window.all_documents():
        document.undo_stack.setClean()
        # database edits a stopped server did not take
        if isinstance(document, PendingWrites) and document.pending_count():
            document.discard_pending_edits()
        text_view = getattr(document, "text_view", None)
        if text_view is not None and getattr(text_view, "unparsed_edit", False):
            text_view.set_text("")  # JSON text typed that did not parse yet


def wait_documents(qtbot, window, count: int, loaded: bool = True, timeout: int = 10_000) -> list:
    """Wait until ``count`` documents are open (and loaded); return them."""
    def ready() -> None:
        documents = window.all_documents()
        assert len(documents) == count
        if loaded:
            assert all(d.is_loaded for d in documents)

    qtbot.waitUntil(ready, timeout=timeout)
    return window.all_documents()


def close_window(qtbot, window) -> None:
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible())


def make_samples(folder: Path) -> dict[str, Path]:
    """One file of each main format, some under misleading names."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "json": folder / "config.pkl",  # JSON content, pickle name
        "sqlite": folder / "records.json",  # SQLite content, JSON name
        "pickle": folder / "old.txt",  # protocol-0 pickle, text name
        "text": folder / "notes.md",
        "jsonl": folder / "events.jsonl",
    }
    files["json"].write_text(json.dumps({"name": "demo", "values": [1, 2, 3]}, indent=2))
    connection = sqlite3.connect(files["sqlite"])
    connection.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT)")
    connection.executemany("INSERT INTO people(name) VALUES (?)", [("Ada",), ("Grace",)])
    connection.commit()
    connection.close()
    files["pickle"].write_bytes(pickle.dumps({"a": [1, 2], "b": "text"}, protocol=0))
    files["text"].write_text("# Notes\n\nPlain text, nothing else.\n")
    files["jsonl"].write_text('{"id": 1}\n{"id": 2}\n')
    return files


class SetValue(QUndoCommand):
    def __init__(self, document: EditableDocument, value: str) -> None:
        super().__init__(f"set {value}")
        self.document = document
        self.old = document.value
        self.new = value

    def redo(self) -> None:
        self.document.value = self.new

    def undo(self) -> None:
        self.document.value = self.old


class EditableDocument(Document):
    """A minimal editable document, standing in for the format tabs' editors."""

    def __init__(self, path: str, parent=None) -> None:
        super().__init__(path, "text", parent)
        self.value = Path(path).read_text()
        self.saves = 0
        self.mark_loaded()

    def edit(self, value: str) -> None:
        self.undo_stack.push(SetValue(self, value))

    def can_save(self) -> bool:
        return True

    def save(self) -> bool:
        atomic_write(self.path, self.value)
        self.saves += 1
        self.undo_stack.setClean()
        return True


def edit_while_locked(document, path: Path, row: int, column: int, text: str) -> None:
    """Edit a cell while another program holds an exclusive lock on the SQLite file at ``path``."""
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        document.edits.edit_cell(row, column, text)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
