"""Execute SQL over the open tables: the names on offer, an editor, and the result in a lazy grid.

The panel asks its window (:mod:`gui.common.open_documents`) which tables are open — CSV,
Parquet and Arrow documents of this tab, SQLite files of the SQL tab — and runs the statement on
a worker in a fresh :class:`~storage.formats.table.query.Workspace` where each has a readable
name (``orders.csv`` → ``orders``). The first page shows as soon as it is there; scrolling to
the end fetches the next. Cancel interrupts DuckDB. :attr:`ExecuteSqlPanel.result` is the
storage :class:`~storage.formats.table.query.QueryResult` (export reads it again from there).
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import QEvent, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QFontDatabase, QKeyEvent, QTextCursor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.common.convert_dialog import ConversionRun, ConvertDialog
from gui.common.notice_bar import MessageLine
from gui.common.open_documents import sqlite_files, table_sources
from gui.common.workers import run_in_worker
from gui.tables.grid import TableGridModel
from storage.core.convert import Target
from storage.core.errors import KnownError, classify
from storage.formats.table.convert import QueryRows
from storage.formats.table.query import (
    PAGE_ROWS,
    QueryResult,
    TableRef,
    describe_tables,
    file_ref,
    run_query,
    sqlite_refs,
)
from storage.formats.table.source import Call, CancelledError, View


def gather(sources: list[Any], sqlite_paths: list[str]) -> tuple[list[TableRef], list[str]]:
    """Worker body: the tables on offer, and a note for each SQLite file that could not be read."""
    refs = [file_ref(source) for source in sources]
    notes = []
    for path in sqlite_paths:
        try:
            refs.extend(sqlite_refs(path))
        except KnownError as exc:
            notes.append(str(exc))
    return refs, notes


def list_names(sources: list[Any], sqlite_paths: list[str]) -> tuple[list, list[str]]:
    refs, notes = gather(sources, sqlite_paths)
    return describe_tables(refs), notes


def execute(sources: list[Any], sqlite_paths: list[str], sql: str,
            call: Call) -> tuple[QueryResult, list[str]]:
    refs, notes = gather(sources, sqlite_paths)
    return run_query(refs, sql, call), notes


class SqlEditor(QPlainTextEdit):
    """The statement being written: Ctrl+Enter and F5 run it. F5 is the window's Reload too: in
    the editor it runs the SQL (the key is claimed before the window's shortcut sees it)."""

    runRequested = Signal()

    @staticmethod
    def _runs(event: QKeyEvent) -> bool:
        key, mods = event.key(), event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if key == Qt.Key.Key_F5 and mods == Qt.KeyboardModifier.NoModifier:
            return True
        return key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and mods == Qt.KeyboardModifier.ControlModifier

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and self._runs(event):  # type: ignore[arg-type]
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if self._runs(event):
            self.runRequested.emit()
            return
        super().keyPressEvent(event)


class ExecuteSqlPanel(QWidget):
    """Names on the left; the SQL editor, Run / Cancel and the result grid on the right."""

    executed = Signal()  # a result (or an error) is shown

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tableSqlPanel")
        self.result: QueryResult | None = None
        self.source_path: str | None = None  # the document's file: Convert… suggests a name beside it
        self._call: Call | None = None
        self._fetch_call: Call | None = None
        self._generation = 0
        self._names_generation = 0

        self.names = QTreeWidget(self)
        self.names.setObjectName("tableSqlNames")
        self.names.setHeaderLabels(["Name", "From"])
        self.names.setRootIsDecorated(True)
        self.names.itemDoubleClicked.connect(self._on_name_double_clicked)
        self.refresh_button = QPushButton("Refresh names", self)
        self.refresh_button.clicked.connect(self.refresh_names)
        left = QWidget(self)
        left_box = QVBoxLayout(left)
        left_box.setContentsMargins(0, 0, 0, 0)
        left_box.addWidget(self.names, 1)
        left_box.addWidget(self.refresh_button)

        self.editor = SqlEditor(self)
        self.editor.runRequested.connect(self.run)
        self.editor.setObjectName("tableSqlEditor")
        self.editor.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.editor.setPlaceholderText("SELECT … FROM orders JOIN prices USING (product)   — Ctrl+Enter "
                                       "or F5 runs it (read-only: the files are never changed)")
        self.run_button = QPushButton("Run", self)
        self.run_button.setObjectName("tableSqlRun")
        self.run_button.setToolTip("Run the selection, or the whole text (Ctrl+Enter, F5)")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("tableSqlCancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)
        self.status = QLabel(self)
        self.status.setObjectName("tableSqlStatus")
        self._progress_timer = QTimer(self)
        self._progress_timer.setInterval(250)
        self._progress_timer.timeout.connect(self._show_progress)
        self.export_button = QPushButton("Convert…", self)
        self.export_button.setObjectName("tableSqlConvert")
        self.export_button.setToolTip("Write the whole result to CSV, Parquet, JSON Lines or a table in "
                                      "an SQLite file")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self.ask_convert)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.export_button)

        self.message = MessageLine(self)
        self.message.setObjectName("tableSqlMessage")
        self.model = TableGridModel(self)
        self.model.fetchFailed.connect(lambda text: self.message.show_message(html.escape(text), "error"))
        self.grid = QTableView(self)
        self.grid.setObjectName("tableSqlGrid")
        self.grid.setModel(self.model)
        self.grid.verticalHeader().setDefaultSectionSize(22)
        self.grid.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.grid.horizontalHeader().setDefaultSectionSize(110)
        self.grid.verticalScrollBar().valueChanged.connect(self._on_scrolled)

        top = QWidget(self)
        top_box = QVBoxLayout(top)
        top_box.setContentsMargins(0, 0, 0, 0)
        top_box.addWidget(self.editor, 1)
        top_box.addLayout(buttons)
        bottom = QWidget(self)
        bottom_box = QVBoxLayout(bottom)
        bottom_box.setContentsMargins(0, 0, 0, 0)
        bottom_box.addWidget(self.message)
        bottom_box.addWidget(self.grid, 1)
        right = QSplitter(Qt.Orientation.Vertical, self)
        right.addWidget(top)
        right.addWidget(bottom)
        right.setSizes([120, 240])
        outer = QSplitter(Qt.Orientation.Horizontal, self)
        outer.addWidget(left)
        outer.addWidget(right)
        outer.setStretchFactor(1, 1)
        outer.setSizes([220, 700])
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(outer)

    # -- names -----------------------------------------------------------------------------------
    def _inputs(self) -> tuple[list[Any], list[str]]:
        return table_sources(self), sqlite_files(self)

    @Slot()
    def refresh_names(self) -> None:
        """List the tables open in the window now (SQLite files are read on a worker)."""
        self._names_generation += 1
        generation = self._names_generation
        run_in_worker(list_names, *self._inputs(),
                      on_result=lambda answer: generation == self._names_generation
                      and self._show_names(*answer),
                      on_error=lambda exc: generation == self._names_generation
                      and self.message.show_message(html.escape(str(exc)), "error"))

    def _show_names(self, tables: list, notes: list[str]) -> None:
        self.names.clear()
        for name, origin, columns in tables:
            item = QTreeWidgetItem([name, origin])
            item.setToolTip(0, f"{name}: {origin}, {len(columns)} columns")
            for column in columns:
                QTreeWidgetItem(item, [column.name, column.type])
            self.names.addTopLevelItem(item)
        self.names.resizeColumnToContents(0)
        if notes:
            self.message.show_message(html.escape(" ".join(notes)), "warning")

    def table_names(self) -> list[str]:
        return [self.names.topLevelItem(i).text(0) for i in range(self.names.topLevelItemCount())]

    def _on_name_double_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        self.editor.insertPlainText(item.text(0))
        self.editor.setFocus()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        QTimer.singleShot(0, self.refresh_names)

    # -- running -------------------------------------------------------------------------------------
    def sql_text(self) -> tuple[str, int]:
        """The selection (with its offset in the text), else the whole text."""
        cursor = self.editor.textCursor()
        if cursor.hasSelection():
            return cursor.selection().toPlainText(), cursor.selectionStart()
        return self.editor.toPlainText(), 0

    @Slot()
    def run(self) -> None:
        sql, offset = self.sql_text()
        if not sql.strip():
            self.message.show_message("Type a SELECT over the names on the left, then Ctrl+Enter.", "info")
            return
        self.cancel()
        call = Call()
        self._call = call
        self._generation += 1
        generation = self._generation
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText("Running…")
        self._progress_timer.start()
        self.message.hide()
        run_in_worker(execute, *self._inputs(), sql, call,
                      on_result=lambda answer: self._on_executed(generation, answer),
                      on_error=lambda exc: self._on_failed(generation, exc, offset))

    def _on_executed(self, generation: int, answer: tuple[QueryResult, list[str]]) -> None:
        result, notes = answer
        if generation != self._generation:
            run_in_worker(result.close, on_error=lambda _exc: None)  # DuckDB never runs on the GUI thread
            return
        self._idle()
        self._show_result(result)
        self.refresh_names()  # files may have been opened or closed since the list was made
        notes = notes + result.info.notes
        if notes:
            self.message.show_message(html.escape(" ".join(notes)), "warning")
        self.executed.emit()

    def _on_failed(self, generation: int, exc: BaseException, offset: int) -> None:
        if generation != self._generation:
            return
        self._idle()
        if isinstance(exc, CancelledError):
            self.status.setText("Stopped.")
            self.message.show_message("Stopped: the query was cancelled.", "warning")
        else:
            self.status.setText("Failed.")
            message = exc.message if isinstance(exc, KnownError) else classify(exc).message
            where = ""
            location = getattr(exc, "location", None)
            if location is not None and location.offset is not None:
                self._point_at(offset + location.offset)
                where = f" (line {location.line}, column {location.column})"
            self.message.show_message(f"<b>Error{where}:</b> {html.escape(message)}", "error")
        self.executed.emit()

    def _point_at(self, position: int) -> None:
        cursor = self.editor.textCursor()
        cursor.setPosition(min(position, len(self.editor.toPlainText())))
        cursor.movePosition(QTextCursor.MoveOperation.EndOfWord, QTextCursor.MoveMode.KeepAnchor)
        self.editor.setTextCursor(cursor)

    def _show_progress(self) -> None:
        fraction = self._call.progress() if self._call is not None else None
        if fraction is not None and fraction > 0:
            self.status.setText(f"Running… {fraction:.0%}")

    def _idle(self) -> None:
        self._progress_timer.stop()
        self._call = None
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    @Slot()
    def cancel(self) -> None:
        """Stop the running statement (DuckDB interrupt) or page fetch."""
        for call in (self._call, self._fetch_call):
            if call is not None:
                call.cancel()
        self._fetch_call = None

    def _show_result(self, result: QueryResult) -> None:
        self._drop_result()
        self.result = result
        self.export_button.setEnabled(bool(result.info.columns))
        self.model.show_table(result, View(), len(result.rows), result.complete)
        self._show_count()

    def _show_count(self) -> None:
        result = self.result
        if result is None:
            self.status.setText("")
            return
        count = len(result.rows)
        columns = len(result.info.columns)
        if result.complete:
            text = f"{count:,} row{'s' if count != 1 else ''} · {columns} columns"
        elif result.capped:
            text = f"first {count:,} rows kept (export reads them all) · {columns} columns"
        else:
            text = f"first {count:,} rows · more as you scroll · {columns} columns"
        self.status.setText(text)

    # -- convert the result ------------------------------------------------------------------------
    @Slot()
    def ask_convert(self) -> ConvertDialog | None:
        """Convert…: the whole result (read again from the start) into a file or an SQLite table."""
        if self.result is None:
            return None
        dialog = ConvertDialog(self.source_path, "query result", self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.targetChosen.connect(self.convert_to)
        dialog.open()
        return dialog

    def convert_to(self, target: Target, open_when_done: bool = False) -> ConversionRun | None:
        result = self.result
        if result is None:
            return None
        run = ConversionRun(self, target, lambda: QueryRows(result), open_when_done=open_when_done)
        run.finished.connect(lambda ok, text: self.message.show_message(html.escape(text),
                                                                        "info" if ok else "error"))
        return run

    # -- more rows --------------------------------------------------------------------------------
    def _on_scrolled(self, value: int) -> None:
        bar = self.grid.verticalScrollBar()
        if value >= bar.maximum() - 2:
            self.fetch_more()

    def fetch_more(self) -> None:
        result = self.result
        if result is None or result.complete or result.capped or self._fetch_call is not None:
            return
        call = Call()
        self._fetch_call = call

        def arrived(_count: Any) -> None:
            if self._fetch_call is call:
                self._fetch_call = None
            if self.result is result:
                self.model.set_row_count(len(result.rows))
                self.model.rows_exact = result.complete
                self._show_count()

        def failed(exc: BaseException) -> None:
            if self._fetch_call is call:
                self._fetch_call = None
            if self.result is result and not isinstance(exc, CancelledError):
                self.message.show_message(html.escape(str(exc)), "error")

        run_in_worker(result.fetch_more, PAGE_ROWS, call, on_result=arrived, on_error=failed)

    # -- closing ----------------------------------------------------------------------------------
    def _drop_result(self) -> None:
        self.export_button.setEnabled(False)
        if self.result is not None:
            result, self.result = self.result, None
            self.model.show_table(None, View(), 0, True)
            result.interrupt()
            run_in_worker(result.close, on_error=lambda _exc: None)  # DuckDB never runs on the GUI thread

    def shutdown(self) -> None:
        """Stop what runs and close the result's connection."""
        self._generation += 1
        self._names_generation += 1
        self.cancel()
        self.model.stop()
        self._drop_result()
