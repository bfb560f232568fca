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
    onDiskChosen = Signal()  # an unfinished transaction: read the file as it is on disk
    rollBackChosen = Signal()  # an unfinished transaction: roll it back

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        box = QVBoxLayout(self)
        box.addStretch(1)
        self.status = QLabel(text, self)
        self.status.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.status.setWordWrap(True)
        box.addWidget(self.status)
        self.retry_open = QPushButton("Try again", self)
        self.retry_open.clicked.connect(self.retryRequested)
        self.retry_open.setVisible(False)
        box.addWidget(self.retry_open, 0, Qt.AlignmentFlag.AlignCenter)
        box.addStretch(2)
        self._box = box
        # Built when first needed, between the text and Try again (most opens need neither).
        self._unfinished: UnfinishedTransactionPanel | None = None
        self._password_form: QWidget | None = None

    @property
    def unfinished(self) -> UnfinishedTransactionPanel:
        """A hot journal: roll back, or read as is (under the text)."""
        if self._unfinished is None:
            self._unfinished = UnfinishedTransactionPanel(self)
            self._unfinished.onDiskChosen.connect(self.onDiskChosen)
            self._unfinished.rollBackChosen.connect(self.rollBackChosen)
            self._box.insertWidget(self._box.indexOf(self.status) + 1, self._unfinished)
        return self._unfinished

    @property
    def password_form(self) -> QWidget:
        """Shown when the server refused the password (above Try again)."""
        if self._password_form is None:
            self._password_form = self._build_password_form()
            self._box.insertWidget(self._box.indexOf(self.retry_open), self._password_form)
        return self._password_form

    @property
    def password_edit(self) -> QLineEdit:
        return self.password_form.findChild(QLineEdit)

    def _build_password_form(self) -> QWidget:
        """Shown when the server refused the password: type it again."""
        form = QWidget(self)
        box = QHBoxLayout(form)
        box.addStretch(1)
        box.addWidget(QLabel("Password:", form))
        edit = QLineEdit(form)
        edit.setEchoMode(QLineEdit.EchoMode.Password)
        edit.setMinimumWidth(200)
        edit.returnPressed.connect(self._on_password_given)
        self.password_button = QPushButton("Connect", form)
        self.password_button.clicked.connect(self._on_password_given)
        box.addWidget(edit)
        box.addWidget(self.password_button)
        box.addStretch(1)
        form.setVisible(False)
        return form

    def show_text(self, text: str) -> None:
        self.status.setText(text)

    def reset(self) -> None:
        """Opening again: no choice offered until the answer says why one is needed."""
        self.retry_open.setVisible(False)
        if self._unfinished is not None:
            self._unfinished.hide()

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
