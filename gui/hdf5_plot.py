"""The HDF5 document's plot: a bounded part of the chosen slice, following the table's scroll.

A slice of at most :data:`PLOT_CELLS` values is read in a worker and handed to the generic
:class:`gui.array_plot.ArrayPlot` (line for 1-D, image for 2-D). When the slice is larger, the
plot shows the rows from the table's top row on, and moves when the table scrolls past them.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Slot

from .hdf5_axes import table_layout
from .workers import run_in_worker

PLOT_CELLS = 1_000_000  # the plot reads at most this many values of the chosen slice


class Hdf5PlotMixin:
    """Mixed into :class:`gui.hdf5_document.Hdf5Document`; uses its ``h5``, ``info`` and views."""

    def request_plot(self, start: int) -> None:
        info, h5 = self.info, self.h5
        if info is None or h5 is None:
            return
        if not info.numeric:
            self.plot.set_message("Only numeric data can be plotted")
            return
        axes, index = self.axes.axes(), self.axes.index()
        rows, cols, _ = table_layout(info, axes)
        span = max(1, PLOT_CELLS // max(cols, 1))
        start = max(0, min(start, rows - span)) if rows > span else 0
        stop = min(rows, start + span)
        self._plot_start = start
        generation = self._select_generation
        caption = f"{info.path}  rows {start:,}–{stop - 1:,} of {rows:,}" if rows > span \
            else f"{info.path}  ({rows:,} × {cols:,})" if axes[1] is not None else f"{info.path}"
        run_in_worker(h5.read_numeric, info.path, axes, index, (start, stop),
                      on_result=lambda values: self._on_plot(generation, values, caption, start),
                      on_error=lambda exc: self._on_plot(generation, exc, caption, start))

    def _on_plot(self, generation: int, values: Any, caption: str, start: int) -> None:
        if generation != self._select_generation:
            return
        if isinstance(values, BaseException):
            self.plot.set_message(str(values))
        else:
            self.plot.set_array(values, caption, x_offset=start)

    def replot_later(self) -> None:
        """The values changed (an edit or its undo): read the plotted rows again, debounced."""
        self._replot = True
        self._plot_timer.start()

    @Slot()
    def _on_plot_follow(self) -> None:
        """The table scrolled beyond what the plot shows: plot from the top visible row."""
        if self.info is None or not self.info.numeric:
            return
        if self._replot:
            self._replot = False
            self.request_plot(self._plot_start)
            return
        rows, cols, _ = table_layout(self.info, self.axes.axes())
        span = max(1, PLOT_CELLS // max(cols, 1))
        if rows <= span:
            return
        top = self.table.rowAt(0)
        if top >= 0 and not self._plot_start <= top < self._plot_start + span - 100:
            self.request_plot(top)
