"""Growing or shrinking a flat (table) model's row count without a reset."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QAbstractItemModel, QModelIndex


def change_row_count(model: QAbstractItemModel, old: int, new: int, store: Callable[[int], None]) -> None:
    """Tell ``model``'s views that its rows went from ``old`` to ``new`` (an estimate corrected, a
    count arrived): rows inserted or removed at the end, the tiles or pages read so far kept.
    ``store`` records the new count between the begin and end calls, as Qt requires."""
    if new > old:
        model.beginInsertRows(QModelIndex(), old, new - 1)
        store(new)
        model.endInsertRows()
    elif new < old:
        model.beginRemoveRows(QModelIndex(), new, old - 1)
        store(new)
        model.endRemoveRows()
