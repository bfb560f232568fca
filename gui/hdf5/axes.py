"""Axis pickers for N-D datasets: which dimensions are rows and columns, where along the others.

The widget only holds the choice; :func:`table_layout` turns a dataset's shape and dtype plus
that choice into the table's size and headers (compound fields become columns).
"""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QWidget

from storage.formats.hdf5.io import DatasetInfo


def default_axes(info: DatasetInfo) -> tuple[int, int | None]:
    ndim = len(info.shape)
    if ndim <= 1 or info.fields:
        return (0, None)
    return (ndim - 2, ndim - 1)


def table_layout(info: DatasetInfo, axes: tuple[int, int | None]) -> tuple[int, int, list[str]]:
    """Rows, columns and column titles of the table for ``info`` sliced along ``axes``."""
    if not info.shape:
        return 1, 1, ["value"]
    rows = info.shape[axes[0]]
    if info.fields:
        return rows, len(info.fields), list(info.fields)
    if axes[1] is None:
        return rows, 1, ["value"]
    return rows, info.shape[axes[1]], []


class AxisPicker(QWidget):
    """Rows / Columns combos and one spin box per remaining dimension."""

    sliceChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("axisPicker")
        self.shape: tuple[int, ...] = ()
        self.compound = False
        self.rows = QComboBox(self)
        self.rows.setObjectName("rowAxis")
        self.cols = QComboBox(self)
        self.cols.setObjectName("colAxis")
        for combo in (self.rows, self.cols):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.spins: dict[int, QSpinBox] = {}
        self._box = QHBoxLayout(self)
        self._box.setContentsMargins(0, 0, 0, 0)
        self._box.addWidget(QLabel("Rows:", self))
        self._box.addWidget(self.rows)
        self._cols_label = QLabel("Columns:", self)
        self._box.addWidget(self._cols_label)
        self._box.addWidget(self.cols)
        self._spin_box = QHBoxLayout()
        self._box.addLayout(self._spin_box)
        self._box.addStretch(1)
        self.rows.currentIndexChanged.connect(self._on_rows_changed)
        self.cols.currentIndexChanged.connect(self._on_cols_changed)
        self._updating = False

    def set_dataset(self, info: DatasetInfo, axes: tuple[int, int | None] | None = None,
                    index: tuple[int, ...] | None = None) -> None:
        self._updating = True
        self.shape = info.shape
        self.compound = bool(info.fields)
        axes = axes or default_axes(info)
        if not self._valid(axes):
            axes = default_axes(info)
        self.rows.clear()
        for dim, size in enumerate(self.shape):
            self.rows.addItem(f"dim {dim} ({size:,})", dim)
        self.rows.setCurrentIndex(axes[0])
        self._fill_cols(axes[1])
        self._make_spins(index or (0,) * len(self.shape))
        self.setVisible(len(self.shape) >= 2)
        self._updating = False

    def _valid(self, axes: tuple[int, int | None]) -> bool:
        ndim = len(self.shape)
        if not 0 <= axes[0] < max(ndim, 1):
            return False
        if axes[1] is None:
            return ndim <= 1 or self.compound
        return not self.compound and 0 <= axes[1] < ndim and axes[1] != axes[0]

    def _fill_cols(self, chosen: int | None) -> None:
        self.cols.blockSignals(True)
        self.cols.clear()
        row = self.rows.currentData()
        for dim, size in enumerate(self.shape):
            if dim != row:
                self.cols.addItem(f"dim {dim} ({size:,})", dim)
        found = self.cols.findData(chosen) if chosen is not None else -1
        self.cols.setCurrentIndex(max(found, 0))
        self.cols.blockSignals(False)
        show = not self.compound and len(self.shape) >= 2
        self.cols.setVisible(show)
        self._cols_label.setVisible(show)

    def _make_spins(self, index: tuple[int, ...]) -> None:
        old = {dim: spin.value() for dim, spin in self.spins.items()}
        while self._spin_box.count():
            widget = self._spin_box.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        self.spins = {}
        used = set(self.axes())
        for dim, size in enumerate(self.shape):
            if dim in used:
                continue
            label = QLabel(f"dim {dim}:", self)
            spin = QSpinBox(self)
            spin.setObjectName(f"index{dim}")
            spin.setRange(0, max(size - 1, 0))
            value = index[dim] if dim < len(index) else old.get(dim, 0)
            spin.setValue(min(max(int(value), 0), max(size - 1, 0)))
            spin.setSuffix(f" / {size:,}")
            spin.valueChanged.connect(self._on_spin)
            self._spin_box.addWidget(label)
            self._spin_box.addWidget(spin)
            self.spins[dim] = spin

    def axes(self) -> tuple[int, int | None]:
        if not self.shape:
            return (0, None)
        row = self.rows.currentData()
        row = 0 if row is None else int(row)
        if self.compound or len(self.shape) < 2:
            return (row, None)
        col = self.cols.currentData()
        return (row, None if col is None else int(col))

    def index(self) -> tuple[int, ...]:
        return tuple(self.spins[d].value() if d in self.spins else 0 for d in range(len(self.shape)))

    @Slot(int)
    def _on_rows_changed(self, _i: int) -> None:
        if self._updating:
            return
        self._updating = True
        current = self.cols.currentData()
        row = self.rows.currentData()
        if current == row:  # rows took the columns' dimension: give columns the old one
            current = next((d for d in range(len(self.shape)) if d != row), None)
        self._fill_cols(current)
        self._make_spins(self.index())
        self._updating = False
        self.sliceChanged.emit()

    @Slot(int)
    def _on_cols_changed(self, _i: int) -> None:
        if self._updating:
            return
        self._make_spins(self.index())
        self.sliceChanged.emit()

    @Slot(int)
    def _on_spin(self, _value: int) -> None:
        if not self._updating:
            self.sliceChanged.emit()
