"""The Tables tab's document: one CSV, Parquet or Arrow file as a lazy, read-only grid.

The file is opened on a worker (:func:`storage.formats.table.source.open_table`); the grid then
reads tiles of the current view as they scroll into sight. Sorting (a header click), the filter
row and the search field change the view: its row count and first page are computed on a worker
with a progress bar and Cancel (DuckDB ``interrupt()``), so the window never waits on the file.
The side panels show the current column's stats and histogram and the current row as a form; a
CSV has a dialect bar whose choices read the file again.
"""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gui.arrays.table import TILE_COLS, TILE_ROWS, TiledClipboard
from gui.common.column_fit import ColumnFitter
from gui.common.convert_dialog import ConversionRun, ConvertDialog
from gui.common.disk_watch import DiskGuard
from gui.common.document import Document
from gui.common.loading_page import LoadingPage
from gui.common.notice_bar import MessageLine
from gui.common.workers import Worker, run_in_worker
from gui.tables.csv_editor import CsvEditor
from gui.tables.grid import FilterRow, TableGridModel
from gui.tables.panels import DialectBar, RecordPanel, StatsPanel
from gui.tables.sql_panel import ExecuteSqlPanel
from storage.core.convert import Target
from storage.formats.table.convert import TableRows
from storage.formats.table.dialect import CsvDialect
from storage.formats.table.source import (
    FORMAT_LABELS,
    Call,
    CancelledError,
    TableInfo,
    TableSource,
    View,
    is_numeric_type,
    open_table,
)

COUNT_DELAY_MS = 1000  # a big CSV's exact count starts this long after the first rows show


def open_for_grid(path: str, fmt: str, dialect: CsvDialect | None,
                  cancel=None) -> tuple[TableSource, list[list[str]]]:
    """Worker body: open the file and read the grid's first tile in the same go (no second trip)."""
    source = open_table(path, fmt, dialect, cancel)
    try:
        columns = range(min(TILE_COLS, len(source.info.columns)))
        first = source.text_page(0, TILE_ROWS, columns=columns) if len(columns) else []
    except Exception:
        source.close()
        raise
    return source, first


def prepare_view(source: TableSource, view: View, call: Call) -> tuple[int, bool, list[list[str]]]:
    """Worker body: the row count of ``view`` (exact when narrowed) and its first tile (the sort)."""
    if view.narrowed:
        rows, exact = source.count(view, call), True
    else:
        rows, exact = source.info.rows, source.info.rows_exact
    first: list[list[str]] = []
    if view.order and rows:
        first = source.text_page(0, TILE_ROWS, view, range(min(TILE_COLS, len(source.info.columns))), call)
    return rows, exact, first


def column_profile(source: TableSource, column: int, view: View, call: Call) -> tuple[dict, list, bool]:
    """Worker body: stats and histogram of one column over the whole view."""
    stats = source.stats(column, view, call)
    kind = stats["type"]
    return stats, source.histogram(column, view=view, call=call), is_numeric_type(kind)


