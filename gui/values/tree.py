"""One lazy, read-only tree model for every tree of values (Spyder's collections editor, silx).

JSON documents, pickles, shelf values and ``inspect`` reports are all trees of containers and
scalars. :class:`ValueNode` is plain Python and knows its row; :class:`ValueTreeModel` only
translates indexes and roles. Children are created when a node is expanded, in batches
(``canFetchMore``/``fetchMore``), so a list of a million items opens at once. Editable models
for the format tabs subclass this one and add ``setData``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import islice
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt

from gui.common.model_guard import guard_model
from gui.values.tree_model import NodeTreeModel
from storage.formats.objects.doc import int_text

BATCH = 1000
_SCALAR_PREVIEW = 200
_CONTAINER_PREVIEW = 80  # characters of members a container's preview shows, about
_MEMBERS = 12  # members looked at for it, at most
_MEMBER_TEXT = 24  # characters of one member's value in it
_Index = QModelIndex | QPersistentModelIndex


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Mapping):
        return f"object ({len(value):,})"
    if isinstance(value, list | tuple):
        return f"array ({len(value):,})"
    return type(value).__name__


def preview(value: Any) -> str:
    """A one-line text for the value column; containers show their first members (an object
    its first keys with short values, as browsers' JSON viewers do), nested ones folded."""
    if isinstance(value, Mapping):
        return _members("{", "}", ((_key_text(k), v) for k, v in value.items()), len(value))
    if isinstance(value, list | tuple):
        return _members("[", "]", ((None, v) for v in value), len(value))
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = int_text(value) if type(value) is int else str(value)
    if len(text) > _SCALAR_PREVIEW:
        text = text[:_SCALAR_PREVIEW] + "…"
    return text.replace("\n", "⏎")


def access_path(root: str, path: Sequence[Any], key_text: Callable[[Any], str] = repr) -> str:
    """``path`` as code that reaches the value from ``root``: ``data["users"][0]["name"]``
    (Edit ▸ Copy Path). Text keys are quoted as JSON and Python both read them; other keys
    are written by ``key_text``."""
    def subscript(key: Any) -> str:
        if isinstance(key, str):
            return json.dumps(key, ensure_ascii=False)
        return str(key) if type(key) is int else key_text(key)

    return root + "".join(f"[{subscript(key)}]" for key in path)
def _key_text(key: Any) -> str:
    text = key if isinstance(key, str) else str(key)
    if len(text) > 2 * _MEMBER_TEXT:
        text = text[:2 * _MEMBER_TEXT] + "…"
    return json.dumps(text, ensure_ascii=False) if isinstance(key, str) else text


def _inline(value: Any) -> str:
    """A member inside a container's preview: nested containers folded, strings quoted and short."""
    if isinstance(value, Mapping):
        return "{…}" if value else "{}"
    if isinstance(value, list | tuple):
        return "[…]" if value else "[]"
    if isinstance(value, str):
        return json.dumps(value if len(value) <= _MEMBER_TEXT else value[:_MEMBER_TEXT] + "…",
                          ensure_ascii=False)
    text = preview(value)
    return text if len(text) <= _MEMBER_TEXT else text[:_MEMBER_TEXT] + "…"


def _members(open_: str, close: str, members: Iterator[tuple[str | None, Any]], total: int) -> str:
    """``{"a": 1, "b": […], …}``: the first members that fit in about :data:`_CONTAINER_PREVIEW`."""
    if not total:
        return open_ + close
    parts: list[str] = []
    used = 0
    for key, value in islice(members, _MEMBERS):
        part = _inline(value) if key is None else f"{key}: {_inline(value)}"
        if parts and used + len(part) > _CONTAINER_PREVIEW:
            break
        parts.append(part)
        used += len(part) + 2
    more = ", …" if len(parts) < total else ""
    return f"{open_}{', '.join(parts)}{more}{close}"


def quoted(text: str, limit: int = _SCALAR_PREVIEW) -> str:
    """A string as Python writes it (``'4'``, ``'a\\nb'``), cut at ``limit`` characters, so that
    the text '4' never looks like the number 4 beside it."""
    if len(text) > limit:
        return repr(text[:limit])[:-1] + "…" + repr(text[:limit])[-1]
    return repr(text)


def key_label(key: str) -> str:
    """A text key as it is, unless it reads as another literal (``'4'``, ``'None'``): quoted then."""
    import ast

    try:
        other = ast.literal_eval(key.strip()) if key.strip() else key
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return key
    return key if isinstance(other, str) and other == key else quoted(key)


class ValueNode:
    """A node of the tree: a key (dict key or list index), a value, and lazily made children."""

    __slots__ = ("_children", "_items", "key", "parent", "row", "value")

    def __init__(self, key: Any, value: Any, parent: ValueNode | None, row: int) -> None:
        self.key = key
        self.value = value
        self.parent = parent
        self.row = row
        self._children: list[ValueNode] | None = None
        self._items: Iterator[tuple[Any, Any]] | None = None  # where a mapping's fetch resumes

    def child_count_total(self) -> int:
        if isinstance(self.value, Mapping | list | tuple):
            return len(self.value)
        return 0

    def forget_children(self) -> None:
        """Drop the made children (the value changed); they are made again on the next fetch."""
        self._children = None
        self._items = None

    @property
    def made_children(self) -> list[ValueNode] | None:
        """The children made so far (a model edits this list in place), None before any fetch."""
        return self._children

    def restart_fetch(self) -> None:
        """The mapping changed under its made children: the next fetch resumes from its new state."""
        self._items = None

    @property
    def children(self) -> list[ValueNode]:
        if self._children is None:
            self._children = []
        return self._children

    def fetch(self, count: int) -> int:
        """Create up to ``count`` more children; return how many were made."""
        children = self.children
        start = len(children)
        if isinstance(self.value, Mapping):
            # Dict views cannot be sliced: keep one iterator so each batch resumes in O(batch).
            if self._items is None:  # first batch, or the mapping changed since the last one
                self._items = islice(iter(self.value.items()), start, None)
            new = [type(self)(k, v, self, start + i)
                   for i, (k, v) in enumerate(islice(self._items, count))]
        elif isinstance(self.value, Sequence) and not isinstance(self.value, str | bytes):
            new = [type(self)(start + i, v, self, start + i)
                   for i, v in enumerate(self.value[start:start + count])]
        else:
            new = []
        children.extend(new)
        return len(new)

    def path(self) -> list[Any]:
        """Keys from the root to this node (the root itself has an empty path)."""
        keys = []
        node: ValueNode | None = self
        while node is not None and node.parent is not None:
            keys.append(node.key)
            node = node.parent
        return keys[::-1]


@guard_model
class ValueTreeModel(NodeTreeModel):
    """Key / Value / Type columns over a :class:`ValueNode` tree, fetched in batches."""

    HEADERS = ("Key", "Value", "Type")
    node_class: type[ValueNode] = ValueNode  # a format whose values have other children subclasses it

    def __init__(self, value: Any = None, parent=None) -> None:
        super().__init__(parent)
        self._root = self.node_class(None, value, None, 0)
        self._fetching = False  # listeners of beginInsertRows may ask again: no nested fetch

    def set_value(self, value: Any) -> None:
        self.beginResetModel()
        self._root = self.node_class(None, value, None, 0)
        self.endResetModel()

    def root_value(self) -> Any:
        return self._root.value

    def node(self, index: _Index) -> ValueNode:
        return index.internalPointer() if index.isValid() else self._root

    # -- structure: NodeTreeModel does the index arithmetic ----------------------------------
    def root_node(self) -> ValueNode:
        return self._root

    def node_children(self, node: ValueNode) -> Sequence[ValueNode]:
        return node.made_children or ()

    def hasChildren(self, parent: _Index = QModelIndex()) -> bool:
        if parent.isValid() and parent.column() != 0:
            return False
        return self.node(parent).child_count_total() > 0

    def canFetchMore(self, parent: _Index) -> bool:
        if parent.isValid() and parent.column() != 0:
            return False
        node = self.node(parent)
        return not self._fetching and len(node.made_children or ()) < node.child_count_total()

    def fetchMore(self, parent: _Index) -> None:
        if not self.canFetchMore(parent):
            return
        node = self.node(parent)
        have = len(node.made_children or ())
        count = min(BATCH, node.child_count_total() - have)
        self._fetching = True
        try:
            self.beginInsertRows(parent, have, have + count - 1)
            node.fetch(count)
            self.endInsertRows()
        finally:
            self._fetching = False

    # -- data -------------------------------------------------------------------------------
    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        node: ValueNode = index.internalPointer()
        column = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            if column == 0:
                return str(node.key)
            if column == 1:
                return preview(node.value)
            return type_name(node.value)
        return None

    # -- paths, for selection restore ---------------------------------------------------------
    def index_for_path(self, path: Sequence[Any]) -> QModelIndex:
        """Fetch along ``path`` (keys from the root) and return its index, or an invalid one."""
        parent = QModelIndex()
        node = self._root
        for key in path:
            match = None
            while match is None:
                match = next((c for c in node.children if c.key == key), None)
                if match is None:
                    if not self.canFetchMore(parent):
                        return QModelIndex()
                    self.fetchMore(parent)
            node = match
            parent = self.createIndex(node.row, 0, node)
        return parent
