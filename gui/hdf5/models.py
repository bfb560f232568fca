"""The HDF5 tab's tree and attribute models: thin Qt adapters over ``storage.formats.hdf5.io`` nodes.

The tree lists a group's members only when it is expanded, in batches read by a worker
(``canFetchMore``/``fetchMore`` start the read; rows are inserted when it returns), so neither a
group of a million members nor a slow disk ever blocks the window. Each item knows its row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor

from gui.common.model_guard import guard_model
from gui.common.workers import run_in_worker
from gui.values.tree_model import NodeTreeModel, column_header
from storage.formats.hdf5.node import BATCH, H5Node

if TYPE_CHECKING:
    from storage.formats.hdf5.io import Attribute, H5File

_Index = QModelIndex | QPersistentModelIndex
_PROBLEM = QBrush(QColor("#b42318"))
_LINK = QBrush(QColor("#6941c6"))


def shape_text(node: H5Node) -> str:
    if node.kind == "group":
        return f"{node.members:,} member{'s' if node.members != 1 else ''}"
    if node.kind == "dataset":
        if node.shape is None:
            return "empty"
        if node.shape == ():
            return "scalar"
        return " × ".join(f"{n:,}" for n in node.shape)
    return ""


def kind_text(node: H5Node) -> str:
    if node.kind in ("external", "soft", "broken"):
        return {"external": "external link", "soft": "soft link", "broken": "unreadable"}[node.kind]
    text = node.dtype if node.kind == "dataset" else node.kind
    if node.pytables_class:
        text += f" (PyTables {node.pytables_class})"
    if node.dimension_scale:
        text += " (dimension)"
    return text


class TreeItem:
    """A node of the tree, its made children and where the next batch starts."""

    __slots__ = ("children", "loading", "node", "parent", "row")

    def __init__(self, node: H5Node, parent: TreeItem | None, row: int) -> None:
        self.node = node
        self.parent = parent
        self.row = row
        self.children: list[TreeItem] = []
        self.loading = False

    def can_have_children(self) -> bool:
        return self.node.kind == "group" and self.node.members > 0


def list_along(h5: H5File, path: str) -> dict[str, list[H5Node]]:
    """Worker body: the members of every group on the way to ``path`` (for restoring a selection)."""
    listing: dict[str, list[H5Node]] = {}
    parts = [p for p in path.split("/") if p]
    current = "/"
    for part in parts:
        nodes: list[H5Node] = []
        while True:
            batch = h5.children(current, len(nodes), BATCH)
            nodes.extend(batch)
            if not batch or any(n.name == part for n in batch):
                break
        listing[current] = nodes
        current = current.rstrip("/") + "/" + part
    return listing


@guard_model
class H5TreeModel(NodeTreeModel):
    """Name / Shape / Type of the groups, datasets and links of one file, read on expand."""

    HEADERS = ("Name", "Shape", "Type")
    fetchFailed = Signal(str)
    childrenLoaded = Signal(str)  # the group's path

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.h5: H5File | None = None
        self._top = TreeItem(H5Node("", "", "group"), None, 0)
        self.generation = 0
        self.fetches = 0
        self.preview = False  # the first stage: the root's first members, read without h5py

    def set_file(self, h5: H5File | None, root: H5Node | None, title: str = "/") -> None:
        self.beginResetModel()
        self.generation += 1
        self.h5 = h5
        self.preview = False
        self._top = TreeItem(H5Node("", "", "group"), None, 0)
        if root is not None:
            root.name = title
            self._top.children = [TreeItem(root, self._top, 0)]
        self.endResetModel()

    def set_preview(self, root: H5Node, children: list[H5Node], title: str) -> None:
        """Show what :func:`storage.formats.hdf5.peek.peek` read until :meth:`set_file` replaces it:
        the root and its first members, read-only, nothing below them."""
        self.set_file(None, root, title)
        self.preview = True
        self.add_children(self._top.children[0], children)

    def item(self, index: _Index) -> TreeItem:
        return index.internalPointer() if index.isValid() else self._top

    def node(self, index: _Index) -> H5Node | None:
        return index.internalPointer().node if index.isValid() else None

    # -- structure: NodeTreeModel does the index arithmetic ----------------------------------
    def root_node(self) -> TreeItem:
        return self._top

    def node_children(self, item: TreeItem) -> list[TreeItem]:
        return item.children

    def hasChildren(self, parent: _Index = QModelIndex()) -> bool:
        if not parent.isValid():
            return bool(self._top.children)
        if parent.column() != 0:
            return False
        item = self.item(parent)
        return item.can_have_children() and (not self.preview or item.parent is self._top)

    def canFetchMore(self, parent: _Index) -> bool:
        if not parent.isValid() or parent.column() != 0 or self.h5 is None:
            return False
        item = self.item(parent)
        return item.can_have_children() and not item.loading and len(item.children) < item.node.members

    def fetchMore(self, parent: _Index) -> None:
        if not self.canFetchMore(parent):
            return
        item = self.item(parent)
        item.loading = True
        generation = self.generation
        self.fetches += 1
        run_in_worker(self.h5.children, item.node.path, len(item.children), BATCH,
                      on_result=lambda nodes: self._on_children(generation, item, nodes),
                      on_error=lambda exc: self._on_failed(generation, item, exc))

    def _on_children(self, generation: int, item: TreeItem, nodes: list[H5Node]) -> None:
        if generation != self.generation:
            return
        item.loading = False
        self.add_children(item, nodes)

    def add_children(self, item: TreeItem, nodes: list[H5Node]) -> None:
        known = {c.node.name for c in item.children}
        nodes = [n for n in nodes if n.name not in known]
        if not nodes:
            if len(item.children) < item.node.members:  # the group shrank under us
                item.node.members = len(item.children)
            self.childrenLoaded.emit(item.node.path)
            return
        parent = self._index_of(item)
        start = len(item.children)
        self.beginInsertRows(parent, start, start + len(nodes) - 1)
        item.children.extend(TreeItem(n, item, start + i) for i, n in enumerate(nodes))
        self.endInsertRows()
        self.childrenLoaded.emit(item.node.path)

    def _on_failed(self, generation: int, item: TreeItem, exc: BaseException) -> None:
        if generation != self.generation:
            return
        item.loading = False
        item.node.members = len(item.children)  # stop asking
        self.fetchFailed.emit(str(exc))

    def _index_of(self, item: TreeItem) -> QModelIndex:
        return QModelIndex() if item is self._top else self.createIndex(item.row, 0, item)

    # -- data ----------------------------------------------------------------------------------
    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        node = index.internalPointer().node
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (node.name, shape_text(node), kind_text(node))[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{node.path}\n{node.message}" if node.message else node.path
        if role == Qt.ItemDataRole.ForegroundRole:
            if node.kind in ("external", "soft", "broken"):
                return _PROBLEM
            if node.message:
                return _LINK
        return None

    # -- paths ---------------------------------------------------------------------------------
    def index_for_path(self, path: str) -> QModelIndex:
        """The index of ``path`` among the items made so far, or an invalid index."""
        if not self._top.children:
            return QModelIndex()
        item = self._top.children[0]
        for part in (p for p in path.split("/") if p):
            item = next((c for c in item.children if c.node.name == part), None)
            if item is None:
                return QModelIndex()
        return self.createIndex(item.row, 0, item)

    def adopt_listing(self, listing: dict[str, list[H5Node]]) -> None:
        """Insert the members :func:`list_along` read, shallowest first."""
        for path in sorted(listing, key=lambda p: p.count("/") if p != "/" else 0):
            index = self.index_for_path(path)
            if index.isValid():
                self.add_children(self.item(index), listing[path])

    def refresh_group(self, path: str, members: int) -> None:
        """The group changed (a member made or deleted): forget its members and list them again."""
        index = self.index_for_path(path)
        if not index.isValid():
            return
        item = self.item(index)
        if item.children:
            self.beginRemoveRows(index, 0, len(item.children) - 1)
            item.children = []
            self.endRemoveRows()
        item.loading = False
        item.node.members = members
        self.dataChanged.emit(index.siblingAtColumn(1), index.siblingAtColumn(1))
        if self.canFetchMore(index):
            self.fetchMore(index)


@guard_model
class AttributesModel(QAbstractTableModel):
    """Name / Value / Type / Shape of one node's attributes; the value is editable when allowed."""

    HEADERS = ("Name", "Value", "Type", "Shape")
    editRequested = Signal(str, str)  # attribute name, new text

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.attributes: list[Attribute] = []
        self.editable = False

    def set_attributes(self, attributes: list[Attribute]) -> None:
        self.beginResetModel()
        self.attributes = list(attributes)
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.attributes)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.HEADERS)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        attr = self.attributes[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole, Qt.ItemDataRole.ToolTipRole):
            shape = "scalar" if attr.shape == () else ("?" if attr.shape is None
                                                       else " × ".join(map(str, attr.shape)))
            return (attr.name, attr.value, attr.dtype, shape)[index.column()]
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        return column_header(self.HEADERS, section, orientation, role)

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if self.editable and index.column() == 1:
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or role != Qt.ItemDataRole.EditRole or not self.editable:
            return False
        self.editRequested.emit(self.attributes[index.row()].name, str(value))
        return False  # the document's undo command updates the model after writing
