"""The editable tree model: :class:`ValueTreeModel` plus in-place edits that keep lazy rows right.

Edits are made by the undo commands (``gui.values.commands``) through the ``apply_*`` methods,
which call the storage document (``storage.formats.json.doc.JsonDoc``,
``storage.formats.objects.doc.ObjectDoc``)
and then tell the views exactly which rows changed. ``setData`` never edits by itself: it emits
:attr:`editRequested` so the document can push a command, which calls back into ``apply_*``.

The model is shared by the JSON and Objects tabs and knows no format: what a typed edit means,
the Type column's text and colours, and how a path is written are each format's subclass's
(``gui.json.tree_model.JsonTreeModel``, ``gui.objects.model.ObjectTreeModel``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QMimeData, QModelIndex, QPersistentModelIndex, Qt, Signal

from gui.common.model_guard import guard_model
from gui.values.tree import ValueNode, ValueTreeModel, preview, type_name

_Index = QModelIndex | QPersistentModelIndex
PATH_MIME = "application/x-datashelf-value-path"  # a dragged node: {"model": id, "path": [...]}
INVALID = object()  # what key_from_edit / value_from_edit answer for text that means nothing


@guard_model
class EditableValueTreeModel(ValueTreeModel):
    """Key / Value / Type over a document with ``set_value/insert/remove/rename/reorder``."""

    # (path of the node, column, new value): 0 renames, 1 sets the value
    editRequested = Signal(object, int, object)
    # (path of the dragged node, path of the container it was dropped in, row there)
    moveRequested = Signal(object, object, int)

    def __init__(self, doc: Any, parent=None) -> None:
        super().__init__(doc.root, parent)
        self.doc = doc

    def set_value(self, value: Any) -> None:
        self._fetching = True  # listeners of the reset must not fetch before it ends
        try:
            super().set_value(value)
        finally:
            self._fetching = False

    def reset_document(self, doc: Any) -> None:
        self.doc = doc
        self.set_value(doc.root)

    # -- Qt ---------------------------------------------------------------------------------
    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        node: ValueNode = index.internalPointer()
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return str(node.key)
            if column == 1:
                return preview(node.value)
            return self.type_text(node.value)
        if role == Qt.ItemDataRole.EditRole:
            if column == 0:
                return str(node.key)
            value = node.value
            if isinstance(value, bool | str):
                return value
            return "" if value is None else preview(value)
        if role == Qt.ItemDataRole.ToolTipRole and column == 1 and isinstance(node.value, str):
            return node.value[:2000]
        if role == Qt.ItemDataRole.ForegroundRole and column == 1:
            colour = self.value_colour(node.value)
            if colour:
                from PySide6.QtGui import QColor

                return QColor(colour)
        return None

    # -- what the format decides ------------------------------------------------------------
    def type_text(self, value: Any) -> str:
        """The Type column of ``value``."""
        return type_name(value)

    def value_colour(self, value: Any) -> str | None:
        """The Value column's text colour for ``value`` ("#rrggbb"), or None."""
        return None

    def path_text(self, path: Sequence[Any]) -> str:
        """``path`` as the undo stack's texts show it (the root is "document")."""
        return "".join(f"/{key}" for key in path) or "document"

    def flags(self, index: _Index) -> Qt.ItemFlag:
        flags = super().flags(index)
        if not index.isValid():
            return Qt.ItemFlag.ItemIsDropEnabled if isinstance(self._root.value, dict | list) else flags
        node: ValueNode = index.internalPointer()
        flags |= Qt.ItemFlag.ItemIsDragEnabled
        if isinstance(node.value, dict | list):
            flags |= Qt.ItemFlag.ItemIsDropEnabled
        if index.column() == 0 and isinstance(node.parent.value, dict):
            flags |= Qt.ItemFlag.ItemIsEditable
        if index.column() == 1 and not isinstance(node.value, dict | list):
            flags |= Qt.ItemFlag.ItemIsEditable  # a null too: value_from_edit says what typing means
        return flags

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or role != Qt.ItemDataRole.EditRole:
            return False
        node: ValueNode = index.internalPointer()
        if index.column() == 0:
            if node.parent is None or not isinstance(node.parent.value, dict):
                return False
            key = self.key_from_edit(node, value)
            if key is INVALID:
                return False
            if key == node.key and type(key) is type(node.key):
                return True
            if key in node.parent.value:
                return False
            self.editRequested.emit(node.path(), 0, key)
            return True
        if index.column() != 1:
            return False
        new = self.value_from_edit(node, value)
        if new is INVALID:
            return False
        if new != node.value or type(new) is not type(node.value):
            self.editRequested.emit(node.path(), 1, new)
        return True

    def key_from_edit(self, node: ValueNode, value: Any) -> Any:
        """The dict key an edit of ``node``'s key means, or INVALID (the format decides)."""
        return INVALID

    def value_from_edit(self, node: ValueNode, value: Any) -> Any:
        """The value an edit of ``node``'s value means, or INVALID (the format decides)."""
        return INVALID

    # -- drag and drop: the model only reports the move; the document pushes the command ------
    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def mimeTypes(self) -> list[str]:
        return [PATH_MIME]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        data = QMimeData()
        node = next((i.internalPointer() for i in indexes if i.isValid()), None)
        if node is not None:
            payload = {"model": id(self), "path": node.path()}
            data.setData(PATH_MIME, json.dumps(payload).encode())
        return data

    def dragged_path(self, data: QMimeData) -> list[Any] | None:
        """The path of a node dragged from this model (a path from another one means nothing)."""
        if not data.hasFormat(PATH_MIME):
            return None
        try:
            payload = json.loads(bytes(data.data(PATH_MIME)).decode())
        except ValueError:
            return None
        if not isinstance(payload, dict) or payload.get("model") != id(self):
            return None
        path = payload.get("path")
        return path if isinstance(path, list) and path else None

    def canDropMimeData(self, data: QMimeData, action: Qt.DropAction, row: int, column: int,
                        parent: _Index) -> bool:
        source = self.dragged_path(data)
        if source is None or action != Qt.DropAction.MoveAction:
            return False
        target = self.node(parent)
        if not isinstance(target.value, dict | list):
            return False
        return target.path()[:len(source)] != source  # never into itself or its descendants

    def dropMimeData(self, data: QMimeData, action: Qt.DropAction, row: int, column: int,
                     parent: _Index) -> bool:
        if not self.canDropMimeData(data, action, row, column, parent):
            return False
        target = self.node(parent)
        self.moveRequested.emit(self.dragged_path(data), target.path(),
                                row if row >= 0 else len(target.value))
        return True

    # -- finding made nodes -------------------------------------------------------------------
    def made_node(self, path: Sequence[Any]) -> ValueNode | None:
        """The node for ``path`` if the tree has made it (never fetches)."""
        node = self._root
        for key in path:
            children = node.made_children or []
            if isinstance(node.value, list):
                node = children[key] if isinstance(key, int) and key < len(children) else None
            else:
                node = next((c for c in children if c.key == key), None)
            if node is None:
                return None
        return node

    def _index_of(self, node: ValueNode, column: int = 0) -> QModelIndex:
        return QModelIndex() if node is self._root else self.createIndex(node.row, column, node)

    def _container_changed(self, node: ValueNode | None) -> None:
        if node is not None and node is not self._root:
            index = self._index_of(node, 2)
            self.dataChanged.emit(index.siblingAtColumn(1), index)

    def _renumber(self, node: ValueNode, start: int) -> None:
        is_list = isinstance(node.value, list)
        children = node.made_children or []
        for row in range(start, len(children)):
            child = children[row]
            child.row = row
            if is_list:
                child.key = row
        if children and start < len(children) and is_list:
            first = self.createIndex(start, 0, children[start])
            last = self.createIndex(len(children) - 1, 0, children[-1])
            self.dataChanged.emit(first, last, [Qt.ItemDataRole.DisplayRole])

    def _drop_children(self, node: ValueNode) -> None:
        if node.made_children:
            self._fetching = True  # listeners of the removal must not fetch the old value again
            try:
                self.beginRemoveRows(self._index_of(node), 0, len(node.made_children) - 1)
                node.forget_children()
                self.endRemoveRows()
            finally:
                self._fetching = False
        else:
            node.forget_children()

    # -- edits (called by the undo commands) --------------------------------------------------
    def apply_set(self, path: Sequence[Any], value: Any) -> Any:
        if not path:
            old = self.doc.set_value(path, value)
            self.set_value(value)
            return old
        old = self.doc.set_value(path, value)
        node = self.made_node(path)
        if node is not None:
            self._drop_children(node)
            node.value = value
            self.dataChanged.emit(self._index_of(node, 0), self._index_of(node, 2))
            if isinstance(value, dict | list) and value:
                # The expand arrow appears only when the view hears about new rows.
                self.layoutAboutToBeChanged.emit()
                self.layoutChanged.emit()
        return old

    def apply_insert(self, parent_path: Sequence[Any], row: int, key: Any, value: Any) -> None:
        self.doc.insert(parent_path, row, key, value)
        node = self.made_node(parent_path)
        if node is None:
            return
        node.restart_fetch()  # a mapping's fetch resumes from its new state
        children = node.made_children
        if children is not None and row <= len(children):
            self._fetching = True  # listeners of beginInsertRows must not fetch meanwhile
            try:
                self.beginInsertRows(self._index_of(node), row, row)
                child_key = row if isinstance(node.value, list) else key
                children.insert(row, type(node)(child_key, value, node, row))
                self._renumber_rows(node, row + 1)
                self.endInsertRows()
            finally:
                self._fetching = False
            self._renumber(node, row + 1)
        self._container_changed(node)

    def apply_remove(self, parent_path: Sequence[Any], row: int) -> tuple[Any, Any]:
        node = self.made_node(parent_path)
        children = node.made_children if node is not None else None
        if node is not None and children is not None and row < len(children):
            self._fetching = True
            try:
                self.beginRemoveRows(self._index_of(node), row, row)
                result = self.doc.remove(parent_path, row)
                del children[row]
                node.restart_fetch()
                self._renumber_rows(node, row)
                self.endRemoveRows()
            finally:
                self._fetching = False
            self._renumber(node, row)
        else:
            result = self.doc.remove(parent_path, row)
            if node is not None:
                node.restart_fetch()
        self._container_changed(node)
        return result

    def apply_move(self, parent_path: Sequence[Any], row: int, new_row: int) -> None:
        key, value = self.apply_remove(parent_path, row)
        self.apply_insert(parent_path, new_row, key, value)

    def apply_rename(self, parent_path: Sequence[Any], row: int, new_key: str) -> str:
        old = self.doc.rename(parent_path, row, new_key)
        node = self.made_node(parent_path)
        if node is not None:
            node.restart_fetch()
            if node.made_children is not None and row < len(node.made_children):
                child = node.made_children[row]
                child.key = new_key
                index = self._index_of(child, 0)
                self.dataChanged.emit(index, index)
        return old

    def apply_reorder(self, path: Sequence[Any], keys: list[str]) -> list[str]:
        node = self.made_node(path)
        if node is not None:
            self._drop_children(node)
        old = self.doc.reorder(path, keys)
        if node is self._root:
            self.set_value(self.doc.root)
        return old

    @staticmethod
    def _renumber_rows(node: ValueNode, start: int) -> None:
        """Rows only: array keys follow after the insert/remove is announced (_renumber)."""
        children = node.made_children or []
        for r in range(start, len(children)):
            children[r].row = r

