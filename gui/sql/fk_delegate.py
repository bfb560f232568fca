"""The grid's delegate for foreign-key columns: a small arrow in each cell that jumps to its row.

It edits like any cell (the foreign-key editor comes from :meth:`ForeignKeys.fk_editor`); it only adds
the arrow at the cell's right edge, and a click on the arrow shows the referenced row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QRect, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QStyle, QStyleOptionViewItem, QToolTip

from gui.sql.editing import CellDelegate

if TYPE_CHECKING:
    from gui.sql.fk import ForeignKeys

ARROW_WIDTH = 16
_ARROW = QColor("#1570ef")
_MISSING = QColor("#d92d20")


def arrow_rect(rect: QRect) -> QRect:
    return QRect(rect.right() - ARROW_WIDTH + 1, rect.top(), ARROW_WIDTH, rect.height())


class FkCellDelegate(CellDelegate):
    """A cell delegate that draws "↗" on non-NULL foreign-key cells; clicking it jumps."""

    def __init__(self, document: Any, fks: ForeignKeys) -> None:
        super().__init__(document)
        self.fks = fks

    def paint(self, painter, option, index) -> None:
        value = index.data(Qt.ItemDataRole.EditRole)
        if value is None:
            super().paint(painter, option, index)
            return
        narrow = QStyleOptionViewItem(option)
        narrow.rect = option.rect.adjusted(0, 0, -ARROW_WIDTH, 0)
        arrow = arrow_rect(option.rect)
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(arrow, option.palette.highlight())
        super().paint(painter, narrow, index)
        painter.save()
        missing = self.fks.fk_missing(index)
        if option.state & QStyle.StateFlag.State_Selected:
            painter.setPen(option.palette.highlightedText().color())
        else:
            painter.setPen(_MISSING if missing else _ARROW)
        painter.drawText(arrow, int(Qt.AlignmentFlag.AlignCenter), "✗" if missing else "↗")
        painter.restore()

    def sizeHint(self, option, index):
        """Room for the arrow beside the value (the grid sizes its columns by this)."""
        size = super().sizeHint(option, index)
        if index.data(Qt.ItemDataRole.EditRole) is not None:
            size.setWidth(size.width() + ARROW_WIDTH)
        return size

    def editorEvent(self, event, model, option, index) -> bool:
        release = event.type() == QEvent.Type.MouseButtonRelease
        if release and index.data(Qt.ItemDataRole.EditRole) is not None \
                and arrow_rect(option.rect).contains(event.position().toPoint()):
            self.fks.go_to_referenced(index)
            return True
        return super().editorEvent(event, model, option, index)

    def helpEvent(self, event, view, option, index) -> bool:
        fk = self.fks.foreign_key_of(index.column())
        if fk is not None and self.fks.fk_missing(index):
            QToolTip.showText(event.globalPos(), f"No row of {fk.ref_table} has {fk.ref_columns[0]} = "
                              f"{index.data(Qt.ItemDataRole.EditRole)!r} (a broken reference)", view)
            return True
        if fk is not None and arrow_rect(option.rect).contains(event.pos()):
            QToolTip.showText(event.globalPos(), f"Go to the referenced row {fk.describe()} "
                              "(or Ctrl+click the cell)", view)
            return True
        return super().helpEvent(event, view, option, index)
