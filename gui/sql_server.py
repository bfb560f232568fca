"""The SQL tab on a database server: connecting, the password prompt, Reconnect, pending edits.

A mixin of :class:`gui.sqlite_document.SqliteDocument`. A document opened from a URL connects in
a worker; a refused password asks again in place; a connection lost mid-session shows a bar
offering Reconnect, and edits that failed to write stay visible (the cell keeps the typed value,
marked) with Retry and Discard. The worker bodies at the end touch no widget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QDoubleSpinBox, QFrame, QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

from storage.errors import KnownError, UnsupportedError
from storage.journal_payload import pack_sql_edits, sql_edits_of, unpack
from storage.sql_db import Database, ServerDatabase
from storage.sql_errors import ConnectionLost, StatementTimeout, WrongPassword
from storage.sql_estimate import SLOW_COUNT, RowEstimate, has_estimates, query_estimate, table_estimate
from storage.sql_query import quote_table
from storage.sql_schema_types import Table
from storage.sql_url import label_of, open_database_url, parse_url
from storage.sqlite_db import Interrupted
from storage.sqlite_edit import read_row
from storage.url_redact import redact

from .sqlite_tasks import count_tables, esc


class ServerMixin:
    """Connection state of a document opened from a URL (inert for an SQLite file)."""

    server_url: str | None = None

    def _init_server(self, url: str | None, password: str | None, name: str | None,
                     database: ServerDatabase | None) -> None:
        self.server_url = url or (str(database.url) if database is not None else None)
        self._password = password
        self.connection_name = name
        self.server_db: ServerDatabase | None = database
        self.pending_edits: list[Any] = []  # EditCell commands whose write failed
        # DeleteRows commands whose write may or may not have happened (the connection was lost
        # mid-write): read again by key once the connection is back (check_outcomes).
        self.unknown_outcomes: list[Any] = []
        self._lost: KnownError | None = None  # the connection loss the bar shows, until it is back
        # Told a password typed into the document once the server took it (the window's
        # connector remembers it for the run, and in the keyring when the connection says so).
        self.password_listener: Callable[[str], None] | None = None

    def is_modified(self) -> bool:
        """Edits not written (the server was down) are unsaved work; every other edit is in the
        database already."""
        return bool(self.pending_edits) or super().is_modified()

    @Slot(bool)
    def _on_clean_changed(self, clean: bool) -> None:
        self.modifiedChanged.emit(self.is_modified())  # the stack is clean after every edit

    @property
    def is_server(self) -> bool:
        return self.server_url is not None

    @property
    def location(self) -> str:
        """Where a server document lives, for the status bar: its URL without the password."""
        return redact(self.server_url) if self.server_url else ""

    @property
    def kind_label(self) -> str:
        """The status bar's format: the server's product (POSTGRESQL, MARIADB), or empty for a file."""
        if not self.is_server:
            return ""
        kind = self.server_db.product if self.server_db is not None else \
            self.server_url.split(":", 1)[0].split("+", 1)[0]  # type: ignore[union-attr]
        return kind.upper()

    def server_title(self) -> str:
        if self.connection_name:
            return self.connection_name
        if self.server_db is not None:
            return self.server_db.label
        try:
            return label_of(parse_url(self.server_url or ""))
        except KnownError:
            return redact(self.server_url or "")

    # -- widgets -------------------------------------------------------------------------------
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

    def _build_server_bar(self, parent: QWidget) -> QFrame:
        """A bar above the content: the connection was lost, or edits are waiting to be written."""
        bar = QFrame(parent)
        bar.setObjectName("serverBar")
        bar.setFrameShape(QFrame.Shape.StyledPanel)
        bar.setStyleSheet("#serverBar { background: #fef3f2; border: 1px solid #fda29b; }")
        box = QHBoxLayout(bar)
        box.setContentsMargins(8, 4, 8, 4)
        self.server_label = QLabel(bar)
        self.server_label.setWordWrap(True)
        self.server_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reconnect_button = QPushButton("Reconnect", bar)
        self.reconnect_button.clicked.connect(self.reconnect)
        self.retry_button = QPushButton("Retry edits", bar)
        self.retry_button.clicked.connect(self.retry_pending_edits)
        self.discard_button = QPushButton("Discard edits", bar)
        self.discard_button.clicked.connect(self.discard_pending_edits)
        box.addWidget(self.server_label, 1)
        for button in (self.reconnect_button, self.retry_button, self.discard_button):
            box.addWidget(button)
        bar.setVisible(False)
        self.server_bar = bar
        return bar

    def _build_timeout(self, parent: QWidget) -> QWidget:
        """The statement timeout next to Run (servers only): the server stops longer statements."""
        holder = QWidget(parent)
        box = QHBoxLayout(holder)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(QLabel("Timeout:", holder))
        self.timeout_box = QDoubleSpinBox(holder)
        self.timeout_box.setRange(0, 24 * 3600)
        self.timeout_box.setDecimals(0)
        self.timeout_box.setSuffix(" s")
        self.timeout_box.setSpecialValueText("none")
        self.timeout_box.setToolTip("The server stops a statement that runs longer (0: no limit)")
        self.timeout_box.valueChanged.connect(self._on_timeout_changed)
        box.addWidget(self.timeout_box)
        holder.setVisible(self.is_server)
        self.timeout_widget = holder
        return holder

    @Slot(float)
    def _on_timeout_changed(self, seconds: float) -> None:
        database = getattr(self, "database", None)
        if database is not None:
            database.statement_timeout = float(seconds)

    # -- connection state ----------------------------------------------------------------------
    def _update_server_bar(self, lost: KnownError | None = None) -> None:
        """Show what is wrong now: the connection lost (``lost``, or one still unanswered) and
        the edits not written. The loss stays said until :meth:`connection_back`."""
        if lost is not None:
            self._lost = lost
        lost = self._lost
        parts = []
        if lost is not None:
            parts.append(f"<b>Connection lost.</b> {esc(lost.message)}")
        if self.pending_edits:
            count = len(self.pending_edits)
            why = esc(self.pending_edits[-1].error)
            parts.append(f"<b>{count} edit{'s' if count != 1 else ''} not written</b> (shown marked in "
                         f"the grid): {why}")
        self.server_label.setText("<br>".join(parts))
        self.reconnect_button.setVisible(lost is not None or (self.is_server and bool(self.pending_edits)))
        self.retry_button.setVisible(bool(self.pending_edits))
        self.discard_button.setVisible(bool(self.pending_edits))
        self.server_bar.setVisible(bool(parts))

    def note_error(self, error: BaseException) -> bool:
        """Show the Reconnect bar when ``error`` means the connection is gone; True if it did."""
        if isinstance(error, ConnectionLost):
            self._update_server_bar(error)
            return True
        return False

    def connection_back(self) -> None:
        """A read or a write went through: a "Connection lost" bar and message no longer apply,
        and writes the loss left unknown are checked now."""
        if self._lost is None:
            return
        self._lost = None
        self._update_server_bar()
        if "connection was lost" in self.message.text():
            self.show_message("")
        self.check_outcomes()

    def estimate_instead(self, generation: int, pager: Any, error: BaseException) -> bool:
        """The grid's count ran past the statement timeout: ask PostgreSQL for its estimate."""
        if not (isinstance(error, StatementTimeout) and self.counter is not None and self.database
                and has_estimates(self.database.dialect)):
            return False
        self.rows_label.setText("Rows: estimating…")
        self.start_task(estimate_rows, self.counter, pager,
                    on_result=lambda rows: self._on_estimate(generation, rows),
                    on_error=lambda _e: self._on_estimate(generation, None))
        return True

    def _on_estimate(self, generation: int, rows: int | None) -> None:
        if generation != self._generation:
            return
        if rows is None:
            self.rows_label.setText("Rows: ?")
            return
        self.rows_label.setText(f"≈ {rows:,} row{'s' if rows != 1 else ''} (estimate)")
        self.rows_label.setToolTip("Counting exactly ran past the statement timeout; this is "
                                   "PostgreSQL's own estimate (table statistics, or the query plan).")

    @Slot()
    def reconnect(self) -> None:
        """Open the connection again: every connection the document holds is renewed (readers,
        the writing connection, the engine's pool), the schema re-read; the table shown stays.
        Writes whose outcome the loss left unknown are checked once it is open."""
        table = self.table.qualified if self.table is not None else None
        self._pending_view_state = {"table": table} if table else {}
        self.table = None
        if self.server_db is not None:
            self.server_db.renew()
        self._lost = None
        self.open_database()
        self._update_server_bar()  # the connection is being opened; pending edits stay listed

    def outcome_unknown(self, command: Any, error: KnownError) -> None:
        """A delete lost its connection mid-write: it may have happened. Say so, and find out
        (by reading the rows by key) once the connection is back, never guess."""
        if command not in self.unknown_outcomes:
            self.unknown_outcomes.append(command)
        self.note_error(error)
        self.show_message(f"The connection was lost while deleting {len(command.keys)} row(s): whether "
                          "they were deleted is checked when the connection is back (Reconnect).", "error")

    def check_outcomes(self) -> None:
        """After (re)connecting: read by key what lost writes did, and say the truth.

        A delete found done becomes an undoable step; an edit found written leaves the pending
        list (its cell shows the value, unmarked) and becomes an undoable step too."""
        if not self.is_server or self.database is None:
            return
        said = []
        for command in list(self.unknown_outcomes):
            try:
                gone, there = command.verify()
            except KnownError as exc:
                self.note_error(exc)
                return  # still unreachable: asked again at the next Reconnect
            self.unknown_outcomes.remove(command)
            deleted = len(command.keys) - there
            if deleted:
                if gone:  # undoable: the rows as the grid showed them
                    self.undo_stack.push(type(command)(self, command.table, command.keys, command.columns,
                                                       command.alias, command.schema, command.seen,
                                                       saved=gone, types=command.types))
                said.append(f"Deleted {deleted} row(s): confirmed after the connection came back.")
            if there and deleted:
                said.append(f"{there} row(s) were not deleted.")
            elif there:
                said.append(f"Not deleted: {there} of {len(command.keys)} row(s) are still there "
                            "(the connection was lost before the delete was written).")
        for command in list(self.pending_edits):
            if not isinstance(command.error_obj, ConnectionLost):
                continue
            try:
                found = read_row(self.database, command.table, command.key, [command.name],
                                 schema=command.schema)
            except KnownError as exc:
                self.note_error(exc)
                return
            if found is not None and found[0] == command.new and command.new != command.old:
                self.pending_edits.remove(command)
                if self._shows(command):
                    self.model.clear_failed_key(command.key, command.column)
                done = command.retry()
                done.written = True
                self.undo_stack.push(done)
                said.append(f"The edit of {command.name!r} was written before the connection was lost.")
        if said:
            self.pending_changed()
            self.show_message(" ".join(said))

    def edit_pending(self, command: Any) -> None:
        """An edit's write failed: keep it to retry (the cell stays marked)."""
        if command not in self.pending_edits:
            self.pending_edits.append(command)
        # Marked by its row key from now on: the mark follows the row through sorts and filters.
        self.model.clear_failed(command.row, command.column)
        if self._shows(command):
            self.model.mark_failed_key(command.key, command.column, command.new, command.error)
        self._update_server_bar(command.error_obj if isinstance(command.error_obj, ConnectionLost) else None)
        self.pending_changed()

    # -- crash recovery: edits not written are journaled like any unsaved document's ------------
    def journal_path(self) -> str | None:
        return redact(self.server_url, None) if self.server_url else self.path

    def journal_extra(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"conditional": True}
        if self.server_url:
            # Without its password: the restore finds it in memory or asks inside the document.
            extra.update(server_url=redact(self.server_url, None), name=self.connection_name or "")
        return extra

    def journal_payload(self) -> bytes | None:
        if not self.pending_edits:
            return None
        return pack_sql_edits([{"table": c.table, "schema": c.schema, "key": c.key, "row": c.row,
                                "column": c.column, "name": c.name, "old": c.old, "new": c.new,
                                "decl_type": c.decl_type, "check_in_sql": c.check_in_sql,
                                "error": c.error} for c in self.pending_edits])

    def restore_from_journal(self, payload: bytes) -> None:
        """The edits a crash left unwritten come back as pending edits (Retry writes them, each
        only where the row still holds the value it had; Discard forgets them)."""
        from .sqlite_commands import EditCell

        _kind, _header, body = unpack(payload)
        if _kind != "sql-edits":
            raise UnsupportedError(f"The recovery data holds {_kind} edits, not database edits.")
        for edit in sql_edits_of(body):
            command = EditCell(self, edit["table"], edit["key"], int(edit.get("row", 0)),
                               int(edit.get("column", 0)), edit["name"], edit["old"], edit["new"],
                               edit.get("schema"), bool(edit.get("check_in_sql", True)),
                               str(edit.get("decl_type") or ""))
            command.error = "kept from before Datashelf closed unexpectedly; not written yet"
            self.pending_edits.append(command)
        self._remark_pending()
        self.pending_changed()

    def pending_count(self) -> int:
        """Edits not written yet (closing asks Retry / Discard / Cancel while there are some)."""
        return len(self.pending_edits)

    def pending_changed(self) -> None:
        """The pending edits changed: the window's modified marker and the crash journal follow
        (edits not written are unsaved work, journaled like a text's)."""
        self._update_server_bar()
        self.modifiedChanged.emit(bool(self.pending_edits))

    def _remark_pending(self) -> None:
        """After the grid reloads: the failed edits of the table shown stay marked in their cells,
        found by row key (the row they were on may hold another row now, or none)."""
        for command in self.pending_edits:
            if self._shows(command):
                self.model.mark_failed_key(command.key, command.column, command.new, command.error)

    def _shows(self, command: Any) -> bool:
        """Whether the grid shows the table of an edit command."""
        return self.table is not None and command.table == self.table.name \
            and command.schema == self.table.schema

    def row_of_edit(self, command: Any) -> int:
        """The grid row holding an edit's row key now; -1 when not loaded or another table is shown."""
        row = self.model.row_of_key(command.key) if self._shows(command) else None
        return -1 if row is None else row

    @Slot()
    def retry_pending_edits(self) -> None:
        """Write the failed edits again, each as a new undoable command."""
        if self.read_only:  # restored into a file opened read-only: nothing is written there
            self.show_message("Read-only: switch Read-only off to write the edits kept.", "error")
            return
        pending, self.pending_edits = self.pending_edits, []
        self._update_server_bar()
        for command in pending:
            if self._shows(command):
                self.model.clear_failed_key(command.key, command.column)
        for at, command in enumerate(pending):
            self.undo_stack.push(command.retry())
            if self.pending_edits and isinstance(self.pending_edits[-1].error_obj, ConnectionLost):
                # Still unreachable: the others stay pending without a connect timeout each.
                self.pending_edits.extend(c for c in pending[at + 1:] if c not in self.pending_edits)
                self._remark_pending()
                break
        self.pending_changed()

    @Slot()
    def discard_pending_edits(self) -> None:
        """Forget the failed edits: the cells show what the database holds again."""
        pending, self.pending_edits = self.pending_edits, []
        for command in pending:
            if self._shows(command):
                self.model.clear_failed_key(command.key, command.column)
        self._update_server_bar()
        self.pending_changed()

    def _count_tables(self, generation: int, tables: list[Table], cap: int | None) -> None:
        """Row counts for the schema tree, in a worker on a connection of its own."""
        if self.is_server and self.database is not None:
            self.start_task(count_server_tables, self.database, tables, cap,
                        on_result=lambda counts: self._on_counts(generation, counts, capped=cap is not None),
                        on_error=lambda e: self.note_error(e))
            return
        self.start_task(count_tables, self.path or "", self.immutable, [t.name for t in tables], cap,
                    on_result=lambda counts: self._on_counts(generation, counts, capped=cap is not None))

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
        self.start_task(open_database_url, self.server_url, password,
                    on_result=lambda db: self._on_password_taken(generation, password, db),
                    on_error=lambda e: self._on_open_failed(generation, e))

    def _on_password_taken(self, generation: int, password: str, database: ServerDatabase) -> None:
        if generation != self._open_generation:
            database.close()
            return
        old, self.server_db = self.server_db, database
        if old is not None:
            old.close()
        self._password = password
        if self.password_listener is not None:
            self.password_listener(password)
        self.open_database()

    def show_connect_failed(self, message: str) -> None:
        """The server could not be reached (at launch, say): say so and offer Reconnect; the
        document stays open, and in the session, until the user closes it."""
        self.status.setText(f"<b>Could not connect to {esc(self.title())}</b><br>{esc(message)}")
        self.retry_open.setText("Reconnect")
        self.retry_open.setVisible(True)


