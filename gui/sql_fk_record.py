"""Foreign keys in the Record tab: a field that references another table gets ↗ and a chooser.

↗ shows the referenced row in the grid (as the grid's arrow does); the chooser opens the same
searchable list of referenced rows as the grid's editor, and the key picked is written through
the field's normal edit (an undo command).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QDialog, QLabel, QToolButton, QVBoxLayout, QWidget

from .sql_fk_editor import FkEditor


class FkPickPopup(QDialog):
    """A popup with the foreign-key editor; Return writes the key chosen and closes it."""

    def __init__(self, document: Any, target: Any, affinity: str, value: Any, parent: QWidget) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.editor = FkEditor(document, target, affinity, self)
        self.editor.setMinimumWidth(320)
        box = QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.addWidget(QLabel(f"A row of {target.table} (type to search, Return to choose):", self))
        box.addWidget(self.editor)
        self.editor.set_stored(value)


class FkRecordMixin:
    """Adds the foreign-key buttons to the record form's fields."""

    def decorate_record_field(self, column: int, field: Any) -> None:
        """Called for each field of the record form when it is built."""
        fk = self.foreign_key_of(column)
        if fk is None:
            return
        go = QToolButton(field)
        go.setText("↗")
        go.setToolTip(f"Go to the referenced row {fk.describe()}")
        go.clicked.connect(lambda: self.go_to_referenced(self.model.index(self._record_row, column)))
        field._row.addWidget(go)
        if fk.composite:
            go.setToolTip(go.toolTip() + " (a composite key: edit its columns one by one)")
            return
        pick = QToolButton(field)
        pick.setText("…")
        pick.setToolTip(f"Choose a row of {fk.ref_table}")
        pick.clicked.connect(lambda: self.pick_record_value(column, field))
        field.pick_button = pick
        field._row.addWidget(pick)

    def pick_record_value(self, column: int, field: Any) -> FkPickPopup | None:
        """Open the chooser under the field; the key picked goes through the field's edit."""
        target = self.fk_target(column)
        if target is None or self.table is None or not self.model.editable or self._record_values is None:
            return None
        popup = FkPickPopup(self, target, self.table.columns[column].affinity, field.value, self)

        def chosen() -> None:
            value = popup.editor.stored()
            popup.close()
            if value != field.value or type(value) is not type(field.value):
                field.edited.emit(value)

        popup.editor.returnPressed.connect(chosen)
        popup.move(field.mapToGlobal(QPoint(0, field.height())))
        popup.show()
        popup.editor.setFocus()
        self.fk_popup = popup
        return popup
