"""The index arithmetic every lazy tree model here shares (value trees, the HDF5 tree).

Each model keeps plain Python nodes that know their ``parent`` and ``row``, and uses them as the
indexes' internal pointers. A subclass says where its root is and what a node's children are
(the ones made so far: the models create children lazily, in batches).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt

from gui.common.model_guard import guard_model

_Index = QModelIndex | QPersistentModelIndex


def column_header(headers: Sequence[str], section: int, orientation: Qt.Orientation,
                  role: int) -> str | None:
    """``headerData`` for models whose columns have fixed titles."""
    if (orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(headers)):
        return headers[section]
    return None


@guard_model
class NodeTreeModel(QAbstractItemModel):
    """``index``, ``parent``, ``rowCount``, ``columnCount``, fixed column titles and read-only
    selectable items over nodes with ``parent``/``row`` (editable subclasses extend ``flags``)."""

    HEADERS: tuple[str, ...] = ()

    def root_node(self) -> Any:
        raise NotImplementedError

    def node_children(self, node: Any) -> Sequence[Any]:
        """The children of ``node`` made so far."""
        raise NotImplementedError

    def node_at(self, index: _Index) -> Any:
        return index.internalPointer() if index.isValid() else self.root_node()

    def index(self, row: int, column: int, parent: _Index = QModelIndex()) -> QModelIndex:
        if column < 0 or column >= len(self.HEADERS) or row < 0:
            return QModelIndex()
        children = self.node_children(self.node_at(parent))
        if row >= len(children):
            return QModelIndex()
        return self.createIndex(row, column, children[row])

    def parent(self, index: _Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]
        if not index.isValid():
            return QModelIndex()
        parent = index.internalPointer().parent
        if parent is None or parent is self.root_node():
            return QModelIndex()
        return self.createIndex(parent.row, 0, parent)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(self.node_children(self.node_at(parent)))

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        return len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        return column_header(self.HEADERS, section, orientation, role)

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
