"""Create Table…: a grid of columns (name, type, keys, default, check, foreign key) and the SQL preview.

The preview is compiled on every change from the grid with no database access, so it is the
exact statement Run executes; a mistake (no name, a duplicate column) shows in the preview instead.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from storage.core.errors import KnownError
from storage.formats.sql.ddl import COMMON_TYPES, FK_ACTIONS, ColumnSpec, Plan, TableSpec

HEADERS = ["Name", "Type", "PK", "Not NULL", "Unique", "Default", "Check", "References table",
           "References column", "On delete", "On update"]
(NAME, TYPE, PK, NOT_NULL, UNIQUE, DEFAULT, CHECK, FK_TABLE, FK_COLUMN, ON_DELETE,
 ON_UPDATE) = range(len(HEADERS))
FLAGS = (PK, NOT_NULL, UNIQUE)


def _state(checked: bool) -> Qt.CheckState:
    return Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked


def preview_editor(parent: QWidget) -> QPlainTextEdit:
    """A read-only, monospaced editor for the SQL a change will run."""
    editor = QPlainTextEdit(parent)
    editor.setReadOnly(True)
    editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
    font = QFont("monospace")
    font.setStyleHint(QFont.StyleHint.Monospace)
    editor.setFont(font)
    editor.setObjectName("preview")
    return editor


class CreateTableDialog(QDialog):
    """Collects a :class:`TableSpec`; ``plan`` holds the compiled plan when Run is enabled."""

    def __init__(self, build: Callable[[TableSpec], Plan], dialect: str, tables: list[str],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Create Table")
        self.build, self.dialect, self.tables = build, dialect, tables
        self.plan: Plan | None = None
        self.name = QLineEdit(self)
        self.name.setPlaceholderText("table name")
        self.without_rowid = QCheckBox("WITHOUT ROWID", self)
        self.autoincrement = QCheckBox("AUTOINCREMENT", self)
        for box in (self.without_rowid, self.autoincrement):
            box.setVisible(dialect == "sqlite")
            box.toggled.connect(self._on_changed)
        self.grid = QTableWidget(0, len(HEADERS), self)
        self.grid.setHorizontalHeaderLabels(HEADERS)
        self.grid.verticalHeader().setVisible(False)
        header = self.grid.horizontalHeader()
        for col, width in ((NAME, 130), (TYPE, 120), (PK, 40), (NOT_NULL, 70), (UNIQUE, 60), (DEFAULT, 110),
                           (CHECK, 150), (FK_TABLE, 130), (FK_COLUMN, 130), (ON_DELETE, 110),
                           (ON_UPDATE, 110)):
            header.resizeSection(col, width)
        self.grid.itemChanged.connect(self._on_changed)
        self.checks = QPlainTextEdit(self)
        self.checks.setPlaceholderText("Table CHECK constraints, one expression a line, e.g. start <= finish")
        self.checks.setMaximumHeight(60)
        self.checks.textChanged.connect(self._on_changed)
        self.preview = preview_editor(self)
        self.error = QLabel(self)
        self.error.setStyleSheet("color: #b42318")
        self.error.setWordWrap(True)
        add = QPushButton("Add Column", self)
        add.clicked.connect(lambda: self.add_column())
        remove = QPushButton("Remove Column", self)
        remove.clicked.connect(self._on_remove)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.run_button = self.buttons.addButton("Run", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.name.textChanged.connect(self._on_changed)

        form = QFormLayout()
        top = QHBoxLayout()
        top.addWidget(self.name, 1)
        top.addWidget(self.without_rowid)
        top.addWidget(self.autoincrement)
        form.addRow("Table:", top)
        edit = QHBoxLayout()
        edit.addWidget(add)
        edit.addWidget(remove)
        edit.addStretch(1)
        box = QVBoxLayout(self)
        box.addLayout(form)
        box.addWidget(self.grid, 2)
        box.addLayout(edit)
        box.addWidget(QLabel("Table checks:", self))
        box.addWidget(self.checks)
        box.addWidget(QLabel("SQL that Run executes:", self))
        box.addWidget(self.preview, 2)
        box.addWidget(self.error)
        box.addWidget(self.buttons)
        self.resize(1240, 640)
        self.add_column("id", "INTEGER" if dialect == "sqlite" else "integer", primary_key=True)

    # -- the grid ------------------------------------------------------------------------------
    def add_column(self, name: str = "", type_: str = "", primary_key: bool = False) -> int:
        row = self.grid.rowCount()
        self.grid.blockSignals(True)
        self.grid.insertRow(row)
        for col in range(len(HEADERS)):
            item = QTableWidgetItem("")
            if col in FLAGS:
                item.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
                item.setCheckState(_state(col == PK and primary_key))
            self.grid.setItem(row, col, item)
        self.grid.item(row, NAME).setText(name)
        self.grid.blockSignals(False)
        types = QComboBox(self.grid)
        types.setEditable(True)
        types.addItems(COMMON_TYPES.get(self.dialect, COMMON_TYPES["postgresql"]))
        types.setCurrentText(type_)
        types.currentTextChanged.connect(self._on_changed)
        self.grid.setCellWidget(row, TYPE, types)
        target = QComboBox(self.grid)
        target.setEditable(True)
        target.addItems(["", *self.tables])
        target.currentTextChanged.connect(self._on_changed)
        self.grid.setCellWidget(row, FK_TABLE, target)
        for column in (ON_DELETE, ON_UPDATE):
            action = QComboBox(self.grid)
            action.addItems(FK_ACTIONS)
            action.currentTextChanged.connect(self._on_changed)
            self.grid.setCellWidget(row, column, action)
        self._on_changed()
        return row

    @Slot()
    def _on_remove(self) -> None:
        rows = {i.row() for i in self.grid.selectedIndexes()} or {self.grid.currentRow()}
        for row in sorted(rows, reverse=True):
            if row >= 0:
                self.grid.removeRow(row)
        self._on_changed()

    def set_cell(self, row: int, column: int, value: str | bool) -> None:
        """Fill one cell as a user would (text, a combo's text, or a check box)."""
        widget = self.grid.cellWidget(row, column)
        if isinstance(widget, QComboBox):
            widget.setCurrentText(str(value))
        elif isinstance(value, bool):
            self.grid.item(row, column).setCheckState(_state(value))
        else:
            self.grid.item(row, column).setText(value)

    def _text(self, row: int, column: int) -> str:
        widget = self.grid.cellWidget(row, column)
        if isinstance(widget, QComboBox):
            return widget.currentText().strip()
        item = self.grid.item(row, column)
        return item.text().strip() if item is not None else ""

    def _flag(self, row: int, column: int) -> bool:
        item = self.grid.item(row, column)
        return item is not None and item.checkState() == Qt.CheckState.Checked

    def spec(self) -> TableSpec:
        columns = []
        for row in range(self.grid.rowCount()):
            target = self._text(row, FK_TABLE)
            columns.append(ColumnSpec(
                self._text(row, NAME), self._text(row, TYPE), self._flag(row, PK), self._flag(row, NOT_NULL),
                self._flag(row, UNIQUE), self._text(row, DEFAULT) or None, self._text(row, CHECK) or None,
                (target, self._text(row, FK_COLUMN)) if target else None, self._text(row, ON_DELETE),
                self._text(row, ON_UPDATE)))
        checks = [line.strip() for line in self.checks.toPlainText().splitlines() if line.strip()]
        return TableSpec(self.name.text().strip(), columns, checks, self.without_rowid.isChecked(),
                         self.autoincrement.isChecked())

    @Slot()
    def _on_changed(self, *_args: object) -> None:
        try:
            self.plan = self.build(self.spec())
        except KnownError as exc:
            self.plan = None
            self.error.setText(str(exc))
            self.preview.setPlainText("")
        else:
            self.error.setText("")
            self.preview.setPlainText(self.plan.preview())
        self.run_button.setEnabled(self.plan is not None)
