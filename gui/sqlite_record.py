"""The Record tab of the SQLite tab: one labelled field per column of the current row.

A mixin of :class:`gui.sqlite_document.SqliteDocument`; it shares the document's state.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, Qt, Slot
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem, QWidget

from storage.sqlite_db import MAX_GRID_COLUMNS, Table
from storage.sqlite_edit import read_row

from .sqlite_model import describe_time, format_value


class RecordMixin:
    """Shows the current row's whole values, read in a worker."""

    def _build_record(self, page: QWidget) -> QWidget:
        self.record = QTreeWidget(page)
        self.record.setHeaderLabels(["Column", "Value"])
        self.record.setUniformRowHeights(True)
        self.record.header().resizeSection(0, 180)
        return self.record

    @Slot(QModelIndex)
    def _on_current_row(self, index: QModelIndex, _previous: QModelIndex | None = None) -> None:
        """Show the current row's whole values in the Record tab (read in a worker)."""
        if self.views.currentWidget() is not self.record or not index.isValid() or self.table is None:
            return
        self._record_token += 1
        token = self._record_token
        table = self.table
        key = self._key_of(index.row())
        names = [c.name for c in table.columns[:MAX_GRID_COLUMNS]]
        cached = tuple(self.model.index(index.row(), c).data(Qt.ItemDataRole.EditRole)
                       for c in range(len(names)))
        self._show_record(table, cached)
        if key is None or self.reader is None:
            return
        reader, path = self.reader, self.path or ""

        def shown(values: Any) -> None:
            if token == self._record_token and values is not None:
                self._show_record(table, values)

        self._start(lambda: reader.run(lambda conn: read_row(path, table.name, key, names, conn)),
                    on_result=shown)

    def _show_record(self, table: Table, values: tuple) -> None:
        self.record.clear()
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        for col, value in zip(table.columns, values, strict=False):
            if isinstance(value, bytes) or value is None:
                shown = format_value(value)
            else:
                text = str(value)
                shown = text if len(text) <= 10_000 else text[:10_000] + f"… ({len(text):,} characters)"
            when = describe_time(value, col.decl_type)
            item = QTreeWidgetItem(self.record, [col.name, shown + (f"  ({when})" if when else "")])
            item.setFont(1, mono)
            item.setToolTip(1, shown[:2000])

