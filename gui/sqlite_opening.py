"""Opening the SQLite tab's database: the initial read-only/edit choice, connecting (an SQLite
file, or a server in a worker) and filling the document once the schema has arrived.

A mixin of :class:`gui.sqlite_document.SqliteDocument`; it shares the document's state.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QMessageBox, QPushButton, QWidget

from storage.sql_db import ServerDatabase, SqliteDatabase
from storage.sql_errors import WrongPassword
from storage.sql_url import open_database_url
from storage.sqlite_recover import BUSY_TIMEOUT_MS, UnfinishedTransaction, roll_back_hot_journal

from .sql_server import open_server
from .sqlite_open_choice import MODES
from .sqlite_tasks import esc, is_empty_database, open_database, writable


class OpeningMixin:
    """Opens (and reopens) the database and fills the document when it is open."""

    def _initial_mode(self) -> tuple[bool, bool]:
        """(read-only, whether to offer Edit): from the file and the sqlite.open_mode preference.

        A file that cannot be written is read-only; a new (empty) database opens for editing;
        otherwise the preference decides, and "ask" opens read-only with the choice shown.
        """
        if self.is_server:
            return False, False  # a server decides what this user may change
        path = self.path or ""
        if not writable(path):
            return True, False
        if is_empty_database(path):
            return False, False
        settings = self._settings()
        mode = settings.get("sqlite.open_mode", "ask") if settings is not None else "ask"
        if mode == "edit":
            return False, False
        return True, mode not in MODES[1:]

    @Slot(str, bool)
    def _on_open_choice(self, mode: str, remember: bool) -> None:
        settings = self._settings()
        if remember and settings is not None:
            settings["sqlite.open_mode"] = mode
        if mode == "edit" and self.read_only_box.isEnabled():
            self.read_only_box.setChecked(False)  # reopens for editing

    @Slot(int)
    def _on_undo_index_changed(self, _index: int) -> None:
        self.undo_stack.setClean()

    def open_database(self) -> None:
        self.close_readers()
        self._open_generation += 1
        generation = self._open_generation
        self.stack.setCurrentIndex(0)
        self.retry_open.setVisible(False)
        self.unfinished.hide()
        if self.is_server:
            self.status.setText(f"Connecting to {esc(self.title())}…")
            self.start_task(open_server, self.connection.url, self.connection.password, self.connection.db,
                        on_result=lambda r: self._on_opened(generation, r),
                        on_error=lambda e: self._on_open_failed(generation, e))
            return
        self.start_task(open_database, self.path, self.read_only, self.on_disk,
                    on_result=lambda r: self._on_opened(generation, r),
                    on_error=lambda e: self._on_open_failed(generation, e))

    def _on_open_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._open_generation:
            return
        message = self.describe_failure(exc)
        self.report = {"path": self.path or self.title(), "format": self.format, "ok": False,
                       "error": {"message": message}}
        self.status.setText(f"<b>Cannot open {esc(self.title())}</b><br>{esc(message)}")
        if isinstance(exc, UnfinishedTransaction):
            self.status.setText(f"<b>{esc(self.title())} has an unfinished transaction</b>")
            self.unfinished.show_for(exc.hot)
        elif isinstance(exc, WrongPassword):
            self._ask_password(exc)
        elif self.is_server:
            self.show_connect_failed(message)
        self.mark_loaded()

    @Slot()
    def _on_show_on_disk(self) -> None:
        """Read the file as it is, ignoring its hot journal: immutable and read-only."""
        self.on_disk = True
        self.read_only = True
        self.open_database()

    @Slot()
    def _on_roll_back(self) -> None:
        """After confirming, let SQLite's recovery undo the interrupted change, then open normally."""
        path = self.path or ""
        box = QMessageBox(QMessageBox.Icon.Warning, "Roll back the unfinished transaction",
                          "Roll back the change the stopped program left unfinished?",
                          QMessageBox.StandardButton.NoButton, self)
        box.setObjectName("rollBackBox")
        box.setInformativeText(self.unfinished.label.text() + "\n\n" + (
            self.unfinished.hot.rollback_effects() if self.unfinished.hot else ""))
        roll_back = box.addButton("Roll Back", QMessageBox.ButtonRole.DestructiveRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        box.exec()
        if box.clickedButton() is not roll_back:
            return
        self.unfinished.hide()
        self.status.setText(f"Rolling back {esc(self.title())}…")
        self.start_task(roll_back_hot_journal, path, BUSY_TIMEOUT_MS / 1000,
                    on_result=lambda _r: self.open_database(), on_error=self._on_roll_back_failed)

    def _on_roll_back_failed(self, exc: BaseException) -> None:
        """Say why; the file is as it was, so both choices stay offered."""
        message = self.describe_failure(exc)
        self.status.setText(f"<b>Could not roll back {esc(self.title())}</b><br>{esc(message)}")
        self.unfinished.show()

    def _on_opened(self, generation: int, result: dict[str, Any]) -> None:
        if generation != self._open_generation:
            result["reader"].close()
            result["counter"].close()
            return
        self.reader, self.counter = result["reader"], result["counter"]
        self.schema = result["schema"]
        self.immutable = result["immutable"]
        if self.is_server:
            self.connection.db = self.database = result["database"]
            self.database.read_only = self.read_only
            self.timeout.show_value(self.database.statement_timeout)
        else:
            self.database = SqliteDatabase(self.path or "", self.immutable, self.read_only)
        schema = self.schema
        assert schema is not None
        self.report = {"path": self.path or self.title(), "format": self.format, "ok": True,
                       "summary": {"tables": len(schema.tables), "views": len(schema.views),
                                   "page_size": schema.page_size, "journal_mode": schema.journal_mode}}
        self.read_only_box.blockSignals(True)
        self.read_only_box.setChecked(self.read_only)
        self.read_only_box.setEnabled(self.is_server or (writable(self.path or "") and not self.on_disk))
        self.read_only_box.blockSignals(False)
        self.tree.fill(schema)
        self._fill_history()
        self.sql_panel.set_schema(schema, self.database.dialect)  # completion in Execute SQL
        self.stack.setCurrentIndex(1)
        self._update_mode()
        self.statusChanged.emit()
        if not self.is_server and not self.immutable:  # an immutable reader never sees changes
            self.live_refresh.start(self.path or "")
        first = self.tree.table_item(self._pending_view_state.get("table"))
        if first is None and schema.tables:
            ordered = sorted(schema.tables, key=lambda t: t.schema not in (None, "public"))  # public first
            first = self.tree.table_item(next((t.qualified for t in ordered
                                           if not t.name.startswith("sqlite_")), ordered[0].qualified))
        if first is not None:
            self.tree.setCurrentItem(first)
        if self.is_server:
            self.connection_back()
            self.pending.check_outcomes()  # writes a lost connection left unknown: read what they did
        self.mark_loaded()

    def _build_password_form(self, parent: QWidget) -> QWidget:
        """Shown on the status page when the server refused the password: type it again."""
        form = QWidget(parent)
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

    # -- password ------------------------------------------------------------------------------
    def _ask_password(self, error: WrongPassword) -> None:
        self.password_form.setVisible(True)
        self.password_edit.clear()
        self.password_edit.setFocus()

    @Slot()
    def _on_password_given(self) -> None:
        """Check the typed password in a worker; the database it opened is the document's then."""
        password = self.password_edit.text()
        self.password_form.setVisible(False)
        self.status.setText(f"Connecting to {esc(self.title())}…")
        generation = self._open_generation
        self.start_task(open_database_url, self.connection.url, password,
                    on_result=lambda db: self._on_password_taken(generation, password, db),
                    on_error=lambda e: self._on_open_failed(generation, e))

    def _on_password_taken(self, generation: int, password: str, database: ServerDatabase) -> None:
        if generation != self._open_generation:
            database.close()
            return
        self.connection.take_password(password, database)
        self.open_database()

    def show_connect_failed(self, message: str) -> None:
        """The server could not be reached (at launch, say): say so and offer Reconnect; the
        document stays open, and in the session, until the user closes it."""
        self.status.setText(f"<b>Could not connect to {esc(self.title())}</b><br>{esc(message)}")
        self.retry_open.setText("Reconnect")
        self.retry_open.setVisible(True)
