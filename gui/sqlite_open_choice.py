"""The choice offered when an existing database opens: stay read-only, or edit.

A strip at the top of the document rather than a dialog: the database is already shown
(read-only, which never writes the file), so nothing waits for the answer. "Remember" stores
the choice as the ``sqlite.open_mode`` preference, and the strip is not shown again.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

MODES = ("ask", "read_only", "edit")


class OpenChoiceBar(QFrame):
    chosen = Signal(str, bool)  # "read_only" or "edit"; whether to remember it

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("open-choice")
        self.setStyleSheet("#open-choice { background: #e8f1fb; border-bottom: 1px solid #1f5a96; }"
                           "#open-choice QLabel { color: #1f5a96; }")
        self.label = QLabel("Opened read-only: browsing never changes the file. Edit it?", self)
        self.edit_button = QPushButton("Edit", self)
        self.edit_button.setToolTip("Reopen for editing: each change is written at once, with undo")
        self.read_only_button = QPushButton("Keep Read-only", self)
        self.read_only_button.setToolTip("Keep it read-only (mode=ro): nothing is ever written")
        self.remember = QCheckBox("Remember for every database", self)
        self.remember.setToolTip("Stored in the preferences (sqlite.open_mode); the Read-only "
                                 "box still switches each database")
        self.edit_button.clicked.connect(lambda: self._choose("edit"))
        self.read_only_button.clicked.connect(lambda: self._choose("read_only"))
        box = QHBoxLayout(self)
        box.setContentsMargins(10, 4, 6, 4)
        box.addWidget(self.label, 1)
        for widget in (self.remember, self.read_only_button, self.edit_button):
            box.addWidget(widget)
        self.hide()

    def _choose(self, mode: str) -> None:
        self.hide()
        self.chosen.emit(mode, self.remember.isChecked())
