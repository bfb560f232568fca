"""Lazy table models over big 2-D data: cells arrive in tiles from a worker, ``data()`` never waits.

:class:`TiledTableModel` asks a ``read_tile(r0, r1, c0, c1)`` function (run in one pump worker,
newest request first) for the tiles the view paints; until a tile arrives its cells show "…".
Scrolling by a screen reads at most the new rows plus one tile (:data:`TILE_ROWS`), and a
bounded LRU keeps memory flat. :class:`ArrayTableModel` is the numpy array / memmap flavour,
used by the HDF5 tab and reusable by any tab that shows arrays.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal, Slot
from PySide6.QtWidgets import QAbstractItemView

from gui.common.clipboard import TableClipboard
from gui.common.flat_rows import change_row_count
from gui.common.model_guard import guard_model
from gui.common.workers import Worker, run_in_worker, run_with_progress

TILE_ROWS = 64
TILE_COLS = 32
MAX_TILES = 96
MAX_QUEUE = 8
MAX_ROWS = 50_000_000  # beyond this, row positions in pixels overflow Qt's int
MAX_COLS = 1_000_000
LOADING = "…"
_Index = QModelIndex | QPersistentModelIndex
_NUMBER_ALIGNMENT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
Tile = list[list[str]]


class _Bridge(QObject):
    tileFetched = Signal(int, object, object)  # generation, (tile row, tile col), cells or error


@guard_model
class TiledTableModel(QAbstractTableModel):
    """Rows × columns of text read tile by tile through :meth:`read_tile` in a worker."""

    fetchFailed = Signal(str)
    editRequested = Signal(int, int, str)  # row, column, text

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._bridge = _Bridge(self)
        self._bridge.tileFetched.connect(self._on_tile_fetched)
        self._rows = 0
        self._cols = 0
        self.total_rows = 0  # before the MAX_ROWS cap
        self.headers: list[str] = []
        self.editable = False
        self.generation = 0
        self._reader: Callable[[int, int, int, int], Tile] | None = None
        self._tiles: OrderedDict[tuple[int, int], Tile] = OrderedDict()
        self._lock = threading.Lock()
        self._queue: list[tuple[int, tuple[int, int], Callable[..., Tile]]] = []
        self._pending: set[tuple[int, int]] = set()
        self._pump: Worker | None = None
        self.tile_reads = 0
        self.rows_read = 0
        self.cells_read = 0

    # -- setup ---------------------------------------------------------------------------------
    def set_reader(self, reader: Callable[[int, int, int, int], Tile] | None, rows: int, cols: int,
                   headers: list[str] | None = None) -> None:
        self.beginResetModel()
        self.generation += 1
        with self._lock:
            self._queue.clear()
        self._reader = reader
        self.total_rows = rows
        self._rows, self._cols = min(rows, MAX_ROWS), min(cols, MAX_COLS)
        self.headers = list(headers or [])
        self._tiles.clear()
        self._pending.clear()
        self.tile_reads = self.rows_read = self.cells_read = 0
        self.endResetModel()

    def _store_rows(self, rows: int) -> None:
        self._rows = rows

    def set_row_count(self, rows: int) -> None:
        """The row count became known (an estimate corrected, an end found): grow or shrink
        without a reset, keeping the tiles read so far."""
        rows = min(rows, MAX_ROWS)
        self.total_rows = rows
        change_row_count(self, self._rows, rows, self._store_rows)

    def refresh(self) -> None:
        """Forget every tile (the data changed); what is visible is read again."""
        self.generation += 1
        with self._lock:
            self._queue.clear()
        self._tiles.clear()
        self._pending.clear()
        if self._rows and self._cols:
            self.dataChanged.emit(self.index(0, 0), self.index(self._rows - 1, self._cols - 1))

    def stop(self) -> None:
        self.generation += 1
        with self._lock:
            self._queue.clear()
        if self._pump is not None:
            self._pump.cancel()

    def is_busy(self) -> bool:
        return self._pump is not None

    # -- Qt API --------------------------------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else self._rows

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else self._cols

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole or section < 0:
            return None
        if orientation == Qt.Orientation.Horizontal:
            if section < len(self.headers):
                return self.headers[section]
            return str(section) if section < self._cols else None
        return str(section) if section < self._rows else None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if self.editable and self.cached(index.row(), index.column()) is not None:
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def numeric_column(self, col: int) -> bool:
        """Whether ``col`` holds numbers (drawn right-aligned, as every spreadsheet does)."""
        return False

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _NUMBER_ALIGNMENT if index.isValid() and self.numeric_column(index.column()) else None
        if not index.isValid() or role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole,
                                               Qt.ItemDataRole.ToolTipRole):
            return None
        row, col = index.row(), index.column()
        text = self.cached(row, col)
        if text is None:
            if role == Qt.ItemDataRole.DisplayRole:
                self._request((row // TILE_ROWS, col // TILE_COLS))
                return LOADING
            return None
        return text

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or role != Qt.ItemDataRole.EditRole or not self.editable:
            return False
        self.editRequested.emit(index.row(), index.column(), str(value))
        return False  # the document's undo command writes and then shows the value

    # -- cache ---------------------------------------------------------------------------------
    def cached(self, row: int, col: int) -> str | None:
        tile = self._tiles.get((row // TILE_ROWS, col // TILE_COLS))
        if tile is None:
            return None
        r, c = row % TILE_ROWS, col % TILE_COLS
        if r >= len(tile) or c >= len(tile[r]):
            return None
        return tile[r][c]

    def set_cached_text(self, row: int, col: int, text: str) -> None:
        tile = self._tiles.get((row // TILE_ROWS, col // TILE_COLS))
        if tile is not None:
            r, c = row % TILE_ROWS, col % TILE_COLS
            if r < len(tile) and c < len(tile[r]):
                tile[r][c] = text
        index = self.index(row, col)
        self.dataChanged.emit(index, index)

    def tile_reader(self) -> Callable[[int, int, int, int], Tile] | None:
        """What reads cells (rows r0..r1, columns c0..c1) as text; safe on a worker."""
        return self._reader

    def cached_tiles(self) -> int:
        return len(self._tiles)

    def _request(self, key: tuple[int, int]) -> None:
        if key in self._pending or self._reader is None:
            return
        self._pending.add(key)
        with self._lock:
            self._queue.append((self.generation, key, self._reader))
            while len(self._queue) > MAX_QUEUE:  # scrolled past: forget the oldest asks
                self._pending.discard(self._queue.pop(0)[1])
        if self._pump is None:
            self._pump = run_in_worker(self._pump_tiles, on_result=lambda _r: self._on_pump_finished(),
                                       on_error=lambda exc: self._on_pump_finished(exc))

    def _pump_tiles(self, cancel) -> None:
        """Worker body: read queued tiles, newest first, until the queue is empty."""
        while not cancel():
            with self._lock:
                if not self._queue:
                    return
                generation, key, reader = self._queue.pop()
            r0, c0 = key[0] * TILE_ROWS, key[1] * TILE_COLS
            try:
                r1, c1 = min(r0 + TILE_ROWS, self._rows), min(c0 + TILE_COLS, self._cols)
                cells: object = reader(r0, r1, c0, c1)
            except Exception as exc:  # a KnownError for bad data; reported, never raised in Qt
                cells = exc
            try:
                self._bridge.tileFetched.emit(generation, key, cells)
            except RuntimeError:  # the model is gone
                return

    @Slot(int, object, object)
    def _on_tile_fetched(self, generation: int, key: tuple[int, int], cells: object) -> None:
        if generation != self.generation:
            return
        self._pending.discard(key)
        if isinstance(cells, BaseException):
            # Every cell of the tile says why, so painting does not ask for it again and again.
            self._tiles[key] = [[f"<{cells}>"] * TILE_COLS for _ in range(TILE_ROWS)]
            self.fetchFailed.emit(str(cells))
        else:
            self._tiles[key] = cells  # type: ignore[assignment]
            rows = len(cells)  # type: ignore[arg-type]
            self.tile_reads += 1
            self.rows_read += rows
            self.cells_read += sum(len(r) for r in cells)  # type: ignore[union-attr]
        while len(self._tiles) > MAX_TILES:
            self._tiles.popitem(last=False)
        r0, c0 = key[0] * TILE_ROWS, key[1] * TILE_COLS
        r1 = min(self._rows, r0 + TILE_ROWS) - 1
        c1 = min(self._cols, c0 + TILE_COLS) - 1
        if r1 >= r0 and c1 >= c0:
            self.dataChanged.emit(self.index(r0, c0), self.index(r1, c1))

    def _on_pump_finished(self, _exc: BaseException | None = None) -> None:
        self._pump = None
        with self._lock:
            more = bool(self._queue)
        if more:
            self._pump = run_in_worker(self._pump_tiles, on_result=lambda _r: self._on_pump_finished(),
                                       on_error=lambda exc: self._on_pump_finished(exc))


class TiledClipboard(TableClipboard):
    """Edit ▸ Copy (and, given ``paste``, Paste) for a view of a :class:`TiledTableModel`: cells
    not read yet are read for the copy, on a worker, the window painting meanwhile."""

    def __init__(self, view: QAbstractItemView, model: TiledTableModel,
                 paste: Callable[[int, int, list[list[str | None]]], str] | None = None,
                 report: Callable[[str], None] | None = None) -> None:
        super().__init__(view, self._text_of, paste, report=report, load=self._read_for_copy)
        self.model = model
        self._block: tuple[int, int, Tile] | None = None  # (top, left, cells) read for a copy

    def _text_of(self, index: QModelIndex) -> str | None:
        row, col = index.row(), index.column()
        if self._block is not None:
            top, left, cells = self._block
            if 0 <= row - top < len(cells) and 0 <= col - left < len(cells[row - top]):
                return cells[row - top][col - left]
        return self.model.cached(row, col)

    @contextlib.contextmanager
    def _read_for_copy(self, top: int, left: int, bottom: int, right: int) -> Iterator[None]:
        reader = self.model.tile_reader()
        if reader is None or all(self.model.cached(row, col) is not None
                                 for row in range(top, bottom + 1) for col in range(left, right + 1)):
            yield
            return
        cells = run_with_progress(self.view, "Reading the cells to copy…", reader,
                                  top, bottom + 1, left, right + 1)
        self._block = (top, left, cells)
        try:
            yield
        finally:
            self._block = None


def format_cells(block: np.ndarray) -> Tile:
    """A 2-D numpy block as rows of text (floats keep every digit; structs show their fields)."""
    if block.ndim == 1:
        block = block.reshape(-1, 1)
    if block.dtype.kind == "f":
        return [[repr(float(v)) if block.dtype == np.float64 else str(v) for v in row] for row in block]
    if block.dtype.kind in "iub":
        return [[str(v) for v in row] for row in block.tolist()]
    return [[str(v).replace("\n", "⏎")[:200] for v in row] for row in block]


def _column_text(values: np.ndarray) -> list[str]:
    """One field of a block of records: scalars as cells, sub-arrays as their short text."""
    if values.ndim == 1:
        return [row[0] for row in format_cells(values.reshape(-1, 1))]
    return [np.array2string(v, threshold=8).replace("\n", " ")[:200] for v in values]


@guard_model
class ArrayTableModel(TiledTableModel):
    """Any numpy array or memmap of 0, 1 or 2 dimensions, read in tiles (a memmap pages in lazily).

    A 1-D structured array (records) shows one column per field.
    """

    def __init__(self, array: np.ndarray | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.array: np.ndarray | None = None
        if array is not None:
            self.set_array(array)

    def set_array(self, array: np.ndarray | None) -> None:
        if array is None:
            self.array = None
            self.set_reader(None, 0, 0)
            return
        if array.ndim > 2:
            raise ValueError("ArrayTableModel shows at most 2 dimensions; pass a 2-D slice")
        self.array = array.reshape(1, 1) if array.ndim == 0 else array
        names = list(self.array.dtype.names or ()) if self.array.ndim == 1 else []
        rows = self.array.shape[0]
        cols = len(names) if names else (1 if self.array.ndim == 1 else self.array.shape[1])
        self.set_reader(self._read, rows, cols, names)

    def numeric_column(self, col: int) -> bool:
        if self.array is None:
            return False
        names = self.array.dtype.names if self.array.ndim == 1 else None
        dtype = self.array.dtype[names[col]] if names and col < len(names) else self.array.dtype
        return dtype.kind in "iufc"

    def _read(self, r0: int, r1: int, c0: int, c1: int) -> Tile:
        assert self.array is not None
        if self.array.ndim == 1 and self.array.dtype.names:
            block = np.asarray(self.array[r0:r1])
            fields = self.array.dtype.names[c0:c1]
            columns = [_column_text(np.asarray(block[name])) for name in fields]
            return [list(row) for row in zip(*columns, strict=True)] if columns else []
        block = self.array[r0:r1] if self.array.ndim == 1 else self.array[r0:r1, c0:c1]
        return format_cells(np.asarray(block))