class TableDocument(Document):
    """A table file: mode line, dialect bar (CSV), search, filter row over the grid, stats and record."""

    def __init__(self, path: str | None, fmt: str, parent: QWidget | None = None) -> None:
        super().__init__(path, fmt, parent)
        self.source: TableSource | None = None
        self.dialect: CsvDialect | None = None
        self.view = View()
        self._view_call: Call | None = None
        self._view_worker: Worker | None = None
        self._view_generation = 0
        self._side_call: Call | None = None
        self._side_generation = 0
        self._count_call: Call | None = None
        self._build()
        self.reload()

    # -- widgets ---------------------------------------------------------------------------------
    def _build(self) -> None:
        self.mode = QLabel(self)
        self.mode.setObjectName("tableMode")
        self.message = MessageLine(self)
        self.message.setObjectName("tableMessage")
        self.dialect_bar = DialectBar(self)
        self.dialect_bar.dialectChosen.connect(self._on_dialect_chosen)
        self.dialect_bar.setVisible(self.format == "csv")

        self.search = QLineEdit(self)
        self.search.setObjectName("tableSearch")
        self.search.setPlaceholderText("Search every column of the whole file (Enter)")
        self.search.setClearButtonEnabled(True)
        self.search.returnPressed.connect(self._on_search)
        self.clear_button = QPushButton("Clear sort and filters", self)
        self.clear_button.setObjectName("tableClear")
        self.clear_button.clicked.connect(self.clear_view)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("tableProgress")
        self.progress.setMaximumWidth(160)
        self.progress.setRange(0, 0)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("tableCancel")
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.cancel_button.hide()
        search_row = QHBoxLayout()
        search_row.addWidget(self.search, 1)
        search_row.addWidget(self.progress)
        search_row.addWidget(self.cancel_button)
        search_row.addWidget(self.clear_button)
        self.sql_button = QPushButton("Execute SQL", self)
        self.sql_button.setObjectName("tableSqlToggle")
        self.sql_button.setCheckable(True)
        self.sql_button.setToolTip("SQL over every open table file and SQLite database (joins across files)")
        self.sql_button.toggled.connect(self.show_sql)
        self.sql_button.toggled.connect(self.viewStateChanged)
        search_row.addWidget(self.sql_button)
        self.convert_button = QPushButton("Convert…", self)
        self.convert_button.setObjectName("tableConvert")
        self.convert_button.setToolTip("Write the rows shown (sorted, filtered) to CSV, Parquet, JSON Lines "
                                       "or a table in an SQLite file")
        self.convert_button.clicked.connect(self.ask_convert)
        search_row.addWidget(self.convert_button)
        self._progress_timer = QTimer(self)
        self._progress_timer.setInterval(200)
        self._progress_timer.timeout.connect(self._show_progress)
        self._count_timer = QTimer(self)
        self._count_timer.setSingleShot(True)
        self._count_timer.setInterval(COUNT_DELAY_MS)
        self._count_timer.timeout.connect(self._count_exactly)

        self.model = TableGridModel(self)
        self.model.fetchFailed.connect(lambda text: self.message.show_message(text, "error"))
        self.grid = QTableView(self)
        self.grid.setObjectName("tableGrid")
        self.grid.setModel(self.model)
        self.grid.verticalHeader().setDefaultSectionSize(22)
        self.grid.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.grid.horizontalHeader().setDefaultSectionSize(110)
        self.grid.horizontalHeader().setSortIndicatorShown(False)
        self.grid.horizontalHeader().setSectionsClickable(True)
        self.grid.horizontalHeader().sectionClicked.connect(self._on_header_clicked)
        self.grid.selectionModel().currentChanged.connect(self._on_current_changed)
        self.fitter = ColumnFitter(self.grid, context=lambda: self.path or "")
        self.filters = FilterRow(self.grid, self)
        self.filters.filter_model.filtersEdited.connect(self._on_filters_edited)
        TiledClipboard(self.grid, self.model, report=lambda text: self.message.show_message(text, "error"))
        self.editor = CsvEditor(self)
        self.editor.stateChanged.connect(self.refresh_mode)
        search_row.addWidget(self.editor.insert_button)
        search_row.addWidget(self.editor.delete_button)
        self.disk = DiskGuard(self)

        grid_box = QWidget(self)
        grid_layout = QVBoxLayout(grid_box)
        grid_layout.setContentsMargins(0, 0, 0, 0)
        grid_layout.setSpacing(0)
        grid_layout.addWidget(self.filters)
        grid_layout.addWidget(self.grid, 1)

        self.stats = StatsPanel(self)
        self.record = RecordPanel(self)
        self.side = QTabWidget(self)
        self.side.setObjectName("tableSide")
        self.side.addTab(self.stats, "Column")
        self.side.addTab(self.record, "Record")
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(grid_box)
        self.splitter.addWidget(self.side)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setSizes([760, 300])
        self.splitter.splitterMoved.connect(self.viewStateChanged)

        content = QWidget(self)
        box = QVBoxLayout(content)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.mode)
        box.addWidget(self.disk.bar)
        box.addWidget(self.dialect_bar)
        box.addWidget(self.message)
        box.addLayout(search_row)
        self.sql_panel = ExecuteSqlPanel(self)
        self.sql_panel.source_path = self.path
        self.sql_panel.executed.connect(self.viewStateChanged)  # the session keeps the SQL text
        self.sql_panel.hide()
        self.sql_split = QSplitter(Qt.Orientation.Vertical, self)
        self.sql_split.addWidget(self.splitter)
        self.sql_split.addWidget(self.sql_panel)
        self.sql_split.setStretchFactor(0, 1)
        box.addWidget(self.sql_split, 1)
        self.loading = LoadingPage(f"Opening {self.title()}…", True, self)
        self.loading.cancelled.connect(self._on_open_cancelled)
        self.pages = QStackedWidget(self)
        self.pages.addWidget(self.loading)
        self.pages.addWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        outer.addWidget(self.pages, 1)

    # -- opening ---------------------------------------------------------------------------------
    @Slot()
    def reload(self) -> None:
        self.cancel_view()
        self.editor.reset()
        self.undo_stack.clear()  # edits are over the file as it was read: reading again drops them
        self.disk.record()
        self.pages.setCurrentWidget(self.loading)
        self.run_latest(open_for_grid, self.path, self.format, self.dialect,
                        on_result=self._on_opened, on_error=self._on_open_failed)

    def _on_opened(self, generation: int, opened: tuple[TableSource, list[list[str]]]) -> None:
        source, first = opened
        if not self.is_latest(generation):
            run_in_worker(source.close)  # DuckDB never runs on the GUI thread, closing included
            return
        self._close_source()
        self.source = source
        self.dialect = source.dialect
        if source.dialect is not None:
            self.dialect_bar.set_dialect(source.dialect)
        self.view = View()
        self.grid.horizontalHeader().setSortIndicatorShown(False)
        self.model.show_table(source, self.view, source.info.rows, source.info.rows_exact, first)
        self.filters.follow_columns()
        self.pages.setCurrentIndex(1)
        notes = source.info.notes
        if notes:
            self.message.show_message(" ".join(notes), "info" if source.complete else "warning")
        else:
            self.message.hide()
        self.editor.start(source)
        self._show_mode()
        if not source.info.rows_exact:  # after the first screen: the count competes for the cores
            self._count_timer.start()
        self.statusChanged.emit()
        self._restore_pending_view_state()
        if not self.is_loaded:
            self.mark_loaded()

    def _on_open_failed(self, generation: int, exc: BaseException) -> None:
        if not self.is_latest(generation):
            return
        self.pages.setCurrentIndex(1)
        self.model.show_table(None, View(), 0, True)
        self.filters.follow_columns()
        self.message.show_message(f"<b>Cannot open {self.title()}:</b> {self.describe_failure(exc)}", "error")
        self._show_mode()
        if not self.is_loaded:
            self.mark_loaded()

    def _on_open_cancelled(self) -> None:
        self.cancel_latest()
        self.pages.setCurrentIndex(1)
        self.message.show_message("Opening was cancelled. View ▸ Reload opens the file again.", "warning")
        if not self.is_loaded:
            self.mark_loaded()

    def _count_exactly(self) -> None:
        """Count a big CSV's rows in the background; the estimate is replaced when done."""
        source = self.source
        if source is None or source.info.rows_exact:
            return
        call = Call()
        self._count_call = call

        def done(rows: Any) -> None:
            edited = self.editor.edits is not None and self.editor.edits.changed
            if self.source is source and not self.view.narrowed and isinstance(rows, int) and not edited:
                self.model.set_row_count(rows)
                self.model.rows_exact = True
                self._show_mode()

        run_in_worker(source.count, View(), call, on_result=done, on_error=lambda _exc: None)

    def _show_mode(self) -> None:
        label = self.source.label if self.source is not None else FORMAT_LABELS.get(self.format, self.format)
        word = self.editor.mode_word()
        if self.source is None:
            self.mode.setText(f"<b>{word}</b> · {label}")
            return
        info: TableInfo = self.source.info
        rows = self.model.rowCount()
        count = f"{rows:,} rows" if self.model.rows_exact else f"about {rows:,} rows (counting…)"
        if self.view.narrowed:
            count = f"{rows:,} matching rows" + (f" of {info.rows:,}" if info.rows_exact else "")
        dialect = f" · {self.source.dialect.describe()}" if self.source.dialect else ""
        self.mode.setText(f"<b>{word}</b> · {label} · {count} · {len(info.columns):,} columns{dialect}")

    def refresh_mode(self) -> None:
        self._show_mode()

    def _on_dialect_chosen(self, dialect: CsvDialect) -> None:
        if self.is_modified():  # reading again drops the edits: never behind the user's back
            self.message.show_message("Save or undo your edits before reading the file again with "
                                      "another dialect.", "warning")
            if self.source is not None and self.source.dialect is not None:
                self.dialect_bar.set_dialect(self.source.dialect)
            return
        self.dialect = dialect
        self.reload()

    # -- crash recovery: a CSV's edits ---------------------------------------------------------------
    def journal_payload(self) -> bytes | None:
        return self.editor.journal_payload()

    def restore_from_journal(self, payload: bytes) -> None:
        self.editor.restore(payload)

    # -- saving (CSV): gui/tables/csv_editor.py ------------------------------------------------------
    def can_save(self) -> bool:
        return self.format == "csv" and self.editor.ready()

    def save(self) -> bool:
        return self.save_as(self.path) if self.path else False

    def save_as(self, path: str) -> bool:
        with self.disk.own_write():  # our own replace must not look like a change on disk
            error = self.editor.save(path)
        if error is not None:
            self.message.show_message(f"<b>Not saved:</b> {error}", "error")
            return False
        self.path = os.path.abspath(path)
        self.undo_stack.setClean()
        self.reload()  # the record spans and DuckDB's view are of the file as written now
        self.statusChanged.emit()
        return True

    # -- the view: sort, filters, search ---------------------------------------------------------
    def _on_header_clicked(self, column: int) -> None:
        current = dict(self.view.order)
        header = self.grid.horizontalHeader()
        if column in current and not current[column]:
            order: tuple[tuple[int, bool], ...] = ((column, True),)
            header.setSortIndicator(column, Qt.SortOrder.DescendingOrder)
        elif column in current:
            order = ()
        else:
            order = ((column, False),)
            header.setSortIndicator(column, Qt.SortOrder.AscendingOrder)
        header.setSortIndicatorShown(bool(order))
        self.set_view(View(order, self.view.filters, self.view.search))

    def sort_by(self, column: int, descending: bool = False) -> None:
        header = self.grid.horizontalHeader()
        header.setSortIndicatorShown(True)
        order = Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder
        header.setSortIndicator(column, order)
        self.set_view(View(((column, descending),), self.view.filters, self.view.search))

    def _on_filters_edited(self) -> None:
        self.set_view(View(self.view.order, self.filters.filter_model.filters(), self.view.search))

    @Slot()
    def _on_search(self) -> None:
        self.set_view(View(self.view.order, self.view.filters, self.search.text()))

    def clear_view(self) -> None:
        self.search.clear()
        self.filters.filter_model.texts = [""] * len(self.filters.filter_model.texts)
        self.filters.viewport().update()
        self.grid.horizontalHeader().setSortIndicatorShown(False)
        self.set_view(View())

    def set_view(self, view: View) -> None:
        """Show ``view`` of the file: counted and sorted on a worker, with progress and Cancel."""
        if self.source is None or (view == self.view and not self._view_call):
            return
        self.cancel_view()
        self.view = view
        source = self.source
        if not view.narrowed and not view.order:
            self._show_view(source, view, source.info.rows, source.info.rows_exact, [])
            return
        call = Call()
        self._view_call = call
        self._view_generation += 1
        generation = self._view_generation
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel_button.show()
        self._progress_timer.start()
        self.statusMessage.emit("Sorting…" if view.order and not view.narrowed else "Filtering…")
        self._view_worker = run_in_worker(
            prepare_view, source, view, call,
            on_result=lambda result: self._on_view_ready(generation, source, view, result),
            on_error=lambda exc: self._on_view_failed(generation, exc))

    def _on_view_ready(self, generation: int, source: TableSource, view: View, result: Any) -> None:
        if generation != self._view_generation or source is not self.source:
            return
        self._view_done()
        rows, exact, first = result
        self._show_view(source, view, rows, exact, first)
        self.statusMessage.emit(f"{rows:,} matching rows" if view.narrowed else "Sorted")

    def _show_view(self, source: TableSource, view: View, rows: int, exact: bool,
                   first: list[list[str]]) -> None:
        if self.editor.overlays(view):
            rows, exact = self.editor.edits.rows, True
        self.model.show_table(source, view, rows, exact, first)
        self.editor.view_changed()
        self._show_mode()
        self.statusChanged.emit()

    def _on_view_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._view_generation:
            return
        self._view_done()
        self.view = self.model.view  # the grid still shows the view before this one
        self._sync_header()
        if isinstance(exc, CancelledError):
            self.message.show_message("Stopped: the grid shows the file as it was before.", "warning")
        else:
            self.message.show_message(self.describe_failure(exc), "error")

    def cancel_view(self) -> None:
        """Stop a running sort, filter or search; the grid keeps the view it shows."""
        if self._view_call is not None:
            self._view_call.cancel()
            self.view = self.model.view
            self._sync_header()
        self._view_generation += 1
        self._view_done()

    def _on_cancel_clicked(self) -> None:
        self.cancel_view()
        self.message.show_message("Stopped: the grid shows the file as it was before.", "warning")

    def _sync_header(self) -> None:
        """The sort indicator as the current view has it."""
        header = self.grid.horizontalHeader()
        header.setSortIndicatorShown(bool(self.view.order))
        if self.view.order:
            column, descending = self.view.order[0]
            header.setSortIndicator(column, Qt.SortOrder.DescendingOrder if descending
                                    else Qt.SortOrder.AscendingOrder)

    def _view_done(self) -> None:
        self._view_call = None
        self._view_worker = None
        self._progress_timer.stop()
        self.progress.hide()
        self.cancel_button.hide()

    def is_busy(self) -> bool:
        return self._view_call is not None

    def _show_progress(self) -> None:
        call = self._view_call
        fraction = call.progress() if call is not None else None
        if fraction is None:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 100)
            self.progress.setValue(int(fraction * 100))

    # -- side panels -----------------------------------------------------------------------------
    def _on_current_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        if self.source is None or not current.isValid():
            return
        if current.column() != previous.column() or not previous.isValid():
            self.show_column(current.column())
        if current.row() != previous.row() or not previous.isValid():
            self.show_record(current.row())

    def _side_call_new(self) -> tuple[Call, int]:
        if self._side_call is not None:
            self._side_call.cancel()
        self._side_call = Call()
        self._side_generation += 1
        return self._side_call, self._side_generation

    def show_column(self, column: int) -> None:
        if self.source is None or not 0 <= column < len(self.source.info.columns):
            return
        call, generation = self._side_call_new()
        self.stats.show_busy(self.source.info.columns[column].name)
        run_in_worker(column_profile, self.source, column, self.view, call,
                      on_result=lambda r: generation == self._side_generation and self.stats.show_stats(*r),
                      on_error=lambda exc: generation == self._side_generation
                      and self.stats.show_error(self.describe_failure(exc)))

    def show_record(self, row: int) -> None:
        if self.source is None:
            return
        fields = self.editor.record_fields(row)  # an edited CSV: the row as the grid shows it
        if fields is not None:
            self.record.show_record(row, fields)
            return
        source, view = self.source, self.view
        run_in_worker(source.record, row, view, Call(),
                      on_result=lambda fields: self.source is source and self.record.show_record(row, fields),
                      on_error=lambda _exc: None)

    # -- SQL over the open files ---------------------------------------------------------------------
    def table_source(self) -> TableSource | None:
        """This file's table for SQL over files (gui.common.open_documents.TableProvider)."""
        return self.source

    @Slot(bool)
    def show_sql(self, shown: bool = True) -> None:
        """Show (or hide) the Execute SQL panel under the grid."""
        self.sql_button.setChecked(shown)
        self.sql_panel.setVisible(shown)
        if shown:
            self.sql_split.setSizes([300, 420])
            self.sql_panel.editor.setFocus()

    # -- convert -----------------------------------------------------------------------------------
    def can_convert(self) -> bool:
        return self.source is not None

    def ask_convert(self) -> ConvertDialog | None:
        """Convert…: the dialog, then the conversion of the rows shown (the current view)."""
        if self.source is None:
            return None
        dialog = ConvertDialog(self.path, self.title(), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.targetChosen.connect(self.convert_to)
        dialog.open()
        return dialog

    def convert_to(self, target: Target, open_when_done: bool = False) -> ConversionRun | None:
        if self.source is None:
            return None
        source, view = self.source, self.view
        total = self.model.rowCount() if self.model.rows_exact else None
        run = ConversionRun(self, target, lambda: TableRows(source, view, total),
                            open_when_done=open_when_done)
        run.finished.connect(lambda ok, text: self.message.show_message(text, "info" if ok else "error"))
        return run

    # -- find: Ctrl+F is the search field ------------------------------------------------------
    def start_find(self) -> bool:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()
        return True

    def find_next(self, backward: bool = False) -> bool:
        if not self.search.text():
            return self.start_find()
        self._on_search()
        return True

    # -- session state ---------------------------------------------------------------------------
    def view_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"splitter": self.splitter.sizes()}
        sql = self.sql_panel.editor.toPlainText()
        if sql or self.sql_button.isChecked():
            state.update(sql=sql[:100_000], sql_shown=self.sql_button.isChecked())
        return state

    def restore_view_state(self, state: dict[str, Any]) -> None:
        sizes = state.get("splitter")
        if isinstance(sizes, list) and len(sizes) == 2 and all(isinstance(s, int) for s in sizes):
            self.splitter.setSizes(sizes)
        if isinstance(state.get("sql"), str):
            self.sql_panel.editor.setPlainText(state["sql"])
        if state.get("sql_shown") is True:
            self.show_sql(True)

    def select_cell(self, row: int, column: int) -> None:
        index = self.model.index(row, column)
        self.grid.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    # -- closing ---------------------------------------------------------------------------------
    def _close_source(self) -> None:
        self._count_timer.stop()
        for call in (self._count_call, self._side_call):
            if call is not None:
                call.cancel()
        self.model.stop()
        if self.source is not None:
            source, self.source = self.source, None
            self.model.show_table(None, View(), 0, True)
            run_in_worker(source.close, on_error=lambda _exc: None)

    def close_document(self) -> None:
        self.sql_panel.shutdown()
        self.editor.stop()
        self.cancel_latest()
        self.cancel_view()
        self._close_source()
