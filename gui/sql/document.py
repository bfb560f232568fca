"""The SQL tab's document: a schema tree, a lazy grid with SQL sorting and filtering, a record view.

It works on a :class:`storage.formats.sql.db.Database`: an SQLite file, or a database server opened
from a URL (PostgreSQL, or another SQLAlchemy dialect); see :mod:`gui.sql.server`.

:class:`SqlDocument` is composed of panels, each owning its widgets and state (DB Browser for
SQLite's layout, the Orange canvas's way of talking): the open database is a
:class:`gui.sql.session.SqlSession`; the schema tree (:mod:`gui.sql.schema_tree`), the grid
(:mod:`gui.sql.browse`) and its edits (:mod:`gui.sql.editing`), the record form
(:mod:`gui.sql.record`), Execute SQL (:mod:`gui.sql.execute`), imports and exports
(:mod:`gui.sql.transfer`), the Tools menu (:mod:`gui.sql.tools`), schema editing
(:mod:`gui.sql.schema_edit`), foreign keys (:mod:`gui.sql.fk`), live refresh
(:mod:`gui.sql.refresh`), the server connection and the edits not written
(:mod:`gui.sql.server`, :class:`gui.sql.commands.PendingEdits`). Each panel talks to the
document through a small protocol of its own (``BrowseHost``, ``ToolsHost``…). The undo
commands call the document (``edit_written``, ``edit_failed``, ``rows_changed``…), whose signals
(``cellWritten``, ``writeFailed``, ``writeRefused``, ``rowsChanged``) the views follow.

Editing is off in read-only mode; otherwise each edit is an undo command that writes one short
transaction at once (on a worker), so there is never anything unsaved and no lock is held
between edits.
"""


from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gui.common.document import Document
from gui.common.elided_label import ElidedLabel
from gui.common.formatting import human_size
from gui.common.workers import Worker as Task
from gui.sql.browse import BrowsePanel
from gui.sql.editing import CellDelegate, GridEdits
from gui.sql.fk import ForeignKeys
from gui.sql.grid_model import SqlTableModel
from gui.sql.open_choice import MODES, OpenChoiceBar
from gui.sql.opening import StatusPage
from gui.sql.schema_edit import SchemaEditPanel
from gui.sql.schema_tree import SchemaTree
from gui.sql.server import ServerBar, ServerConnection, TimeoutBox
from gui.sql.session import SqlSession
from gui.sql.tasks import PRELOAD_AFTER_MS, esc, is_empty_database, preload_once, writable
from gui.sql.tools import ToolsPanel
from storage.core.errors import KnownError
from storage.core.sqlite_recover import UnfinishedTransaction
from storage.core.url_redact import redact
from storage.formats.sql.db import Database, ServerDatabase
from storage.formats.sql.errors import WrongPassword
from storage.formats.sql.schema_types import Schema, Table
from storage.formats.sql.sqlite_db import LockedError, Reader
from storage.formats.sql.sqlite_query import quote_if_needed
from storage.settings.store import Settings

if TYPE_CHECKING:
    from gui.sql.commands import PendingEdits
    from gui.sql.execute import ExecutePanel
    from gui.sql.record import RecordPanel
    from gui.sql.refresh import LiveRefresh
    from gui.sql.transfer import TransferPanel


@runtime_checkable
class SettingsOwner(Protocol):
    """A window with the app's settings (the main window; a document shown alone has none)."""

    settings: Settings


