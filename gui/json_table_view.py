"""The JSON document's table mode: which array of objects it shows, and its column widths.

A mixin of :class:`gui.json_document.JsonDocument`. Column widths the user sets are remembered
per table (by JSON Pointer) and column name, saved in the document's view state and restored
when the table is shown again, in this launch or the next one.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QLabel, QTableView, QVBoxLayout, QWidget

from storage.json_doc import to_pointer

from .json_table import RecordsTableModel, is_table

MAX_REMEMBERED_TABLES = 20


class JsonTableMixin:
    """Needs ``doc``, ``current_path()``, ``pointer_text()``, ``viewStateChanged``."""

    def _build_table_page(self, page: QWidget) -> QWidget:
        self.table_widths: dict[str, dict[str, int]] = {}  # table pointer -> column -> width
        self._sizing_table = False
        self.table_model = RecordsTableModel(self)
        self.table_model.editRequested.connect(self._on_table_edit)
        self.table = QTableView(page)
        self.table.setObjectName("jsonTable")
        self.table.setModel(self.table_model)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicatorShown(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().sectionResized.connect(self._on_table_column_resized)
        self.table_label = QLabel(page)
        table_page = QWidget(page)
        table_box = QVBoxLayout(table_page)
        table_box.setContentsMargins(0, 0, 0, 0)
        table_box.addWidget(self.table_label)
        table_box.addWidget(self.table, 1)
        return table_page

    def _refresh_table_source(self) -> None:
        """Show the selected array of objects, else the first such array under the root."""
        if self.doc is None:
            return
        path = self.current_path() or []
        value = self.doc.get(path)
        while not is_table(value) and path:
            path = path[:-1]
            value = self.doc.get(path)
        if not is_table(value) and isinstance(self.doc.root, dict):
            path = next(([k] for k, v in self.doc.root.items() if is_table(v)), [])
            value = self.doc.get(path)
        if is_table(value):
            if path != self.table_model.path or value is not self.table_model.records:
                self.table_model.set_records(path, value)
                self._size_table_columns()
            self.table_label.setText(f"{len(value):,} records at {self.pointer_text(path)}")
        else:
            self.table_model.set_records([], [])
            self.table_label.setText("Select an array of objects to see it as a table.")

    def _size_table_columns(self) -> None:
        """Widths the user chose for this table, else fitted to the contents (within bounds)."""
        saved = self.table_widths.get(to_pointer(self.table_model.path), {})
        self._sizing_table = True
        try:
            self.table.resizeColumnsToContents()
            for column, name in enumerate(self.table_model.columns):
                width = saved.get(name)
                if not isinstance(width, int) or width <= 0:
                    width = min(max(self.table.columnWidth(column), 60), 320)
                self.table.setColumnWidth(column, width)
        finally:
            self._sizing_table = False

    @Slot(int, int, int)
    def _on_table_column_resized(self, column: int, _old: int, new: int) -> None:
        if self._sizing_table or not 0 <= column < len(self.table_model.columns):
            return
        if column == len(self.table_model.columns) - 1:
            return  # the last column stretches with the window
        pointer = to_pointer(self.table_model.path)
        widths = self.table_widths.pop(pointer, {})
        widths[self.table_model.columns[column]] = new
        self.table_widths[pointer] = widths  # most recently used last
        while len(self.table_widths) > MAX_REMEMBERED_TABLES:
            del self.table_widths[next(iter(self.table_widths))]
        self.viewStateChanged.emit()

    def table_view_state(self) -> dict[str, Any]:
        return {"table_columns": self.table_widths}

    def restore_table_view_state(self, state: dict[str, Any]) -> None:
        widths = state.get("table_columns")
        if not isinstance(widths, dict):
            return
        self.table_widths = {
            str(pointer): {str(k): v for k, v in columns.items() if isinstance(v, int) and v > 0}
            for pointer, columns in widths.items() if isinstance(columns, dict)}
        if self.table_model.records:
            self._size_table_columns()
