"""The Record tab of the SQLite tab: an editable form with one labelled field per column.

It follows the grid's current row; the row's whole values (not the grid's cut previews) are read
in a worker and the fields become editable once they arrived. Each field change goes through
:meth:`EditingMixin.edit_cell`, so it is an undo command written at once, and a constraint error
is shown under the field that caused it (and under the columns the message names).

A mixin of :class:`gui.sqlite_document.SqliteDocument`; it shares the document's state.
"""

from __future__ import annotations

import contextlib
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, Slot
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from storage.sql_schema_types import Table
from storage.sql_values import constraint_columns
from storage.sqlite_bounds import VALUE_LIMIT, LargeValue, raised_limit
from storage.sqlite_edit import read_row

from .sqlite_record_field import RecordField
from .sqlite_tasks import esc

MAX_FORM_FIELDS = 300  # a form of 2,000 editors would take seconds to build; the grid shows all


class RecordMixin:
    """The record form: previous/next/new record and per-field editors."""

    def _build_record(self, page: QWidget) -> QWidget:
        self.record = QWidget(page)
        self._record_fields: list[RecordField] = []
        self._record_table: Table | None = None
        self._record_row = -1
        self._record_values: tuple | None = None  # whole values of the row shown; None: loading
        self._record_key: dict[str, Any] | None = None  # the key of the row shown
        self._whole_row = -1  # the row whose values over the grid's cap the user asked to load
        self.record_prev = QPushButton("◀ Previous", self.record)
        self.record_prev.clicked.connect(lambda: self._step_record(-1))
        self.record_next = QPushButton("Next ▶", self.record)
        self.record_next.clicked.connect(lambda: self._step_record(1))
        self.record_new = QPushButton("New Record", self.record)
        self.record_new.clicked.connect(self._on_new_record)
        self.record_label = QLabel(self.record)
        bar = QHBoxLayout()
        for widget in (self.record_prev, self.record_next, self.record_new):
            bar.addWidget(widget)
        bar.addWidget(self.record_label, 1)
        self.record_form = QWidget()
        self._record_grid = QGridLayout(self.record_form)
        self._record_grid.setColumnStretch(1, 1)
        self._record_grid.setVerticalSpacing(8)
        scroll = QScrollArea(self.record)
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.record_form)
        box = QVBoxLayout(self.record)
        box.setContentsMargins(0, 4, 0, 0)
        box.addLayout(bar)
        box.addWidget(scroll, 1)
        return self.record

    def _build_form(self, table: Table) -> None:
        for field in self._record_fields:
            field.deleteLater()
        while self._record_grid.count():
            item = self._record_grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self._record_fields = []
        self._record_table = table
        for i, col in enumerate(table.columns[:MAX_FORM_FIELDS]):
            label = QLabel(f"<b>{esc(col.name)}</b><br><span style='color:#667085'>"
                           f"{esc(col.decl_type or 'any type')}{' · PK' if col.pk else ''}"
                           f"{' · NOT NULL' if col.notnull else ''}</span>", self.record_form)
            label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
            field = RecordField(col, self.record_form)
            field.edited.connect(lambda value, c=i: self._on_field_edited(c, value))
            field.loadRequested.connect(lambda c=i: self._on_field_load(c))
            field.saveRequested.connect(lambda c=i: self._save_value(self.model.index(self._record_row, c)))
            self._record_grid.addWidget(label, i, 0)
            self._record_grid.addWidget(field, i, 1)
            self._record_fields.append(field)
            self.decorate_record_field(i, field)
        if len(table.columns) > MAX_FORM_FIELDS:
            note = QLabel(f"The form shows the first {MAX_FORM_FIELDS} of {len(table.columns):,} "
                          "columns; edit the others in the grid.", self.record_form)
            self._record_grid.addWidget(note, MAX_FORM_FIELDS, 0, 1, 2)
        self._record_grid.setRowStretch(len(self._record_fields) + 1, 1)

    @Slot(QModelIndex)
    def _on_current_row(self, index: QModelIndex, _previous: QModelIndex | None = None) -> None:
        """Show the current row in the Record tab: cached values at once, whole values from a worker."""
        if self.views.currentWidget() is not self.record or not index.isValid() or self.table is None:
            return
        self._record_token += 1
        token = self._record_token
        table = self.table
        row = index.row()
        key = self._key_of(row)
        names = [c.name for c in table.columns[:MAX_FORM_FIELDS]]
        cached = tuple(self.model.index(row, c).data(Qt.ItemDataRole.EditRole) for c in range(len(names)))
        large = any(isinstance(v, LargeValue) for v in cached)  # past the cap: read only on request
        cached = tuple(v.label() if isinstance(v, LargeValue) else v for v in cached)
        self._record_row = row
        self._show_record(table, cached, whole=False)
        if key is None or self.reader is None:
            return
        if large and self._whole_row != row:
            self.record_label.setText(self.record_label.text() + " — values over "
                                      f"{VALUE_LIMIT // 2**20} MB are read when you double-click one")
            return
        reader, db = self.reader, self.database

        def shown(values: Any) -> None:
            if token == self._record_token and values is not None:
                self._record_key = key
                self._show_record(table, tuple(values), whole=True)

        def read(conn: Any) -> Any:
            with raised_limit(conn) if large else contextlib.nullcontext():  # asked for: read it whole
                return read_row(db, table.name, key, names, conn, schema=table.schema)

        self.start_task(lambda: reader.run(read), on_result=shown)

    def load_whole_row(self, index: QModelIndex) -> None:
        """The user asked for the row's values past the grid's cap ("900 MB text — show…")."""
        self._whole_row = index.row()
        self._on_current_row(index)

    def _show_record(self, table: Table, values: tuple, whole: bool) -> None:
        if table is not self._record_table:
            self._build_form(table)
        self._record_values = values if whole else None
        editable = whole and self.model.editable
        for field, value in zip(self._record_fields, values, strict=False):
            field.set_value(value, editable)
            field.set_error("")
        total = self.model.rowCount()
        self.record_label.setText(f"Row {self._record_row + 1:,} of {total:,}"
                                  + ("" if whole else " (loading…)"))
        self.record_prev.setEnabled(self._record_row > 0)
        self.record_next.setEnabled(self._record_row + 1 < total)
        self.record_new.setEnabled(self.model.editable)

    def _step_record(self, step: int) -> None:
        row = self._record_row + step
        if 0 <= row < self.model.rowCount():
            column = max(0, self.grid.currentIndex().column())
            self.grid.setCurrentIndex(self.model.index(row, column))

    @Slot()
    def _on_new_record(self) -> None:
        self._show_new_record = not self.sort and not self.filters and not self.search.text()
        self.insert_row()

    @Slot()
    def _on_grid_reset(self) -> None:
        """Another table, sort or filter: the row shown is no longer the grid's row; stop edits."""
        self._record_token += 1
        self._record_values = self._record_key = None
        for field in self._record_fields:
            field.set_value(field.value, False)
        self.record_label.setText("Pick a row in the Browse tab")

    def _on_field_edited(self, column: int, value: Any) -> None:
        if self._record_values is None or self._record_row < 0:
            return
        if self._record_table is not self.table or self._key_of(self._record_row) != self._record_key:
            # the grid moved under the form (a refresh, someone else's insert): reload, write nothing
            self.show_message("The row moved in the grid; it was reloaded. Edit it again.", "info")
            self._on_current_row(self.grid.currentIndex())
            return
        self._record_fields[column].set_error("")
        self.edit_cell(self._record_row, column, value, old=self._record_values[column], convert=False)

    def _on_field_load(self, column: int) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load Value from File")
        if path:
            self.load_value_from(path, self._record_row, column, old=self._record_values[column]
                                 if self._record_values else None)

    # -- what the edit commands report --------------------------------------------------------
    def record_written(self, row: int, column: int, value: Any) -> None:
        if row != self._record_row or self._record_values is None or column >= len(self._record_fields):
            return
        values = list(self._record_values)
        values[column] = value
        self._record_values = tuple(values)
        self._record_fields[column].set_value(value, self.model.editable)
        self._record_fields[column].set_error("")

    def record_failed(self, row: int, column: int, message: str) -> None:
        """Show a failed write under its field, and under the columns the message names."""
        if row != self._record_row or self._record_table is None:
            return
        names = [c.name for c in self._record_table.columns[:MAX_FORM_FIELDS]]
        named = constraint_columns(message, self._record_table.name, names)
        for i in {column, *(names.index(n) for n in named)}:
            if i < len(self._record_fields):
                self._record_fields[i].set_error(message)

    def record_field(self, name: str) -> RecordField:
        return next(f for f in self._record_fields if f.column.name == name)

