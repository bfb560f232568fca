"""A table of named, typed columns (a pickled DataFrame, a 2-D or structured array) as a lazy grid.

:class:`FrameTableModel` is the tiled model over a :class:`~storage.formats.objects.pickle.frame.FrameTable`:
cells are formatted tile by tile on a worker; the header names each column and its tooltip gives
the dtype (and, for a column that could not be rebuilt, why). :class:`FramePane` adds a line of
facts, a *Raw* toggle that swaps the grid for a page the owner supplies (the value's internals), and
*Convert…* (:attr:`FramePane.convertRequested`: the owner runs the conversion).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gui.arrays.table import TiledClipboard, TiledTableModel
from gui.common.model_guard import guard_model
from storage.formats.objects.pickle.frame import FrameTable

_Index = QModelIndex | QPersistentModelIndex
_INDEX_BRUSH = QBrush(QColor(128, 128, 128, 40))
_NUMERIC_LABELS = ("int", "uint", "float", "complex")  # NumPy's and pandas' nullable (Int64, Float32)


@guard_model
class FrameTableModel(TiledTableModel):
    """Rows × columns of a :class:`FrameTable`, index columns first (shaded), read in tiles."""

    def __init__(self, table: FrameTable | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.table: FrameTable | None = None
        self.set_table(table)

    def set_table(self, table: FrameTable | None) -> None:
        self.table = table
        if table is None:
            self.set_reader(None, 0, 0)
            return
        self.set_reader(table.tile, table.rows, len(table.columns), [c.name for c in table.columns])

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        table = self.table
        if (table is not None and orientation == Qt.Orientation.Horizontal
                and role == Qt.ItemDataRole.ToolTipRole and 0 <= section < len(table.columns)):
            column = table.columns[section]
            text = f"{column.name} · {column.dtype}" + (" · index" if column.is_index else "")
            return text + (f"\nShown raw: {column.why}" if column.why else "")
        return super().headerData(section, orientation, role)

    def numeric_column(self, col: int) -> bool:
        table = self.table
        if table is None or not 0 <= col < len(table.columns) or table.columns[col].why:
            return False
        return table.columns[col].dtype.lower().startswith(_NUMERIC_LABELS)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        table = self.table
        if (role == Qt.ItemDataRole.BackgroundRole and table is not None and index.isValid()
                and index.column() < len(table.columns) and table.columns[index.column()].is_index):
            return _INDEX_BRUSH
        return super().data(index, role)


def frame_facts(table: FrameTable) -> str:
    data = len(table.columns) - table.index_columns
    raw = [c.name for c in table.columns if c.why]
    text = f"{table.kind} · {table.rows:,} rows × {data:,} columns"
    if table.index_columns and not all(c.implicit for c in table.columns if c.is_index):
        text += f" · index: {', '.join(c.name for c in table.columns if c.is_index)}"
    if raw:
        text += f" · shown raw (dtype not rebuilt): {', '.join(raw[:5])}{'…' if len(raw) > 5 else ''}"
    return text


class FramePane(QWidget):
    """Facts, the grid, a *Raw* toggle showing ``raw_page`` (set by the owner) instead, and
    *Convert…*, which asks the owner to convert the table shown."""

    rawToggled = Signal(bool)
    convertRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        from gui.common.column_fit import ColumnFitter

        super().__init__(parent)
        self.info = QLabel(self)
        self.info.setWordWrap(True)
        self.raw_button = QToolButton(self)
        self.raw_button.setText("Raw")
        self.raw_button.setCheckable(True)
        self.raw_button.setToolTip("Show the pickled internals (blocks, arrays, index objects) "
                                   "instead of the grid")
        self.raw_button.toggled.connect(self._on_raw_toggled)
        self.convert_button = QPushButton("Convert…", self)
        self.convert_button.setObjectName("frameConvert")
        self.convert_button.setToolTip("Write this table to CSV, Parquet, JSON Lines or a table in an "
                                       "SQLite file")
        self.convert_button.clicked.connect(self.convertRequested)
        self.model = FrameTableModel(None, self)
        self.table = QTableView(self)
        self.table.setObjectName("frameGrid")
        self.table.setModel(self.model)
        self.table.verticalHeader().setDefaultSectionSize(22)
        TiledClipboard(self.table, self.model)  # Edit ▸ Copy as TSV
        self.fitter = ColumnFitter(self.table)
        self.pages = QStackedWidget(self)
        self.pages.addWidget(self.table)
        self.raw_page: QWidget | None = None
        top = QHBoxLayout()
        top.addWidget(self.info, 1)
        top.addWidget(self.convert_button)
        top.addWidget(self.raw_button)
        box = QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.addLayout(top)
        box.addWidget(self.pages, 1)

    def show_table(self, table: FrameTable, raw_page: QWidget | None = None) -> None:
        """Show ``table``; ``raw_page`` (owned by the pane from now on) is what *Raw* shows."""
        self.info.setText(frame_facts(table))
        self.model.set_table(table)
        if self.raw_page is not None:
            self.pages.removeWidget(self.raw_page)
            self.raw_page.deleteLater()
        self.raw_page = raw_page
        if raw_page is not None:
            self.pages.addWidget(raw_page)
        self.raw_button.setEnabled(raw_page is not None)
        self._on_raw_toggled(self.raw_button.isChecked())

    @Slot(bool)
    def _on_raw_toggled(self, raw: bool) -> None:
        self.pages.setCurrentWidget(self.raw_page if raw and self.raw_page is not None else self.table)
        self.rawToggled.emit(raw)

    def stop(self) -> None:
        self.model.stop()
