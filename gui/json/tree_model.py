"""The JSON tab's value tree model: the shared editable value tree with JSON's rules.

JSON keys are text, a typed value keeps its JSON type (``coerce_edit``), the Type column says
"object (3)" or "number" in the colours of the text view, and paths are JSON Pointers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt

from gui.common.model_guard import guard_model
from gui.values.editable import INVALID, EditableValueTreeModel
from gui.values.tree import ValueNode
from storage.formats.json.doc import json_type, parse_number, to_pointer

_Index = QModelIndex | QPersistentModelIndex
_TYPE_COLOURS = {"string": "#067d17", "number": "#1750eb", "boolean": "#871094", "null": "#808080"}


def json_type_label(value: Any) -> str:
    kind = json_type(value)
    if kind in ("object", "array"):
        return f"{kind} ({len(value):,})"
    return kind


def coerce_edit(old: Any, text: Any) -> Any:
    """The value an edit of ``old`` to ``text`` means, keeping ``old``'s type; or INVALID."""
    if isinstance(old, bool):
        if isinstance(text, bool):
            return text
        lowered = str(text).strip().lower()
        return True if lowered == "true" else False if lowered == "false" else INVALID
    if isinstance(old, str):
        return str(text)
    if isinstance(old, int | float):
        number = parse_number(str(text).strip())
        return INVALID if number is None else number
    if old is None:  # typing over null: a JSON literal if the text is one, else a string
        typed = str(text).strip()
        if typed in ("", "null"):
            return None
        if typed in ("true", "false"):
            return typed == "true"
        number = parse_number(typed)
        return str(text) if number is None else number
    return INVALID


@guard_model
class JsonTreeModel(EditableValueTreeModel):
    """Key / Value / Type over a :class:`storage.formats.json.doc.JsonDoc`."""

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (role == Qt.ItemDataRole.DisplayRole and index.column() == 0 and self.doc.lines
                and index.isValid() and not index.parent().isValid()):
            return f"record {index.row() + 1:,}"  # JSON Lines records count from 1, as lines do
        return super().data(index, role)

    def type_text(self, value: Any) -> str:
        return json_type_label(value)

    def value_colour(self, value: Any) -> str | None:
        return _TYPE_COLOURS.get(json_type(value))

    def path_text(self, path: Sequence[Any]) -> str:
        return to_pointer(path) or "document"

    def key_from_edit(self, node: ValueNode, value: Any) -> Any:
        """The object key an edit of ``node``'s key means, or INVALID (JSON keys are text)."""
        return value if isinstance(value, str) else INVALID

    def value_from_edit(self, node: ValueNode, value: Any) -> Any:
        """The value an edit of ``node``'s value means, keeping its type; or INVALID."""
        return coerce_edit(node.value, value)
