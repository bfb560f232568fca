"""The Objects tab's tree: the shared lazy, editable value tree over a safely loaded pickle.

:class:`ObjectNode` adds the children JSON has not got (sets, call nodes' parts);
:class:`ObjectTreeModel` shows Python types and labelled calls, and after each edit re-reads
the values along the edited path, because an edit inside a tuple or frozenset rebuilds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import islice
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from gui.common.model_guard import guard_model
from gui.values.editable import INVALID, EditableValueTreeModel
from gui.values.tree import ValueNode, key_label, quoted
from storage.formats.objects.doc import (
    ObjectEditError,
    child_count,
    children_of,
    edit_text,
    int_summary,
    is_huge_int,
    is_repr,
    kind_of,
    parse_key,
    parse_scalar,
    short_repr,
    type_label,
)
from storage.formats.objects.pickle.nodes import CallNode, CostlyKey, GlobalNode, PersistentNode

_Index = QModelIndex | QPersistentModelIndex
_PREVIEW = 200
_SEVERITY_COLOURS = {"dangerous": "#b3261e", "suspicious": "#9a5b00"}


def value_preview(value: Any) -> str:
    """One line for the Value column, in Python's own notation where that reads best."""
    if isinstance(value, CallNode):
        from storage.formats.objects.pickle.frame import frame_caption  # NumPy: only for such values

        return frame_caption(value) or value.label()
    if isinstance(value, PersistentNode | CostlyKey):
        return value.label()
    if is_huge_int(value):
        return f"{int_summary(value)} (expand to see them)"
    if is_repr(value):
        return value.repr_text.replace("\n", "⏎")[:_PREVIEW]
    if isinstance(value, type):
        label = getattr(value, "label", None)
        if isinstance(value, GlobalNode) and callable(label):
            return label()
        return f"{value.__module__}.{value.__qualname__}"
    if isinstance(value, dict):
        return "{…}" if value else "{}"
    if isinstance(value, list):
        return "[…]" if value else "[]"
    if isinstance(value, tuple):
        return "(…)" if value else "()"
    if isinstance(value, set | frozenset):
        return "{…}" if value else f"{type(value).__name__}()"
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"array of {value.size:,} × {value.dtype}"
    if isinstance(value, str):
        return quoted(value, _PREVIEW)
    text = repr(value) if isinstance(value, bytes | bytearray) or value is None else str(value)
    if len(text) > _PREVIEW:
        text = text[:_PREVIEW] + "…"
    return text.replace("\n", "⏎")


def severity_of(value: Any) -> str | None:
    """'dangerous' or 'suspicious' for a call or global the file names; None otherwise."""
    func = value.func if isinstance(value, CallNode) else value
    while isinstance(func, CallNode):
        func = func.func
    severity = getattr(func, "severity", None)
    if isinstance(func, GlobalNode) and callable(severity):
        level = severity()
        return level if level in _SEVERITY_COLOURS else None
    return None


class ObjectNode(ValueNode):
    """A tree node whose children also come from sets and from a call's parts."""

    __slots__ = ()

    def child_count_total(self) -> int:
        return child_count(self.value)

    def fetch(self, count: int) -> int:
        value = self.value
        if isinstance(value, dict | list | tuple):
            return super().fetch(count)
        children = self.children
        start = len(children)
        if isinstance(value, set | frozenset):
            pairs = ((start + i, v) for i, v in enumerate(islice(value, start, start + count)))
        elif isinstance(value, CallNode | PersistentNode | CostlyKey) or is_repr(value) or is_huge_int(value):
            parts = children_of(value) or []
            pairs = iter(parts[start:start + count])
        else:
            return 0
        new = [ObjectNode(k, v, self, start + i) for i, (k, v) in enumerate(pairs)]
        children.extend(new)
        return len(new)


