"""The left side of the connection dialog: the saved connections and what to do with them.

:class:`ConnectionListPanel` owns the list and its New, Duplicate, Rename (in place, F2) and
Delete buttons, and keeps the connection store and the passwords of the connections it copies
or deletes. It says which connection to show through :attr:`ConnectionListPanel.chosen`; before
it moves away from a connection it asks its ``before_leaving`` callback (the dialog keeps the
form's edits there, and a False answer keeps the list where the form is).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gui.connections.password_jobs import drop_password, fetch_password, keep_password
from storage.settings.connections import Connection, ConnectionSpecError

if TYPE_CHECKING:
    from storage.settings.connections import ConnectionStore
    from storage.settings.passwords import PasswordVault

ID_ROLE = Qt.ItemDataRole.UserRole


class ConnectionListPanel(QWidget):
    """The saved connections, with New, Duplicate, Rename and Delete."""

    chosen = Signal(object)  # the Connection to show in the form (a blank one when none is left)
    created = Signal(object)  # New made this Connection: the form shows it, ready to name
    renamed = Signal(object)  # the current connection was renamed in the list: its Connection
    failed = Signal(str)  # why an action was refused, for the dialog's status line

    def __init__(self, store: ConnectionStore, vault: PasswordVault, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.vault = vault
        # Called with a connection's id before the list moves away from it; False stays.
        self.before_leaving: Callable[[str], bool] = lambda _connection_id: True
        self._busy = False
        self.list = QListWidget(self)
        self.list.setObjectName("connectionList")
        self.list.setEditTriggers(QListWidget.EditTrigger.EditKeyPressed)
        self.new_button = QPushButton("New", self)
        self.duplicate_button = QPushButton("Duplicate", self)
        self.rename_button = QPushButton("Rename", self)
        self.delete_button = QPushButton("Delete", self)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(QLabel("<b>Saved connections</b>", self))
        box.addWidget(self.list, 1)
        buttons = QGridLayout()
        for index, button in enumerate((self.new_button, self.duplicate_button,
                                        self.rename_button, self.delete_button)):
            buttons.addWidget(button, index // 2, index % 2)
        box.addLayout(buttons)
        self.list.currentItemChanged.connect(self._on_current_changed)
        self.list.itemChanged.connect(self._on_item_renamed)
        self.new_button.clicked.connect(self.new_connection)
        self.duplicate_button.clicked.connect(self.duplicate_connection)
        self.rename_button.clicked.connect(self.rename_connection)
        self.delete_button.clicked.connect(self.delete_connection)

    # -- the list ----------------------------------------------------------------------------
    def fill(self, select: str | None = None) -> None:
        """List the saved connections again, ``select`` current (without a ``chosen``)."""
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

    def show_saved(self, connection: Connection) -> None:
        """A connection was saved from the form: its row shows its new name."""
        item = self._item(connection.id)
        if item is not None:
            self.list.blockSignals(True)
            item.setText(connection.name)
            item.setToolTip(connection.describe())
            self.list.blockSignals(False)

    def set_busy(self, busy: bool) -> None:
        """While the dialog tests or connects, the list's actions wait."""
        self._busy = busy
        self._refresh_buttons()

    def _item(self, connection_id: str) -> QListWidgetItem | None:
        return next((self.list.item(r) for r in range(self.list.count())
                     if self.list.item(r).data(ID_ROLE) == connection_id), None)

    def _refresh_buttons(self) -> None:
        has = self.list.currentItem() is not None
        for button in (self.duplicate_button, self.rename_button, self.delete_button):
            button.setEnabled(has and not self._busy)

    @Slot(QListWidgetItem, QListWidgetItem)
    def _on_current_changed(self, current, previous) -> None:
        if previous is not None and not self.before_leaving(previous.data(ID_ROLE)):
            return
        connection = self.store.get(current.data(ID_ROLE)) if current is not None else None
        self.chosen.emit(connection or Connection(name=""))
        self._refresh_buttons()

    # -- list actions -----------------------------------------------------------------------
    @Slot()
    def new_connection(self) -> None:
        current = self.list.currentItem()
        if current is not None and not self.before_leaving(current.data(ID_ROLE)):
            return
        connection = self.store.save(Connection(name=self.store.unique_name("New connection")))
        self.fill(select=connection.id)
        self.created.emit(connection)

    @Slot()
    def duplicate_connection(self) -> None:
        current = self.selected()
        if current is None or not self.before_leaving(current.id):
            return
        copy = self.store.duplicate(current.id)
        key = copy.password_key()
        fetch_password(self.vault, current.password_key(), lambda password:
                       keep_password(self.vault, key, password, persist=False) if password else None)
        self.fill(select=copy.id)
        self.chosen.emit(copy)

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
            self.failed.emit(str(exc))
            renamed = connection
        self.list.blockSignals(True)
        item.setText(renamed.name)
        self.list.blockSignals(False)
        if self.list.currentItem() is item:
            self.renamed.emit(renamed)

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
        drop_password(self.vault, current.password_key(), keyring_too=True)
        row = self.list.currentRow()
        self.fill()
        if self.list.count():  # nothing is current after fill(): no edits are kept on the way
            self.list.setCurrentRow(min(row, self.list.count() - 1))
        else:
            self.chosen.emit(Connection(name=""))