class SqlDocument(Document):
    """A database: schema on the left; Browse and Record tabs on the right."""

    # What the edit commands report (they call edit_written, edit_failed…); the views follow.
    cellWritten = Signal(int, int, object)  # (row, column, value): a cell was written
    cellChanged = Signal(int, int, object)  # (row, column, value): the database holds another's value
    writeFailed = Signal(int, int, object, str)  # (row, column, value, why): not written, kept to retry
    writeRefused = Signal(int, int, str)  # (row, column, why): the database refused the value
    rowsChanged = Signal()  # rows were inserted, deleted or restored

    def __init__(self, path: str | None, fmt: str, parent: QWidget | None = None, *,
                 url: str | None = None, password: str | None = None, name: str | None = None,
                 database: ServerDatabase | None = None) -> None:
        super().__init__(path, fmt, parent)
        self.connection = ServerConnection(url, password, name, database, self)  # inert for a file
        # Built when first used (issue 16: an SQLite file's first page waits for none of them):
        # the writes that failed but may succeed later, live refresh, the transfer line.
        self._pending: PendingEdits | None = None
        self._live_refresh: LiveRefresh | None = None
        self._transfer_panel: TransferPanel | None = None
        self.report: dict[str, Any] | None = None
        self._message_table: str | None = None  # the table the message line speaks of
        self._writes = 0  # writes on their worker (see writing())
        read_only, ask = self._initial_mode()
        self.session = SqlSession(path, self.connection, read_only, self)  # the open database
        self.session.opened.connect(self._on_opened)
        self.session.openFailed.connect(self._on_open_failed)
        # Opened at once: the file is opened and its schema read on a worker while the widgets
        # are built (the answer comes through the event loop, once they are). The status page
        # shows "Opening…" meanwhile, as open_database would show it.
        self.session.open()
        # Every edit is in the file once its command ran: there is never anything to save.
        self.undo_stack.indexChanged.connect(self._on_undo_index_changed)

        self.stack = QStackedWidget(self)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        # The line keeps its place while empty: the grid and the form never jump as notices come
        # and go (a one-line strip, as the status bar keeps its place).
        self.message.setMinimumHeight(self.message.fontMetrics().lineSpacing() + 4)
        policy = self.message.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.message.setSizePolicy(policy)
        self.message.hide()
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        self.open_choice = OpenChoiceBar(self)
        self.open_choice.chosen.connect(self._on_open_choice)
        self.open_choice.setVisible(ask)
        box.addWidget(self.open_choice)
        self._box = box
        self._server_bar: ServerBar | None = None  # a file's shows once edits were kept, or lost
        if self.is_server:
            _ = self.server_bar
        self.connection.lostChanged.connect(self._on_lost_changed)
        box.addWidget(self.message)
        box.addWidget(self.stack, 1)
        verb = "Connecting to" if self.is_server else "Opening"
        self.status_page = StatusPage(f"{verb} {esc(self.title())}…", self)
        self.status_page.onDiskChosen.connect(self._on_show_on_disk)
        self.status_page.rollBackChosen.connect(self._on_roll_back)
        self.status_page.passwordGiven.connect(self._on_password_given)
        self.status_page.retryRequested.connect(self.open_database)
        self.stack.addWidget(self.status_page)
        self.stack.addWidget(self._build_content())
        if self.is_server:  # a server's document imports all of it anyway (SQLAlchemy): at once
            _ = self.pending

    @Slot(int)
    def _on_undo_index_changed(self, _index: int) -> None:
        self.undo_stack.setClean()

    # -- building ------------------------------------------------------------------------------
    def _build_content(self) -> QWidget:
        page = QWidget(self)
        self.tree = SchemaTree(self, page)
        self.tree.tableChosen.connect(self._on_table_chosen)
        self.read_only_box = QCheckBox("Read-only", page)
        self.read_only_box.setToolTip("Read-only: the file is opened mode=ro and never written. "
                                      "Off: each edit is written at once in its own transaction.")
        self.read_only_box.toggled.connect(self._on_read_only_toggled)
        self.mode_label = ElidedLabel(page)  # one line, "…" when narrow; the whole text as tooltip
        self.browse = BrowsePanel(self, page)
        self.edits = GridEdits(self, self.browse)
        self.browse.set_delegate(CellDelegate(self))
        self.browse.queryStarted.connect(self._on_query_started)
        self.browse.tableShown.connect(self.viewStateChanged)
        self.browse.model.modelReset.connect(self._on_grid_reset)
        self.browse.grid.selectionModel().currentRowChanged.connect(self._on_current_row)
        self.cellWritten.connect(self.browse.cell_written)
        self.cellChanged.connect(self.browse.cell_written)
        self.writeFailed.connect(self.browse.write_failed)
        self.writeRefused.connect(self.browse.write_refused)
        self.rowsChanged.connect(self.browse.reload_rows)
        self.insert_button = QPushButton("Insert row", page)
        self.insert_button.clicked.connect(self.edits.insert_row)
        self.duplicate_button = QPushButton("Duplicate", page)
        self.duplicate_button.clicked.connect(self.edits.duplicate_row)
        self.delete_button = QPushButton("Delete", page)
        self.delete_button.clicked.connect(self.edits.delete_rows)
        self.null_button = QPushButton("Set NULL", page)
        self.null_button.clicked.connect(self.edits.set_null)
        grid_model = self.browse.model  # rows come and go: the buttons that act on a row follow
        for signal in (grid_model.modelReset, grid_model.rowsInserted, grid_model.rowsRemoved):
            signal.connect(self._update_row_buttons)
        self.import_button = QPushButton("Import CSV…", page)
        self.import_button.clicked.connect(lambda: self.transfer_panel.import_csv_file())
        self.browse.export_button.clicked.connect(lambda: self.transfer_panel.export_rows_to())

        mode_row = QHBoxLayout()  # the mode on a line of its own: long notes fit, buttons keep room
        mode_row.addWidget(self.read_only_box)
        mode_row.addWidget(self.mode_label, 1)
        top = QHBoxLayout()
        self._top = top  # the transfer line joins it when built
        top.addStretch(1)
        self.schema_edit = SchemaEditPanel(self, self.tree, page)
        top.addWidget(self.schema_edit)
        for widget in (self.insert_button, self.duplicate_button, self.delete_button, self.null_button,
                       self.import_button):
            top.addWidget(widget)
        self.fks = ForeignKeys(self, self.browse, page)
        top.insertWidget(0, self.fks.back_button)
        self.tools = ToolsPanel(self, page)
        top.addWidget(self.tools)

        self.views = QTabWidget(page)
        self.views.addTab(self.browse, "Browse")
        # The Record form is built when first shown or used, as Execute SQL is (below).
        self._record: RecordPanel | None = None
        self._record_stand_in = QWidget(page)
        self.views.addTab(self._record_stand_in, "Record")
        # Execute SQL (its editor, results grid and exports) is built when first shown or used: an
        # SQLite file's first page does not wait for it (issue 16). A server's is built at once
        # (its statement timeout box shows the server's setting once connected).
        self._sql_panel: ExecutePanel | None = None
        self._completion: tuple[Schema, Callable[[str], str]] | None = None  # for the panel, once built
        self._execute_stand_in = QWidget(page)
        self.views.addTab(self._execute_stand_in, "Execute SQL")
        self.views.currentChanged.connect(self._on_view_changed)
        if self.is_server:
            self._build_execute()

        right = QWidget(page)
        right_box = QVBoxLayout(right)
        right_box.setContentsMargins(0, 0, 0, 0)
        right_box.addLayout(mode_row)
        right_box.addLayout(top)
        right_box.addWidget(self.views, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, page)
        self.splitter.addWidget(self.tree)
        self.splitter.addWidget(right)
        self.splitter.setSizes([300, 700])
        self.splitter.splitterMoved.connect(self.viewStateChanged)
        outer = QVBoxLayout(page)
        outer.setContentsMargins(6, 6, 6, 6)
        outer.addWidget(self.splitter)

        return page

    # -- the grid, and what the edit commands report ----------------------------------------
    @property
    def table(self) -> Table | None:
        """The table (or view) the grid shows."""
        return self.browse.table

    @property
    def model(self) -> SqlTableModel:
        """The grid's model (the edit commands update its cached cells)."""
        return self.browse.model

    @property
    def grid(self) -> QTableView:
        return self.browse.grid

    # -- parts built when first used (issue 16: the first page waits for none of them) -----------
    @property
    def pending(self) -> PendingEdits:
        """The writes that failed but may succeed later (:class:`gui.sql.commands.PendingEdits`)."""
        if self._pending is None:
            from gui.sql.commands import PendingEdits

            self._pending = PendingEdits(self, self)
            self._pending.changed.connect(self._on_pending_changed)
            self.server_bar.follow(self._pending)
        return self._pending

    @Slot()
    def _on_lost_changed(self) -> None:
        if self._server_bar is None and self.connection.lost is not None:  # the bar follows from now on
            self.server_bar.update_bar()

    @property
    def server_bar(self) -> ServerBar:
        """The bar above the content saying the connection was lost, or edits were not written
        (Reconnect, Retry, Discard): a server's at once, a file's when it first keeps an edit."""
        if self._server_bar is None:
            self._server_bar = ServerBar(self.connection, self)
            self._server_bar.reconnect_button.clicked.connect(self.reconnect)
            self._box.insertWidget(self._box.indexOf(self.open_choice) + 1, self._server_bar)
        return self._server_bar

    @property
    def live_refresh(self) -> LiveRefresh:
        """Other programs' writes to an SQLite file (:class:`gui.sql.refresh.LiveRefresh`)."""
        if self._live_refresh is None:
            from gui.sql.refresh import LiveRefresh

            self._live_refresh = LiveRefresh(self)
            self._live_refresh.changed.connect(self.reload_rows)
            self._live_refresh.vanished.connect(self._on_file_vanished)
        return self._live_refresh

    @property
    def transfer_panel(self) -> TransferPanel:
        """The progress line of imports and exports, left of the Schema button (hidden when idle)."""
        if self._transfer_panel is None:
            from gui.sql.transfer import TransferPanel

            self._transfer_panel = TransferPanel(self, self.schema_edit.parentWidget())
            self._top.insertWidget(self._top.indexOf(self.schema_edit), self._transfer_panel)
        return self._transfer_panel

    @property
    def record(self) -> RecordPanel:
        """The Record tab's form, built when first shown or used."""
        return self._record if self._record is not None else self._build_record()

    def _build_record(self) -> RecordPanel:
        from gui.sql.record import RecordPanel

        panel = RecordPanel(self, self.views)
        self.cellWritten.connect(panel.cell_written)
        self.writeFailed.connect(panel.write_failed)
        self.writeRefused.connect(panel.write_refused)
        self._record = panel
        self._replace_stand_in(self._record_stand_in, panel, "Record")
        return panel

    def _replace_stand_in(self, stand_in: QWidget, panel: QWidget, text: str) -> None:
        """Put ``panel`` in place of its stand-in tab; the tab shown stays shown."""
        index, current = self.views.indexOf(stand_in), self.views.currentIndex()
        self.views.blockSignals(True)  # the same tab stays current: nothing for the views to follow
        self.views.removeTab(index)
        self.views.insertTab(index, panel, text)
        self.views.setCurrentIndex(current)
        self.views.blockSignals(False)
        stand_in.deleteLater()

    def show_message(self, text: str, kind: str = "info") -> None:
        """The message line above the grid; it belongs to the table shown (cleared when another
        table is shown, see :meth:`clear_message_of_other_table`)."""
        colour = {"error": "#b42318", "info": "#475467"}.get(kind, "#475467")
        self.message.setText(f"<span style='color:{colour}'>{esc(text)}</span>")
        self.message.setVisible(bool(text))
        self._message_table = self.table.qualified if self.table is not None and text else None

    def explain_write_error(self, exc: KnownError) -> KnownError:
        """A grid write found the file locked while this tab's own Execute SQL transaction is
        open: that transaction holds the write lock, not another program; say so."""
        if isinstance(exc, LockedError) and not self.is_server and self._transaction_open():
            return LockedError("the transaction open in Execute SQL holds this file's write lock: "
                               "Commit or Rollback it in the Execute SQL tab's bar, then Retry",
                               exc.location)
        return exc

    def clear_message_of_other_table(self) -> None:
        """A message about another table than the one shown no longer applies: it goes."""
        if self.message.isVisible() and self._message_table is not None \
                and (self.table is None or self._message_table != self.table.qualified):
            self.show_message("")

    def ask_conflict(self, what: str, ours: Any, theirs: Any, undo: bool = False) -> str:
        """Overwrite / Keep theirs / Cancel: someone else changed the cell since we read it."""
        from gui.sql.edit_prompts import ask_conflict

        return ask_conflict(self, what, ours, theirs, undo)

    def ask_rows_conflict(self, action: str, rows: list[tuple[Any, Any]]) -> str:
        from gui.sql.edit_prompts import ask_rows_conflict

        return ask_rows_conflict(self, action, rows)

    def edit_written(self, row: int, column: int, value: Any) -> None:
        self.note_own_write()
        self.show_message("")
        self.cellWritten.emit(row, column, value)
        self.connection_back()  # a write went through

    def cell_changed(self, row: int, column: int, value: Any) -> None:
        """Someone else wrote ``value`` in the cell; ours was not written: the grid shows theirs."""
        self.cellChanged.emit(row, column, value)

    def edit_refused(self, row: int, column: int, message: str) -> None:
        """The database refused a write: say why; the cell shows the stored value again."""
        self.show_message(f"Not written: {message}", "error")
        self.writeRefused.emit(row, column, message)

    def edit_failed(self, row: int, column: int, value: Any, message: str) -> None:
        """A write failed: the cell keeps the typed value, marked; the reason is shown by the field."""
        self.show_message(f"Not written: {message}", "error")
        self.writeFailed.emit(row, column, value, message)

    def rows_changed(self) -> None:
        self.note_own_write()
        self.rowsChanged.emit()
        if self.table is not None:  # the tree's count of the table edited
            self.tree.recount([self.table.qualified])

    @Slot()
    def _on_query_started(self) -> None:
        self._update_mode()
        if self._pending is not None:
            self._pending.remark()
        self.clear_message_of_other_table()

    @Slot(str)
    def _on_table_chosen(self, qualified: str) -> None:
        """A table picked in the schema tree: the grid shows it, unsorted and unfiltered."""
        table = self.schema.find(qualified) if self.schema is not None else None
        if table is not None:
            self.browse.show_table(table)

    @Slot(str)
    def _on_file_vanished(self, text: str) -> None:
        self.show_message(text, "error")

    @Slot()
    def cancel_work(self) -> None:
        """Cancel: every read under way (the grid's, counts, transfers, Execute SQL)."""
        self.session.cancel()
        if self._transfer_panel is not None:
            self._transfer_panel.cancel()
        self.browse.model.stop()
        if self._sql_panel is not None:
            self._sql_panel.cancel()

    # -- find (Edit ▸ Find, F3, Shift+F3): the grid's whole table, in SQL --------------------------
    def start_find(self) -> bool:
        self.views.setCurrentWidget(self.browse)
        self.browse.finder.bar.open()
        return True

    def find_next(self, backward: bool = False) -> bool:
        self.views.setCurrentWidget(self.browse)
        self.browse.finder.find(backward)
        return True

    def show_record_tab(self) -> None:
        self.views.setCurrentWidget(self.record)

    # -- the grid's current row, for the record form -------------------------------------------
    @Slot(QModelIndex)
    def _on_current_row(self, index: QModelIndex, _previous: QModelIndex | None = None) -> None:
        if self._record is not None and self.views.currentWidget() is self._record:
            self._record.show_row(index)

    @Slot()
    def _on_grid_reset(self) -> None:
        """Another table, sort or filter: the row the form shows is no longer the grid's row."""
        if self._record is not None:
            self._record.grid_reset()

    def current_index(self) -> QModelIndex:
        return self.grid.currentIndex()

    def set_current_index(self, index: QModelIndex) -> None:
        self.grid.setCurrentIndex(index)

    # -- the backend, and the grid as foreign-key jumps and tool results see it -----------------
    def db_kind(self) -> str:
        return self.database.kind if self.database is not None else "sqlite"

    def db_dialect(self) -> Any:
        return self.database.dialect if self.database is not None else None

    def show_rows(self, table_name: str, pairs: list[tuple[str, Any]], select: str) -> bool:
        """Show the rows of ``table_name`` matching ``pairs`` (Back returns; see :class:`ForeignKeys`)."""
        return self.fks.show_rows(table_name, pairs, select)

    def has_table(self, qualified: str) -> bool:
        return self.tree.table_item(qualified) is not None

    def show_table(self, qualified: str) -> None:
        if self.table is None or self.table.qualified != qualified:
            self.tree.setCurrentItem(self.tree.table_item(qualified))

    def show_browse_tab(self) -> None:
        self.views.setCurrentIndex(0)

    @Slot(int)
    def _on_view_changed(self, index: int) -> None:
        if self.views.widget(index) is self._execute_stand_in:
            self._build_execute()
        elif self.views.widget(index) is self._record_stand_in:
            self._build_record()
        self._on_current_row(self.grid.currentIndex())

    @property
    def sql_panel(self) -> ExecutePanel:
        """The Execute SQL tab's panel, built on first use."""
        return self._sql_panel if self._sql_panel is not None else self._build_execute()

    def _transaction_open(self) -> bool:
        """A transaction is open in Execute SQL (never before it is built)."""
        return self._sql_panel is not None and self._sql_panel.transaction_open

    @property
    def editor(self) -> Any:
        """Execute SQL's editor (:class:`gui.sql.editor.SqlEditor`)."""
        return self.sql_panel.editor

    @property
    def sql_message(self) -> QLabel:
        return self.sql_panel.message

    def _build_execute(self) -> ExecutePanel:
        """Build Execute SQL in place of its stand-in tab; the tab shown stays shown."""
        from gui.sql.execute import ExecutePanel

        panel = ExecutePanel(self, self.views, settings=lambda: self._settings())
        self.timeout = TimeoutBox(self, panel)
        self.timeout.setVisible(self.is_server)
        panel.buttons.addWidget(self.timeout)
        self.tools.add_explain_button(panel.buttons, panel)
        panel.transactionChanged.connect(self._on_transaction_changed)
        self._sql_panel = panel
        self._replace_stand_in(self._execute_stand_in, panel, "Execute SQL")
        if self._completion is not None:
            panel.set_schema(*self._completion)
        if self.is_loaded:
            panel.fill_history()
        return panel

    def current_statement(self) -> str:
        """The Execute SQL statement Explain shows the plan of: the selection, or the one under the cursor."""
        return self.sql_panel.statement_under_cursor()

    def _settings(self) -> Settings | None:
        """The app's settings, when this document is in a window that has them."""
        window = self.window()
        return window.settings if isinstance(window, SettingsOwner) else None

    def _fill_history(self) -> None:
        if self._sql_panel is not None:  # else it is filled when built
            self._sql_panel.fill_history()

    def execute(self, which: str = "current") -> None:
        """Run SQL in the Execute SQL panel: the selection, the statement under the cursor, or "all"."""
        self.sql_panel.execute(which)

    def run_transfer(self, label: str, work, finished, busy: bool = False) -> Task:
        """A transfer with the progress bar and Cancel above the tabs (see :class:`TransferPanel`)."""
        return self.transfer_panel.run(label, work, finished, busy)

    def rows_shown(self) -> tuple[Any, Reader] | None:
        """The grid's rows (its pager) and the connection to read them all on, once open."""
        if self.model.pager is None or self.counter is None:
            return None
        return self.model.pager, self.counter

    def schema_changed(self) -> None:
        """Execute SQL created, dropped or altered something: read the schema again."""
        self.note_own_write()
        self.reopen(self.table.qualified if self.table is not None else None)

    def reopen(self, table: str | None) -> None:
        """Open the database again (its schema changed, or the mode), showing ``table`` after."""
        self._pending_view_state = {"table": table} if table else {}
        self.browse.forget_table()
        self.open_database()

    @Slot(str)
    def _on_transaction_changed(self, state: str) -> None:
        index = self.views.indexOf(self.sql_panel)
        self.views.setTabText(index, "Execute SQL" if state == "idle" else "Execute SQL ● transaction")
        self.views.setTabToolTip(index, "" if state == "idle" else
                                 "A transaction is open: Commit or Rollback in the Execute SQL tab")

    def ask_to_close(self, parent: QWidget) -> bool:
        """Closing with a transaction open in Execute SQL: Commit / Roll back / Cancel."""
        return self._sql_panel is None or self._sql_panel.ask_to_close(parent, self.title())

    # -- title and workers --------------------------------------------------------------------
    def title(self) -> str:
        return self.connection.title() if self.is_server else super().title()

    def start_task(self, fn: Callable[..., Any], *args: Any, on_result: Callable[[Any], None] | None = None,
                   on_error: Callable[[BaseException], None] | None = None) -> Task:
        """Work on a worker of the session (cancelled when it closes); errors are shown by default."""
        return self.session.start_task(fn, *args, on_result=on_result,
                                       on_error=on_error or self._show_error)

    def _show_error(self, error: BaseException) -> None:
        self.show_message(str(error), "error")

    # -- the open database (see SqlSession) -------------------------------------------------------
    @property
    def database(self) -> Database | None:
        return self.session.database

    @property
    def schema(self) -> Schema | None:
        return self.session.schema

    @property
    def reader(self) -> Reader | None:
        return self.session.reader

    @property
    def counter(self) -> Reader | None:
        return self.session.counter

    @property
    def read_only(self) -> bool:
        return self.session.read_only

    @property
    def immutable(self) -> bool:
        return self.session.immutable

    @property
    def on_disk(self) -> bool:
        return self.session.on_disk

    # -- opening -------------------------------------------------------------------------------
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
        settings = self._settings()
        if is_empty_database(path):
            if settings is not None:  # made here (File ▸ New) or empty: it reopens editable too
                settings.set_file_mode(path, "edit")
            return False, False
        if settings is not None and settings.file_mode(path) is not None:
            return settings.file_mode(path) == "read_only", False  # chosen for this file before
        mode = settings.get("sqlite.open_mode", "ask") if settings is not None else "ask"
        if mode == "edit":
            return False, False
        return True, mode not in MODES[1:]

    def _remember_mode(self, mode: str) -> None:
        """The user chose how this file opens: it reopens so next time (sqlite.file_modes)."""
        settings = self._settings()
        if settings is not None and self.path and not self.is_server:
            settings.set_file_mode(self.path, mode)

    @Slot(str, bool)
    def _on_open_choice(self, mode: str, remember: bool) -> None:
        settings = self._settings()
        if remember and settings is not None:
            settings["sqlite.open_mode"] = mode
        self._remember_mode(mode)
        if mode == "edit" and self.read_only_box.isEnabled():
            self.read_only_box.setChecked(False)  # reopens for editing

    def open_database(self) -> None:
        """(Re)open the database; the status page shows until it is open."""
        self.close_readers()
        self.stack.setCurrentIndex(0)
        self.status_page.reset()
        if self.is_server:
            self.status_page.show_text(f"Connecting to {esc(self.title())}…")
        self.session.open()

    @Slot(object)
    def _on_open_failed(self, exc: BaseException) -> None:
        message = self.describe_failure(exc)
        self.report = {"path": self.path or self.title(), "format": self.format, "ok": False,
                       "error": {"message": message}}
        self.status_page.show_text(f"<b>Cannot open {esc(self.title())}</b><br>{esc(message)}")
        if isinstance(exc, UnfinishedTransaction):
            self.status_page.show_text(f"<b>{esc(self.title())} has an unfinished transaction</b>")
            self.status_page.unfinished.show_for(exc.hot)
        elif isinstance(exc, WrongPassword):
            self.status_page.ask_password()
        elif self.is_server:
            self.show_connect_failed(message)
        self.mark_loaded()

    @Slot()
    def _on_show_on_disk(self) -> None:
        """Read the file as it is, ignoring its hot journal: immutable and read-only."""
        self.session.on_disk = self.session.read_only = True
        self.open_database()

    @Slot()
    def _on_roll_back(self) -> None:
        """After confirming, let SQLite's recovery undo the interrupted change, then open normally."""
        box = QMessageBox(QMessageBox.Icon.Warning, "Roll back the unfinished transaction",
                          "Roll back the change the stopped program left unfinished?",
                          QMessageBox.StandardButton.NoButton, self)
        box.setObjectName("rollBackBox")
        unfinished = self.status_page.unfinished
        box.setInformativeText(unfinished.label.text() + "\n\n" + (
            unfinished.hot.rollback_effects() if unfinished.hot else ""))
        roll_back = box.addButton("Roll Back", QMessageBox.ButtonRole.DestructiveRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        box.exec()
        if box.clickedButton() is not roll_back:
            return
        unfinished.hide()
        self.status_page.show_text(f"Rolling back {esc(self.title())}…")
        self.session.roll_back(on_result=lambda _r: self.open_database(), on_error=self._on_roll_back_failed)

    def _on_roll_back_failed(self, exc: BaseException) -> None:
        """Say why; the file is as it was, so both choices stay offered."""
        message = self.describe_failure(exc)
        self.status_page.show_text(f"<b>Could not roll back {esc(self.title())}</b><br>{esc(message)}")
        self.status_page.unfinished.show()

    @Slot()
    def _on_opened(self) -> None:
        schema, database = self.schema, self.database
        assert schema is not None and database is not None
        if self.is_server:
            self.timeout.show_value(database.statement_timeout)
        self.report = {"path": self.path or self.title(), "format": self.format, "ok": True,
                       "summary": {"tables": len(schema.tables), "views": len(schema.views),
                                   "page_size": schema.page_size, "journal_mode": schema.journal_mode}}
        self.read_only_box.blockSignals(True)
        self.read_only_box.setChecked(self.read_only)
        self.read_only_box.setEnabled(self.is_server or (writable(self.path or "") and not self.on_disk))
        self.read_only_box.blockSignals(False)
        self.tree.fill(schema, count=False)  # counted once the grid shows its first rows (below)
        self._fill_history()
        # completion in Execute SQL (an SQLite file's names are quoted without SQLAlchemy)
        self._completion = (schema, database.dialect.identifier_preparer.quote if self.is_server
                            else quote_if_needed)
        if self._sql_panel is not None:  # else given to it when built
            self._sql_panel.set_schema(*self._completion)
        self.stack.setCurrentIndex(1)
        self._update_mode()
        self.statusChanged.emit()
        if not self.is_server and not self.immutable:  # an immutable reader never sees changes
            # Its baseline is taken before the grid reads its first page: a change made after
            # that read is then always seen.
            self.live_refresh.start(self.path or "")
        first = self.tree.table_item(self._pending_view_state.get("table"))
        if first is None and schema.tables:
            ordered = sorted(schema.tables, key=lambda t: t.schema not in (None, "public"))  # public first
            first = self.tree.table_item(next((t.qualified for t in ordered
                                           if not t.name.startswith("sqlite_")), ordered[0].qualified))
        if first is not None:
            self.tree.setCurrentItem(first)
        self.browse.after_first_page(self.tree.count_rows)  # a reopen drops it (browse.stop)
        if not self.is_server:  # SQLAlchemy, for the first edit: in idle time after the first page
            self.browse.after_first_page(lambda: QTimer.singleShot(
                PRELOAD_AFTER_MS, self, lambda: preload_once(self.start_task)))
        if self.is_server:
            self.connection_back()
            self.pending.check_outcomes()  # writes a lost connection left unknown: read what they did
        self.mark_loaded()

    # -- the password ----------------------------------------------------------------------------
    @Slot(str)
    def _on_password_given(self, password: str) -> None:
        """Check the typed password in a worker; the database it opened is the session's then."""
        self.status_page.show_text(f"Connecting to {esc(self.title())}…")
        self.session.try_password(password)

    def show_connect_failed(self, message: str) -> None:
        """The server could not be reached (at launch, say): say so and offer Reconnect; the
        document stays open, and in the session, until the user closes it."""
        self.status_page.show_text(f"<b>Could not connect to {esc(self.title())}</b><br>{esc(message)}")
        self.status_page.offer_retry("Reconnect")

    # -- read-only mode and live refresh -------------------------------------------------------
    @Slot(bool)
    def _on_read_only_toggled(self, checked: bool) -> None:
        self.open_choice.hide()  # answered through the box
        if not self.is_server and self._transaction_open():  # a reopen would roll it back
            self.read_only_box.blockSignals(True)
            self.read_only_box.setChecked(not checked)
            self.read_only_box.blockSignals(False)
            self.show_message("A transaction is open in Execute SQL: commit or roll it back first.", "error")
            return
        self.session.read_only = checked
        self._remember_mode("read_only" if checked else "edit")
        if self.is_server:  # the same connections, now in a read-only session (or not)
            if self.database is not None:
                self.database.read_only = checked
            self._update_mode()
            self.browse.apply_query()
            return
        self.reopen(self.table.name if self.table else None)

    def _wal_note(self) -> str:
        """What an immutable read of a WAL database leaves out: the changes still in its -wal
        (reading them would make SQLite create a -shm file beside the database)."""
        try:
            pending = os.path.getsize((self.path or "") + "-wal")
        except OSError:
            pending = 0
        if pending <= 0:
            return " (WAL database read immutable: changes made while it is open are not shown)"
        return (f" (WAL database read immutable: the {human_size(pending)} of committed changes "
                "still in its -wal file are not shown; turn off Read-only to see them)")

    def _can_edit(self) -> bool:
        return bool(self.table and self.table.editable and not self.read_only)

    @Slot()
    def _update_row_buttons(self) -> None:
        """Duplicate, Delete and Set NULL act on a row: an empty table has none."""
        has_rows = self._can_edit() and self.browse.model.rowCount() > 0
        for button in (self.duplicate_button, self.delete_button, self.null_button):
            button.setEnabled(has_rows)

    def _update_mode(self) -> None:
        editable = self._can_edit()
        if self.read_only:
            text = "Read-only: nothing is written"
            if self.on_disk:
                text += (" (shown as it is on disk: the unfinished transaction in the -journal is "
                         "neither rolled back nor shown)")
            elif self.immutable:
                text += self._wal_note()
        elif self.table is not None and not self.table.editable:
            text = f"{self.table.qualified} cannot be edited: " + (
                self.table.key_note or ("a view" if self.table.kind != "table" else "it has no row key"))
        else:
            text = "Editing: each change is written at once in its own transaction"
        if self.is_server and self.connection.db is not None and self.connection.db.server_version:
            text = f"{self.connection.db.server_version} · {text}"
        self.mode_label.setText(text)
        self.insert_button.setEnabled(editable)
        self._update_row_buttons()
        self.import_button.setEnabled(not self.read_only)
        self.browse.set_editable(editable)

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Around a write of this document's (on a worker): live refresh holds off meanwhile."""
        self._writes += 1
        try:
            with self.live_refresh.hold() if self._live_refresh is not None else contextlib.nullcontext():
                yield
        finally:
            self._writes -= 1

    def is_writing(self) -> bool:
        """A write of this document's is on its worker (the GUI loop runs while it waits)."""
        return self._writes > 0

    def note_own_write(self) -> None:
        """This document just wrote: live refresh must not take the change for another program's."""
        if self._live_refresh is not None:
            self._live_refresh.note_own_write()

    @Slot()
    def reload_rows(self) -> None:
        """The database changed (Execute SQL, another program): recount and refetch the visible
        pages, the scroll position staying, and count the tree's tables again."""
        self.browse.reload_rows()
        self.tree.recount()

    # -- the server connection and the edits not written --------------------------------------
    @property
    def is_server(self) -> bool:
        return self.connection.is_server

    @property
    def server_url(self) -> str | None:
        return self.connection.url

    @property
    def connection_name(self) -> str | None:
        return self.connection.name

    @property
    def password_listener(self) -> Callable[[str], None] | None:
        return self.connection.password_listener

    @password_listener.setter
    def password_listener(self, listener: Callable[[str], None] | None) -> None:
        self.connection.password_listener = listener

    @property
    def location(self) -> str:
        """Where a server document lives, for the status bar: its URL without the password."""
        return self.connection.location

    @property
    def kind_label(self) -> str:
        """The status bar's format: the server's product (POSTGRESQL, MARIADB), or empty for a file."""
        return self.connection.kind_label

    def note_error(self, error: BaseException) -> bool:
        """Show the Reconnect bar when ``error`` means the connection is gone; True if it did."""
        return self.connection.note_error(error)

    def connection_back(self) -> None:
        """A read or a write went through: a "Connection lost" bar and message no longer apply,
        and writes the loss left unknown are checked now."""
        if self.connection.lost is None:
            return
        self.connection.set_lost(None)
        if "connection was lost" in self.message.text():
            self.show_message("")
        self.pending.check_outcomes()

    @Slot()
    def reconnect(self) -> None:
        """Open the connection again: every connection the document holds is renewed (readers,
        the writing connection, the engine's pool), the schema re-read; the table shown stays.
        Writes whose outcome the loss left unknown are checked once it is open."""
        self.connection.renew()
        self.reopen(self.table.qualified if self.table is not None else None)
        self.server_bar.update_bar()  # the connection is being opened; pending edits stay listed

    def is_modified(self) -> bool:
        """Edits not written (the server was down) are unsaved work; every other edit is in the
        database already."""
        return self.pending_count() > 0 or super().is_modified()

    @Slot(bool)
    def _on_clean_changed(self, clean: bool) -> None:
        self.modifiedChanged.emit(self.is_modified())  # the stack is clean after every edit

    @Slot()
    def _on_pending_changed(self) -> None:
        """The window's modified marker and the crash journal follow the pending edits (edits not
        written are unsaved work, journaled like a text's)."""
        self.modifiedChanged.emit(bool(self.pending.edits))

    def pending_count(self) -> int:
        """Edits not written yet (closing asks Retry / Discard / Cancel while there are some)."""
        return len(self._pending.edits) if self._pending is not None else 0

    def retry_pending_edits(self) -> None:
        self.pending.retry()

    def discard_pending_edits(self) -> None:
        self.pending.discard()

    def journal_path(self) -> str | None:
        return redact(self.server_url, None) if self.server_url else self.path

    def journal_extra(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"conditional": True}
        if self.server_url:
            # Without its password: the restore finds it in memory or asks inside the document.
            extra.update(server_url=redact(self.server_url, None), name=self.connection_name or "")
        return extra

    def journal_payload(self) -> bytes | None:
        return self._pending.journal_payload() if self._pending is not None else None

    def restore_from_journal(self, payload: bytes) -> None:
        self.pending.restore(self, payload)

    # -- session -----------------------------------------------------------------------------
    def view_state(self) -> dict[str, Any]:
        if not self.is_loaded or self.table is None:
            return super().view_state()
        return {"table": self.table.qualified, "splitter": self.splitter.sizes()}

    def apply_view_state(self, state: dict[str, Any]) -> None:
        super().apply_view_state(state)
        sizes = state.get("splitter")
        if isinstance(sizes, list) and all(isinstance(s, int) for s in sizes):
            self.splitter.setSizes(sizes)
        if self.is_loaded and self.schema is not None:
            item = self.tree.table_item(state.get("table"))
            if item is not None:
                self.tree.setCurrentItem(item)

    def close_readers(self) -> None:
        """Every reading connection closed, every read stopped (a reopen or VACUUM follows)."""
        if self._live_refresh is not None:
            self._live_refresh.stop()
        self.browse.stop()
        if self._sql_panel is not None:
            self._sql_panel.release_connection()
        if self._transfer_panel is not None:
            self._transfer_panel.cancel()
        self.session.close_readers()

    def close_document(self) -> None:
        self.close_readers()
        if self._sql_panel is not None:
            self._sql_panel.shutdown()
        self.session.close()
