"""A shelf's keys beside the value tree: add, rename and delete keys, each an undo command.

Key edits are kept in the ``storage.formats.objects.shelf.io.Shelf`` until Save, which writes them (and any
edited values, in their original protocol) in one go.
"""

from __future__ import annotations

import pickle
from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


class ShelfKeyCommand(QUndoCommand):
    """Add, rename or delete one key; undo puts the shelf back as it was."""

    def __init__(self, panel: ShelfPanel, op: str, key: str, new_key: str = "", raw: bytes = b"") -> None:
        super().__init__({"add": f"Add key {key!r}", "rename": f"Rename key {key!r}",
                          "delete": f"Delete key {key!r}"}[op])
        self.panel, self.op, self.key, self.new_key, self.raw = panel, op, key, new_key, raw

    def redo(self) -> None:
        shelf = self.panel.shelf
        if self.op == "add":
            shelf.set(self.key, self.raw)
        elif self.op == "rename":
            shelf.rename(self.key, self.new_key)
            self.panel.renamed(self.key, self.new_key)
        else:
            self.raw = shelf.raw_value(self.key)
            shelf.delete(self.key)
        self.panel.refresh(self.new_key if self.op == "rename" else self.key)

    def undo(self) -> None:
        shelf = self.panel.shelf
        if self.op == "add":
            shelf.delete(self.key)
        elif self.op == "rename":
            shelf.rename(self.new_key, self.key)
            self.panel.renamed(self.new_key, self.key)
        else:
            shelf.set(self.key, self.raw)
        self.panel.refresh(self.key)


class ShelfPanel(QWidget):
    """The list of keys; selecting one asks the document to show its value."""

    keySelected = Signal(str)
    keyRenamed = Signal(str, str)  # (old, new): the document moves the loaded value with it

    def __init__(self, shelf: Any, undo_stack: QUndoStack, protocols: dict[str, int | None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.shelf = shelf
        self.undo_stack = undo_stack
        self.protocols = protocols
        self.title = QLabel(self)
        self.keys = QListWidget(self)
        self.keys.setObjectName("shelfKeys")
        self.keys.currentItemChanged.connect(self._on_current)
        self.add_button = QPushButton("Add…", self)
        self.rename_button = QPushButton("Rename…", self)
        self.delete_button = QPushButton("Delete", self)
        self.add_button.clicked.connect(self._on_add)
        self.rename_button.clicked.connect(self._on_rename)
        self.delete_button.clicked.connect(self._on_delete)
        buttons = QHBoxLayout()
        for button in (self.add_button, self.rename_button, self.delete_button):
            buttons.addWidget(button)
        box = QVBoxLayout(self)
        box.setContentsMargins(4, 4, 0, 4)
        box.addWidget(self.title)
        box.addWidget(self.keys, 1)
        box.addLayout(buttons)
        self.refresh()

    def refresh(self, select: str | None = None) -> None:
        current = select or self.current_key()
        self.keys.blockSignals(True)
        self.keys.clear()
        for key in self.shelf:
            QListWidgetItem(key, self.keys)
        self.keys.blockSignals(False)
        self.title.setText(f"{len(self.shelf):,} keys · {self.shelf.backend}"
                           + (f"\n⚠ {self.shelf.note}" if self.shelf.note else ""))
        self.title.setWordWrap(True)
        matches = self.keys.findItems(current, _exact()) if current is not None else []
        if matches:
            self.keys.setCurrentItem(matches[0])
        elif self.keys.count():
            self.keys.setCurrentRow(0)
        else:
            self.keySelected.emit("")

    def renamed(self, old: str, new: str) -> None:
        self.keyRenamed.emit(old, new)

    def current_key(self) -> str | None:
        item = self.keys.currentItem()
        return item.text() if item is not None else None

    def select_key(self, key: str) -> bool:
        matches = self.keys.findItems(key, _exact())
        if matches:
            self.keys.setCurrentItem(matches[0])
        return bool(matches)

    @Slot(QListWidgetItem, QListWidgetItem)
    def _on_current(self, current: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        self.keySelected.emit(current.text() if current is not None else "")

    def default_protocol(self) -> int:
        known = [p for p in self.protocols.values() if p is not None]
        return max(set(known), key=known.count) if known else pickle.DEFAULT_PROTOCOL

    def add_key(self, key: str) -> bool:
        if not key or key in self.shelf:
            return False
        raw = pickle.dumps(None, protocol=self.default_protocol())
        self.undo_stack.push(ShelfKeyCommand(self, "add", key, raw=raw))
        return True

    def rename_key(self, old: str, new: str) -> bool:
        if not new or new == old or new in self.shelf:
            return False
        self.undo_stack.push(ShelfKeyCommand(self, "rename", old, new_key=new))
        return True

    def delete_key(self, key: str) -> bool:
        if key not in self.shelf:
            return False
        self.undo_stack.push(ShelfKeyCommand(self, "delete", key))
        return True

    def _on_add(self) -> None:
        key, ok = QInputDialog.getText(self, "Add key", "New key:")
        if ok:
            self.add_key(key)

    def _on_rename(self) -> None:
        old = self.current_key()
        if old is None:
            return
        new, ok = QInputDialog.getText(self, "Rename key", "New name:", text=old)
        if ok:
            self.rename_key(old, new)

    def _on_delete(self) -> None:
        key = self.current_key()
        if key is not None:
            self.delete_key(key)


def _exact():
    from PySide6.QtCore import Qt

    return Qt.MatchFlag.MatchExactly
