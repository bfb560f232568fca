"""The choices offered when an existing database opens: stay read-only or edit; and, for a database
with an unfinished transaction, show it as on disk or roll back.

A strip at the top of the document rather than a dialog: the database is already shown
(read-only, which never writes the file), so nothing waits for the answer. "Remember" stores
the choice as the ``sqlite.open_mode`` preference, and the strip is not shown again.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from storage.core.sqlite_recover import HotJournal

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


class UnfinishedTransactionPanel(QFrame):
    """Shown instead of the tables when the database has a hot journal: nothing was touched yet.

    **Show As on Disk** reads the file ``immutable`` (the journal ignored, read-only); **Roll
    Back…** asks first, then lets SQLite's recovery run. The document decides what each does.
    """

    onDiskChosen = Signal()
    rollBackChosen = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("unfinished-transaction")
        self.setStyleSheet("#unfinished-transaction { background: #fff4e0; border: 1px solid #b26b00; }")
        self.hot: HotJournal | None = None
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.on_disk_button = QPushButton("Show As on Disk", self)
        self.on_disk_button.setToolTip("Read the file as it is now, ignoring the journal (read-only; "
                                       "the interrupted change may be half-written)")
        self.roll_back_button = QPushButton("Roll Back…", self)
        self.roll_back_button.setToolTip("Undo the interrupted change with SQLite's recovery (asks first)")
        self.on_disk_button.clicked.connect(self.onDiskChosen)
        self.roll_back_button.clicked.connect(self.rollBackChosen)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.on_disk_button)
        buttons.addWidget(self.roll_back_button)
        box = QVBoxLayout(self)
        box.setContentsMargins(10, 8, 10, 8)
        box.addWidget(self.label)
        box.addLayout(buttons)
        self.hide()

    def show_for(self, hot: HotJournal) -> None:
        """Say what was found; Roll Back is disabled (with the reason) when it would be unsafe."""
        self.hot = hot
        text = hot.describe()
        if hot.refusal:
            text += f"\n\nRolling back is not offered: {hot.refusal}."
        self.label.setText(text)
        self.roll_back_button.setEnabled(not hot.refusal)
        self.show()
