"""The Tables tab's grid: a lazy tiled model over a :class:`TableSource`, and the filter row above it.

:class:`TableGridModel` is the arrays room's :class:`TiledTableModel` (tiles read in a pump
worker, newest first, bounded LRU) whose reader asks the source for a page of the current
:class:`View` (sort, filters, search), so sorting and filtering run in DuckDB over the whole
file. :class:`FilterRow` is a one-row editable table kept under the grid's header: its columns
follow the grid's widths and horizontal scroll; Enter in a cell applies the filters.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

from gui.arrays.table import TiledTableModel
from gui.common.model_guard import guard_model
from storage.formats.table.source import Column, TableSource, View, is_numeric_type

_Index = QModelIndex | QPersistentModelIndex


class _EndBridge(QObject):
    endFound = Signal(int, int)  # generation, rows: a page came back short, the view ends there


@guard_model
class TableGridModel(TiledTableModel):
    """Rows of a table file in the order and with the filters of :attr:`view`."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.source: TableSource | None = None
        self.view = View()
        self.columns: list[Column] = []
        self.rows_exact = True
        self.overlay: Any = None  # a CSV's edits (gui/tables/csv_editor.py), laid over the pages
        self._ends = _EndBridge(self)
        self._ends.endFound.connect(self._on_end_found)

    def show_table(self, source: TableSource | None, view: View, rows: int, exact: bool,
                   first: list[list[str]] | None = None) -> None:
        """Show ``rows`` rows of ``view`` of ``source`` (an estimate when not ``exact``); ``first``,
        the top-left tile when a worker read it already (a sort), is shown without reading again."""
        self.source, self.view, self.rows_exact = source, view, exact
        self.columns = list(source.info.columns) if source is not None else []
        reader = self._reader_for(source, view, first) if source is not None else None
        self.set_reader(reader, rows, len(self.columns), [c.name for c in self.columns])

    def _reader_for(self, source: TableSource, view: View, first: list[list[str]] | None):
        generation = self.generation + 1  # set_reader bumps it
        memo = {(0, len(first[0]) if first else 0): first} if first else {}
        overlay = self.overlay

        def read(r0: int, r1: int, c0: int, c1: int) -> list[list[str]]:  # on the pump worker
            if overlay is not None and overlay.overlays(view):
                return overlay.read_tile(source, r0, r1, c0, c1)
            primed = memo.pop((c0, c1), None) if r0 == 0 and c0 == 0 else None
            if primed is not None and len(primed) >= r1 - r0:
                return [row[:] for row in primed[:r1 - r0]]
            cells = source.text_page(r0, r1 - r0, view, range(c0, c1))
            if len(cells) < r1 - r0:  # the view ends here (an estimate was too high)
                try:
                    self._ends.endFound.emit(generation, r0 + len(cells))
                except RuntimeError:
                    pass
                cells += [[""] * (c1 - c0) for _ in range(r1 - r0 - len(cells))]
            return cells

        return read

    def _on_end_found(self, generation: int, rows: int) -> None:
        if generation == self.generation and rows < self.rowCount():
            self.set_row_count(rows)
            self.rows_exact = True

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (orientation == Qt.Orientation.Horizontal and 0 <= section < len(self.columns)
                and role == Qt.ItemDataRole.ToolTipRole):
            return f"{self.columns[section].name}: {self.columns[section].type}\nClick to sort by it"
        if orientation == Qt.Orientation.Vertical and role == Qt.ItemDataRole.DisplayRole:
            return f"{section + 1:,}" if 0 <= section < self.rowCount() else None
        return super().headerData(section, orientation, role)

    def numeric_column(self, col: int) -> bool:
        if not 0 <= col < len(self.columns):
            return False
        return is_numeric_type(self.columns[col].type)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.BackgroundRole and self.overlay is not None and index.isValid():
            return self.overlay.background(index.row())
        if role == Qt.ItemDataRole.EditRole and self.overlay is not None and index.isValid():
            text = self.overlay.edit_text(index.row(), index.column())
            if text is not None:
                return text
        return super().data(index, role)


@guard_model
class FilterRowModel(QAbstractTableModel):
    """One editable row: the filter text of each column (``>10``, ``null``, or text to contain)."""

    filtersEdited = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.texts: list[str] = []

    def set_columns(self, count: int) -> None:
        self.beginResetModel()
        self.texts = [""] * count
        self.endResetModel()

    def filters(self) -> tuple[tuple[int, str], ...]:
        return tuple((i, t) for i, t in enumerate(self.texts) if t.strip())

    def clear(self) -> None:
        if any(self.texts):
            self.texts = [""] * len(self.texts)
            self.dataChanged.emit(self.index(0, 0), self.index(0, len(self.texts) - 1))
            self.filtersEdited.emit()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() or not self.texts else 1

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.texts)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.column() >= len(self.texts):
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return self.texts[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole:
            return "Filter: text the value contains, or >10, <=2024-01-01, =exact, null, not null"
        return None

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or role != Qt.ItemDataRole.EditRole or index.column() >= len(self.texts):
            return False
        text = str(value or "")
        if text == self.texts[index.column()]:
            return True
        self.texts[index.column()] = text
        self.dataChanged.emit(index, index)
        self.filtersEdited.emit()
        return True

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole or section < 0:
            return None
        if orientation == Qt.Orientation.Vertical:
            return None  # the row-number column is too narrow for a word: the cells say "Filter"
        return str(section + 1) if section < len(self.texts) else None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEditable


class _PlaceholderDelegate(QStyledItemDelegate):
    """Draws a grey "Filter" in an empty filter cell, as a line edit's placeholder (DB4S's filter row)."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: _Index) -> None:
        super().initStyleOption(option, index)
        if not option.text:  # type: ignore[attr-defined]
            option.text = "Filter"  # type: ignore[attr-defined]
            option.palette.setColor(QPalette.ColorRole.Text,  # type: ignore[attr-defined]
                                    option.palette.color(QPalette.ColorRole.PlaceholderText))  # type: ignore[attr-defined]


class FilterRow(QTableView):
    """The filter cells under the grid's header, following its column widths and scroll."""

    def __init__(self, grid: QTableView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tableFilters")
        self.grid = grid
        self.filter_model = FilterRowModel(self)
        self.setModel(self.filter_model)
        self.setItemDelegate(_PlaceholderDelegate(self))
        self.horizontalHeader().hide()
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setEditTriggers(QAbstractItemView.EditTrigger.AllEditTriggers)
        self.setPlaceholderStyle()
        grid.horizontalHeader().sectionResized.connect(lambda i, _old, new: self.setColumnWidth(i, new))
        grid.horizontalScrollBar().valueChanged.connect(self.horizontalScrollBar().setValue)
        grid.verticalHeader().geometriesChanged.connect(self._follow_row_header)

    def setPlaceholderStyle(self) -> None:
        self.setStyleSheet("QTableView#tableFilters { background: #f8fafc; }")
        height = self.grid.verticalHeader().defaultSectionSize() + 4
        self.setFixedHeight(height)

    def follow_columns(self) -> None:
        self.filter_model.set_columns(self.grid.model().columnCount())
        header = self.grid.horizontalHeader()
        for column in range(self.filter_model.columnCount()):
            self.setColumnWidth(column, header.sectionSize(column))
        self._follow_row_header()

    def _follow_row_header(self) -> None:
        self.verticalHeader().setFixedWidth(self.grid.verticalHeader().width())
        self.verticalHeader().setDefaultSectionSize(self.grid.verticalHeader().defaultSectionSize())