@guard_model
class ObjectTreeModel(EditableValueTreeModel):
    """Key / Value / Type over an :class:`storage.formats.objects.doc.ObjectDoc`."""

    node_class = ObjectNode

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        node: ValueNode = index.internalPointer()
        column = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            if column == 0:
                return self.key_text(node)
            if column == 1:
                text = value_preview(node.value)
                if role == Qt.ItemDataRole.ToolTipRole and isinstance(node.value, str):
                    return node.value[:2000]
                return text
            return type_label(node.value)
        if role == Qt.ItemDataRole.EditRole:
            if column == 0:
                return node.key if isinstance(node.key, str) else self.key_text(node)
            if isinstance(node.value, bool):
                return node.value  # Qt's delegate offers a true/false choice
            return edit_text(node.value)
        if role == Qt.ItemDataRole.ForegroundRole and column in (1, 2):
            severity = severity_of(node.value)
            return QColor(_SEVERITY_COLOURS[severity]) if severity else None
        return None

    def key_text(self, node: ValueNode) -> str:
        parent = node.parent
        if parent is self._root and getattr(self.doc, "stacked", False):
            return f"pickle {node.key + 1}"
        if parent is self._root and getattr(self.doc, "label", None) is not None:
            return self.doc.label
        return key_label(node.key) if isinstance(node.key, str) else short_repr(node.key)

    def flags(self, index: _Index) -> Qt.ItemFlag:
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable if index.isValid() \
            else Qt.ItemFlag.NoItemFlags
        if not index.isValid() or getattr(self.doc, "read_only", False):
            return flags
        node: ValueNode = index.internalPointer()
        if index.column() == 0 and node.parent is not None and isinstance(node.parent.value, dict):
            flags |= Qt.ItemFlag.ItemIsEditable
        if index.column() == 1 and kind_of(node.value) not in (None, "None"):
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def key_from_edit(self, node: ValueNode, value: Any) -> Any:
        """Text when the old key was text, else a Python literal if it reads as one (``3``,
        ``(1, 2)``), else the text itself (:func:`storage.formats.objects.doc.parse_key`)."""
        return parse_key(str(value), node.key)

    def value_from_edit(self, node: ValueNode, value: Any) -> Any:
        """A scalar parsed by its type (bools come from the editor's choice); None is not edited."""
        kind = kind_of(node.value)
        if kind in (None, "None"):
            return INVALID
        try:
            return parse_scalar(kind, value) if not isinstance(value, bool) else value
        except ObjectEditError:
            return INVALID

    # -- edits: the base class keeps lists and dicts right; re-read what an edit rebuilt ---------
    def _resync(self, path: Sequence[Any]) -> None:
        """After an edit at ``path``: made nodes along it take the doc's (maybe rebuilt) values."""
        node = self._root
        node.value = self.doc.root
        for depth, key in enumerate(path):
            children = node.made_children or []
            match = next((c for c in children if c.key == key), None)
            if match is None:
                return
            match.value = self.doc.get(list(path[:depth + 1]))
            if isinstance(match.value, set | frozenset) and match.made_children:
                self._drop_children(match)  # a set's order is its own: show it afresh
            node = match
        if isinstance(node.value, tuple):
            for row, child in enumerate(node.made_children or ()):
                child.key = row

    def apply_set(self, path: Sequence[Any], value: Any) -> Any:
        parent_value = self.doc.get(list(path[:-1])) if path else None
        if isinstance(parent_value, set | frozenset):
            old = self.doc.set_value(path, value)
            self._resync(path[:-1])
            self._refresh(path[:-1])
            return old
        old = super().apply_set(path, value)
        self._resync(path[:-1])
        return old

    def apply_insert(self, parent_path: Sequence[Any], row: int, key: Any, value: Any) -> None:
        parent = self.doc.get(list(parent_path))
        if isinstance(parent, set | frozenset):
            self.doc.insert(parent_path, row, key, value)
            self._resync(parent_path)
            self._refresh(parent_path)
            return
        super().apply_insert(parent_path, row, key, value)
        self._resync(parent_path)

    def apply_remove(self, parent_path: Sequence[Any], row: int) -> tuple[Any, Any]:
        parent = self.doc.get(list(parent_path))
        if isinstance(parent, set | frozenset):
            result = self.doc.remove(parent_path, row)
            self._resync(parent_path)
            self._refresh(parent_path)
            return result
        result = super().apply_remove(parent_path, row)
        self._resync(parent_path)
        return result

    def apply_rename(self, parent_path: Sequence[Any], row: int, new_key: Any) -> Any:
        old = super().apply_rename(parent_path, row, new_key)
        self._resync(parent_path)
        return old

    def _refresh(self, path: Sequence[Any]) -> None:
        """The container at ``path`` changed shape: drop its rows; the view fetches them again."""
        node = self.made_node(path)
        if node is None:
            return
        self._drop_children(node)
        if node is not self._root:
            index = self._index_of(node, 0)
            self.dataChanged.emit(index, index.siblingAtColumn(2))
        self.layoutAboutToBeChanged.emit()
        self.layoutChanged.emit()
