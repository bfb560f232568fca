"""The Pragmas panel of the SQL tab: read the common pragmas, set the persistent ones with undo.

Each change is a :class:`SetPragma` command on the document's undo stack that writes at once
(as edits do); undo writes the previous value back. ``auto_vacuum`` on a database that has
tables takes effect at the next VACUUM, which the panel says.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QUndoCommand
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from gui.common.workers import run_with_progress
from gui.sql.tasks import esc
from storage.core.errors import KnownError
from storage.formats.sql.sqlite_db import Reader
from storage.formats.sql.tools import PRAGMAS, SETTABLE, read_pragmas, set_pragma

if TYPE_CHECKING:
    from gui.sql.tools import ToolsPanel

NOTES = {
    "auto_vacuum": "Takes effect on a database with tables only after VACUUM.",
    "journal_mode": "wal lets readers work while one program writes; it adds -wal and -shm files.",
    "foreign_keys": "Per connection, not stored in the file; Datashelf enforces them for its edits.",
    "synchronous": "Per connection, not stored in the file.",
    "user_version": "A number for the application's own use (schema versions).",
    "application_id": "Identifies the application file format (see the SQLite magic.txt registry).",
}


class SetPragma(QUndoCommand):
    """Set one persistent pragma; undo puts the previous value back."""

    def __init__(self, tools: ToolsPanel, name: str, old: Any, new: Any) -> None:
        super().__init__(f"set {name} = {new}")
        self.tools, self.name, self.old, self.new = tools, name, old, new

    def _write(self, value: Any) -> None:
        path, name = self.tools.host.path or "", self.name

        def write() -> Any:  # on a worker: the GUI thread paints meanwhile
            return run_with_progress(self.tools, f"Setting {name}…", set_pragma, path, name, value)

        try:  # leaving WAL needs the file to itself: the readers reopen after
            now = self.tools.with_readers_closed(write) if name == "journal_mode" else write()
        except KnownError as exc:
            self.tools.host.show_message(f"PRAGMA {self.name} not set: {exc}", "error")
            self.setObsolete(True)
            return
        self.tools.pragma_written(self.name, now)

    def redo(self) -> None:
        self._write(self.new)

    def undo(self) -> None:
        self._write(self.old)


class PragmasDialog(QDialog):
    """One row per pragma: its value, and for the settable ones an editor with Set."""

    loaded = Signal()

    def __init__(self, tools: ToolsPanel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tools = tools
        self.setWindowTitle(f"Pragmas — {tools.host.title()}")
        self.values: dict[str, Any] = {}
        self.labels: dict[str, QLabel] = {}
        self.editors: dict[str, QLineEdit | QComboBox] = {}
        self.set_buttons: dict[str, QPushButton] = {}
        form = QFormLayout()
        for name in PRAGMAS:
            label = QLabel("…", self)
            label.setToolTip(NOTES.get(name, ""))
            self.labels[name] = label
            row = QHBoxLayout()
            row.addWidget(label, 1)
            if name in SETTABLE:
                allowed = SETTABLE[name]
                if allowed is None:
                    editor: QLineEdit | QComboBox = QLineEdit(self)
                    editor.setMaximumWidth(140)
                else:
                    editor = QComboBox(self)
                    editor.addItems(list(allowed))
                editor.setToolTip(NOTES.get(name, ""))
                button = QPushButton("Set", self)
                button.clicked.connect(lambda _c=False, n=name: self.apply(n))
                self.editors[name], self.set_buttons[name] = editor, button
                row.addWidget(editor)
                row.addWidget(button)
            form.addRow(f"{name}:", row)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        read_only = tools.host.read_only
        self.message.setText("Read-only mode: pragmas are shown, not set." if read_only
                             else "Each Set is written at once and can be undone (Edit ▸ Undo).")
        for widget in [*self.editors.values(), *self.set_buttons.values()]:
            widget.setEnabled(not read_only)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        box = QVBoxLayout(self)
        box.addLayout(form)
        box.addWidget(self.message)
        box.addWidget(buttons)
        self.refresh()

    def refresh(self) -> None:
        """Read the pragmas on a connection of its own (a fresh one sees a changed journal mode)."""
        path, immutable = self.tools.host.path or "", self.tools.host.immutable

        def work() -> dict[str, Any]:
            reader = Reader(path, immutable=immutable)
            try:
                return reader.run(read_pragmas)  # type: ignore[return-value]
            finally:
                reader.close()

        self.tools.host.start_task(work, on_result=self._on_read,
                               on_error=lambda e: self.message.setText(esc(str(e))))

    def _on_read(self, values: dict[str, Any]) -> None:
        if not isValid(self):
            return
        self.values = values
        for name, value in values.items():
            self.labels[name].setText(f"<b>{esc(str(value))}</b>")
            editor = self.editors.get(name)
            if isinstance(editor, QLineEdit):
                editor.setText(str(value))
            elif isinstance(editor, QComboBox):
                editor.setCurrentText(str(value))
        self.loaded.emit()

    def apply(self, name: str) -> None:
        """Set ``name`` to its editor's value as an undoable command."""
        editor = self.editors[name]
        new = editor.text() if isinstance(editor, QLineEdit) else editor.currentText()
        old = self.values.get(name)
        if str(new).strip().lower() == str(old).lower():
            return
        self.tools.host.undo_stack.push(SetPragma(self.tools, name, old, new))
        if name == "auto_vacuum":
            self.message.setText(NOTES["auto_vacuum"] + " Use Tools ▸ VACUUM.")
