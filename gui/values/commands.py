"""Undo commands for a tree of values (the JSON and Objects tabs, Orange canvas style): redo and
undo call the model's edits, which call the storage document. Paths and rows are plain data, so
a command holds no Qt index.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from PySide6.QtGui import QUndoCommand

from gui.values.editable import EditableValueTreeModel

_SET_ID = 0x4A53  # consecutive edits of the same node's text merge into one step


class SetValueCommand(QUndoCommand):
    def __init__(self, model: EditableValueTreeModel, path: Sequence[Any], value: Any,
                 text: str = "") -> None:
        super().__init__(text or f"Set {model.path_text(path)}")
        self.model, self.path, self.new = model, list(path), value
        self.old: Any = None

    def redo(self) -> None:
        self.old = self.model.apply_set(self.path, self.new)

    def undo(self) -> None:
        self.model.apply_set(self.path, self.old)

    def id(self) -> int:
        return _SET_ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        # Typing in the text view re-parses often; keep one step per node while the text changes.
        if (isinstance(other, SetValueCommand) and other.path == self.path
                and getattr(other, "mergeable", False) and getattr(self, "mergeable", False)):
            self.new = other.new
            return True
        return False


class InsertCommand(QUndoCommand):
    def __init__(self, model: EditableValueTreeModel, parent_path: Sequence[Any], row: int,
                 key: Any, value: Any, text: str = "Insert") -> None:
        super().__init__(text)
        self.model, self.parent_path, self.row, self.key, self.value = (
            model, list(parent_path), row, key, value)

    def redo(self) -> None:
        self.model.apply_insert(self.parent_path, self.row, self.key, self.value)

    def undo(self) -> None:
        self.model.apply_remove(self.parent_path, self.row)


class RemoveCommand(QUndoCommand):
    def __init__(self, model: EditableValueTreeModel, parent_path: Sequence[Any], row: int) -> None:
        super().__init__("Delete")
        self.model, self.parent_path, self.row = model, list(parent_path), row
        self.key: Any = None
        self.value: Any = None

    def redo(self) -> None:
        self.key, self.value = self.model.apply_remove(self.parent_path, self.row)

    def undo(self) -> None:
        self.model.apply_insert(self.parent_path, self.row, self.key, self.value)


class MoveCommand(QUndoCommand):
    def __init__(self, model: EditableValueTreeModel, parent_path: Sequence[Any], row: int,
                 new_row: int) -> None:
        super().__init__("Move")
        self.model, self.parent_path, self.row, self.new_row = model, list(parent_path), row, new_row

    def redo(self) -> None:
        self.model.apply_move(self.parent_path, self.row, self.new_row)

    def undo(self) -> None:
        self.model.apply_move(self.parent_path, self.new_row, self.row)


class RenameCommand(QUndoCommand):
    def __init__(self, model: EditableValueTreeModel, parent_path: Sequence[Any], row: int,
                 new_key: str) -> None:
        super().__init__(f"Rename to {new_key!r}")
        self.model, self.parent_path, self.row, self.new_key = model, list(parent_path), row, new_key
        self.old_key = ""

    def redo(self) -> None:
        self.old_key = self.model.apply_rename(self.parent_path, self.row, self.new_key)

    def undo(self) -> None:
        self.model.apply_rename(self.parent_path, self.row, self.old_key)


class SortKeysCommand(QUndoCommand):
    def __init__(self, model: EditableValueTreeModel, path: Sequence[Any]) -> None:
        super().__init__("Sort keys")
        self.model, self.path = model, list(path)
        self.old: list[str] = []

    def redo(self) -> None:
        keys = sorted(self.model.doc.get(self.path))
        self.old = self.model.apply_reorder(self.path, keys)

    def undo(self) -> None:
        self.model.apply_reorder(self.path, self.old)


def duplicate_command(model: EditableValueTreeModel, path: Sequence[Any], row: int) -> InsertCommand:
    """Insert a deep copy of the node right after it (objects get a fresh key)."""
    parent_path = list(path[:-1])
    parent = model.doc.get(parent_path)
    value = copy.deepcopy(model.doc.get(path))
    key: Any = row + 1
    if isinstance(parent, dict):
        base, n = f"{path[-1]} copy", 1
        key = base
        while key in parent:
            n += 1
            key = f"{base} {n}"
    return InsertCommand(model, parent_path, row + 1, key, value, "Duplicate")
