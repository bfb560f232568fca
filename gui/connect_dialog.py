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
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from storage.connections import Connection, ConnectionSpecError

from .connect_form import ConnectionForm
from .connect_open import describe_error
from .workers import run_in_worker

if TYPE_CHECKING:
    from .connect_open import Connector

ID_ROLE = Qt.ItemDataRole.UserRole
SQLITE_MAGIC = b"SQLite format 3\x00"


def check_sqlite_file(path: str) -> str:
    """Worker body of Test for a SQLite file: what it is, or a KnownError saying why not."""
    from storage.errors import UnreadableError

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
    """Manage saved connections and open one. ``connector`` opens; the store keeps them."""

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

        self.list = QListWidget(self)
        self.list.setObjectName("connectionList")
        self.list.setEditTriggers(QListWidget.EditTrigger.EditKeyPressed)
        self.new_button = QPushButton("New", self)
        self.duplicate_button = QPushButton("Duplicate", self)
        self.rename_button = QPushButton("Rename", self)
        self.delete_button = QPushButton("Delete", self)
        left = QWidget(self)
        left_box = QVBoxLayout(left)
        left_box.setContentsMargins(0, 0, 0, 0)
        left_box.addWidget(QLabel("<b>Saved connections</b>", left))
        left_box.addWidget(self.list, 1)
        buttons = QGridLayout()
        for index, button in enumerate((self.new_button, self.duplicate_button,
                                        self.rename_button, self.delete_button)):
            buttons.addWidget(button, index // 2, index % 2)
        left_box.addLayout(buttons)

        self.form = ConnectionForm(self.vault.has_keyring, self)
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
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        box = QVBoxLayout(self)
        box.addWidget(splitter)
        self.resize(780, 470)
        splitter.setSizes([240, 540])

        self.list.currentItemChanged.connect(self._on_current_changed)
        self.list.itemChanged.connect(self._on_item_renamed)
        self.new_button.clicked.connect(self.new_connection)
        self.duplicate_button.clicked.connect(self.duplicate_connection)
        self.rename_button.clicked.connect(self.rename_connection)
        self.delete_button.clicked.connect(self.delete_connection)
        self.test_button.clicked.connect(self.test)
        self.save_button.clicked.connect(self.save)
        self.connect_button.clicked.connect(self.connect_)
        self.close_button.clicked.connect(self.reject)
        self.form.changed.connect(self._on_form_changed)
        self._fill_list()
        if self.list.count():
            self.list.setCurrentRow(0)
        else:
            self._show(Connection(name=""))

    # -- the list ----------------------------------------------------------------------------
    def _fill_list(self, select: str | None = None) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for connection in self.store.all():
            item = QListWidgetItem(connection.name, self.list)
            item.setData(ID_ROLE, connection.id)
            item.setToolTip(connection.describe())
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            if connection.id == select:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        self._refresh_buttons()

    def selected(self) -> Connection | None:
        item = self.list.currentItem()
        return self.store.get(item.data(ID_ROLE)) if item is not None else None

    def _select(self, connection_id: str) -> None:
        for row in range(self.list.count()):
            if self.list.item(row).data(ID_ROLE) == connection_id:
                self.list.setCurrentRow(row)

    @Slot(QListWidgetItem, QListWidgetItem)
    def _on_current_changed(self, current, previous) -> None:
        if previous is not None and self._dirty and not self._keep_edits(previous.data(ID_ROLE)):
            return
        connection = self.store.get(current.data(ID_ROLE)) if current is not None else None
        self._show(connection or Connection(name=""))
        self._refresh_buttons()

    def _show(self, connection: Connection) -> None:
        saved = self.store.get(connection.id) is not None
        password = self.vault.get(connection.password_key()) if saved else None
        self.form.set_connection(connection, password)
        self._dirty = False
        self._say("")

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
        item = self._item(connection_id)
        if item is not None:
            self.list.blockSignals(True)
            item.setText(saved.name)
            item.setToolTip(saved.describe())
            self.list.blockSignals(False)
        return True

    def _keep_password(self, connection: Connection) -> None:
        key = connection.password_key()
        password = self.form.password_text()
        if not connection.save_password:
            self.vault.forget(key, keyring_too=True)
        if password:
            self.vault.remember(key, password, persist=connection.save_password)

    def _item(self, connection_id: str) -> QListWidgetItem | None:
        return next((self.list.item(r) for r in range(self.list.count())
                     if self.list.item(r).data(ID_ROLE) == connection_id), None)

    def _refresh_buttons(self) -> None:
        has = self.list.currentItem() is not None
        for button in (self.duplicate_button, self.rename_button, self.delete_button):
            button.setEnabled(has and not self._busy)
        for button in (self.test_button, self.connect_button):
            button.setEnabled(not self._busy)

    @Slot()
    def _on_form_changed(self) -> None:
        self._dirty = True

    # -- list actions -----------------------------------------------------------------------
    @Slot()
    def new_connection(self) -> None:
        current = self.list.currentItem()
        if current is not None and self._dirty and not self._keep_edits(current.data(ID_ROLE)):
            return
        connection = self.store.save(Connection(name=self.store.unique_name("New connection")))
        self._fill_list(select=connection.id)
        self._show(connection)
        self.form.name.setFocus()
        self.form.name.selectAll()

    @Slot()
    def duplicate_connection(self) -> None:
        current = self.selected()
        if current is None or (self._dirty and not self._keep_edits(current.id)):
            return
        copy = self.store.duplicate(current.id)
        password = self.vault.get(current.password_key())
        if password:
            self.vault.remember(copy.password_key(), password)
        self._fill_list(select=copy.id)
        self._show(copy)

    @Slot()
    def rename_connection(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.list.editItem(item)

    @Slot(QListWidgetItem)
    def _on_item_renamed(self, item: QListWidgetItem) -> None:
        connection = self.store.get(item.data(ID_ROLE))
        if connection is None or item.text() == connection.name:
            return
        try:
            renamed = self.store.rename(connection.id, item.text())
        except ConnectionSpecError as exc:
            self._say(str(exc), "error")
            renamed = connection
        self.list.blockSignals(True)
        item.setText(renamed.name)
        self.list.blockSignals(False)
        if self.list.currentItem() is item:
            self.form.name.setText(renamed.name)

    @Slot()
    def delete_connection(self) -> None:
        current = self.selected()
        if current is None:
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Delete connection",
                          f"Delete the saved connection '{current.name}'? Its saved password "
                          "is removed from the keyring too.",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setObjectName("deleteConnectionBox")
        if box.exec() != QMessageBox.StandardButton.Yes:
            return
        self.store.delete(current.id)
        self.vault.forget(current.password_key(), keyring_too=True)
        self._dirty = False
        row = self.list.currentRow()
        self._fill_list()
        if self.list.count():
            self.list.setCurrentRow(min(row, self.list.count() - 1))
        else:
            self._show(Connection(name=""))

    # -- save, test, connect -----------------------------------------------------------------
    @Slot()
    def save(self) -> bool:
        current = self.selected()
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
        self._fill_list(select=saved.id)
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
        from storage.sql_url import test_connection

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
        current = self.selected()
        if current is not None and self._dirty and not self._keep_edits(current.id):
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

    # -- status ------------------------------------------------------------------------------
    def _set_busy(self, busy: bool, text: str = "") -> None:
        self._busy = busy
        self.busy.setVisible(busy)
        self._refresh_buttons()
        if text:
            self._say(text)

    def _say(self, text: str, level: str = "info") -> None:
        colour = {"error": "#9b1c1c", "ok": "#1e6b2e"}.get(level, "")
        self.status.setStyleSheet(f"color: {colour};" if colour else "")
        self.status.setText(text)
