"""A NumPy array beside a value tree: shape and dtype, its range (on a worker), a lazy table of
the values and a plot (a line for 1-D, an image for 2-D), reading a bounded part of huge arrays."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSplitter, QTableView, QVBoxLayout, QWidget


def is_array(value: Any) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype") and hasattr(value, "ndim")


def array_shape_text(array: Any) -> str:
    return f"shape {tuple(array.shape)} · dtype {array.dtype} · {array.size:,} values"


def array_range_text(array: Any) -> str:
    """Worker body: " · min … · max …" of a numeric array (chunked; sampled when huge)."""
    from storage.core.array_stats import array_stats

    if array.dtype.kind not in "biuf" or not array.size:
        return ""
    try:
        stats = array_stats(array, 5_000_000)
    except Exception as exc:  # an odd memmap: the table still shows the values
        return f" · range unavailable ({exc})"
    low, high = stats.get("min"), stats.get("max")
    if low is None:
        return ""
    return f" · min {low:g} · max {high:g}" + (" (sampled)" if stats.get("sampled") else "")


PLOT_VALUES = 4_000_000  # a plot reads at most about this many values of a (memory-mapped) array


def plotted_part(array: Any) -> tuple[Any, str]:
    """What the plot draws: the array, or for a huge one its first values / every n-th row and
    column, so drawing never reads a whole memory-mapped file on the GUI thread."""
    if array.size <= PLOT_VALUES:
        return array, ""
    if array.ndim == 1:
        return array[:PLOT_VALUES], f"first {PLOT_VALUES:,} of {array.size:,} values"
    step = max(1, int((array.size / PLOT_VALUES) ** 0.5) + 1)
    return array[::step, ::step], f"every {step}th row and column"


class ArrayPane(QWidget):
    """Shape, dtype and range; a lazy table of the values; a plot for 1-D and 2-D numbers; for a
    2-D or structured array, *Convert…* (:attr:`convertRequested`: the owner converts it)."""

    convertRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        from gui.arrays.plot import ArrayPlot
        from gui.arrays.table import ArrayTableModel, TiledClipboard
        from gui.common.column_fit import ColumnFitter

        super().__init__(parent)
        self.info = QLabel(self)
        self.info.setWordWrap(True)
        self.convert_button = QPushButton("Convert…", self)
        self.convert_button.setObjectName("arrayConvert")
        self.convert_button.setToolTip("Write this table to CSV, Parquet, JSON Lines or a table in an "
                                       "SQLite file")
        self.convert_button.clicked.connect(self.convertRequested)
        self.convert_button.hide()
        self._generation = 0
        self.model = ArrayTableModel(None, self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.verticalHeader().setDefaultSectionSize(22)
        TiledClipboard(self.table, self.model)  # Edit ▸ Copy as TSV
        self.fitter = ColumnFitter(self.table)
        self.plot = ArrayPlot(self)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.table)
        split.addWidget(self.plot)
        split.setSizes([300, 200])
        box = QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        top = QHBoxLayout()
        top.addWidget(self.info, 1)
        top.addWidget(self.convert_button)
        box.addLayout(top)
        box.addWidget(split, 1)

    def show_array(self, array: Any, convertible: bool = False) -> None:
        """Show ``array``; ``convertible`` offers *Convert…* (the owner can write it as a table)."""
        from gui.common.workers import run_in_worker

        self._generation += 1
        generation = self._generation
        self.info.setText(array_shape_text(array))
        self.convert_button.setVisible(convertible)
        run_in_worker(array_range_text, array,
                      on_result=lambda text: self._on_range(generation, array, text))
        shown = array if array.ndim <= 2 else array.reshape(array.shape[0], -1)
        self.model.set_array(shown)
        numeric = array.dtype.kind in "biuf" and 1 <= array.ndim <= 2 and array.size
        self.plot.setVisible(bool(numeric))
        if numeric:
            self.plot.set_array(*plotted_part(array))

    def _on_range(self, generation: int, array: Any, text: str) -> None:
        if generation == self._generation:
            self.info.setText(array_shape_text(array) + text)

    def stop(self) -> None:
        self._generation += 1
        self.model.stop()
