"""The SQLite tab's document: a schema tree, a lazy grid with SQL sorting and filtering, a record view.

Reading goes through read-only connections owned by :class:`storage.sqlite_db.Reader` (one for
pages, one for counts, so a slow count never holds up scrolling). Editing is off in read-only
mode; otherwise each edit is an undo command that writes one short transaction at once, so
there is never anything unsaved and no lock is held between edits.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, QTimer, Slot
from PySide6.QtGui import QFontDatabase, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QStyledItemDelegate,
    QTableView,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from storage.errors import KnownError
from storage.sql_exec import Statement, run_statement, split_statements, statement_at
from storage.sql_query import OPS, Filter, Pager, QuerySpec, SortKey, coerce
from storage.sql_transfer import Cancelled, export_rows, import_csv
from storage.sqlite_db import (
    COUNT_CAP,
    MAX_GRID_COLUMNS,
    Interrupted,
    Reader,
    Schema,
    Table,
    check_header,
    connect_reader,
    data_version,
    load_schema,
)
from storage.sqlite_edit import read_row

from .document import Document
from .sql_editor import SqlEditor
from .sqlite_commands import DeleteRows, EditCell, InsertRow
from .sqlite_model import SqlTableModel, describe_time, format_value
from .workers import Worker as Task
from .workers import run_in_worker as run_task

ROW_HEIGHT = 22
REFRESH_MS = 1500
SIZES_UP_TO = 900  # wider tables skip the full-length column (SQLite's result column limit)


def writable(path: str) -> bool:
    folder = os.path.dirname(path) or "."
    return os.access(path, os.W_OK) and os.access(folder, os.W_OK)


def open_database(path: str, read_only: bool) -> dict[str, Any]:
    """Worker body: check the header, open the readers, read the schema."""
    wal = check_header(path)
    immutable = read_only and wal  # a read-only WAL reader would create the -shm file
    reader = Reader(path, immutable=immutable)
    try:
        schema = reader.run(lambda conn: load_schema(conn, path))
        counter = Reader(path, immutable=immutable)
    except BaseException:
        reader.close()
        raise
    return {"reader": reader, "counter": counter, "schema": schema, "immutable": immutable, "wal": wal}


def count_tables(path: str, immutable: bool, names: list[str], cap: int | None,
                 cancel) -> dict[str, int | str]:
    """Worker body: row counts of tables (capped, or exact) on a connection of its own.

    Its own connection: interrupting the grid's counts never cuts these short, and a cancel
    stops a long count through the progress handler.
    """
    from storage.sql_query import quote

    counts: dict[str, int | str] = {}
    reader = Reader(path, immutable=immutable)
    reader.conn.set_progress_handler(lambda: 1 if cancel() else 0, 100_000)
    try:
        for name in names:
            if cancel():
                break
            inner = f"SELECT 1 FROM {quote(name)}" + (f" LIMIT {cap + 1}" if cap is not None else "")
            try:
                counts[name] = int(reader.run(  # type: ignore[arg-type]
                    lambda conn, sql=inner: conn.execute(f"SELECT count(*) FROM ({sql})").fetchone()[0]))
            except Interrupted:
                break
            except KnownError as exc:
                counts[name] = f"error: {exc}"
    finally:
        reader.close()
    return counts


def run_statements(path: str, reader: Reader, statements: list[Statement], read_only: bool,
                   cancel) -> tuple[list[Any], KnownError | None]:
    """Worker body: run statements in turn until one fails; (outcomes, the error or None)."""
    outcomes = []
    for statement in statements:
        if cancel():
            return outcomes, Interrupted("Cancelled.")
        try:
            outcomes.append(reader.run(lambda conn, s=statement: run_statement(
                path, conn, s.sql, read_only, s.start)))
        except KnownError as exc:
            return outcomes, exc
    return outcomes, None


def count_query(counter: Reader, pager: Any, cap: int | None) -> int:
    return int(counter.run(lambda conn: pager.count(conn, cap)))  # type: ignore[arg-type]


class CellDelegate(QStyledItemDelegate):
    """Edits every value as text and converts it back with the column's affinity."""

    def __init__(self, document: SqliteDocument) -> None:
        super().__init__(document)
        self.document = document

    def createEditor(self, parent, option, index):
        if isinstance(index.data(Qt.ItemDataRole.EditRole), bytes):
            self.document.show_message("BLOBs are edited with Load from File (right click).", "info")
            return None
        editor = QLineEdit(parent)
        editor.setPlaceholderText("NULL")
        return editor

    def setEditorData(self, editor, index) -> None:
        value = index.data(Qt.ItemDataRole.EditRole)
        editor.setText("" if value is None else str(value))

    def setModelData(self, editor, model, index) -> None:
        self.document.edit_cell(index.row(), index.column(), editor.text())


