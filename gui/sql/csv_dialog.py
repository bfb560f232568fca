"""The CSV import dialog: a preview of the first rows with the settings that read them.

Encoding, delimiter and header row are detected (:func:`storage.formats.sql.csv_import.preview_csv`) and can
be
overridden; each change re-reads the preview in a worker (answers for older settings are
dropped). The target is a new table (types guessed per column, shown in the header) or an
existing one. Import hands an :class:`ImportPlan` to the document, which runs it in a worker.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QRadioButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from gui.common.file_dialogs import suggested_path
from gui.common.model_guard import guard_model
from gui.common.workers import run_in_worker
from gui.sql.tasks import esc
from storage.formats.sql.csv_import import DELIMITERS, ENCODINGS, CsvOptions, CsvPreview, preview_csv
from storage.formats.sql.schema_types import Table

PREVIEW_ROWS = 100


@dataclass
class ImportPlan:
    csv_path: str
    options: CsvOptions
    table: str
    create: bool
    columns: list[str]
    types: list[str]


@guard_model
class CsvPreviewModel(QAbstractTableModel):
    """The preview rows; column headers show the name and the guessed type."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.preview: CsvPreview | None = None

    def set_preview(self, preview: CsvPreview | None) -> None:
        self.beginResetModel()
        self.preview = preview
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() or self.preview is None else len(self.preview.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() or self.preview is None else len(self.preview.header)

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or self.preview is None or role != Qt.ItemDataRole.DisplayRole:
            return None
        row = self.preview.rows[index.row()]
        return row[index.column()] if index.column() < len(row) else ""

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole or self.preview is None:
            return None
        if orientation == Qt.Orientation.Vertical:
            return str(section + 1)
        if 0 <= section < len(self.preview.header):
            return f"{self.preview.header[section]}\n{self.preview.types[section]}"
        return None


class CsvImportDialog(QDialog):
    importRequested = Signal(object)  # an ImportPlan
    previewed = Signal()  # a preview (or its error) arrived

    def __init__(self, csv_path: str, tables: list[Table], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Import {os.path.basename(csv_path)}")
        self.csv_path = csv_path
        self.tables = [t for t in tables if t.kind == "table"]
        self.preview: CsvPreview | None = None
        self._generation = 0
        self._header: bool | None = None  # None: as detected
        self._worker = None

        self.encoding = QComboBox(self)
        self.encoding.addItem("Detect", None)
        for name in ENCODINGS:
            self.encoding.addItem(name, name)
        self.delimiter = QComboBox(self)
        self.delimiter.addItem("Detect", None)
        for char, name in DELIMITERS.items():
            self.delimiter.addItem(f"{name}  ({char!r})" if char != "\t" else name, char)
        self.header = QCheckBox("First row holds the column names", self)
        self.header.clicked.connect(self._on_header_clicked)
        self.new_table = QRadioButton("New table", self)
        self.new_table.setChecked(True)
        self.table_name = QLineEdit(os.path.splitext(os.path.basename(csv_path))[0], self)
        self.existing = QRadioButton("Existing table", self)
        self.existing_table = QComboBox(self)
        self.existing_table.addItems([t.qualified for t in self.tables])
        self.existing.setEnabled(bool(self.tables))
        for widget in (self.encoding, self.delimiter):
            widget.currentIndexChanged.connect(lambda _i: self.refresh())
        for signal in (self.new_table.toggled, self.existing_table.currentIndexChanged,
                       self.table_name.textChanged):
            signal.connect(lambda *_a: self._check())

        self.model = CsvPreviewModel(self)
        self.view = QTableView(self)
        self.view.setModel(self.model)
        self.view.setWordWrap(False)
        self.view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.view.verticalHeader().setDefaultSectionSize(22)
        self.view.horizontalHeader().setDefaultSectionSize(120)
        self.info = QLabel(self)
        self.info.setWordWrap(True)
        self.buttons = QDialogButtonBox(self)
        self.import_button = self.buttons.addButton("Import", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._on_import)
        self.buttons.rejected.connect(self.reject)

        reading = QFormLayout()
        reading.addRow("Encoding:", self.encoding)
        reading.addRow("Delimiter:", self.delimiter)
        reading.addRow("", self.header)
        target = QFormLayout()
        new_row = QHBoxLayout()
        new_row.addWidget(self.table_name, 1)
        target.addRow(self.new_table, new_row)
        target.addRow(self.existing, self.existing_table)
        top = QHBoxLayout()
        top.addLayout(reading, 1)
        top.addSpacing(24)
        top.addLayout(target, 1)
        box = QVBoxLayout(self)
        box.addLayout(top)
        self.rows_label = QLabel("Preview:", self)
        box.addWidget(self.rows_label)
        box.addWidget(self.view, 1)
        box.addWidget(self.info)
        box.addWidget(self.buttons)
        self.resize(820, 520)
        self.refresh()

    def options(self) -> CsvOptions:
        return CsvOptions(self.encoding.currentData(), self.delimiter.currentData(), self._header)

    def refresh(self) -> None:
        """Read the preview again with the current settings, in a worker."""
        self._generation += 1
        generation = self._generation
        self.import_button.setEnabled(False)
        self.info.setText("Reading…")
        self._worker = run_in_worker(preview_csv, self.csv_path, self.options(), PREVIEW_ROWS,
                                     on_result=lambda p: self._on_preview(generation, p),
                                     on_error=lambda e: self._on_preview(generation, e))

    def _on_preview(self, generation: int, result: Any) -> None:
        if generation != self._generation:
            return
        if isinstance(result, BaseException):
            self.preview = None
            self.model.set_preview(None)
            self.info.setText(f"<span style='color:#b42318'>{esc(str(result))}</span>")
        else:
            self.preview = result
            self.model.set_preview(result)
            self.header.setChecked(bool(result.options.header))
            found = result.options  # the Detect entries say what was detected
            self.encoding.setItemText(0, f"Detect ({found.encoding})")
            sep = DELIMITERS.get(found.delimiter or "", found.delimiter)
            self.delimiter.setItemText(0, f"Detect ({sep})")
            self.rows_label.setText(f"Preview: the first {len(result.rows):,} rows"
                                    if len(result.rows) >= PREVIEW_ROWS else
                                    f"Preview: all {len(result.rows):,} rows")
            self._check()
        self.previewed.emit()

    @Slot(bool)
    def _on_header_clicked(self, checked: bool) -> None:
        self._header = checked
        self.refresh()

    def _check(self) -> None:
        """Say what will happen, or why it cannot; enable Import accordingly."""
        self.table_name.setEnabled(self.new_table.isChecked())
        self.existing_table.setEnabled(self.existing.isChecked())
        preview = self.preview
        if preview is None:
            return
        problem, plan = self._plan(preview)
        found = preview.options
        detected = (f"{found.encoding}, {DELIMITERS.get(found.delimiter or '', repr(found.delimiter))} "
                    f"separated, {'a' if preview.header_detected else 'no'} header row detected")
        notes = "; ".join([detected, *preview.notes])
        if problem:
            self.info.setText(f"{esc(notes)}<br><span style='color:#b42318'>{esc(problem)}</span>")
        else:
            assert plan is not None
            where = f"new table {plan.table!r}" if plan.create else f"existing table {plan.table!r}"
            self.info.setText(f"{esc(notes)}<br>{len(plan.columns)} columns into {esc(where)}, "
                              "in one transaction.")
        self.import_button.setEnabled(problem is None)

    def _plan(self, preview: CsvPreview) -> tuple[str | None, ImportPlan | None]:
        width = len(preview.header)
        if self.new_table.isChecked():
            name = self.table_name.text().strip()
            if not name:
                return "Name the new table.", None
            if any(t.name.lower() == name.lower() for t in self.tables):
                return f"A table named {name!r} exists; choose Existing table to append to it.", None
            return None, ImportPlan(self.csv_path, preview.options, name, True, list(preview.header),
                                    list(preview.types))
        table = next((t for t in self.tables if t.qualified == self.existing_table.currentText()), None)
        if table is None:
            return "Choose a table.", None
        names = [c.name for c in table.columns]
        if preview.options.header and all(h in names for h in preview.header):
            columns = list(preview.header)  # matched by name
        elif width <= len(names):
            columns = names[:width]  # matched by position
        else:
            return f"The file has {width} columns; {table.name!r} has only {len(names)}.", None
        by_name = {c.name: c for c in table.columns}
        # Values are converted by the column's affinity; an untyped column takes the guessed type.
        types = [by_name[c].affinity if by_name[c].decl_type else preview.types[i]
                 for i, c in enumerate(columns)]
        return None, ImportPlan(self.csv_path, preview.options, table.qualified, False, columns, types)

    def done(self, result: int) -> None:
        self._generation += 1  # a preview still being read is dropped: the dialog may be deleted
        super().done(result)

    @Slot()
    def _on_import(self) -> None:
        if self.preview is None:
            return
        problem, plan = self._plan(self.preview)
        if plan is None:
            self.info.setText(esc(problem or ""))
            return
        self.importRequested.emit(plan)
        self.accept()


EXPORT_FILTERS = ("CSV (*.csv);;JSON (*.json);;JSON Lines (*.jsonl);;Parquet (*.parquet);;"
                  "SQLite table (*.sqlite *.sqlite3 *.db)")
_EXTENSIONS = {"CSV": ".csv", "JSON Lines": ".jsonl", "JSON": ".json", "Parquet": ".parquet",
               "SQLite": ".sqlite"}


def ask_export_path(parent: QWidget | None, title: str, database: str | None,
                    name: str) -> tuple[str, str] | None:
    """A file to export rows to, and its format ("csv", "json", "jsonl", "parquet" or "sqlite"),
    from a Save dialog that starts beside the ``database`` file with ``name``.csv suggested; a
    name without a known extension gets the one of the chosen filter. None when the user cancels."""
    start = suggested_path(database, f"{name}.csv")
    path, chosen = QFileDialog.getSaveFileName(parent, title, start, EXPORT_FILTERS)
    if not path:
        return None
    if export_format(path, "") == "":
        label = next((key for key in _EXTENSIONS if chosen.startswith(key)), "CSV")
        path += _EXTENSIONS[label]
    return path, export_format(path)


def export_format(path: str, default: str = "csv") -> str:
    """The export format a file name asks for: JSON for ``.json``, JSON Lines for ``.jsonl``,
    Parquet, an SQLite table for ``.sqlite``/``.db``, CSV (``default``) otherwise."""
    lower = path.lower()
    for suffix, fmt in ((".jsonl", "jsonl"), (".json", "json"), (".parquet", "parquet"), (".csv", "csv"),
                        (".sqlite", "sqlite"), (".sqlite3", "sqlite"), (".db", "sqlite"), (".db3", "sqlite")):
        if lower.endswith(suffix):
            return fmt
    return default
