"""The Execute SQL panel of the SQLite tab: editor, Run, Cancel, history and a lazy result grid.

A mixin of :class:`gui.sqlite_document.SqliteDocument`; it shares the document's state.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from storage.errors import KnownError
from storage.sql_exec import Statement, split_statements, statement_at

from .sql_editor import SqlEditor
from .sqlite_model import SqlTableModel
from .sqlite_tasks import ROW_HEIGHT, count_query, esc, run_statements


class ExecuteMixin:
    """Runs statements in a worker and pages their result like a table."""

    def _build_execute(self, parent: QWidget) -> QWidget:
        page = QWidget(parent)
        self.editor = SqlEditor(page)
        self.run_button = QPushButton("Run", page)
        self.run_button.setToolTip("Run the selection, or the statement under the cursor (Ctrl+Return)")
        self.run_button.clicked.connect(lambda: self.execute("current"))
        self.run_all_button = QPushButton("Run All", page)
        self.run_all_button.clicked.connect(lambda: self.execute("all"))
        self.sql_cancel = QPushButton("Cancel", page)
        self.sql_cancel.setEnabled(False)
        self.sql_cancel.clicked.connect(self._on_cancel)
        timeout = self._build_timeout(page)
        self.history = QComboBox(page)
        self.history.setPlaceholderText("History")
        self.history.setMinimumContentsLength(30)
        self.history.activated.connect(self._on_history)
        shortcut = QShortcut(QKeySequence("Ctrl+Return"), self.editor)
        shortcut.activated.connect(lambda: self.execute("current"))
        self.sql_message = QLabel(page)
        self.sql_message.setWordWrap(True)
        self.sql_message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result_model = SqlTableModel(self)
        self.result_model.fetchFailed.connect(lambda m: self.sql_message.setText(esc(m)))
        self.results = QTableView(page)
        self.results.setModel(self.result_model)
        self.results.setWordWrap(False)
        self.results.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.results.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self.results.horizontalHeader().setDefaultSectionSize(140)
        buttons = QHBoxLayout()
        for widget in (self.run_button, self.run_all_button, self.sql_cancel, timeout):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        buttons.addWidget(self.history)
        self.result_export = QPushButton("Export…", page)
        self.result_export.setToolTip("Write the query's result to CSV or JSON")
        self.result_export.setEnabled(False)
        self.result_export.clicked.connect(lambda: self.export_rows_to(source="result"))
        buttons.addWidget(self.result_export)
        split = QSplitter(Qt.Orientation.Vertical, page)
        split.addWidget(self.editor)
        split.addWidget(self.results)
        split.setSizes([180, 400])
        box = QVBoxLayout(page)
        box.setContentsMargins(0, 4, 0, 0)
        box.addLayout(buttons)
        box.addWidget(split, 1)
        box.addWidget(self.sql_message)
        return page

    # -- execute SQL ---------------------------------------------------------------------------
    def _settings(self):
        return getattr(self.window(), "settings", None)

    def _fill_history(self) -> None:
        settings = self._settings()
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

    def execute(self, which: str = "current") -> None:
        """Run the selection, the statement under the cursor ("current") or everything ("all")."""
        if self.reader is None:
            return
        text = self.editor.toPlainText()
        cursor = self.editor.textCursor()
        if which == "all":
            statements = split_statements(text)
        elif cursor.hasSelection():
            base = cursor.selectionStart()
            statements = [Statement(base + s.start, base + s.end, s.sql)
                          for s in split_statements(cursor.selectedText().replace("\u2029", "\n"))]
        else:
            found = statement_at(text, cursor.position())
            statements = [found] if found else []
        if not statements:
            self.sql_message.setText("Nothing to run.")
            return
        self._remember([s.sql.strip() for s in statements])
        self._generation += 1
        generation = self._generation
        self.result_model.set_query(None, None, [], [])
        self.result_export.setEnabled(False)
        self.sql_message.setText("Running…")
        self.sql_cancel.setEnabled(True)
        self._start(run_statements, self.database, self.reader, statements, self.read_only,
                    on_result=lambda r: self._on_executed(generation, r),
                    on_error=lambda e: self._on_executed(generation, e))

    def _remember(self, statements: list[str]) -> None:
        settings = self._settings()
        if settings is None:
            return
        history = [h for h in settings["sql.history"] if isinstance(h, str)]
        for sql in statements:
            history = [sql] + [h for h in history if h != sql]
        settings["sql.history"] = history[:200]
        self._fill_history()

    def _on_executed(self, generation: int, result: Any) -> None:
        if generation != self._generation:
            return
        self.sql_cancel.setEnabled(False)
        outcomes, error = result if isinstance(result, tuple) else ([], result)
        parts = []
        for outcome in outcomes:
            if outcome.pager is None:
                parts.append(f"{outcome.rows_affected:,} row(s) affected in {outcome.seconds * 1000:.1f} ms")
        last = next((o for o in reversed(outcomes) if o.pager is not None), None)
        if last is not None and self.reader is not None and self.counter is not None:
            self.result_model.set_query(self.reader, last.pager, last.columns, [""] * len(last.columns))
            self.result_export.setEnabled(True)
            parts.append(f"query prepared in {last.seconds * 1000:.1f} ms; counting rows…")
            counting = len(parts) - 1
            self.sql_cancel.setEnabled(True)  # the count runs the query: it may be long
            self._start(count_query, self.counter, last.pager, None,
                        on_result=lambda n: self._on_result_count(generation, last, n, parts, counting),
                        on_error=lambda e: self._on_result_count_failed(generation, e))
        if error is not None:
            self.note_error(error)
            where = error.location.describe() if isinstance(error, KnownError) else ""
            offset = error.location.offset if isinstance(error, KnownError) else None
            if offset is not None:  # line and column in the editor, not in the statement
                before = self.editor.toPlainText()[:offset]
                where = f"line {before.count(chr(10)) + 1}, column {offset - before.rfind(chr(10))}"
            parts.append(f"<span style='color:#b42318'>Error{' at ' + where if where else ''}: "
                         f"{esc(getattr(error, 'message', str(error)))}</span>")
            if offset is not None:
                cursor = self.editor.textCursor()
                cursor.setPosition(min(offset, len(self.editor.toPlainText())))
                self.editor.setTextCursor(cursor)
        self.sql_message.setText("<br>".join(parts))
        if any(o.pager is None for o in outcomes):
            self.note_own_write()
            self.reload_rows()

    def _on_result_count_failed(self, generation: int, error: BaseException) -> None:
        if generation != self._generation:
            return
        self.sql_cancel.setEnabled(False)
        self.note_error(error)
        self.sql_message.setText(f"<span style='color:#b42318'>{esc(str(error))}</span>")

    def execution_cancelled(self) -> None:
        """Cancel was clicked: the statement (or its count) was stopped on the database."""
        if self.sql_cancel.isEnabled():
            self.sql_cancel.setEnabled(False)
            self._generation += 1  # a late answer of the cancelled run is dropped
            self.sql_message.setText("Cancelled: the database stopped the statement.")

    def _on_result_count(self, generation: int, outcome: Any, rows: int, parts: list[str],
                         at: int) -> None:
        if generation != self._generation:
            return
        self.sql_cancel.setEnabled(False)
        self.result_model.set_exact_total(rows)
        parts[at] = f"{rows:,} row(s) · query prepared in {outcome.seconds * 1000:.1f} ms"
        self.sql_message.setText("<br>".join(parts))

