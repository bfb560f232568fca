"""The Objects tab's "Add item…" dialog: a key (for a dict), a type and a value.

The type proposed is the one most of the container's items have (a list of ints proposes int),
so the usual case is typing the value and pressing Enter.
"""

from __future__ import annotations

from collections import Counter
from itertools import islice
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from storage.formats.objects.doc import EDIT_TYPES, ObjectEditError, kind_of, parse_key, parse_scalar

_SAMPLE = 200  # items looked at to propose a type
_STARTS = {"int": "0", "float": "0.0", "complex": "0j", "Decimal": "0", "bool": "false"}
_CONTAINERS = ("list", "tuple", "dict", "set")


def proposed_kind(container: Any) -> str:
    """The EDIT_TYPES name most of the container's items (a dict's values) have; "str" if none."""
    items = container.values() if isinstance(container, dict) else container
    kinds = Counter(kind_of(item) or "" for item in islice(iter(items), _SAMPLE))
    kinds.pop("", None)
    kinds.pop("None", None)
    return kinds.most_common(1)[0][0] if kinds else "str"


def _start_text(kind: str, container: Any) -> str:
    """What the value box starts with: a value a set does not hold yet, or the type's zero."""
    if isinstance(container, set | frozenset) and kind == "int":
        number = 0
        while number in container:
            number += 1
        return str(number)
    return _STARTS.get(kind, "")


class AddItemDialog(QDialog):
    """Ask for the new item of ``container``; :meth:`item` gives (key, value) once accepted."""

    def __init__(self, container: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.container = container
        kind_name = type(container).__name__
        self.setWindowTitle("Add item")
        self.key_edit: QLineEdit | None = None
        form = QFormLayout()
        if isinstance(container, dict):
            self.key_edit = QLineEdit(self)
            self.key_edit.setPlaceholderText("text, or a Python literal such as 3")
            form.addRow("&Key:", self.key_edit)
        self.type_combo = QComboBox(self)
        self.type_combo.addItems(list(EDIT_TYPES))
        self.value_edit = QLineEdit(self)
        form.addRow("&Type:", self.type_combo)
        form.addRow("&Value:", self.value_edit)
        self.problem = QLabel(self)
        self.problem.setStyleSheet("color: #b42318;")
        self.problem.setWordWrap(True)
        self.problem.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel, self)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Add")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        box = QVBoxLayout(self)
        count = len(container)
        box.addWidget(QLabel(f"Add an item to this {kind_name} of {count:,} item{'s' * (count != 1)}:", self))
        box.addLayout(form)
        box.addWidget(self.problem)
        box.addWidget(buttons)
        self._item: tuple[Any, Any] | None = None
        self.type_combo.currentTextChanged.connect(self._on_type_chosen)
        kind = proposed_kind(container)
        self.type_combo.setCurrentText(kind)
        self._on_type_chosen(kind)
        (self.key_edit or self.value_edit).setFocus()

    def _on_type_chosen(self, kind: str) -> None:
        no_text = kind in (*_CONTAINERS, "None")
        self.value_edit.setEnabled(not no_text)
        self.value_edit.setText(_start_text(kind, self.container) if not no_text else "")
        self.value_edit.selectAll()
        self.problem.hide()

    def item(self) -> tuple[Any, Any] | None:
        """(key, value) the user chose, once accepted (the key is the row for a list)."""
        return self._item

    def accept(self) -> None:
        """Close only on a value of the chosen type; otherwise say what is wrong and stay."""
        kind = self.type_combo.currentText()
        try:
            value = parse_scalar(kind, self.value_edit.text())
        except ObjectEditError as exc:
            self._refuse(str(exc))
            return
        key: Any = len(self.container)
        if self.key_edit is not None:
            key = parse_key(self.key_edit.text(), None)
            try:
                if key in self.container:
                    self._refuse(f"The key {key!r} already exists.")
                    return
            except TypeError:
                self._refuse(f"{key!r} cannot be a key: it is not hashable.")
                return
        if isinstance(self.container, set | frozenset):
            try:
                if value in self.container:
                    self._refuse(f"The set already holds {value!r}.")
                    return
            except TypeError:
                self._refuse(f"A {kind} cannot be a member of a set: it is not hashable.")
                return
        self._item = (key, value)
        super().accept()

    def _refuse(self, message: str) -> None:
        self.problem.setText(message)
        self.problem.show()