class SqliteDocument(Document):
    """A database: schema on the left; Browse and Record tabs on the right."""

    def __init__(self, path: str, fmt: str, parent: QWidget | None = None) -> None:
        super().__init__(path, fmt, parent)
        self.report: dict[str, Any] | None = None
        self.schema: Schema | None = None
        self.reader: Reader | None = None
        self.counter: Reader | None = None
        self.immutable = False
        self.table: Table | None = None
        self.sort: list[SortKey] = []
        self.filters: list[Filter] = []
        self._workers: list[Task] = []
        self._generation = 0  # bumped by each new query of the grid
        self._grid_counts = 0  # grid counts under way on the counter connection
        self._record_token = 0
        self._open_generation = 0  # bumped by each (re)open of the database
        self._data_version: int | None = None
        self._watcher: sqlite3.Connection | None = None  # PRAGMA data_version, GUI thread, no wait
        # Read-only by default when the file cannot be written, and for WAL databases: a
        # reader that may write would create their -shm and -wal files just by looking.
        self.read_only = not writable(self.path or "") or _is_wal(self.path or "")
        # Every edit is in the file once its command ran: there is never anything to save.
        self.undo_stack.indexChanged.connect(self._on_undo_index_changed)

        self.stack = QStackedWidget(self)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.hide()
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.message)
        box.addWidget(self.stack, 1)
        self.status = QLabel(f"Opening {self.title()}…", self)
        self.stack.addWidget(self.status)
        self.stack.addWidget(self._build_content())
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setInterval(REFRESH_MS)
        self._refresh_timer.timeout.connect(self._on_refresh_tick)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(300)
        self._search_timer.timeout.connect(self._apply_query)
        self._busy_timer = QTimer(self)
        self._busy_timer.setSingleShot(True)
        self._busy_timer.setInterval(250)
        self._busy_timer.timeout.connect(lambda: self.busy.setVisible(True))
        self.open_database()

    @Slot(int)
    def _on_undo_index_changed(self, _index: int) -> None:
        self.undo_stack.setClean()

    # -- building ------------------------------------------------------------------------------
    def _build_content(self) -> QWidget:
        page = QWidget(self)
        self.tree = QTreeWidget(page)
        self.tree.setHeaderLabels(["Name", "Rows", "Type", "Details"])
        self.tree.setUniformRowHeights(True)
        self.tree.header().resizeSection(0, 150)
        self.tree.header().resizeSection(1, 70)
        self.tree.header().resizeSection(2, 70)
        self.tree.currentItemChanged.connect(self._on_tree_current)

        self.read_only_box = QCheckBox("Read-only", page)
        self.read_only_box.setToolTip("Read-only: the file is opened mode=ro and never written. "
                                      "Off: each edit is written at once in its own transaction.")
        self.read_only_box.toggled.connect(self._on_read_only_toggled)
        self.mode_label = QLabel(page)
        self.search = QLineEdit(page)
        self.search.setPlaceholderText("Search all columns")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
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
        self.cancel_button.clicked.connect(self._on_cancel)
        busy_box = QHBoxLayout(self.busy)
        busy_box.setContentsMargins(0, 0, 0, 0)
        busy_box.addWidget(QLabel("Working…", self.busy))
        busy_box.addWidget(bar)
        busy_box.addWidget(self.cancel_button)
        self.busy.setVisible(False)

        self.model = SqlTableModel(self)
        self.model.loadingChanged.connect(self._on_loading)
        self.model.fetchFailed.connect(self._on_fetch_failed)
        self.grid = QTableView(page)
        self.grid.setModel(self.model)
        self.grid.setWordWrap(False)
        self.grid.setSortingEnabled(False)
        self.grid.setItemDelegate(CellDelegate(self))
        vertical = self.grid.verticalHeader()
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vertical.setDefaultSectionSize(ROW_HEIGHT)
        header = self.grid.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setDefaultSectionSize(140)
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(False)
        header.sectionClicked.connect(self._on_header_clicked)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.grid.customContextMenuRequested.connect(self._on_grid_menu)
        self.grid.selectionModel().currentRowChanged.connect(self._on_current_row)

        self.insert_button = QPushButton("Insert row", page)
        self.insert_button.clicked.connect(self.insert_row)
        self.duplicate_button = QPushButton("Duplicate", page)
        self.duplicate_button.clicked.connect(self.duplicate_row)
        self.delete_button = QPushButton("Delete", page)
        self.delete_button.clicked.connect(self.delete_rows)
        self.null_button = QPushButton("Set NULL", page)
        self.null_button.clicked.connect(self.set_null)
        self.export_button = QPushButton("Export…", page)
        self.export_button.setToolTip("Write the rows shown (sorted and filtered) to CSV or JSON")
        self.export_button.clicked.connect(lambda: self.export_rows_to())
        self.import_button = QPushButton("Import CSV…", page)
        self.import_button.clicked.connect(lambda: self.import_csv_file())

        top = QHBoxLayout()
        top.addWidget(self.read_only_box)
        top.addWidget(self.mode_label, 1)
        for widget in (self.insert_button, self.duplicate_button, self.delete_button, self.null_button,
                       self.import_button):
            top.addWidget(widget)
        filters = QHBoxLayout()
        filters.addWidget(self.search, 2)
        filters.addWidget(QLabel("Filter:", page))
        for widget in (self.filter_column, self.filter_op):
            filters.addWidget(widget)
        filters.addWidget(self.filter_value, 1)
        filters.addWidget(self.filter_value2, 1)
        filters.addWidget(self.add_filter)
        filters.addWidget(self.clear_filters)
        self.transfer = QWidget(page)
        self.transfer_bar = QProgressBar(self.transfer)
        self.transfer_bar.setRange(0, 100)
        self.transfer_bar.setMaximumWidth(120)
        self.transfer_cancel = QPushButton("Cancel", self.transfer)
        self._transfer_task: Task | None = None
        self.transfer_cancel.clicked.connect(self._on_transfer_cancel)
        transfer_box = QHBoxLayout(self.transfer)
        transfer_box.setContentsMargins(0, 0, 0, 0)
        self.transfer_label = QLabel(self.transfer)
        for widget in (self.transfer_label, self.transfer_bar, self.transfer_cancel):
            transfer_box.addWidget(widget)
        self.transfer.setVisible(False)
        bottom = QHBoxLayout()
        bottom.addWidget(self.rows_label)
        bottom.addWidget(self.filters_label, 1)
        bottom.addWidget(self.busy)
        bottom.addWidget(self.transfer)
        bottom.addWidget(self.export_button)

        browse = QWidget(page)
        browse_box = QVBoxLayout(browse)
        browse_box.setContentsMargins(0, 4, 0, 0)
        browse_box.addLayout(filters)
        browse_box.addWidget(self.grid, 1)
        browse_box.addLayout(bottom)

        self.record = QTreeWidget(page)
        self.record.setHeaderLabels(["Column", "Value"])
        self.record.setUniformRowHeights(True)
        self.record.header().resizeSection(0, 180)

        self.views = QTabWidget(page)
        self.views.addTab(browse, "Browse")
        self.views.addTab(self.record, "Record")
        self.views.addTab(self._build_execute(page), "Execute SQL")
        self.views.currentChanged.connect(lambda _i: self._on_current_row(self.grid.currentIndex()))

        right = QWidget(page)
        right_box = QVBoxLayout(right)
        right_box.setContentsMargins(0, 0, 0, 0)
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
        self.result_model.fetchFailed.connect(lambda m: self.sql_message.setText(_esc(m)))
        self.results = QTableView(page)
        self.results.setModel(self.result_model)
        self.results.setWordWrap(False)
        self.results.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.results.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self.results.horizontalHeader().setDefaultSectionSize(140)
        buttons = QHBoxLayout()
        for widget in (self.run_button, self.run_all_button, self.sql_cancel):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        buttons.addWidget(self.history)
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
        self.sql_message.setText("Running…")
        self.sql_cancel.setEnabled(True)
        self._start(run_statements, self.path or "", self.reader, statements, self.read_only,
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
            parts.append(f"query prepared in {last.seconds * 1000:.1f} ms; counting rows…")
            counting = len(parts) - 1
            self._start(count_query, self.counter, last.pager, None,
                        on_result=lambda n: self._on_result_count(generation, last, n, parts, counting),
                        on_error=lambda e: self.sql_message.setText(_esc(str(e))))
        if error is not None:
            where = error.location.describe() if isinstance(error, KnownError) else ""
            offset = error.location.offset if isinstance(error, KnownError) else None
            if offset is not None:  # line and column in the editor, not in the statement
                before = self.editor.toPlainText()[:offset]
                where = f"line {before.count(chr(10)) + 1}, column {offset - before.rfind(chr(10))}"
            parts.append(f"<span style='color:#b42318'>Error{' at ' + where if where else ''}: "
                         f"{_esc(getattr(error, 'message', str(error)))}</span>")
            if offset is not None:
                cursor = self.editor.textCursor()
                cursor.setPosition(min(offset, len(self.editor.toPlainText())))
                self.editor.setTextCursor(cursor)
        self.sql_message.setText("<br>".join(parts))
        if any(o.pager is None for o in outcomes):
            self.reload_rows()

    def _on_result_count(self, generation: int, outcome: Any, rows: int, parts: list[str],
                         at: int) -> None:
        if generation != self._generation:
            return
        self.result_model.set_exact_total(rows)
        parts[at] = f"{rows:,} row(s) · query prepared in {outcome.seconds * 1000:.1f} ms"
        self.sql_message.setText("<br>".join(parts))

    # -- opening -------------------------------------------------------------------------------
    def open_database(self) -> None:
        self._close_readers()
        self._generation += 1
        self._open_generation += 1
        generation = self._open_generation
        self.stack.setCurrentIndex(0)
        self._start(open_database, self.path, self.read_only,
                    on_result=lambda r: self._on_opened(generation, r),
                    on_error=lambda e: self._on_open_failed(generation, e))

    def _start(self, fn, *args, on_result=None, on_error=None) -> Task:
        task = run_task(fn, *args, on_result=on_result,
                        on_error=on_error or (lambda e: self.show_message(str(e), "error")))
        self._workers = [t for t in self._workers if t in _live_tasks()] + [task]
        return task

    def _on_open_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._open_generation:
            return
        message = str(exc) if isinstance(exc, KnownError) else f"internal error: {exc!r}"
        self.report = {"path": self.path, "format": self.format, "ok": False,
                       "error": {"message": message}}
        self.status.setText(f"<b>Cannot open {self.title()}</b><br>{_esc(message)}")
        self.status.setWordWrap(True)
        self.status.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.mark_loaded()

    def _on_opened(self, generation: int, result: dict[str, Any]) -> None:
        if generation != self._open_generation:
            result["reader"].close()
            result["counter"].close()
            return
        self.reader, self.counter = result["reader"], result["counter"]
        self.schema = result["schema"]
        self.immutable = result["immutable"]
        schema = self.schema
        assert schema is not None
        self.report = {"path": self.path, "format": self.format, "ok": True,
                       "summary": {"tables": len(schema.tables), "views": len(schema.views),
                                   "page_size": schema.page_size, "journal_mode": schema.journal_mode}}
        self.read_only_box.blockSignals(True)
        self.read_only_box.setChecked(self.read_only)
        self.read_only_box.setEnabled(writable(self.path or ""))
        self.read_only_box.blockSignals(False)
        self._fill_tree()
        self._fill_history()
        self.stack.setCurrentIndex(1)
        self._update_mode()
        self.statusChanged.emit()
        names = [t.name for t in schema.tables + schema.views]
        self._start(count_tables, self.path or "", self.immutable, names, COUNT_CAP,
                    on_result=lambda counts: self._on_counts(generation, counts, capped=True))
        if not self.immutable:
            try:
                self._watcher = connect_reader(self.path or "", timeout=0)
            except KnownError:
                self._watcher = None
            else:
                self._data_version = data_version(self._watcher)
                self._refresh_timer.start()
        first = self._table_item(self._pending_view_state.get("table"))
        if first is None and schema.tables:
            first = self._table_item(next((t.name for t in schema.tables
                                           if not t.name.startswith("sqlite_")), schema.tables[0].name))
        if first is not None:
            self.tree.setCurrentItem(first)
        self.mark_loaded()

    def _fill_tree(self) -> None:
        schema = self.schema
        assert schema is not None
        self.tree.clear()
        self._items: dict[str, QTreeWidgetItem] = {}
        groups = (("Tables", schema.tables), ("Views", schema.views))
        for title, tables in groups:
            group = QTreeWidgetItem(self.tree, [f"{title} ({len(tables)})"])
            for table in tables:
                item = QTreeWidgetItem(group, [table.name, "", table.kind,
                                               "WITHOUT ROWID" if table.without_rowid else table.error])
                item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight)
                item.setData(0, Qt.ItemDataRole.UserRole, table.name)
                item.setToolTip(0, table.sql)
                self._items[table.name] = item
                for col in table.columns:
                    details = []
                    if col.pk:
                        details.append("PK" if col.pk == 1 else f"PK {col.pk}")
                    if col.notnull:
                        details.append("NOT NULL")
                    if col.default is not None:
                        details.append(f"DEFAULT {col.default}")
                    if col.foreign_key:
                        target = col.foreign_key.column or "?"
                        details.append(f"→ {col.foreign_key.table}.{target}")
                    QTreeWidgetItem(item, [col.name, "", col.decl_type, " ".join(details)])
            group.setExpanded(True)
        for title, objects in (("Indexes", schema.indexes), ("Triggers", schema.triggers)):
            group = QTreeWidgetItem(self.tree, [f"{title} ({len(objects)})"])
            for obj in objects:
                child = QTreeWidgetItem(group, [obj.name, "", obj.kind, f"on {obj.table}"])
                child.setToolTip(0, obj.sql)

    def _table_item(self, name: Any) -> QTreeWidgetItem | None:
        return self._items.get(name) if isinstance(name, str) else None

    def _on_counts(self, generation: int, counts: dict[str, int | str], capped: bool) -> None:
        if generation != self._open_generation:
            return
        for name, count in counts.items():
            item = self._items.get(name)
            if item is None:
                continue
            if isinstance(count, str):
                item.setText(1, "?")
                item.setToolTip(1, count)
            elif capped and count > COUNT_CAP:
                item.setText(1, f"{COUNT_CAP:,}+")
            else:
                item.setText(1, f"{count:,}")
        if capped:
            large = [n for n, c in counts.items() if isinstance(c, int) and c > COUNT_CAP]
            if large:
                self._start(count_tables, self.path or "", self.immutable, large, None,
                            on_result=lambda exact: self._on_counts(generation, exact, capped=False))

    # -- browsing ------------------------------------------------------------------------------
    @Slot(QTreeWidgetItem, QTreeWidgetItem)
    def _on_tree_current(self, current: QTreeWidgetItem | None, _previous=None) -> None:
        while current is not None and current.data(0, Qt.ItemDataRole.UserRole) is None:
            current = current.parent()
        if current is None or self.schema is None:
            return
        table = self.schema.find(current.data(0, Qt.ItemDataRole.UserRole))
        if table is None or table is self.table:
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
        self._apply_query()
        self.viewStateChanged.emit()

    def current_spec(self) -> QuerySpec | None:
        table = self.table
        if table is None:
            return None
        names = tuple(c.name for c in table.columns[:MAX_GRID_COLUMNS])
        filters = list(self.filters)
        live = self._live_filter()
        if live is not None:
            filters.append(live)
        return QuerySpec(table.name, names, tuple(table.key_columns), tuple(self.sort), tuple(filters),
                         self.search.text(), with_sizes=len(names) <= SIZES_UP_TO)

    def _live_filter(self) -> Filter | None:
        column, op = self.filter_column.currentText(), self.filter_op.currentText()
        if not column or (op not in ("is null", "not null") and not self.filter_value.text()):
            return None
        return Filter(column, op, self.filter_value.text(), self.filter_value2.text())

    @Slot()
    def _apply_query(self) -> None:
        spec = self.current_spec()
        table = self.table
        if spec is None or table is None or self.reader is None or self.counter is None:
            return
        self._generation += 1
        generation = self._generation
        if self._grid_counts:  # a slow count of the old query would hold up the new one
            self.counter.interrupt()
        pager = Pager(spec)
        editable = table.editable and not self.read_only
        self.model.set_query(self.reader, pager, list(spec.columns),
                             [c.decl_type for c in table.columns[:MAX_GRID_COLUMNS]],
                             0, editable)
        self.grid.horizontalHeader().setSortIndicatorShown(bool(self.sort))
        if self.sort:
            primary = spec.columns.index(self.sort[0].column)
            order = Qt.SortOrder.DescendingOrder if self.sort[0].descending else Qt.SortOrder.AscendingOrder
            self.grid.horizontalHeader().setSortIndicator(primary, order)
        self.rows_label.setText("Counting rows…")
        notes = []
        if len(table.columns) > MAX_GRID_COLUMNS:
            notes.append(f"showing the first {MAX_GRID_COLUMNS:,} of {len(table.columns):,} columns")
        if not table.key_columns:
            notes.append("a view: read-only, paged by OFFSET")
        if self.filters:
            notes.append("filters: " + "; ".join(f"{f.column} {f.op} {f.value}".strip()
                                                 for f in self.filters))
        if len(self.sort) > 1:
            notes.append("sorted by " + ", ".join(
                f"{s.column} {'desc' if s.descending else 'asc'}" for s in self.sort))
        self.filters_label.setText(" · ".join(notes))
        self._busy_timer.start()
        self._count_grid(generation, pager, COUNT_CAP)
        self._update_mode()

    def _count_grid(self, generation: int, pager: Any, cap: int | None) -> None:
        if self.counter is None:
            return
        self._grid_counts += 1

        def counted(rows: int) -> None:
            self._grid_counts -= 1
            self._on_grid_count(generation, pager, rows, capped=cap is not None)

        def failed(exc: BaseException) -> None:
            self._grid_counts -= 1
            self._on_count_failed(generation, exc)

        self._start(count_query, self.counter, pager, cap, on_result=counted, on_error=failed)

    def _on_grid_count(self, generation: int, pager: Pager, rows: int, capped: bool) -> None:
        if generation != self._generation:
            return
        if capped and rows > COUNT_CAP:
            self.model.set_row_count(COUNT_CAP)
            self.rows_label.setText(f"{COUNT_CAP:,}+ rows (counting…)")
            self._count_grid(generation, pager, None)
            return
        self.model.set_exact_total(rows)
        self.rows_label.setText(f"{rows:,} row{'s' if rows != 1 else ''}")
        if not self.model.is_busy():
            self._busy_timer.stop()
            self.busy.setVisible(False)

    def _on_count_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self._busy_timer.stop()
        self.busy.setVisible(False)
        if isinstance(exc, Interrupted):
            self.rows_label.setText("Counting cancelled")
            return
        self.rows_label.setText("Rows: ?")
        self.show_message(f"Cannot read {self.table.name if self.table else ''}: {exc}", "error")

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
            self.show_message("Query cancelled. Change the sort or filter, or click a table, to retry.",
                              "info")
        else:
            self.show_message(f"Cannot read rows: {message}", "error")

    @Slot()
    def _on_cancel(self) -> None:
        for reader in (self.reader, self.counter):
            if reader is not None:
                reader.interrupt()
        for worker in self._workers:
            worker.cancel()
        self.model.stop()
        self.result_model.stop()

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
        self._apply_query()

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
            self._apply_query()

    @Slot()
    def _on_clear_filters(self) -> None:
        self.filters = []
        self.filter_value.clear()
        self.search.clear()
        self._apply_query()

    def set_filter(self, column: str, op: str, value: str = "", value2: str = "") -> None:
        """Programmatic filter (tests, and the record view's links)."""
        self.filter_column.setCurrentText(column)
        self.filter_op.setCurrentText(op)
        self.filter_value.setText(value)
        self.filter_value2.setText(value2)
        self._apply_query()

    # -- read-only mode and live refresh -------------------------------------------------------
    @Slot(bool)
    def _on_read_only_toggled(self, checked: bool) -> None:
        self.read_only = checked
        table = self.table.name if self.table else None
        self._pending_view_state = {"table": table} if table else {}
        self.table = None
        self.open_database()

    def _update_mode(self) -> None:
        editable = bool(self.table and self.table.editable and not self.read_only)
        if self.read_only:
            text = "Read-only: nothing is written"
            if self.immutable:
                text += " (WAL database read immutable: changes by others are not shown)"
        elif self.table is not None and not self.table.editable:
            text = "This view or table cannot be edited (no row key)"
        else:
            text = "Editing: each change is written at once in its own transaction"
        self.mode_label.setText(text)
        for button in (self.insert_button, self.duplicate_button, self.delete_button, self.null_button):
            button.setEnabled(editable)
        self.import_button.setEnabled(not self.read_only)
        triggers = (QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed
                    | QAbstractItemView.EditTrigger.AnyKeyPressed)
        self.grid.setEditTriggers(triggers if editable else QAbstractItemView.EditTrigger.NoEditTriggers)

    @Slot()
    def _on_refresh_tick(self) -> None:
        """Poll PRAGMA data_version (microseconds, never waits for a lock): reload on a change."""
        if self._watcher is None:
            return
        if not os.path.exists(self.path or ""):
            self._refresh_timer.stop()
            self.show_message(f"{self.path} was deleted or moved; the rows shown may be out of date.",
                              "error")
            return
        version = data_version(self._watcher)
        if version is None:
            return
        changed = self._data_version is not None and version != self._data_version
        self._data_version = version
        if changed:
            self.reload_rows()

    def reload_rows(self) -> None:
        """The database changed: recount and refetch the visible pages; the scroll position stays."""
        if self.model.pager is None or self.counter is None:
            return
        self.model.refresh()
        self._count_grid(self._generation, self.model.pager, None)

    # -- editing -------------------------------------------------------------------------------
    def show_message(self, text: str, kind: str = "info") -> None:
        colour = {"error": "#b42318", "info": "#475467"}.get(kind, "#475467")
        self.message.setText(f"<span style='color:{colour}'>{_esc(text)}</span>")
        self.message.setVisible(bool(text))

    def _key_of(self, row: int) -> dict[str, Any] | None:
        found = self.model.cached_row(row)
        if found is None or self.model.pager is None:
            return None
        page, _offset = found
        return self.model.pager.row_key(page, row)

    def edit_cell(self, row: int, column: int, text: str | Any) -> None:
        """Write one cell (from the editor's text, converted with the column's affinity)."""
        table = self.table
        key = self._key_of(row)
        if table is None or key is None or self.read_only:
            return
        col = table.columns[column]
        old = self.model.index(row, column).data(Qt.ItemDataRole.EditRole)
        value = _convert(text, col.affinity, old) if isinstance(text, str) else text
        if value == old and type(value) is type(old):
            return
        self.undo_stack.push(EditCell(self, table.name, key, row, column, col.name, old, value))

    def set_null(self) -> None:
        for index in self.grid.selectionModel().selectedIndexes() or [self.grid.currentIndex()]:
            if index.isValid():
                self.edit_cell(index.row(), index.column(), None)

    def edit_written(self) -> None:
        self.show_message("")

    def rows_changed(self) -> None:
        self.reload_rows()

    def _rowid_alias(self) -> str | None:
        table = self.table
        if table is None or table.without_rowid:
            return None
        pks = [c for c in table.columns if c.pk]
        return pks[0].name if len(pks) == 1 and pks[0].decl_type.upper() == "INTEGER" else None

    def insert_row(self) -> None:
        if self.table is None or self.read_only:
            return
        self.undo_stack.push(InsertRow(self, self.table.name, {}, self.table.key_columns))

    def duplicate_row(self) -> None:
        table = self.table
        key = self._key_of(self.grid.currentIndex().row())
        if table is None or key is None or self.read_only:
            return
        alias = self._rowid_alias()
        columns = [c.name for c in table.columns if c.name != alias]
        try:
            row = read_row(self.path or "", table.name, key, columns)
        except KnownError as exc:
            self.show_message(str(exc), "error")
            return
        if row is None:
            return
        values = dict(zip(columns, row, strict=True))
        self.undo_stack.push(InsertRow(self, table.name, values, table.key_columns, "duplicate row"))

    def delete_rows(self) -> None:
        table = self.table
        if table is None or self.read_only:
            return
        rows = sorted({i.row() for i in self.grid.selectionModel().selectedIndexes()}
                      or {self.grid.currentIndex().row()})
        keys = [k for k in (self._key_of(r) for r in rows if r >= 0) if k is not None]
        if keys:
            self.undo_stack.push(DeleteRows(self, table.name, keys, [c.name for c in table.columns],
                                            self._rowid_alias()))

    @Slot(object)
    def _on_grid_menu(self, pos) -> None:
        index = self.grid.indexAt(pos)
        menu = QMenu(self)
        editable = self.model.editable and index.isValid()
        menu.addAction("Copy", lambda: QApplication.clipboard().setText(str(index.data() or "")))
        menu.addSeparator()
        menu.addAction("Set NULL", self.set_null).setEnabled(editable)
        menu.addAction("Load from File…", lambda: self._load_blob(index)).setEnabled(editable)
        menu.addAction("Save Value to File…", lambda: self._save_value(index)).setEnabled(index.isValid())
        menu.addSeparator()
        menu.addAction("Insert Row", self.insert_row).setEnabled(self.model.editable)
        menu.addAction("Duplicate Row", self.duplicate_row).setEnabled(editable)
        menu.addAction("Delete Row(s)", self.delete_rows).setEnabled(editable)
        menu.popup(self.grid.viewport().mapToGlobal(pos))

    def _full_value(self, index: QModelIndex) -> Any:
        key = self._key_of(index.row())
        if key is None or self.table is None or self.reader is None:
            return None
        name = self.table.columns[index.column()].name
        row = self.reader.run(lambda conn: read_row(self.path or "", self.table.name, key, [name], conn))
        return row[0] if row else None

    def _load_blob(self, index: QModelIndex) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load Value from File")
        if path:
            try:
                with open(path, "rb") as handle:
                    data = handle.read()
            except OSError as exc:
                self.show_message(f"Cannot read {path}: {exc.strerror or exc}", "error")
                return
            self.edit_cell(index.row(), index.column(), data)

    def _save_value(self, index: QModelIndex) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save Value to File")
        if not path:
            return
        from storage.atomic import atomic_write

        try:
            value = self._full_value(index)
            data = value if isinstance(value, bytes) else b"" if value is None else str(value).encode()
            atomic_write(path, data)
        except KnownError as exc:
            self.show_message(str(exc), "error")

    # -- import and export -------------------------------------------------------------------
    def export_rows_to(self, path: str | None = None, source: str = "browse") -> Task | None:
        """Export the Browse rows (sorted, filtered) or the last query's result to CSV or JSON."""
        model = self.model if source == "browse" else self.result_model
        pager = model.pager
        if pager is None or self.counter is None:
            return None
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Export Rows", "", "CSV (*.csv);;JSON (*.json)")
            if not path:
                return None
        fmt = "json" if path.lower().endswith(".json") else "csv"
        if isinstance(pager, Pager):
            sql, params = pager.query.rows_statement()
            columns = list(pager.query.spec.columns)
        else:
            sql, params, columns = f"SELECT * FROM ({pager.sql})", {}, list(pager.columns)
        counter, total = self.counter, pager.total
        return self._transfer(f"Exporting to {os.path.basename(path)}…",
                              lambda cancel, progress: counter.run(lambda conn: export_rows(
                                  conn, sql, params, columns, path, fmt, total, cancel, progress)),
                              lambda n: f"Exported {n:,} rows to {path}")

    def import_csv_file(self, csv_path: str | None = None, table_name: str | None = None) -> Task | None:
        """Import a CSV file into a new table (types guessed) or append it to an existing one."""
        if self.read_only or self.schema is None:
            return None
        if csv_path is None:
            csv_path, _ = QFileDialog.getOpenFileName(self, "Import CSV", "", "CSV (*.csv *.tsv *.txt)")
            if not csv_path:
                return None
        name = table_name or os.path.splitext(os.path.basename(csv_path))[0]
        create = self.schema.find(name) is None
        path = self.path or ""

        def done(rows: int) -> str:
            self._pending_view_state = {"table": name}
            self.table = None
            self.open_database()
            return f"Imported {rows:,} rows into {name}"

        return self._transfer(f"Importing {os.path.basename(csv_path)}…",
                              lambda cancel, progress: import_csv(path, csv_path, name, create, cancel,
                                                                  progress), done)

    def _transfer(self, label: str, work, finished) -> Task:
        self.transfer_label.setText(label)
        self.transfer_bar.setValue(0)
        self.transfer.setVisible(True)

        def body(cancel, progress):
            return work(cancel, progress)

        def on_result(result: Any) -> None:
            self.transfer.setVisible(False)
            self.show_message(finished(result), "info")

        def on_error(exc: BaseException) -> None:
            self.transfer.setVisible(False)
            self.show_message(str(exc), "info" if isinstance(exc, Cancelled) else "error")

        task = run_task(body, on_result=on_result, on_error=on_error,
                        on_progress=lambda f: self.transfer_bar.setValue(int(f * 100)))
        self._workers.append(task)
        self._transfer_task = task
        return task

    @Slot()
    def _on_transfer_cancel(self) -> None:
        if self._transfer_task is not None:
            self._transfer_task.cancel()

    # -- record view -------------------------------------------------------------------------
    @Slot(QModelIndex)
    def _on_current_row(self, index: QModelIndex, _previous: QModelIndex | None = None) -> None:
        """Show the current row's whole values in the Record tab (read in a worker)."""
        if self.views.currentWidget() is not self.record or not index.isValid() or self.table is None:
            return
        self._record_token += 1
        token = self._record_token
        table = self.table
        key = self._key_of(index.row())
        names = [c.name for c in table.columns[:MAX_GRID_COLUMNS]]
        cached = tuple(self.model.index(index.row(), c).data(Qt.ItemDataRole.EditRole)
                       for c in range(len(names)))
        self._show_record(table, cached)
        if key is None or self.reader is None:
            return
        reader, path = self.reader, self.path or ""

        def shown(values: Any) -> None:
            if token == self._record_token and values is not None:
                self._show_record(table, values)

        self._start(lambda: reader.run(lambda conn: read_row(path, table.name, key, names, conn)),
                    on_result=shown)

    def _show_record(self, table: Table, values: tuple) -> None:
        self.record.clear()
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        for col, value in zip(table.columns, values, strict=False):
            if isinstance(value, bytes) or value is None:
                shown = format_value(value)
            else:
                text = str(value)
                shown = text if len(text) <= 10_000 else text[:10_000] + f"… ({len(text):,} characters)"
            when = describe_time(value, col.decl_type)
            item = QTreeWidgetItem(self.record, [col.name, shown + (f"  ({when})" if when else "")])
            item.setFont(1, mono)
            item.setToolTip(1, shown[:2000])

    # -- session -----------------------------------------------------------------------------
    def view_state(self) -> dict[str, Any]:
        if not self.is_loaded or self.table is None:
            return super().view_state()
        return {"table": self.table.name, "splitter": self.splitter.sizes()}

    def apply_view_state(self, state: dict[str, Any]) -> None:
        super().apply_view_state(state)
        sizes = state.get("splitter")
        if isinstance(sizes, list) and all(isinstance(s, int) for s in sizes):
            self.splitter.setSizes(sizes)
        if self.is_loaded and self.schema is not None:
            item = self._table_item(state.get("table"))
            if item is not None:
                self.tree.setCurrentItem(item)

    def _close_readers(self) -> None:
        self._refresh_timer.stop()
        for model in (self.model, self.result_model):
            model.stop()
            model.set_query(None, None, [], [])
        for worker in self._workers:
            worker.cancel()
        for reader in (self.reader, self.counter):
            if reader is not None:
                reader.close()
        self.reader = self.counter = None
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None

    def close_document(self) -> None:
        self._generation += 1
        self._open_generation += 1
        self._search_timer.stop()
        self._busy_timer.stop()
        self._close_readers()


def _convert(text: str, affinity: str, old: Any) -> Any:
    """The typed value for an edited cell: numbers for numeric columns, else the text."""
    if affinity in ("INTEGER", "REAL", "NUMERIC") or isinstance(old, int | float):
        value = coerce(text)
        if affinity == "REAL" and isinstance(value, int):
            return float(value)
        return value
    return text


def _live_tasks() -> set[Task]:
    from .workers import _running

    return _running


def _is_wal(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(20)
    except OSError:
        return False
    return head.startswith(b"SQLite format 3\x00") and head[18:19] == b"\x02"


def _esc(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
