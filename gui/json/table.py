"""The table view of an array of objects: columns are the union of the keys; editable, sortable.

Sorting is a view-only permutation of rows (the document's order is never changed by it).
Edits emit :attr:`RecordsTableModel.editRequested`; the document pushes an undo command.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from gui.common.model_guard import guard_model
from gui.json.tree_model import coerce_edit
from gui.values.editable import INVALID
from gui.values.tree import preview
from storage.formats.json.doc import json_type

_Index = QModelIndex | QPersistentModelIndex
KEY_SCAN_LIMIT = 100_000  # records scanned for column names


def is_table(value: Any) -> bool:
    """An array whose first elements are objects."""
    return isinstance(value, list) and bool(value) and all(
        isinstance(v, dict) for v in value[:50])


def union_keys(records: list[Any], limit: int = KEY_SCAN_LIMIT) -> list[str]:
    keys: dict[str, None] = {}
    for record in records[:limit]:
        if isinstance(record, dict):
            keys.update(dict.fromkeys(record))
    return list(keys)


@guard_model
class RecordsTableModel(QAbstractTableModel):
    """Rows are the array's elements, columns the union of their keys."""

    # (path of the cell's value, new value, whether the key exists in that record)
    editRequested = Signal(object, object, bool)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.path: list[Any] = []
        self.records: list[Any] = []
        self.columns: list[str] = []
        self._order: list[int] | None = None  # view row -> record index, when sorted
        self.first_number = 0  # the number of the first record (JSON Lines records count from 1)

    def set_records(self, path: list[Any], records: list[Any]) -> None:
        self.beginResetModel()
        self.path, self.records = list(path), records
        self.columns = union_keys(records)
        self._order = None
        self.endResetModel()

    def refresh(self) -> None:
        """The document changed: show it again (row count or keys may differ)."""
        self.beginResetModel()
        if self._order is not None and len(self._order) != len(self.records):
            self._order = None
        self.columns = union_keys(self.records)
        self.endResetModel()

    def record_index(self, row: int) -> int:
        return self._order[row] if self._order is not None else row

    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.records)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        record = self.records[self.record_index(index.row())]
        key = self.columns[index.column()]
        if not isinstance(record, dict) or key not in record:
            return "" if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole) else None
        value = record[key]
        if role == Qt.ItemDataRole.DisplayRole:
            return preview(value)
        if role == Qt.ItemDataRole.EditRole:
            return value if isinstance(value, bool | str) else preview(value)
        if role == Qt.ItemDataRole.ToolTipRole:
            return json_type(value)
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        flags = super().flags(index)
        if index.isValid():
            record = self.records[self.record_index(index.row())]
            value = record.get(self.columns[index.column()]) if isinstance(record, dict) else None
            if isinstance(record, dict) and not isinstance(value, dict | list):
                flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or role != Qt.ItemDataRole.EditRole:
            return False
        row = self.record_index(index.row())
        record = self.records[row]
        key = self.columns[index.column()]
        exists = key in record
        old = record.get(key) if exists else ""
        new = coerce_edit(old if old is not None else "", value)
        if new is INVALID:
            return False
        self.editRequested.emit([*self.path, row, key], new, exists)
        return True

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self.columns[section] if 0 <= section < len(self.columns) else None
        if 0 <= section < len(self.records):
            return str(self.record_index(section) + self.first_number)
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(self.columns):
            return
        key = self.columns[column]
        self.layoutAboutToBeChanged.emit()
        old_order = [self.record_index(r) for r in range(len(self.records))]
        old_persistent = self.persistentIndexList()

        def sort_key(i: int) -> tuple[int, Any]:
            record = self.records[i]
            value = record.get(key) if isinstance(record, dict) else None
            if isinstance(value, bool):
                return (1, int(value))
            if isinstance(value, int | float):
                return (2, value)
            if isinstance(value, str):
                return (3, value.casefold())
            return (0 if value is None else 4, 0)

        self._order = sorted(range(len(self.records)), key=sort_key,
                             reverse=order == Qt.SortOrder.DescendingOrder)
        position = {record: row for row, record in enumerate(self._order)}
        self.changePersistentIndexList(old_persistent, [
            self.index(position[old_order[i.row()]], i.column()) if i.isValid() else QModelIndex()
            for i in old_persistent])
        self.layoutChanged.emit()
