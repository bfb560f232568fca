"""The HDF5 document's plot: a bounded part of the chosen slice, following the table's scroll.

A slice of at most :data:`PLOT_CELLS` values is read in a worker and handed to the generic
:class:`gui.arrays.plot.ArrayPlot` (line for 1-D, image for 2-D). When the slice is larger, the
plot shows the rows from the table's top row on, and moves when the table scrolls past them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Slot

from gui.common.workers import run_in_worker
from gui.hdf5.axes import table_layout

if TYPE_CHECKING:
    from gui.hdf5.document import Hdf5Document

PLOT_CELLS = 1_000_000  # the plot reads at most this many values of the chosen slice


class Hdf5Plotter(QObject):
    """Feeds the document's plot from its open file, selected dataset (``h5``, ``info``) and axes.

    It owns what was plotted (the first row), the debounce timer and the newest request's
    generation: an answer for an older selection or request is dropped.
    """

    def __init__(self, document: Hdf5Document) -> None:
        super().__init__(document)
        self.document = document
        self.plot = document.plot
        self._start = 0  # the first row plotted
        self._replot = False  # the values changed: read the plotted rows again
        self._generation = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(300)
        self._timer.timeout.connect(self._on_follow)

    def request(self, start: int) -> None:
        """Plot the chosen slice from row ``start`` (as much of it as :data:`PLOT_CELLS` allows)."""
        self._generation += 1
        info, h5 = self.document.info, self.document.h5
        if info is None or h5 is None:
            return
        if not info.numeric:
            self.plot.set_message("Only numeric data can be plotted")
            return
        axes, index = self.document.axes.axes(), self.document.axes.index()
        rows, cols, _ = table_layout(info, axes)
        span = max(1, PLOT_CELLS // max(cols, 1))
        start = max(0, min(start, rows - span)) if rows > span else 0
        stop = min(rows, start + span)
        self._start = start
        generation = self._generation
        caption = f"{info.path}  rows {start:,}–{stop - 1:,} of {rows:,}" if rows > span \
            else f"{info.path}  ({rows:,} × {cols:,})" if axes[1] is not None else f"{info.path}"
        run_in_worker(h5.read_numeric, info.path, axes, index, (start, stop),
                      on_result=lambda values: self._on_plot(generation, values, caption, start),
                      on_error=lambda exc: self._on_plot(generation, exc, caption, start))

    def forget(self) -> None:
        """The selection changed: answers still on their way are dropped."""
        self._generation += 1

    def stop(self) -> None:
        self.forget()
        self._timer.stop()

    def _on_plot(self, generation: int, values: Any, caption: str, start: int) -> None:
        if generation != self._generation:
            return
        if isinstance(values, BaseException):
            self.plot.set_message(str(values))
        else:
            self.plot.set_array(values, caption, x_offset=start)

    def replot_later(self) -> None:
        """The values changed (an edit or its undo): read the plotted rows again, debounced."""
        self._replot = True
        self._timer.start()

    @Slot()
    def follow_later(self) -> None:
        """The table scrolled: the plot follows its top row once the scrolling pauses."""
        self._timer.start()

    @Slot()
    def _on_follow(self) -> None:
        """The table scrolled beyond what the plot shows: plot from the top visible row."""
        info = self.document.info
        if info is None or not info.numeric:
            return
        if self._replot:
            self._replot = False
            self.request(self._start)
            return
        rows, cols, _ = table_layout(info, self.document.axes.axes())
        span = max(1, PLOT_CELLS // max(cols, 1))
        if rows <= span:
            return
        top = self.document.table.rowAt(0)
        if top >= 0 and not self._start <= top < self._start + span - 100:
            self.request(top)
