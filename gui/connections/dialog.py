"""File ▸ Connect to Database…: saved connections on the left, one connection's fields on the right.

Like DBeaver's and DB Browser's connection dialogs: New, Duplicate, Rename and Delete saved
connections; Test checks the connection in a worker and shows the server's version or why it
failed (wrong password, unreachable, driver missing with the package to install); Connect opens
it as a document of the SQLite tab. Edits to a saved connection are kept when another one is
chosen, on Save and on Connect. Passwords go to the keyring or to memory, never the settings.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from gui.common.workers import run_in_worker
from gui.connections.form import ConnectionForm
from gui.connections.list_panel import ConnectionListPanel
from gui.connections.opening import describe_error
from gui.connections.password_jobs import check_keyring, drop_password, fetch_password, keep_password
from storage.settings.connections import Connection, ConnectionSpecError

if TYPE_CHECKING:
    from gui.connections.opening import Connector

SQLITE_MAGIC = b"SQLite format 3\x00"


def check_sqlite_file(path: str) -> str:
    """Worker body of Test for a SQLite file: what it is, or a KnownError saying why not."""
    from storage.core.errors import UnreadableError

    if not path:
        raise UnreadableError("Choose a SQLite file first.")
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
        size = os.path.getsize(path)
    except OSError as exc:
        raise UnreadableError(f"Cannot read {path}: {exc.strerror or exc}") from None
    if head and head != SQLITE_MAGIC:
        raise UnreadableError(f"{os.path.basename(path)} is not a SQLite database.")
    import sqlite3

    return f"SQLite {sqlite3.sqlite_version} database file ({size:,} bytes)"


class ConnectDialog(QDialog):
    """Manage saved connections and open one. ``connector`` opens; the store keeps them.

    The dialog is composed of the list of saved connections (:class:`ConnectionListPanel`) and
    the form of the one shown (:class:`ConnectionForm`); it keeps the form's edits and runs Test
    and Connect.
    """

    def __init__(self, connector: Connector, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("connectDialog")
        self.setWindowTitle("Connect to Database")
        self.connector = connector
        self.store = connector.store
        self.vault = connector.vault
        self._dirty = False
        self._busy = False
        self._generation = 0

        self.connections = ConnectionListPanel(self.store, self.vault, self)
        self.connections.before_leaving = self._keep_edits_if_dirty

        self.form = ConnectionForm(None, self)  # whether a keyring exists: asked in a worker
        self._shown_id = ""  # the connection whose saved password may still be arriving
        self.busy = QProgressBar(self)
        self.busy.setObjectName("connectBusy")
        self.busy.setRange(0, 0)  # indeterminate: a server answers when it answers
        self.busy.setMaximumWidth(120)
        self.busy.setTextVisible(False)
        self.busy.hide()
        self.status = QLabel(self)
        self.status.setObjectName("connectStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.test_button = QPushButton("Test", self)
        self.save_button = QPushButton("Save", self)
        self.connect_button = QPushButton("Connect", self)
        self.connect_button.setDefault(True)
        self.close_button = QPushButton("Close", self)
        right = QWidget(self)
        right_box = QVBoxLayout(right)
        right_box.setContentsMargins(0, 0, 0, 0)
        right_box.addWidget(self.form)
        status_row = QHBoxLayout()
        status_row.addWidget(self.busy, 0, Qt.AlignmentFlag.AlignTop)
        status_row.addWidget(self.status, 1)
        right_box.addLayout(status_row)
        right_box.addStretch(1)
        actions = QHBoxLayout()
        actions.addWidget(self.test_button)
        actions.addStretch(1)
        for button in (self.save_button, self.connect_button, self.close_button):
            actions.addWidget(button)
        right_box.addLayout(actions)

        splitter = QSplitter(self)
        splitter.addWidget(self.connections)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        box = QVBoxLayout(self)
        box.addWidget(splitter)
        self.resize(780, 470)
        splitter.setSizes([240, 540])

        self.connections.chosen.connect(self._show)
        self.connections.created.connect(self._on_created)
        self.connections.renamed.connect(lambda connection: self.form.name.setText(connection.name))
        self.connections.failed.connect(lambda text: self._say(text, "error"))
        self.test_button.clicked.connect(self.test)
        self.save_button.clicked.connect(self.save)
        self.connect_button.clicked.connect(self.connect_)
        self.close_button.clicked.connect(self.reject)
        self.form.changed.connect(self._on_form_changed)
        self.connections.fill()
        check_keyring(self.vault, self._on_keyring_known)
        if self.connections.list.count():
            self.connections.list.setCurrentRow(0)
        else:
            self._show(Connection(name=""))

    # -- save, test, connect -----------------------------------------------------------------
    @Slot()
    def save(self) -> bool:
        current = self.connections.selected()
        if current is not None:
            if self._keep_edits(current.id):
                self._say(f"Saved '{self.form.name.text().strip()}'.")
                return True
            return False
        connection = self.form.connection()
        connection.name = connection.name or self.store.unique_name("New connection")
        try:
            saved = self.store.save(connection)
        except ConnectionSpecError as exc:
            self._say(str(exc), "error")
            return False
        self._keep_password(saved)
        self.connections.fill(select=saved.id)
        self._dirty = False
        self._say(f"Saved '{saved.name}'.")
        return True

    @Slot()
    def test(self) -> None:
        connection = self.form.connection()
        self._generation += 1
        generation = self._generation
        if connection.kind == "sqlite":
            self._set_busy(True, "Checking the file…")
            run_in_worker(check_sqlite_file, connection.path,
                          on_result=lambda text: self._on_tested(generation, text),
                          on_error=lambda exc: self._on_test_failed(generation, exc))
            return
        url = self.form.url_text()
        if not url:
            self._say("Fill in the connection first (a host or a URL).", "error")
            return
        from storage.formats.sql.url import test_connection

        self._set_busy(True, f"Connecting to {url}…")
        run_in_worker(test_connection, url, self.form.password_text(),
                      on_result=lambda text: self._on_tested(generation, text),
                      on_error=lambda exc: self._on_test_failed(generation, exc))

    def _on_tested(self, generation: int, text: str) -> None:
        if generation == self._generation:
            self._set_busy(False)
            self._say(f"Connected: {text}", "ok")

    def _on_test_failed(self, generation: int, exc: BaseException) -> None:
        if generation == self._generation:
            self._set_busy(False)
            self._say(describe_error(exc), "error")

    @Slot()
    def connect_(self) -> None:
        current = self.connections.selected()
        if current is not None and not self._keep_edits_if_dirty(current.id):
            return
        connection = self.form.connection()
        if connection.kind == "sqlite":
            if not connection.path:
                self._say("Choose a SQLite file first.", "error")
                return
            self.connector.open(connection)
            self.accept()
            return
        if not self.form.url_text():
            self._say("Fill in the connection first (a host or a URL).", "error")
            return
        self._generation += 1
        generation = self._generation
        self._set_busy(True, f"Connecting to {connection.describe()}…")
        started = self.connector.open(
            connection, self.form.password_text() or None, ask=False,
            on_error=lambda exc: self._on_test_failed(generation, exc),
            on_opened=lambda _doc: self._on_opened(generation))
        if not started and self._busy:
            self._set_busy(False)

    def _on_opened(self, generation: int) -> None:
        if generation == self._generation:
            self._set_busy(False)
            self.accept()

    def _on_keyring_known(self, usable: bool) -> None:
        try:
            self.form.set_keyring(usable)
        except RuntimeError:  # the dialog was deleted meanwhile
            pass

    # -- the connection shown in the form ------------------------------------------------------
    @Slot(object)
    def _show(self, connection: Connection) -> None:
        """Show ``connection`` at once; its saved password fills in when the keyring answers."""
        self.form.set_connection(connection, None)
        self._dirty = False
        self._say("")
        self._shown_id = connection.id
        if self.store.get(connection.id) is not None:
            fetch_password(self.vault, connection.password_key(),
                           lambda password, cid=connection.id: self._on_password_found(cid, password))

    @Slot(object)
    def _on_created(self, connection: Connection) -> None:
        self._show(connection)
        self.form.name.setFocus()
        self.form.name.selectAll()

    def _on_password_found(self, connection_id: str, password: str | None) -> None:
        try:
            if password and connection_id == self._shown_id and not self.form.password.text():
                self.form.password.setText(password)  # not an edit: the connection stays clean
        except RuntimeError:  # the dialog was deleted meanwhile
            pass

    @Slot()
    def _on_form_changed(self) -> None:
        self._dirty = True

    def _keep_edits_if_dirty(self, connection_id: str) -> bool:
        """Before the list moves away from ``connection_id``: keep the form's edits to it."""
        return not self._dirty or self._keep_edits(connection_id)

    def _keep_edits(self, connection_id: str) -> bool:
        """Save the form into the saved connection ``connection_id``; False (said) on error."""
        if self.store.get(connection_id) is None:
            return True
        edited = self.form.connection()
        edited.id = connection_id
        try:
            saved = self.store.save(edited)
        except ConnectionSpecError as exc:
            self._say(str(exc), "error")
            return False
        self._keep_password(saved)
        self._dirty = False
        self.connections.show_saved(saved)
        return True

    def _keep_password(self, connection: Connection) -> None:
        key = connection.password_key()
        password = self.form.password_text()
        if not connection.save_password:
            drop_password(self.vault, key, keyring_too=True)
        if password:
            keep_password(self.vault, key, password, persist=connection.save_password)

    # -- status ------------------------------------------------------------------------------
    def is_busy(self) -> bool:
        """A Test or Connect is waiting for its answer."""
        return self._busy

    def _set_busy(self, busy: bool, text: str = "") -> None:
        self._busy = busy
        self.busy.setVisible(busy)
        self.connections.set_busy(busy)
        for button in (self.test_button, self.connect_button):
            button.setEnabled(not busy)
        if text:
            self._say(text)

    def _say(self, text: str, level: str = "info") -> None:
        colour = {"error": "#9b1c1c", "ok": "#1e6b2e"}.get(level, "")
        self.status.setStyleSheet(f"color: {colour};" if colour else "")
        self.status.setText(text)
