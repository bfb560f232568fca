"""The lazy table grid's model: pages arrive from a worker, ``data()`` only reads the cache.

Rows whose page is not cached show as loading and ask for it; a single pump worker per model
fetches the most recently asked pages first on the document's read-only connection. Pages are
kept in a bounded LRU cache; answers for an older query (another table, sort or filter) carry an
older generation number and are dropped.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal, Slot

from gui.common.flat_rows import change_row_count
from gui.common.model_guard import guard_model
from gui.common.workers import Worker as Task
from gui.common.workers import run_in_worker as run_task
from gui.sql.cells import _numeric_type, describe_time, format_value
from storage.core.errors import KnownError, classify
from storage.formats.sql.pager import Page, Pager
from storage.formats.sql.sqlite_db import Reader

if TYPE_CHECKING:
    from PySide6.QtGui import QBrush, QFont

MAX_PAGES = 48
MAX_QUEUE = 12
LOADING = "…"
NULL_COLOUR = "#98a2b3"
FAILED_COLOUR = "#fee4e2"
# A view asks ten roles of every cell it paints: the roles are plain ints here, compared without
# Qt's enum classes (a tenth of the cost), and the roles the grid never answers return first.
_DISPLAY = int(Qt.ItemDataRole.DisplayRole.value)
_EDIT = int(Qt.ItemDataRole.EditRole.value)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole.value)
_FONT = int(Qt.ItemDataRole.FontRole.value)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole.value)
_BACKGROUND = int(Qt.ItemDataRole.BackgroundRole.value)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole.value)
_ANSWERED = frozenset((_DISPLAY, _EDIT, _TOOLTIP, _FONT, _ALIGNMENT, _BACKGROUND, _FOREGROUND))
_RIGHT = int((Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter).value)
_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
_EDITABLE_FLAGS = _FLAGS | Qt.ItemFlag.ItemIsEditable
_NUMBERS = (int, float)


@functools.cache
def _brush(colour: str) -> QBrush:
    """NULLs and edits not written are drawn in colour; QtGui's brushes and fonts are made
    when the first such cell shows (their Python types cost milliseconds to create)."""
    from PySide6.QtGui import QBrush, QColor

    return QBrush(QColor(colour))


def _italic() -> QFont:
    from PySide6.QtGui import QFont

    font = QFont()
    font.setItalic(True)
    return font


class _Bridge(QObject):
    """Carries pages from the pump worker to the model's thread."""

    pageFetched = Signal(int, object)  # generation, Page or KnownError


