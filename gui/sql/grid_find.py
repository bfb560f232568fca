"""Edit ▸ Find in the SQL grid: the next cell holding a text, searched in SQL over the whole
table (sorted and filtered as the grid is), not only the rows loaded.

:class:`GridFinder` is a part the browse panel owns: it keeps the find bar under the grid and
runs :func:`storage.formats.sql.find.find_cell` on a worker, on the counter connection (the
grid's pages keep loading meanwhile), then selects the cell found. When there are no more
matches it says so, and the next Find Next starts again from the other end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QAbstractItemView

from gui.common.find_bar import FindBar
from gui.common.workers import Worker
from storage.core.errors import classify
from storage.formats.sql.find import FindStart, FoundCell, find_cell

if TYPE_CHECKING:
    from gui.sql.browse import BrowsePanel
    from storage.formats.sql.query import Query
    from storage.formats.sql.sqlite_query import SqliteQuery


def find_job(counter: Any, query: SqliteQuery | Query, text: str, start: FindStart | None, backward: bool,
             cancel) -> tuple[FoundCell | None, bool]:
    """Worker body: the next cell, on the counter connection (its lock queues it after a
    count), and whether the table holds the text anywhere (asked only when none came next)."""
    def search(conn: Any) -> tuple[FoundCell | None, bool]:
        found = find_cell(conn, query, text, start, backward, cancel)
        if found is not None or start is None:
            return found, found is not None
        return None, find_cell(conn, query, text, None, backward, cancel) is not None

    return counter.run(search)


class GridFinder(QObject):
    """The find bar under the grid and the searches it starts."""

    finished = Signal(bool)  # a search ended: a cell was found (and selected) or not

    def __init__(self, panel: BrowsePanel) -> None:
        super().__init__(panel)
        self.panel = panel
        self.bar = FindBar(panel, "Find in every row of the table")
        self.bar.findRequested.connect(self.find)
        self.bar.queryChanged.connect(self.cancel)
        self.bar.closed.connect(self.cancel)
        panel.queryStarted.connect(self.cancel)  # another table, sort or filter
        self._worker: Worker | None = None
        self._generation = 0
        self._from_end = False  # no more matches last time: the next search starts at the other end

    @Slot()
    def cancel(self) -> None:
        """Stop a search under way (its answer is dropped); the next one starts from the current cell."""
        self._generation += 1
        self._from_end = False
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None

    @property
    def busy(self) -> bool:
        return self._worker is not None

    def _start(self) -> FindStart | None:
        """The current cell and its row's order key (None when the row's page is not loaded)."""
        index = self.panel.grid.currentIndex()
        if not index.isValid():
            return None
        cached = self.panel.model.cached_row(index.row())
        key = None
        if cached is not None:
            page, offset = cached
            key = tuple(page.keys[offset]) if offset < len(page.keys) else None
        return FindStart(index.row(), index.column(), key)

    @Slot(bool)
    def find(self, backward: bool = False) -> None:
        text = self.bar.text()
        if not text:
            self.bar.open()
            return
        self.bar.show()
        pager, counter = self.panel.model.pager, self.panel.host.counter
        if pager is None or counter is None:
            self.bar.say("Choose a table to search it", "warning")
            return
        if self._worker is not None:
            self.bar.say("Still searching…")
            return
        start = None if self._from_end else self._start()
        wrapped = self._from_end
        self._from_end = False
        self._generation += 1
        generation = self._generation
        self.bar.say("Searching the table…")
        self._worker = self.panel.host.start_task(
            find_job, counter, pager.query, text, start, backward,
            on_result=lambda answer: self._on_found(generation, *answer, backward, wrapped),
            on_error=lambda exc: self._on_failed(generation, exc))

    def _on_found(self, generation: int, found: FoundCell | None, anywhere: bool,
                  backward: bool, wrapped: bool) -> None:
        if generation != self._generation:
            return
        self._worker = None
        if found is None:
            if not anywhere:
                self.bar.say("No matches in this table", "warning")
            else:
                where = ("above", "bottom") if backward else ("below", "top")
                self.bar.say(f"No more matches {where[0]}; Find again starts from the {where[1]}",
                             "warning")
                self._from_end = True
            self.finished.emit(False)
            return
        model = self.panel.model
        if found.row >= model.rowCount():  # the grid counted fewer rows (a capped count)
            self.bar.say(f"A match is in row {found.row + 1:,}, past the rows counted so far", "warning")
            self.finished.emit(False)
            return
        index = model.index(found.row, found.column)
        self.panel.grid.setCurrentIndex(index)
        self.panel.grid.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        column = model.headerData(found.column, Qt.Orientation.Horizontal) or ""
        again = " (from the top)" if wrapped and not backward else (" (from the bottom)" if wrapped else "")
        self.bar.say(f"Row {found.row + 1:,}, {column}{again}")
        self.finished.emit(True)

    def _on_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self._worker = None
        self.bar.say(f"Cannot search: {classify(exc).message}", "error")
        self.finished.emit(False)

