"""Dialogs of single schema changes: add a column, rename, create an index, confirm a drop.

Each shows the SQL Run executes in a read-only editor, recompiled as the form changes, with
the plan's warnings and whether it can be undone above the statements.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.sql.table_dialog import preview_editor
from storage.core.errors import KnownError
from storage.formats.sql.ddl import COMMON_TYPES, FK_ACTIONS, ColumnSpec, IndexSpec, Plan


class PreviewDialog(QDialog):
    """The SQL of a change with Run and Cancel; subclasses add a form above it."""

    def __init__(self, title: str, parent: QWidget | None = None, plan: Plan | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.plan = plan
        self.form = QFormLayout()
        self.preview = preview_editor(self)
        self.error = QLabel(self)
        self.error.setStyleSheet("color: #b42318")
        self.error.setWordWrap(True)
        self.notice = QLabel(self)  # the change cannot be undone: said above the SQL, in words
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("color: #b42318; font-weight: bold")
        self.notice.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.run_button = self.buttons.addButton("Run", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        box = QVBoxLayout(self)
        box.addLayout(self.form)
        box.addWidget(self.notice)
        box.addWidget(QLabel("SQL that Run executes:", self))
        box.addWidget(self.preview, 1)
        box.addWidget(self.error)
        box.addWidget(self.buttons)
        self.resize(760, 560)
        if plan is not None:
            self.resize(640, 320)
            self.show_plan(plan)

    def show_plan(self, plan: Plan | None, error: str = "") -> None:
        self.plan = plan
        self.preview.setPlainText(plan.preview() if plan is not None else "")
        self.error.setText(error)
        self.run_button.setEnabled(plan is not None)
        lost = plan.irreversible if plan is not None else ""
        if lost:
            lost = f"This cannot be undone: {lost}. Running it clears the undo history."
        self.notice.setText(lost)
        self.notice.setVisible(bool(lost))

    def rebuild(self, build: Callable[[], Plan]) -> None:
        try:
            self.show_plan(build())
        except KnownError as exc:
            self.show_plan(None, str(exc))


class AddColumnDialog(PreviewDialog):
    def __init__(self, table: str, build: Callable[[ColumnSpec], Plan], dialect: str,
                 tables: list[str], parent: QWidget | None = None) -> None:
        super().__init__(f"Add Column to {table}", parent)
        self.build = build
        self.name = QLineEdit(self)
        self.type = QComboBox(self)
        self.type.setEditable(True)
        self.type.addItems(COMMON_TYPES.get(dialect, COMMON_TYPES["postgresql"]))
        self.type.setCurrentText("")
        self.not_null = QCheckBox("NOT NULL", self)
        self.unique = QCheckBox("UNIQUE", self)
        self.primary_key = QCheckBox("PRIMARY KEY", self)
        self.default = QLineEdit(self)
        self.default.setPlaceholderText("an SQL expression: 0, 'text', CURRENT_TIMESTAMP")
        self.check = QLineEdit(self)
        self.ref_table = QComboBox(self)
        self.ref_table.setEditable(True)
        self.ref_table.addItems(["", *tables])
        self.ref_column = QLineEdit(self)
        self.on_delete = QComboBox(self)
        self.on_delete.addItems(FK_ACTIONS)
        self.on_update = QComboBox(self)
        self.on_update.addItems(FK_ACTIONS)
        flags = QHBoxLayout()
        for box in (self.not_null, self.unique, self.primary_key):
            flags.addWidget(box)
        flags.addStretch(1)
        self.form.addRow("Name:", self.name)
        self.form.addRow("Type:", self.type)
        self.form.addRow("", flags)
        rows = (("Default:", self.default), ("Check:", self.check),
                ("References table:", self.ref_table), ("References column:", self.ref_column),
                ("On delete:", self.on_delete), ("On update:", self.on_update))
        for label, widget in rows:
            self.form.addRow(label, widget)
        for edit in (self.name, self.default, self.check, self.ref_column):
            edit.textChanged.connect(self._on_changed)
        for combo in (self.type, self.ref_table, self.on_delete, self.on_update):
            combo.currentTextChanged.connect(self._on_changed)
        for box in (self.not_null, self.unique, self.primary_key):
            box.toggled.connect(self._on_changed)
        self._on_changed()

    def spec(self) -> ColumnSpec:
        target = self.ref_table.currentText().strip()
        return ColumnSpec(
            self.name.text().strip(), self.type.currentText().strip(), self.primary_key.isChecked(),
            self.not_null.isChecked(), self.unique.isChecked(), self.default.text().strip() or None,
            self.check.text().strip() or None, (target, self.ref_column.text().strip()) if target else None,
            self.on_delete.currentText(), self.on_update.currentText())

    @Slot()
    def _on_changed(self, *_args: object) -> None:
        self.rebuild(lambda: self.build(self.spec()))


class RenameDialog(PreviewDialog):
    def __init__(self, title: str, old: str, build: Callable[[str], Plan],
                 parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.build = build
        self.name = QLineEdit(old, self)
        self.form.addRow("New name:", self.name)
        self.name.textChanged.connect(lambda _t: self.rebuild(lambda: self.build(self.name.text().strip())))
        self.name.selectAll()
        self.show_plan(None, "Type the new name")
        self.resize(600, 280)


class CreateIndexDialog(PreviewDialog):
    def __init__(self, table: str, columns: list[str], build: Callable[[IndexSpec], Plan],
                 parent: QWidget | None = None) -> None:
        super().__init__(f"Create Index on {table}", parent)
        self.table, self.build = table, build
        self.name = QLineEdit(f"ix_{table}", self)
        self.unique = QCheckBox("UNIQUE", self)
        self.columns = QListWidget(self)
        for name in columns:
            item = QListWidgetItem(name, self.columns)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
        self.columns.setMaximumHeight(140)
        self.form.addRow("Name:", self.name)
        self.form.addRow("", self.unique)
        self.form.addRow("Columns (in order checked):", self.columns)
        self._order: list[str] = []
        self.resize(640, 480)
        self.name.textChanged.connect(self._on_changed)
        self.unique.toggled.connect(self._on_changed)
        self.columns.itemChanged.connect(self._on_item)
        self._on_changed()

    @Slot(QListWidgetItem)
    def _on_item(self, item: QListWidgetItem) -> None:
        name = item.text()
        if item.checkState() == Qt.CheckState.Checked and name not in self._order:
            self._order.append(name)
        elif item.checkState() != Qt.CheckState.Checked and name in self._order:
            self._order.remove(name)
        self._on_changed()

    def spec(self) -> IndexSpec:
        return IndexSpec(self.name.text().strip(), self.table, list(self._order), self.unique.isChecked())

    @Slot()
    def _on_changed(self, *_args: object) -> None:
        self.rebuild(lambda: self.build(self.spec()))
