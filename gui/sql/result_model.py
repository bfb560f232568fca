"""The grid model of one Execute SQL result: the rows read so far, more asked for as you scroll.

A thin adapter over :class:`storage.formats.sql.execute.ResultSet`: ``data()`` reads the rows already
held (a list that only grows), ``canFetchMore``/``fetchMore`` show held rows in steps and ask
the panel (``moreWanted``) to read the next chunk from the cursor in a worker; the rows are
added when :meth:`rows_arrived` is called. Nothing here touches the database.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont

from gui.common.model_guard import guard_model
from gui.sql.cells import format_value
from storage.formats.sql.execute import ResultSet

STEP = 1000  # rows shown (and read from the cursor) at a time
_NULL_BRUSH = QBrush(QColor("#98a2b3"))


@guard_model
class ResultModel(QAbstractTableModel):
    moreWanted = Signal()  # the view reached the last row read: read the next chunk

    def __init__(self, result: ResultSet, parent: Any = None) -> None:
        super().__init__(parent)
        self.result = result
        self._shown = min(len(result.rows), STEP)
        self.waiting = False  # a chunk is being read for us
        self._italic = QFont()
        self._italic.setItalic(True)

    # -- Qt API ------------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else self._shown

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.result.columns)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            columns = self.result.columns
            return columns[section] if 0 <= section < len(columns) else None
        return f"{section + 1:,}"

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= self._shown or index.column() >= len(self.result.columns):
            return None
        value = self.result.rows[index.row()][index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return format_value(value)
        if role in (Qt.ItemDataRole.EditRole, Qt.ItemDataRole.UserRole):
            return value
        if role == Qt.ItemDataRole.ToolTipRole and isinstance(value, str) and len(value) > 200:
            return value[:2000]
        if role == Qt.ItemDataRole.ForegroundRole and value is None:
            return _NULL_BRUSH
        if role == Qt.ItemDataRole.FontRole and value is None:
            return self._italic
        if role == Qt.ItemDataRole.TextAlignmentRole and isinstance(value, int | float) \
                and not isinstance(value, bool):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def canFetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> bool:
        if parent.isValid():
            return False
        return self._shown < len(self.result.rows) or (self.result.more and not self.result.capped
                                                       and not self.waiting)

    def fetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> None:
        if parent.isValid():
            return
        if self._shown < len(self.result.rows):
            self._show(min(len(self.result.rows), self._shown + STEP))
        elif self.result.more and not self.result.capped and not self.waiting:
            self.waiting = True
            self.moreWanted.emit()

    # -- rows arriving -----------------------------------------------------------------------
    def rows_arrived(self) -> None:
        """A chunk was read (or reading stopped): show what is held now."""
        self.waiting = False
        self._show(min(len(self.result.rows), self._shown + STEP))

    def _show(self, rows: int) -> None:
        if rows > self._shown:
            self.beginInsertRows(QModelIndex(), self._shown, rows - 1)
            self._shown = rows
            self.endInsertRows()