# -- worker bodies -------------------------------------------------------------------------------
def open_server(url: str, password: str | None, database: ServerDatabase | None) -> dict[str, Any]:
    """Worker body: connect (unless already connected), open two readers, read the schema."""
    db = database if database is not None else open_database_url(url, password)
    reader = db.reader()
    try:
        schema = db.load_schema()
        counter = db.reader()
    except BaseException:
        reader.close()
        raise
    return {"reader": reader, "counter": counter, "schema": schema, "immutable": False, "wal": False,
            "database": db}


def count_server_tables(db: Database, tables: list[Table], cap: int | None,
                        cancel) -> dict[str, int | str | RowEstimate]:
    """Worker body: row counts of server tables (capped, or exact) on a connection of its own.

    On PostgreSQL a table whose statistics say it is big, or whose count runs past the statement
    timeout, gets the server's estimate instead of an exact count."""
    counts: dict[str, int | str | RowEstimate] = {}
    estimates = has_estimates(db.dialect)
    reader = db.reader()

    def estimate(table: Table) -> int | None:
        if not estimates:
            return None
        return reader.run(lambda conn: table_estimate(conn, db.dialect, table.name, table.schema))

    try:
        for table in tables:
            if cancel():
                break
            inner = f"SELECT 1 FROM {quote_table(table.name, table.schema, db.dialect)}"
            inner += f" LIMIT {cap + 1}" if cap is not None else ""
            try:
                rows = estimate(table) if cap is None else None  # a table this big: slow to count
                if rows is not None and rows >= SLOW_COUNT:
                    counts[table.qualified] = RowEstimate(rows)
                    continue
                sql = f"SELECT count(*) FROM ({inner}) AS counted"
                counts[table.qualified] = int(reader.run(
                    lambda conn, sql=sql: conn.execute(sql).fetchone()[0]))
            except StatementTimeout as exc:
                rows = estimate(table)
                counts[table.qualified] = RowEstimate(rows) if rows is not None else f"error: {exc}"
            except Interrupted:
                break
            except ConnectionLost:
                raise
            except KnownError as exc:
                counts[table.qualified] = f"error: {exc}"
    finally:
        reader.close()
    return counts


def estimate_rows(counter: Any, pager: Any) -> int | None:
    """Worker body: PostgreSQL's estimate of the rows of the grid's query."""
    return counter.run(lambda conn: query_estimate(conn, pager.query))
