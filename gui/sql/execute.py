"""The Execute SQL panel of the SQL tab: editor, Run, Cancel, history, the transaction bar and
one result per statement.

:class:`ExecutePanel` is a widget of its own: it owns an :class:`storage.formats.sql.execute.SqlSession` (a
connection apart from the grid's), runs statements, reads result rows and exports them in
workers, and talks to its document only through the small :class:`ExecuteHost` protocol. A
transaction the script opened stays open across runs, shown in a bar with Commit and Rollback,
until the user ends it; closing the document asks first (:meth:`ExecutePanel.ask_to_close`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from gui.common.clipboard import TableClipboard
from gui.common.column_fit import ColumnFitter
from gui.common.convert_dialog import export_target, open_in_window
from gui.common.workers import Worker, run_in_worker, run_with_progress
from gui.sql.cells import copied_text
from gui.sql.csv_dialog import ask_export_path, export_format
from gui.sql.editor import SqlEditor
from gui.sql.result_model import STEP, ResultModel
from gui.sql.tasks import ROW_HEIGHT, esc
from storage.core.convert import Target
from storage.core.errors import KnownError
from storage.formats.sql.db import Database
from storage.formats.sql.execute import (
    FAILED,
    IDLE,
    Outcome,
    ResultSet,
    SqlSession,
    Statement,
    split_statements,
    statement_at,
)

_RED = "#b42318"
_SCHEMA_VERBS = frozenset({"CREATE", "DROP", "ALTER"})


class ExecuteHost(Protocol):
    """What the panel needs from its document."""

    database: Database | None
    path: str | None  # the database file (None for a server)

    def note_error(self, error: BaseException) -> bool: ...
    def note_own_write(self) -> None: ...
    def reload_rows(self) -> None: ...
    def schema_changed(self) -> None: ...
    def run_transfer(self, label: str, work: Callable[..., Any], finished: Callable[[Any], str],
                     busy: bool = False) -> Any: ...


class StatementResult(QWidget):
    """One statement's tab: its rows in a grid (with the cap and Export all), or its message."""

    fetchWanted = Signal(object)  # the ResultModel wanting its next chunk
    exportWanted = Signal(object)  # the ResultSet to export

    def __init__(self, outcome: Outcome, script: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.outcome = outcome
        self.model: ResultModel | None = None
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        if outcome.result is not None:
            self.model = ResultModel(outcome.result, self)
            self.model.moreWanted.connect(lambda: self.fetchWanted.emit(self.model))
            self.grid = QTableView(self)
            self.grid.setModel(self.model)
            self.grid.setWordWrap(False)
            self.grid.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
            self.grid.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
            self.grid.horizontalHeader().setDefaultSectionSize(140)
            TableClipboard(self.grid, lambda i: copied_text(i.data(Qt.ItemDataRole.EditRole), i.data()))
            self.fitter = ColumnFitter(self.grid)
            box.addWidget(self.grid, 1)
        line = QHBoxLayout()
        line.addWidget(self.label, 1)
        self.fetch_more = QPushButton("Fetch more rows", self)
        self.fetch_more.setToolTip("Read the next rows from the same cursor (the query is not run again)")
        self.fetch_more.clicked.connect(self._on_fetch_more)
        self.export_all = QPushButton("Export all…", self)
        self.export_all.setToolTip("Write every row to CSV or JSON: the rows read, then the rest streamed "
                                   "from the same cursor")
        self.export_all.clicked.connect(lambda: self.exportWanted.emit(self.outcome.result))
        line.addWidget(self.fetch_more)
        line.addWidget(self.export_all)
        box.addLayout(line)
        if outcome.result is None:
            box.addStretch(1)
        self.refresh(script)

    def refresh(self, script: str = "") -> None:
        """Show the outcome's state: rows held, the cap, the error and where it is."""
        outcome, result = self.outcome, self.outcome.result
        if outcome.error is not None:
            self.label.setText(error_html(outcome.error, script))
        else:
            self.label.setText(esc(outcome.summary()))
        self.fetch_more.setVisible(result is not None and result.capped)
        self.export_all.setVisible(result is not None and (result.more or bool(result.rows)))

    @Slot()
    def _on_fetch_more(self) -> None:
        result = self.outcome.result
        if result is None or self.model is None:
            return
        result.raise_limit()
        self.refresh()
        if self.model.canFetchMore():
            self.model.fetchMore()


def error_html(error: BaseException, script: str) -> str:
    """The error in red, with the line and column of the whole script it points at."""
    where = error.location.describe() if isinstance(error, KnownError) else ""
    offset = error.location.offset if isinstance(error, KnownError) else None
    if offset is not None:  # line and column in the editor, not in the statement
        before = script[:offset]
        where = f"line {before.count(chr(10)) + 1}, column {offset - before.rfind(chr(10))}"
    message = getattr(error, "message", str(error))
    return f"<span style='color:{_RED}'>Error{' at ' + where if where else ''}: {esc(message)}</span>"


class ExecutePanel(QWidget):
    """Runs statements on the panel's own session; a result tab per statement."""

    transactionChanged = Signal(str)  # the session's state: "idle", "open" or "failed"

    def __init__(self, host: ExecuteHost, parent: QWidget | None = None,
                 settings: Callable[[], Any] = lambda: None) -> None:
        super().__init__(parent)
        self.host = host
        self.settings = settings
        self.session: SqlSession | None = None
        self._generation = 0
        self._tasks: list[Worker] = []
        self._running: Worker | None = None
        self._script = ""
        self._outcomes: list[Outcome] = []
        self.editor = SqlEditor(self)
        self.run_button = QPushButton("Run", self)
        self.run_button.setToolTip("Run the selection, or the statement under the cursor (Ctrl+Return)")
        self.run_button.clicked.connect(lambda: self.execute("current"))
        self.run_all_button = QPushButton("Run All", self)
        self.run_all_button.clicked.connect(lambda: self.execute("all"))
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.history = QComboBox(self)
        self.history.setPlaceholderText("History")
        self.history.setMinimumContentsLength(30)
        self.history.activated.connect(self._on_history)
        shortcut = QShortcut(QKeySequence("Ctrl+Return"), self.editor)
        shortcut.activated.connect(lambda: self.execute("current"))
        self.export_button = QPushButton("Export…", self)
        self.export_button.setToolTip("Write the shown result to CSV or JSON (every row, streamed)")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(lambda: self.export_result())
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.results = QTabWidget(self)
        self.results.setDocumentMode(True)
        self.results.currentChanged.connect(lambda _i: self._update_export())
        self.buttons = QHBoxLayout()  # the document adds the timeout and Explain here
        for widget in (self.run_button, self.run_all_button, self.cancel_button):
            self.buttons.addWidget(widget)
        row = QHBoxLayout()
        row.addLayout(self.buttons)
        row.addStretch(1)
        row.addWidget(self.history)
        row.addWidget(self.export_button)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.editor)
        split.addWidget(self.results)
        split.setSizes([180, 400])
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 4, 0, 0)
        box.addLayout(row)
        box.addWidget(self._build_transaction_bar())
        box.addWidget(split, 1)
        box.addWidget(self.message)

    def _build_transaction_bar(self) -> QFrame:
        bar = QFrame(self)
        bar.setObjectName("transactionBar")
        bar.setFrameShape(QFrame.Shape.StyledPanel)
        bar.setStyleSheet("#transactionBar { background: #fffaeb; border: 1px solid #fec84b; }")
        box = QHBoxLayout(bar)
        box.setContentsMargins(8, 4, 8, 4)
        self.transaction_label = QLabel(bar)
        self.transaction_label.setWordWrap(True)
        self.commit_button = QPushButton("Commit", bar)
        self.commit_button.clicked.connect(lambda: self.end_transaction(True))
        self.rollback_button = QPushButton("Rollback", bar)
        self.rollback_button.clicked.connect(lambda: self.end_transaction(False))
        box.addWidget(self.transaction_label, 1)
        box.addWidget(self.commit_button)
        box.addWidget(self.rollback_button)
        bar.setVisible(False)
        self.transaction_bar = bar
        return bar

    # -- the session -------------------------------------------------------------------------
    @property
    def transaction_state(self) -> str:
        return self.session.state if self.session is not None else IDLE

    @property
    def transaction_open(self) -> bool:
        return self.transaction_state != IDLE

    def _session(self) -> SqlSession | None:
        """The session over the document's database (a new one when the database was reopened)."""
        database = self.host.database
        if database is None:
            return None
        if self.session is not None and self.session.db is not database:
            self._close_session()
        if self.session is None:
            self.session = SqlSession(database)
        return self.session

    def _close_session(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            session.interrupt()
            self._start(session.close)  # a transaction still open is rolled back by the database
        self._show_transaction()

    def _start(self, fn: Callable[..., Any], *args: Any, on_result: Callable[[Any], None] | None = None,
               on_error: Callable[[BaseException], None] | None = None) -> Worker:
        def alive(callback):
            if callback is None:
                return None
            return lambda value: callback(value) if isValid(self) else None

        task = run_in_worker(fn, *args, on_result=alive(on_result), on_error=alive(on_error))
        self._tasks = [t for t in self._tasks if not t.done.is_set()] + [task]
        return task

    # -- running -------------------------------------------------------------------------------
    def statements(self, which: str) -> list[Statement]:
        text = self.editor.toPlainText()
        cursor = self.editor.textCursor()
        database = self.host.database
        kind = database.kind if database is not None else "sqlite"
        if which == "all":
            return split_statements(text, kind)
        if cursor.hasSelection():
            base = cursor.selectionStart()
            return [Statement(base + s.start, base + s.end, s.sql)
                    for s in split_statements(cursor.selectedText().replace("\u2029", "\n"), kind)]
        found = statement_at(text, cursor.position(), kind)
        return [found] if found else []

    def statement_under_cursor(self) -> str:
        """The selected text, or the statement under the cursor, without its semicolon."""
        cursor = self.editor.textCursor()
        if cursor.hasSelection():
            return cursor.selectedText().replace("\u2029", "\n").strip().rstrip(";")
        found = statement_at(self.editor.toPlainText(), cursor.position())
        return found.sql.strip().rstrip(";") if found else ""

    def execute(self, which: str = "current") -> None:
        """Run the selection, the statement under the cursor ("current") or everything ("all")."""
        session = self._session()
        if session is None or self._running is not None:
            return
        statements = self.statements(which)
        if not statements:
            self.message.setText("Nothing to run.")
            return
        self._remember([s.sql.strip() for s in statements])
        self._generation += 1
        generation = self._generation
        self._script = self.editor.toPlainText()
        self._clear_results()
        self.message.setText("Running…")
        self.cancel_button.setEnabled(True)
        self.run_button.setEnabled(False)
        self.run_all_button.setEnabled(False)
        self._running = self._start(session.run, statements,
                                    on_result=lambda r: self._on_executed(generation, r),
                                    on_error=lambda e: self._on_executed(generation, e))

    def _clear_results(self) -> None:
        while self.results.count():
            widget = self.results.widget(0)
            self.results.removeTab(0)
            widget.deleteLater()
        self._update_export()

    def _on_executed(self, generation: int, answer: Any) -> None:
        self._running = None
        self.run_button.setEnabled(True)
        self.run_all_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if generation != self._generation:
            return
        outcomes: list[Outcome] = answer if isinstance(answer, list) else []
        self._outcomes = outcomes
        lines = []
        for number, outcome in enumerate(outcomes, 1):
            tab = StatementResult(outcome, self._script, self.results)
            tab.fetchWanted.connect(self._fetch)
            tab.exportWanted.connect(lambda result: self.export_result(result=result))
            title = f"{number} {outcome.verb}" + (" ⚠" if outcome.error is not None else "")
            self.results.addTab(tab, title)
            self.results.setTabToolTip(number - 1, outcome.sql[:500])
            if outcome.error is not None:
                self.host.note_error(outcome.error)
                lines.append(f"{number}: {error_html(outcome.error, self._script)}")
                self._point_at(outcome.error)
            else:
                lines.append(f"{number}: {esc(outcome.summary())}")
        if not isinstance(answer, list):  # a bug of ours or a failure outside any statement
            self.host.note_error(answer)
            lines.append(error_html(answer, self._script))
        if outcomes:
            with_rows = [i for i, o in enumerate(outcomes) if o.result is not None]
            shown = next((i for i, o in enumerate(outcomes) if o.error is not None),
                         with_rows[-1] if with_rows else len(outcomes) - 1)
            self.results.setCurrentIndex(shown)
        if lines:
            self._set_lines(lines)
        else:
            self.message.setText("Cancelled: nothing ran.")
        self._show_transaction()
        if any(o.result is None and o.error is None for o in outcomes) or \
                any(o.rows_affected for o in outcomes):
            self.host.note_own_write()
            self.host.reload_rows()
        if not self.transaction_open and any(o.error is None and o.verb in _SCHEMA_VERBS for o in outcomes):
            self.host.schema_changed()  # a table made or dropped here shows in the tree

    def _point_at(self, error: KnownError) -> None:
        offset = error.location.offset if isinstance(error, KnownError) else None
        if offset is not None and self.editor.toPlainText() == self._script:
            cursor = self.editor.textCursor()
            cursor.setPosition(min(offset, len(self._script)))
            self.editor.setTextCursor(cursor)

    @Slot()
    def cancel(self) -> None:
        """Stop the running statement on the database (Cancel)."""
        if self.session is not None:
            self.session.interrupt()
        if self._running is not None:
            self._running.cancel()  # the statements after the one stopped do not start
            self.message.setText("Cancelling…")

    # -- rows ----------------------------------------------------------------------------------
    def _fetch(self, model: ResultModel) -> None:
        session = self.session
        if session is None:
            model.rows_arrived()
            return
        generation = self._generation

        def arrived(_value: Any) -> None:
            if isValid(model):  # its tab may be gone: a new run replaced the results
                model.rows_arrived()
                self._refresh_tab(model.result)

        def failed(error: BaseException) -> None:
            if not isValid(model):
                return
            model.rows_arrived()
            if generation == self._generation:
                self.host.note_error(error)
                self.message.setText(error_html(error, ""))
            self._refresh_tab(model.result)

        self._start(session.fetch, model.result, STEP, on_result=arrived, on_error=failed)

    def _refresh_tab(self, result: ResultSet) -> None:
        for index in range(self.results.count()):
            tab = self.results.widget(index)
            if isinstance(tab, StatementResult) and tab.outcome.result is result:
                tab.refresh(self._script)
        self._update_export()
        self._update_messages()

    def _update_messages(self) -> None:
        """The list under the results: one line per statement run, as it stands now."""
        lines = [f"{n}: {error_html(o.error, self._script) if o.error is not None else esc(o.summary())}"
                 for n, o in enumerate(self._outcomes, 1)]
        if lines:
            self._set_lines(lines)

    def _set_lines(self, lines: list[str]) -> None:
        """The messages under the results; a long script shows its first and last lines."""
        if len(lines) > 8:
            lines = [*lines[:3], f"… {len(lines) - 7:,} more (each statement has its tab)", *lines[-4:]]
        self.message.setText("<br>".join(lines))

    @property
    def current_model(self) -> ResultModel | None:
        """The grid model of the result tab shown (None for a statement without rows)."""
        tab = self.results.currentWidget()
        return tab.model if isinstance(tab, StatementResult) else None

    def current_result(self) -> ResultSet | None:
        tab = self.results.currentWidget()
        return tab.outcome.result if isinstance(tab, StatementResult) else None

    def _update_export(self) -> None:
        result = self.current_result()
        self.export_button.setEnabled(result is not None and (result.more or bool(result.rows)))

    def export_result(self, path: str | None = None, result: ResultSet | None = None,
                      target: Target | None = None) -> Any:
        """Every row of a result to CSV, JSON, JSON Lines, Parquet or an SQLite table, streamed from
        its cursor in a worker with progress and Cancel (the rows read already, then the rest; the
        query does not run again)."""
        result = result or self.current_result()
        session = self.session
        if result is None or session is None:
            return None
        stem = os.path.splitext(os.path.basename(self.host.path))[0] if self.host.path else "query"
        if target is not None:
            path, fmt = target.path, target.format
        elif path is None:
            asked = ask_export_path(self, "Export Result", self.host.path, f"{stem} result")
            if asked is None:
                return None
            path, fmt = asked
        else:
            fmt = export_format(path)

        def start(chosen: Target | None, open_when_done: bool) -> Any:
            dest = chosen.path if chosen is not None else path

            def finished(rows: int) -> str:
                if isValid(self):
                    self._refresh_tab(result)
                    if open_when_done:
                        open_in_window(self, dest)
                return f"Exported {rows:,} rows to {dest}"

            def work(cancel, progress) -> int:
                return session.export(result, dest, fmt, cancel, progress, chosen)

            return self.host.run_transfer(f"Exporting to {dest}…", work, finished,
                                          busy=result.total is None)

        if target is not None:
            return start(target, False)
        return export_target(self, path, fmt, f"{stem}_result", start)

    # -- transactions ----------------------------------------------------------------------------
    def _show_transaction(self) -> None:
        state = self.transaction_state
        if state == FAILED:
            self.transaction_label.setText("<b>Transaction failed</b>: a statement in it failed; the "
                                           "database will only roll it back.")
        else:
            self.transaction_label.setText("<b>Transaction open</b>: its changes are not visible to others "
                                           "(nor kept) until you commit; edits in the grid wait for it.")
        self.commit_button.setEnabled(state == "open")
        self.transaction_bar.setVisible(state != IDLE)
        self.transactionChanged.emit(state)

    def end_transaction(self, commit: bool) -> None:
        session = self.session
        if session is None or self._running is not None:
            return
        self.commit_button.setEnabled(False)
        self.rollback_button.setEnabled(False)

        def done(answer: Any) -> None:
            self.rollback_button.setEnabled(True)
            if isinstance(answer, BaseException):
                self.host.note_error(answer)
                self.message.setText(error_html(answer, ""))
            else:
                self.message.setText(esc(answer))
                self.host.note_own_write()
                self.host.reload_rows()
            self._show_transaction()
            for index in range(self.results.count()):
                tab = self.results.widget(index)
                if isinstance(tab, StatementResult):
                    tab.refresh(self._script)

        self._start(session.end_transaction, commit, on_result=done, on_error=done)

    def ask_to_close(self, parent: QWidget, name: str) -> bool:
        """Closing with a transaction open: Commit, Roll back or Cancel. True when closing may go on."""
        if not self.transaction_open or self.session is None:
            return True
        failed = self.transaction_state == FAILED
        box = QMessageBox(QMessageBox.Icon.Warning, "Transaction open",
                          f"A transaction is open on {name}"
                          + (" (it failed: it can only be rolled back)" if failed else "")
                          + ".\n\nCommit its changes, or roll them back, before closing?", parent=parent)
        box.setObjectName("transactionOpenBox")
        commit = box.addButton("Commit", QMessageBox.ButtonRole.AcceptRole)
        commit.setEnabled(not failed)
        rollback = box.addButton("Roll back", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        clicked = box.clickedButton()
        if clicked not in (commit, rollback):
            return False
        self.cancel()
        try:
            message = run_with_progress(parent, "Committing…" if clicked is commit else "Rolling back…",
                                        self.session.end_transaction, clicked is commit)
        except KnownError as exc:
            self.message.setText(error_html(exc, ""))
            self._show_transaction()
            QMessageBox.warning(parent, "Transaction", f"{exc.message}\n\nThe document stays open.")
            return False
        self.message.setText(esc(message))
        self._show_transaction()
        return True

    def set_schema(self, schema: Any, quote: Callable[[str], str]) -> None:
        """Complete the schema's table and column names in the editor, written as ``quote``
        (the database's way) writes them: a name with a space or capitals in quotes."""
        names: dict[str, tuple[str, list[tuple[str, str]]]] = {}
        for table in schema.tables + schema.views + schema.materialized:
            written = quote(table.name) if table.qualified == table.name else \
                f"{quote(table.schema)}.{quote(table.name)}"
            names[written] = (table.qualified, [(c.name, quote(c.name)) for c in table.columns])
        self.editor.set_names(names)

    # -- history -------------------------------------------------------------------------------
    def fill_history(self) -> None:
        settings = self.settings()
        entries = settings["sql.history"] if settings is not None else []
        self.history.clear()
        for entry in entries[:200]:
            if isinstance(entry, str):
                self.history.addItem(" ".join(entry.split())[:80], entry)

    @Slot(int)
    def _on_history(self, index: int) -> None:
        sql = self.history.itemData(index)
        if isinstance(sql, str):
            self.editor.setPlainText(sql)

    def _remember(self, statements: list[str]) -> None:
        settings = self.settings()
        if settings is None:
            return
        history = [h for h in settings["sql.history"] if isinstance(h, str)]
        for sql in statements:
            history = [sql] + [h for h in history if h != sql]
        settings["sql.history"] = history[:200]
        self.fill_history()

    # -- closing -------------------------------------------------------------------------------
    def release_connection(self) -> None:
        """The document closes its readers (a reopen, VACUUM, a schema change): close the session's
        connection too, so an unread result holds no lock, unless the user's transaction is open."""
        if not self.transaction_open:
            self._close_session()

    def shutdown(self) -> None:
        """The document closes: stop the work, close the session (an open transaction rolls back)."""
        self._generation += 1
        for task in self._tasks:
            task.cancel()
        self._close_session()