@guard_model
class SqlTableModel(QAbstractTableModel):
    """Rows of one query, fetched in pages. Empty until :meth:`set_query`."""

    loadingChanged = Signal(bool)
    fetchFailed = Signal(str)
    pageArrived = Signal()  # a page was read: the connection works (a "lost" bar goes)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._bridge = _Bridge(self)
        self._bridge.pageFetched.connect(self._on_page_fetched)
        self.reader: Reader | None = None
        self.pager: Pager | None = None
        self.headers: list[str] = []
        self.types: list[str] = []
        self._times: list[bool] = []  # per column: a DATE/TIME type (numbers there read as dates)
        self._numeric: list[bool] = []  # per column: a server's numeric type (its text right-aligned)
        self.editable = False
        self._rows = 0
        self.generation = 0
        self._pages: OrderedDict[int, Page] = OrderedDict()
        self._lock = threading.Lock()
        self._queue: list[tuple[int, Pager, int]] = []  # (generation, pager, page), newest last
        self._pending: set[int] = set()
        self._reread: set[int] = set()  # short pages read again once since the row count changed
        self._pump: Task | None = None
        self.failed_edits: dict[tuple[int, int], tuple[Any, str]] = {}  # (row, column) -> (value, why)
        # Pending edits marked by row key: shown in failed_edits at the row holding that key in
        # this query (whatever its sort, filter or page), set as each page arrives.
        self._key_marks: dict[tuple, dict[int, tuple[Any, str]]] = {}
        self._keyed_cells: set[tuple[int, int]] = set()  # the failed_edits cells set from _key_marks
        self._rows_by_key: dict[tuple, int] | None = None  # of the cached pages, built when asked
        self.last_error: KnownError | None = None  # the last page fetch's failure
        self.fetch_count = 0

    # -- setup -------------------------------------------------------------------------------
    def set_query(self, reader: Reader | None, pager: Pager | None, headers: list[str],
                  types: list[str], rows: int = 0, editable: bool = False) -> None:
        self.beginResetModel()
        self.generation += 1
        with self._lock:
            self._queue.clear()
        self.reader, self.pager = reader, pager
        self.headers, self.types = list(headers), list(types)
        self._times = [bool(t) and ("DATE" in t.upper() or "TIME" in t.upper()) for t in self.types]
        self._numeric = [_numeric_type(t) for t in self.types]
        self.editable = editable
        self._rows = rows
        self._pages.clear()
        self._reread.clear()
        self._pending.clear()
        self.failed_edits.clear()
        self._key_marks.clear()
        self._keyed_cells.clear()
        self._rows_by_key = None
        self.fetch_count = 0
        self.endResetModel()

    def _store_rows(self, rows: int) -> None:
        self._rows = rows

    def set_row_count(self, rows: int) -> None:
        """The count arrived (capped first, exact later): grow or shrink without a reset."""
        self._reread.clear()
        if self.pager is not None:
            self.pager.total = None
        change_row_count(self, self._rows, rows, self._store_rows)

    def set_exact_total(self, rows: int) -> None:
        self.set_row_count(rows)
        if self.pager is not None:
            self.pager.total = rows

    def refresh(self) -> None:
        """Forget the cached pages (the database changed); visible rows reload, scroll stays."""
        self.generation += 1
        with self._lock:
            self._queue.clear()
        self._pages.clear()
        self._reread.clear()
        self._pending.clear()
        for cell in self._keyed_cells:  # rows may have moved: marked again as pages arrive
            self.failed_edits.pop(cell, None)
        self._keyed_cells.clear()
        self._rows_by_key = None
        if self.pager is not None:  # a fresh pager: the old anchors may be wrong now
            total = self.pager.total
            self.pager = self.pager.fresh()
            self.pager.total = total
        if self._rows and self.headers:
            self.dataChanged.emit(self.index(0, 0), self.index(self._rows - 1, len(self.headers) - 1))

    def stop(self) -> None:
        self.generation += 1
        with self._lock:
            self._queue.clear()
        if self._pump is not None:
            self._pump.cancel()

    # -- Qt API ------------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else self._rows

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.headers)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY) -> Any:
        if role != _DISPLAY:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self.headers[section] if 0 <= section < len(self.headers) else None
        return f"{section + 1:,}"

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        if self.editable and self.cached_row(index.row()) is not None:
            return _EDITABLE_FLAGS
        return _FLAGS

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = _DISPLAY) -> Any:
        if role not in _ANSWERED or not index.isValid():
            return None
        row, col = index.row(), index.column()
        page = self._page_of(row)
        if page is None:
            return LOADING if role == _DISPLAY else None
        at = row - page.start
        value = page.values[at][col]
        failed = self.failed_edits.get((row, col)) if self.failed_edits else None
        if role == _DISPLAY:
            if failed is not None:
                return format_value(failed[0])
            if col < len(self._times) and self._times[col] and isinstance(value, _NUMBERS):
                when = describe_time(value, self.types[col])  # numbers in a DATE/TIME column
                if when is not None:
                    return when.rsplit(" (", 1)[0]
            return format_value(value, page.sizes[at][col] if page.sizes else None)
        if role == _EDIT:
            return value
        if role == _FONT:
            return _italic() if value is None else None
        if role == _ALIGNMENT:
            numeric = isinstance(value, _NUMBERS) or (
                value is not None and col < len(self._numeric) and self._numeric[col])
            return _RIGHT if numeric else None
        if role == _FOREGROUND:
            return _brush(NULL_COLOUR) if value is None and failed is None else None
        if role == _BACKGROUND:
            return _brush(FAILED_COLOUR) if failed is not None else None
        # the tooltip
        if failed is not None:
            return f"Not written: {failed[1]}"
        when = describe_time(value, self.types[col]) if col < len(self.types) else None
        return f"{value!r} stored: {when}" if when else None

    # -- cache -------------------------------------------------------------------------------
    def _page_of(self, row: int) -> Page | None:
        if self.pager is None or row >= self._rows:
            return None
        number = row // self.pager.page_size
        page = self._pages.get(number)
        if page is None:
            self._request(number)
            return None
        if row - page.start >= len(page.values):
            # Read before the table grew (a new record counted before its page came back): read
            # the page again, once per count, so a row past a short page never waits for ever.
            if len(page.values) < self.pager.page_size and number not in self._reread:
                self._reread.add(number)
                self._request(number)
            return None
        self._pages.move_to_end(number)
        return page

    def cached_row(self, row: int) -> tuple[Page, int] | None:
        """The cached page holding ``row`` and the row's offset in it, without fetching."""
        if self.pager is None:
            return None
        page = self._pages.get(row // self.pager.page_size)
        if page is None or row - page.start >= len(page.values):
            return None
        return page, row - page.start

    def is_cut(self, row: int, column: int) -> bool:
        """Whether the grid holds only a preview of this value (long text or a BLOB)."""
        found = self.cached_row(row)
        if found is None:
            return False
        page, offset = found
        return bool(page.sizes) and page.sizes[offset][column] is not None

    def cached_pages(self) -> int:
        return len(self._pages)

    def prefetch_first_page(self) -> None:
        """Read page 0 now, while the rows are still being counted: it is in when the count comes
        (the first rows show one round trip sooner)."""
        if self.pager is not None and 0 not in self._pages:
            self._request(0)

    def _request(self, number: int) -> None:
        if number in self._pending or self.reader is None:
            return
        self._pending.add(number)
        assert self.pager is not None
        with self._lock:
            self._queue.append((self.generation, self.pager, number))
            while len(self._queue) > MAX_QUEUE:
                dropped = self._queue.pop(0)[2]
                self._pending.discard(dropped)
        if self._pump is None:
            self._start_pump()

    def _start_pump(self) -> None:
        self.loadingChanged.emit(True)
        # Callbacks are connected before the worker starts, so a quick pump cannot be missed.
        self._pump = run_task(self._pump_pages, self.reader,
                              on_result=lambda _r: self._on_pump_finished(),
                              on_error=self._on_pump_error)

    def _pump_pages(self, reader: Reader, cancel) -> None:
        """Worker body: fetch queued pages, newest request first, until the queue is empty."""
        bridge = self._bridge
        while not cancel():
            with self._lock:
                if not self._queue:
                    return
                generation, pager, number = self._queue.pop()
            try:
                page = reader.run(lambda conn, n=number, p=pager: p.fetch(conn, n))
            except KnownError as exc:
                page = exc
            try:
                bridge.pageFetched.emit(generation, page)
            except RuntimeError:  # the model is gone
                return

    @Slot(int, object)
    def _on_page_fetched(self, generation: int, page: object) -> None:
        if generation != self.generation:
            return
        if isinstance(page, KnownError):
            self._pending.clear()
            self.last_error = page
            self.fetchFailed.emit(str(page))
            return
        assert isinstance(page, Page)
        self.pageArrived.emit()
        self._pending.discard(page.number)
        self.fetch_count += 1
        self._pages[page.number] = page
        self._rows_by_key = None
        while len(self._pages) > MAX_PAGES:
            self._pages.popitem(last=False)
        if self._key_marks or self._keyed_cells:
            self._mark_keys_of(page, emit=False)  # the dataChanged below repaints them
        last = min(self._rows, page.start + len(page.values)) - 1
        if last >= page.start and self.headers:
            self.dataChanged.emit(self.index(page.start, 0), self.index(last, len(self.headers) - 1))

    def _on_pump_error(self, exc: BaseException) -> None:
        self.fetchFailed.emit(classify(exc).message)
        self._on_pump_finished()

    def _on_pump_finished(self) -> None:
        self._pump = None
        with self._lock:
            more = bool(self._queue)
        if more and self.reader is not None:
            self._start_pump()
        else:
            self.loadingChanged.emit(False)

    def is_busy(self) -> bool:
        return self._pump is not None

    # -- edits (the document writes; the model shows) ----------------------------------------
    def set_cached_value(self, row: int, column: int, value: Any) -> None:
        found = self.cached_row(row)
        if found is None:
            return
        page, offset = found
        values = list(page.values[offset])
        values[column] = value
        page.values[offset] = tuple(values)
        if page.sizes:
            sizes = list(page.sizes[offset])
            sizes[column] = None
            page.sizes[offset] = tuple(sizes)
        self.failed_edits.pop((row, column), None)
        self._repaint(row, column)

    def _repaint(self, row: int, column: int) -> None:
        """Repaint one cell; a row not counted yet (a cached page past the count) has none to repaint."""
        index = self.index(row, column)
        if index.isValid():
            self.dataChanged.emit(index, index)

    def clear_failed(self, row: int, column: int) -> None:
        """Show the stored value again instead of a failed edit's."""
        if self.failed_edits.pop((row, column), None) is not None:
            self._repaint(row, column)

    def mark_failed(self, row: int, column: int, value: Any, why: str) -> None:
        self.failed_edits[(row, column)] = (value, why)
        self._repaint(row, column)  # a row not counted yet shows the mark once it arrives

    # -- marks by row key (pending edits: the row they belong to, not the row they were on) --
    def mark_failed_key(self, key: dict[str, Any], column: int, value: Any, why: str) -> None:
        """Mark ``column`` of the row whose key is ``key``, now if its page is cached, else when
        its page arrives."""
        self._key_marks.setdefault(_key_id(key), {})[column] = (value, why)
        self._remark_cached()

    def clear_failed_key(self, key: dict[str, Any], column: int) -> None:
        marks = self._key_marks.get(_key_id(key))
        if marks is None or marks.pop(column, None) is None:
            return
        if not marks:
            del self._key_marks[_key_id(key)]
        row = self.row_of_key(key)
        if row is not None and self.failed_edits.pop((row, column), None) is not None:
            self._keyed_cells.discard((row, column))
            self._repaint(row, column)

    def row_of_key(self, key: dict[str, Any]) -> int | None:
        """The row holding ``key`` among the cached pages (None when not loaded or not shown)."""
        if self.pager is None:
            return None
        if self._rows_by_key is None:  # one pass over the cache for a batch of Retry's look-ups
            self._rows_by_key = {_key_id(self.pager.row_key(page, page.start + offset)): page.start + offset
                                 for page in self._pages.values() for offset in range(len(page.keys or ()))}
        return self._rows_by_key.get(_key_id(key))

    def _remark_cached(self) -> None:
        for page in list(self._pages.values()):
            self._mark_keys_of(page)

    def _mark_keys_of(self, page: Page, emit: bool = True) -> None:
        """Set the key marks of ``page``'s rows into failed_edits (and drop keyed marks that
        sat on these rows before: another row may hold the key now)."""
        if self.pager is None or not page.keys:
            return
        end = page.start + len(page.keys)
        for cell in [c for c in self._keyed_cells if page.start <= c[0] < end]:
            self.failed_edits.pop(cell, None)
            self._keyed_cells.discard(cell)
        for offset in range(len(page.keys)):
            row = page.start + offset
            for column, mark in self._key_marks.get(_key_id(self.pager.row_key(page, row)), {}).items():
                self.failed_edits[(row, column)] = mark
                self._keyed_cells.add((row, column))
        last = min(self._rows, end) - 1
        if emit and last >= page.start and self.headers:
            self.dataChanged.emit(self.index(page.start, 0), self.index(last, len(self.headers) - 1))


def _key_id(key: dict[str, Any]) -> tuple:
    """A row key as a dict key: sorted names with their values (unhashable values by repr)."""
    def hashable(value: Any) -> Any:
        try:
            hash(value)
        except TypeError:
            return repr(value)
        return value

    return tuple(sorted((str(name), hashable(value)) for name, value in key.items()))
