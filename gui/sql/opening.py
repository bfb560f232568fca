"""Opening the SQL tab's database: the page shown until it is open (connecting, an unfinished
transaction to roll back or read as it is, a refused password, Try again / Reconnect).

:class:`StatusPage` owns those widgets and says what the user chose through its signals; the
document (:class:`gui.sql.document.SqlDocument`) opens the database and answers them.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from gui.sql.open_choice import UnfinishedTransactionPanel


class StatusPage(QWidget):
    """What the document shows until its database is open, or why it could not open it."""

    passwordGiven = Signal(str)  # the server refused the password: this one was typed instead
    retryRequested = Signal()  # Try again (or Reconnect)

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        box = QVBoxLayout(self)
        box.addStretch(1)
        self.status = QLabel(text, self)
        self.status.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.status.setWordWrap(True)
        box.addWidget(self.status)
        self.unfinished = UnfinishedTransactionPanel(self)  # a hot journal: roll back, or read as is
        box.addWidget(self.unfinished)
        box.addWidget(self._build_password_form())
        self.retry_open = QPushButton("Try again", self)
        self.retry_open.clicked.connect(self.retryRequested)
        self.retry_open.setVisible(False)
        box.addWidget(self.retry_open, 0, Qt.AlignmentFlag.AlignCenter)
        box.addStretch(2)

    def _build_password_form(self) -> QWidget:
        """Shown when the server refused the password: type it again."""
        form = QWidget(self)
        box = QHBoxLayout(form)
        box.addStretch(1)
        box.addWidget(QLabel("Password:", form))
        self.password_edit = QLineEdit(form)
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setMinimumWidth(200)
        self.password_edit.returnPressed.connect(self._on_password_given)
        self.password_button = QPushButton("Connect", form)
        self.password_button.clicked.connect(self._on_password_given)
        box.addWidget(self.password_edit)
        box.addWidget(self.password_button)
        box.addStretch(1)
        form.setVisible(False)
        self.password_form = form
        return form

    def show_text(self, text: str) -> None:
        self.status.setText(text)

    def reset(self) -> None:
        """Opening again: no choice offered until the answer says why one is needed."""
        self.retry_open.setVisible(False)
        self.unfinished.hide()

    def offer_retry(self, text: str) -> None:
        self.retry_open.setText(text)
        self.retry_open.setVisible(True)

    def ask_password(self) -> None:
        self.password_form.setVisible(True)
        self.password_edit.clear()
        self.password_edit.setFocus()

    @Slot()
    def _on_password_given(self) -> None:
        password = self.password_edit.text()
        self.password_form.setVisible(False)
        self.passwordGiven.emit(password)
