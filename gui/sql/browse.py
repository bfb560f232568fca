"""The Browse tab of the SQL tab: the lazy grid with search, filters and SQL sorting.

:class:`BrowsePanel` owns the grid, its model, the filter row and the status line, and the
state of what is shown (table, sort, filters, the query's generation); it talks to its document
only through :class:`BrowseHost` and tells it of each new query through :attr:`queryStarted`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QStyledItemDelegate,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from gui.common.column_fit import ColumnFitter
from gui.sql.grid_model import SqlTableModel
from gui.sql.server import estimate_rows
from gui.sql.tasks import ROW_HEIGHT, SIZES_UP_TO, count_query
from storage.formats.sql.db import Database
from storage.formats.sql.errors import StatementTimeout
from storage.formats.sql.estimate import has_estimates
from storage.formats.sql.filters import OPS, Filter
from storage.formats.sql.pager import Pager
from storage.formats.sql.schema_types import Schema, Table
from storage.formats.sql.spec import QuerySpec, SortKey
from storage.formats.sql.sqlite_db import COUNT_CAP, MAX_GRID_COLUMNS, Interrupted, Reader

if TYPE_CHECKING:  # Edit ▸ Find is imported when first used
    from gui.sql.grid_find import GridFinder


class BrowseHost(Protocol):
    """What the grid needs from its document: the open database and where to report."""

    schema: Schema | None
    reader: Reader | None
    counter: Reader | None
    database: Database | None
    read_only: bool

    def start_task(self, fn: Any, *args: Any, on_result: Any = None, on_error: Any = None) -> Any: ...
    def show_message(self, text: str, kind: str = "info") -> None: ...
    def note_error(self, error: BaseException) -> bool: ...
    def connection_back(self) -> None: ...
    def cancel_work(self) -> None: ...


class BrowsePanel(QWidget):
    """The grid, its filter row and its status line; sorting and filtering run in SQL."""

    queryStarted = Signal()  # a new query of the grid (another table, sort or filter, a reopen)
    tableShown = Signal()  # another table is shown

    def __init__(self, host: BrowseHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host
        page = self
        self.table: Table | None = None
        self.sort: list[SortKey] = []
        self.filters: list[Filter] = []
        self._generation = 0  # bumped by each new query of the grid
        self._grid_counts = 0  # grid counts under way on the counter connection
        self.show_new_row = False  # New Record was clicked: show the new row once counted
        # Work that waits for the query's first rows on screen (see after_first_page).
        self._first_rows_in = True
        self._after_first_rows: list[Callable[[], None]] = []
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(300)
        self._search_timer.timeout.connect(self.apply_query)
        self._busy_timer = QTimer(self)
        self._busy_timer.setSingleShot(True)
        self._busy_timer.setInterval(250)
        self._busy_timer.timeout.connect(lambda: self.busy.setVisible(True))
        self.search = QLineEdit(page)
        self.search.setPlaceholderText("Search all columns")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        # A free-form condition in SQL (DBeaver's filter box): applied on Enter, not as you type.
        self.where_box = QLineEdit(page)
        self.where_box.setPlaceholderText("WHERE …  (SQL, Enter to apply)")
        self.where_box.setClearButtonEnabled(True)
        self.where_box.setToolTip("A condition in the database's own SQL, e.g. n > 10 AND v LIKE 'a%'")
        self.where_box.returnPressed.connect(self.apply_query)
        self.where_box.textChanged.connect(lambda text: text or self.apply_query())
        self.filter_column = QComboBox(page)
        self.filter_op = QComboBox(page)
        self.filter_op.addItems(list(OPS))
        self.filter_value = QLineEdit(page)
        self.filter_value.setPlaceholderText("value")
        self.filter_value2 = QLineEdit(page)
        self.filter_value2.setPlaceholderText("and")
        self.filter_value2.setVisible(False)
        self.filter_op.currentTextChanged.connect(self._on_filter_op)
        self.filter_value.textChanged.connect(lambda _t: self._search_timer.start())
        self.filter_value2.textChanged.connect(lambda _t: self._search_timer.start())
        self.filter_column.currentIndexChanged.connect(lambda _i: self._search_timer.start())
        self.add_filter = QPushButton("Add filter", page)
        self.add_filter.clicked.connect(self._on_add_filter)
        self.clear_filters = QPushButton("Clear", page)
        self.clear_filters.clicked.connect(self._on_clear_filters)
        self.filters_label = QLabel(page)
        self.rows_label = QLabel(page)
        self.busy = QWidget(page)
        bar = QProgressBar(self.busy)
        bar.setRange(0, 0)
        bar.setMaximumWidth(80)
        bar.setMaximumHeight(14)
        self.cancel_button = QPushButton("Cancel", self.busy)
        self.cancel_button.clicked.connect(host.cancel_work)
        busy_box = QHBoxLayout(self.busy)
        busy_box.setContentsMargins(0, 0, 0, 0)
        busy_box.addWidget(QLabel("Working…", self.busy))
        busy_box.addWidget(bar)
        busy_box.addWidget(self.cancel_button)
        self.busy.setVisible(False)

        self.model = SqlTableModel(self)
        self.model.loadingChanged.connect(self._on_loading)
        self.model.fetchFailed.connect(self._on_fetch_failed)
        self.model.pageArrived.connect(host.connection_back)
        # What waits for the first rows runs once the grid has painted them (see eventFilter), or
        # a second after the page came if it never paints (a minimized window).
        self._rows_shown_timer = QTimer(self)
        self._rows_shown_timer.setSingleShot(True)
        self._rows_shown_timer.setInterval(1000)
        self._rows_shown_timer.timeout.connect(self._on_first_rows)
        self.model.pageArrived.connect(self._on_page_in)
        self.model.fetchFailed.connect(self._on_first_rows)
        self.grid = QTableView(page)
        self.grid.viewport().installEventFilter(self)  # its first paint of rows: see eventFilter
        self.grid.setModel(self.model)
        self.grid.setWordWrap(False)
        self.grid.setSortingEnabled(False)
        vertical = self.grid.verticalHeader()
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vertical.setDefaultSectionSize(ROW_HEIGHT)
        header = self.grid.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setDefaultSectionSize(140)
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(False)
        header.sectionClicked.connect(self._on_header_clicked)
        self.fitter = ColumnFitter(self.grid, context=lambda: self.table.qualified if self.table else "")
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.export_button = QPushButton("Export…", page)
        self.export_button.setToolTip("Write the rows shown (sorted and filtered) to CSV or JSON")
        filters = QHBoxLayout()
        filters.addWidget(self.search, 2)
        filters.addWidget(self.where_box, 2)
        filters.addWidget(QLabel("Filter:", page))
        for widget in (self.filter_column, self.filter_op):
            filters.addWidget(widget)
        filters.addWidget(self.filter_value, 1)
        filters.addWidget(self.filter_value2, 1)
        filters.addWidget(self.add_filter)
        filters.addWidget(self.clear_filters)
        bottom = QHBoxLayout()
        bottom.addWidget(self.rows_label)
        bottom.addWidget(self.filters_label, 1)
        bottom.addWidget(self.busy)
        bottom.addWidget(self.export_button)

        browse_box = QVBoxLayout(self)
        browse_box.setContentsMargins(0, 4, 0, 0)
        browse_box.addLayout(filters)
        browse_box.addWidget(self.grid, 1)
        browse_box.addLayout(bottom)
        self._browse_box = browse_box
        self._finder: GridFinder | None = None  # Edit ▸ Find, built when first asked for

    @property
    def finder(self) -> GridFinder:
        """Edit ▸ Find in the whole table: its bar sits under the grid."""
        if self._finder is None:
            from gui.sql.grid_find import GridFinder

            self._finder = GridFinder(self)
            self._browse_box.insertWidget(self._browse_box.indexOf(self.grid) + 1, self._finder.bar)
        return self._finder

    def set_delegate(self, delegate: QStyledItemDelegate) -> None:
        self.grid.setItemDelegate(delegate)

    def set_editable(self, editable: bool) -> None:
        """Whether a double-click or a key opens a cell's editor."""
        triggers = (QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed
                    | QAbstractItemView.EditTrigger.AnyKeyPressed)
        self.grid.setEditTriggers(triggers if editable else QAbstractItemView.EditTrigger.NoEditTriggers)

    def key_of(self, row: int) -> dict[str, Any] | None:
        """The key of the grid's ``row`` (None while its page is not loaded)."""
        found = self.model.cached_row(row)
        if found is None or self.model.pager is None:
            return None
        page, _offset = found
        return self.model.pager.row_key(page, row)

    @Slot(int, int, object)
    def cell_written(self, row: int, column: int, value: Any) -> None:
        """The database holds ``value`` in the cell now: the grid shows it without a reload."""
        self.model.set_cached_value(row, column, value)

    @Slot(int, int, object, str)
    def write_failed(self, row: int, column: int, value: Any, message: str) -> None:
        """A write failed but may succeed later: the cell keeps the typed value, marked."""
        self.model.mark_failed(row, column, value, message)

    @Slot(int, int, str)
    def write_refused(self, row: int, column: int, _message: str) -> None:
        """The database refused a write: the cell shows the stored value again."""
        self.model.clear_failed(row, column)

    def forget_table(self) -> None:
        """The database is reopened: the table is found again by name once the schema is read."""
        self.table = None

    def stop(self) -> None:
        """Closing or reopening: stop the timers, the model's reads, and drop late answers."""
        self._generation += 1
        self._first_rows_in, self._after_first_rows = True, []  # what waited is dropped
        self._rows_shown_timer.stop()
        self._search_timer.stop()
        self._busy_timer.stop()
        self.model.stop()
        self.model.set_query(None, None, [], [])

    def current_spec(self) -> QuerySpec | None:
        table = self.table
        if table is None:
            return None
        names = tuple(c.name for c in table.columns[:MAX_GRID_COLUMNS])
        filters = list(self.filters)
        live = self._live_filter()
        if live is not None:
            filters.append(live)
        shown = table.columns[:MAX_GRID_COLUMNS]
        not_null = tuple(c.name for c in shown if c.notnull)
        if table.key is None:  # SQLite: the rowid is never NULL
            not_null += tuple(k for k in table.key_columns if k == table.rowid_name)
        keys = tuple(table.key_columns or table.page_key)  # ctid: a keyless server table's pages
        not_null += tuple(table.page_key)
        return QuerySpec(table.name, names, keys, tuple(self.sort), tuple(filters),
                         self.search.text(), with_sizes=len(names) <= SIZES_UP_TO, schema=table.schema,
                         not_null=not_null, types=tuple(c.decl_type for c in shown),
                         where=self.where_box.text())

    def _live_filter(self) -> Filter | None:
        column, op = self.filter_column.currentText(), self.filter_op.currentText()
        if not column or (op not in ("is null", "not null") and not self.filter_value.text()):
            return None
        return Filter(column, op, self.filter_value.text(), self.filter_value2.text())

    @Slot()
    def apply_query(self) -> None:
        spec = self.current_spec()
        table = self.table
        if spec is None or table is None or self.host.reader is None or self.host.counter is None:
            return
        self._generation += 1
        generation = self._generation
        if self._grid_counts:  # a slow count of the old query would hold up the new one
            self.host.counter.interrupt()
        database = self.host.database
        pager = Pager(spec, dialect=database.server_dialect if database is not None else None)
        editable = table.editable and not self.host.read_only
        self.model.set_query(self.host.reader, pager, list(spec.columns),
                             [c.decl_type for c in table.columns[:MAX_GRID_COLUMNS]],
                             0, editable)
        self.grid.horizontalHeader().setSortIndicatorShown(bool(self.sort))
        if self.sort:
            primary = spec.columns.index(self.sort[0].column)
            order = Qt.SortOrder.DescendingOrder if self.sort[0].descending else Qt.SortOrder.AscendingOrder
            self.grid.horizontalHeader().setSortIndicator(primary, order)
        self.rows_label.setText("Counting rows…")
        self.rows_label.setToolTip("")
        notes = []
        if len(table.columns) > MAX_GRID_COLUMNS:
            notes.append(f"showing the first {MAX_GRID_COLUMNS:,} of {len(table.columns):,} columns")
        if not table.key_columns:
            how = "by row address (ctid)" if table.page_key else "by OFFSET"
            notes.append(table.key_note or f"a {table.kind}: read-only, paged {how}")
        if self.filters:
            notes.append("filters: " + "; ".join(f"{f.column} {f.op} {f.value}".strip()
                                                 for f in self.filters))
        if spec.where.strip():
            notes.append(f"WHERE {spec.where.strip()}")
        if len(self.sort) > 1:
            notes.append("sorted by " + ", ".join(
                f"{s.column} {'desc' if s.descending else 'asc'}" for s in self.sort))
        self.filters_label.setText(" · ".join(notes))
        self._busy_timer.start()
        self._first_rows_in = False
        self._count_grid(generation, pager, COUNT_CAP)
        self.model.prefetch_first_page()  # beside the capped count, on the reader connection
        self.queryStarted.emit()

    def after_first_page(self, work: Callable[[], None]) -> None:
        """Run ``work`` once the grid shows the query's first rows: at once when they are shown
        (or there are none, or the grid is hidden). The exact count and the schema tree's counts
        wait for them: on two cores, counting 10 million rows beside the first page's read held
        the first paint up by a second (issue 16)."""
        if self._first_rows_in or not self.grid.isVisible():
            work()
        else:
            self._after_first_rows.append(work)

    @Slot()
    def _on_page_in(self) -> None:
        if not self._first_rows_in and not self._rows_shown_timer.isActive():
            self._rows_shown_timer.start()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """The grid painted: when that was its first rows, what waited for them runs next."""
        if (event.type() == QEvent.Type.Paint and not self._first_rows_in
                and watched is self.grid.viewport() and self.model.rowCount() > 0
                and self.model.cached_pages() > 0):
            self._first_rows_in = True  # once
            QTimer.singleShot(0, self, self._on_first_rows)  # after this paint reaches the screen
        return super().eventFilter(watched, event)

    @Slot()
    def _on_first_rows(self) -> None:
        """The first rows are on screen (or could not be read, or there are none): what waited runs."""
        self._rows_shown_timer.stop()
        self._first_rows_in = True
        waiting, self._after_first_rows = self._after_first_rows, []
        for work in waiting:
            work()

    def _count_grid(self, generation: int, pager: Any, cap: int | None) -> None:
        if self.host.counter is None:
            return
        self._grid_counts += 1

        def counted(rows: int) -> None:
            self._grid_counts -= 1
            self._on_grid_count(generation, pager, rows, capped=cap is not None)

        def failed(exc: BaseException) -> None:
            self._grid_counts -= 1
            if generation == self._generation and self._estimate_instead(generation, pager, exc):
                self._busy_timer.stop()
                self.busy.setVisible(False)
                return
            self._on_count_failed(generation, exc)

        self.host.start_task(count_query, self.host.counter, pager, cap, on_result=counted, on_error=failed)

    def _on_grid_count(self, generation: int, pager: Pager, rows: int, capped: bool) -> None:
        if generation != self._generation:
            return
        if capped and rows > COUNT_CAP:
            self.model.set_row_count(COUNT_CAP)
            self.rows_label.setText(f"{COUNT_CAP:,}+ rows (counting…)")

            def count_exactly() -> None:
                if generation == self._generation:
                    self._count_grid(generation, pager, None)

            self.after_first_page(count_exactly)
            return
        self.model.set_exact_total(rows)
        if rows == 0:  # no page to wait for
            self._on_first_rows()
        self.host.connection_back()  # rows were read: a "Connection lost" bar no longer applies
        self.rows_label.setText(f"{rows:,} row{'s' if rows != 1 else ''}")
        if self.show_new_row and rows:  # New Record in rowid order: the new row is the last
            self.show_new_row = False
            self.grid.setCurrentIndex(self.model.index(rows - 1, 0))
        if not self.model.is_busy():
            self._busy_timer.stop()
            self.busy.setVisible(False)

    def _on_count_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self._on_first_rows()  # no rows will come: what waited for them runs
        self._busy_timer.stop()
        self.busy.setVisible(False)
        if isinstance(exc, Interrupted):
            self.rows_label.setText("Counting cancelled")
            return
        self.rows_label.setText("Rows: ?")
        if self.host.note_error(exc):  # the connection bar says it, with Reconnect
            self.host.show_message("Cannot read rows: the connection was lost.", "error")
            return
        self.host.show_message(f"Cannot read {self.table.qualified if self.table else ''}: {exc}", "error")

    @Slot(bool)
    def _on_loading(self, loading: bool) -> None:
        if loading:
            self._busy_timer.start()
        else:
            self._busy_timer.stop()
            self.busy.setVisible(False)

    @Slot(str)
    def _on_fetch_failed(self, message: str) -> None:
        if message == "Cancelled.":
            self.host.show_message("Query cancelled. Change the sort or filter, or click a table, to retry.",
                              "info")
        else:
            if self.model.last_error is not None and self.host.note_error(self.model.last_error):
                self.host.show_message("Cannot read rows: the connection was lost.", "error")
                return
            self.host.show_message(f"Cannot read rows: {message}", "error")

    @Slot(int)
    def _on_header_clicked(self, section: int) -> None:
        spec = self.current_spec()
        if spec is None or section >= len(spec.columns):
            return
        name = spec.columns[section]
        adding = bool(QApplication.keyboardModifiers() & Qt.KeyboardModifier.ShiftModifier)
        self.sort_by(name, adding)

    def sort_by(self, name: str, add: bool = False) -> None:
        """Sort by ``name`` (toggling its direction if it is sorted already); ``add`` keeps the others."""
        existing = next((s for s in self.sort if s.column == name), None)
        if existing is not None:
            flipped = SortKey(name, not existing.descending)
            self.sort = [flipped if s is existing else s for s in self.sort] if add else [flipped]
        else:
            self.sort = [*self.sort, SortKey(name)] if add else [SortKey(name)]
        self.apply_query()

    @Slot(str)
    def _on_filter_op(self, op: str) -> None:
        self.filter_value2.setVisible(op == "between")
        self.filter_value.setVisible(op not in ("is null", "not null"))
        self._search_timer.start()

    @Slot()
    def _on_add_filter(self) -> None:
        live = self._live_filter()
        if live is not None:
            self.filters.append(live)
            self.filter_value.blockSignals(True)
            self.filter_value.clear()
            self.filter_value.blockSignals(False)
            self.apply_query()

    @Slot()
    def _on_clear_filters(self) -> None:
        self.filters = []
        self.filter_value.clear()
        self.search.clear()
        self.where_box.blockSignals(True)
        self.where_box.clear()
        self.where_box.blockSignals(False)
        self.apply_query()

    def show_table(self, table: Table) -> None:
        """Show ``table`` in the grid, unsorted and unfiltered."""
        if table is self.table:
            return
        self.table = table
        self.sort, self.filters = [], []
        self.filter_column.blockSignals(True)
        self.filter_column.clear()
        self.filter_column.addItems([c.name for c in table.columns[:MAX_GRID_COLUMNS]])
        self.filter_column.blockSignals(False)
        self.filter_value.blockSignals(True)
        self.filter_value.clear()
        self.filter_value.blockSignals(False)
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        self.where_box.blockSignals(True)  # a condition on another table's columns
        self.where_box.clear()
        self.where_box.blockSignals(False)
        self.apply_query()
        self.tableShown.emit()

    def browse_state(self) -> dict[str, Any]:
        """What the grid shows: the table, its sort, filters and search, and the current cell."""
        current = self.grid.currentIndex()
        return {"table": self.table.qualified if self.table else None, "sort": list(self.sort),
                "filters": list(self.filters), "search": self.search.text(),
                "row": max(current.row(), 0), "column": max(current.column(), 0)}

    def set_browse(self, sort: list, filters: list, search: str) -> int:
        """Sort, filter and search the grid as given; the generation of the query started."""
        self.sort, self.filters = list(sort), list(filters)
        for edit, text in ((self.search, search), (self.filter_value, ""), (self.filter_value2, "")):
            edit.blockSignals(True)
            edit.setText(text)
            edit.blockSignals(False)
        self.apply_query()
        return self._generation

    def query_generation(self) -> int:
        return self._generation

    def set_filter(self, column: str, op: str, value: str = "", value2: str = "") -> None:
        """Programmatic filter (tests, and the record view's links)."""
        self.filter_column.setCurrentText(column)
        self.filter_op.setCurrentText(op)
        self.filter_value.setText(value)
        self.filter_value2.setText(value2)
        self.apply_query()

    def reload_rows(self) -> None:
        """The database changed: recount and refetch the visible pages; the scroll position stays."""
        if self.model.pager is None or self.host.counter is None:
            return
        self.model.refresh()
        self._count_grid(self._generation, self.model.pager, None)

    def _estimate_instead(self, generation: int, pager: Any, error: BaseException) -> bool:
        """The grid's count ran past the statement timeout: ask PostgreSQL for its estimate."""
        if not (isinstance(error, StatementTimeout) and self.host.counter is not None and self.host.database
                and has_estimates(self.host.database.server_dialect)):
            return False
        self.rows_label.setText("Rows: estimating…")
        self.host.start_task(estimate_rows, self.host.counter, pager,
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
