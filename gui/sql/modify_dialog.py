"""Modify Table…: the table's columns in one grid (rename, add, drop, reorder, change) and ONE preview.

The Create Table grid with each row remembering the column it came from (so a renamed column is
told from a dropped one plus a new one), Move Up/Down, and the table constraints the grid does not
show listed as kept. The preview is the exact plan Run executes, compiled with no database access.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QLabel, QPushButton, QWidget

from gui.sql.table_dialog import (
    CHECK,
    DEFAULT,
    FK_COLUMN,
    FK_TABLE,
    NAME,
    NOT_NULL,
    ON_DELETE,
    ON_UPDATE,
    PK,
    TYPE,
    UNIQUE,
    CreateTableDialog,
)
from storage.formats.sql.ddl import ColumnSpec, Plan
from storage.formats.sql.table_edit import ColumnEdit, TableEdit

OLD_NAME = Qt.ItemDataRole.UserRole + 1


class ModifyTableDialog(CreateTableDialog):
    """Collects a :class:`TableEdit`; ``plan`` holds the compiled plan when Run is enabled."""

    def __init__(self, before: TableEdit, build: Callable[[TableEdit], Plan], dialect: str, tables: list[str],
                 parent: QWidget | None = None) -> None:
        self.before = before
        self._filling = True
        super().__init__(lambda _spec: build(self.edit()), dialect, tables, parent)
        self.setWindowTitle(f"Modify Table {before.name}")
        for box in (self.without_rowid, self.autoincrement, self.checks):
            box.hide()
        for label in self.findChildren(QLabel):
            if label.text() == "Table checks:":
                label.hide()
        self.grid.setRowCount(0)
        for col in before.columns:
            self.fill_row(self.add_column(), col)
        self.name.setText(before.name)
        self.kept = QLabel(self)
        self.kept.setWordWrap(True)
        self.kept.setText("Table constraints kept as they are: " + "; ".join(before.constraints)
                          if before.constraints else "")
        self.kept.setVisible(bool(before.constraints))
        buttons = self.layout().itemAt(2).layout()
        self.up = QPushButton("Move Up", self)
        self.down = QPushButton("Move Down", self)
        self.up.clicked.connect(lambda: self.move_row(self.grid.currentRow(), -1))
        self.down.clicked.connect(lambda: self.move_row(self.grid.currentRow(), 1))
        buttons.insertWidget(2, self.up)
        buttons.insertWidget(3, self.down)
        if dialect != "sqlite":  # ALTER TABLE has no way to move a column
            for button in (self.up, self.down):
                button.setEnabled(False)
                button.setToolTip(f"{dialect} cannot reorder columns; new columns go at the end")
        self.layout().insertWidget(3, self.kept)
        self.notice = QLabel(self)  # the change cannot be undone: said in words, above the SQL
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("color: #b42318; font-weight: bold")
        self.layout().insertWidget(self.layout().indexOf(self.preview) - 1, self.notice)
        for button in self.findChildren(QPushButton):
            if button.text() == "Remove Column":
                button.setText("Drop Column")
        self._filling = False
        self._on_changed()

    def fill_row(self, row: int, col: ColumnEdit) -> None:
        """Show ``col`` in ``row`` (the grid's signals recompile the preview once at the end)."""
        filling, self._filling = self._filling, True
        spec = col.spec
        target, column = spec.references or ("", "")
        values = ((NAME, spec.name), (TYPE, spec.type), (PK, spec.primary_key), (NOT_NULL, spec.not_null),
                  (UNIQUE, spec.unique), (DEFAULT, spec.default or ""), (CHECK, spec.check or ""),
                  (FK_TABLE, target), (FK_COLUMN, column), (ON_DELETE, spec.on_delete),
                  (ON_UPDATE, spec.on_update))
        for column_no, value in values:
            self.set_cell(row, column_no, value)
        self.grid.item(row, NAME).setData(OLD_NAME, col.old)
        self._filling = filling

    def row_edit(self, row: int) -> ColumnEdit:
        target = self._text(row, FK_TABLE)
        spec = ColumnSpec(
            self._text(row, NAME), self._text(row, TYPE), self._flag(row, PK), self._flag(row, NOT_NULL),
            self._flag(row, UNIQUE), self._text(row, DEFAULT) or None, self._text(row, CHECK) or None,
            (target, self._text(row, FK_COLUMN)) if target else None, self._text(row, ON_DELETE),
            self._text(row, ON_UPDATE))
        return ColumnEdit(spec, self.grid.item(row, NAME).data(OLD_NAME))

    def edit(self) -> TableEdit:
        columns = [self.row_edit(row) for row in range(self.grid.rowCount())]
        return TableEdit(self.name.text().strip(), columns, self.before.constraints, self.before.names,
                         self.before.without_rowid)

    def move_row(self, row: int, step: int) -> None:
        other = row + step
        if row < 0 or not 0 <= other < self.grid.rowCount():
            return
        first, second = self.row_edit(row), self.row_edit(other)
        self.fill_row(row, second)
        self.fill_row(other, first)
        self.grid.setCurrentCell(other, NAME)
        self._on_changed()

    @Slot()
    def _on_changed(self, *_args: object) -> None:
        if getattr(self, "_filling", False):
            return
        super()._on_changed()
        lost = self.plan.irreversible if self.plan is not None else ""
        text = f"This cannot be undone: {lost}. Running it clears the undo history." if lost else ""
        self.notice.setText(text)
        self.notice.setVisible(bool(lost))
