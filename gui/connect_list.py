"""The left side of the connection dialog: the saved connections and what to do with them.

A mixin of :class:`gui.connect_dialog.ConnectDialog`: filling the list, keeping the form's
edits when another connection is chosen, New, Duplicate, Rename (in place, F2) and Delete.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QListWidgetItem, QMessageBox

from storage.connections import Connection, ConnectionSpecError

from .password_jobs import drop_password, fetch_password, keep_password

ID_ROLE = Qt.ItemDataRole.UserRole


class ConnectionListMixin:
    """Needs ``list``, ``store``, ``vault``, ``form``, ``_dirty``, ``_busy`` and ``_say``."""

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

    @Slot(QListWidgetItem, QListWidgetItem)
    def _on_current_changed(self, current, previous) -> None:
        if previous is not None and self._dirty and not self._keep_edits(previous.data(ID_ROLE)):
            return
        connection = self.store.get(current.data(ID_ROLE)) if current is not None else None
        self._show(connection or Connection(name=""))
        self._refresh_buttons()

    def _show(self, connection: Connection) -> None:
        """Show ``connection`` at once; its saved password fills in when the keyring answers."""
        self.form.set_connection(connection, None)
        self._dirty = False
        self._say("")
        self._shown_id = connection.id
        if self.store.get(connection.id) is not None:
            fetch_password(self.vault, connection.password_key(),
                           lambda password, cid=connection.id: self._on_password_found(cid, password))

    def _on_password_found(self, connection_id: str, password: str | None) -> None:
        try:
            if password and connection_id == self._shown_id and not self.form.password.text():
                self.form.password.setText(password)  # not an edit: the connection stays clean
        except RuntimeError:  # the dialog was deleted meanwhile
            pass

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
            drop_password(self.vault, key, keyring_too=True)
        if password:
            keep_password(self.vault, key, password, persist=connection.save_password)

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
        key = copy.password_key()
        fetch_password(self.vault, current.password_key(), lambda password:
                       keep_password(self.vault, key, password, persist=False) if password else None)
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
        drop_password(self.vault, current.password_key(), keyring_too=True)
        self._dirty = False
        row = self.list.currentRow()
        self._fill_list()
        if self.list.count():
            self.list.setCurrentRow(min(row, self.list.count() - 1))
        else:
            self._show(Connection(name=""))
