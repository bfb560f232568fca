"""The Tables tab's side panels and bars: column stats with a histogram, the record form, the dialect bar.

Each panel owns its widgets and shows what the document hands it; none reads the file itself.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRectF,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from gui.common.model_guard import guard_model
from storage.formats.table.dialect import ENCODINGS, CsvDialect

_Index = QModelIndex | QPersistentModelIndex


class Histogram(QWidget):
    """Bars of (label, count), drawn small: the shape of one column."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tableHistogram")
        self.bars: list[tuple[str, int]] = []
        self.numeric = True
        self.ends = ("", "")  # the numeric axis' low and high labels
        self.setMinimumHeight(120)

    def set_bars(self, bars: list[tuple[str, int]], numeric: bool, ends: tuple[str, str] = ("", "")) -> None:
        self.bars, self.numeric = list(bars), numeric
        self.ends = (ends[0] or (bars[0][0] if bars else ""), ends[1] or (bars[-1][0] if bars else ""))
        self.setToolTip("\n".join(f"{label}: {count:,}" for label, count in bars[:40]))
        self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#ffffff"))
        if not self.bars:
            painter.setPen(QColor("#667085"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "no values")
            return
        top = max(count for _label, count in self.bars) or 1
        if self.numeric:
            width = self.width() / len(self.bars)
            for i, (_label, count) in enumerate(self.bars):
                height = (self.height() - 18) * count / top
                bar = QRectF(i * width + 1, self.height() - 16 - height, max(width - 2, 1), height)
                painter.fillRect(bar, QColor("#1c7ed6"))
            painter.setPen(QColor("#475467"))
            painter.drawText(2, self.height() - 3, self.ends[0])
            last = self.ends[1]
            painter.drawText(self.width() - painter.fontMetrics().horizontalAdvance(last) - 2,
                             self.height() - 3, last)
            return
        row = max(14.0, min(20.0, self.height() / len(self.bars)))
        painter.setPen(QColor("#344054"))
        for i, (label, count) in enumerate(self.bars):
            y = i * row
            if y + row > self.height():
                break
            bar = (self.width() * 0.55) * count / top
            painter.fillRect(QRectF(self.width() * 0.45, y + 2, bar, row - 4), QColor("#74c0fc"))
            text = painter.fontMetrics().elidedText(f"{label}", Qt.TextElideMode.ElideRight,
                                                    int(self.width() * 0.45) - 4)
            painter.drawText(QRectF(0, y, self.width() * 0.45 - 4, row),
                             int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight), text)


class StatsPanel(QWidget):
    """Type, rows, nulls, min, max, distinct of one column, and its histogram."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tableStats")
        self.title = QLabel("Select a column", self)
        self.title.setObjectName("tableStatsTitle")
        self.title.setStyleSheet("font-weight: bold;")
        self.fields: dict[str, QLabel] = {}
        form = QFormLayout()
        for key, label in (("type", "Type"), ("rows", "Rows"), ("nulls", "Nulls"), ("min", "Min"),
                           ("max", "Max"), ("distinct", "Distinct")):
            value = QLabel("", self)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setObjectName(f"stat-{key}")
            self.fields[key] = value
            form.addRow(label, value)
        self.histogram = Histogram(self)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        box = QVBoxLayout(self)
        box.addWidget(self.title)
        box.addLayout(form)
        box.addWidget(self.histogram, 1)
        box.addWidget(self.status)

    def show_busy(self, name: str) -> None:
        self.title.setText(name)
        self.status.setText("Computing over the whole file…")
        for value in self.fields.values():
            value.setText("…")
        self.histogram.set_bars([], True)

    def show_stats(self, stats: dict[str, Any], bars: list[tuple[str, int]], numeric: bool) -> None:
        self.title.setText(stats["name"])
        rows = stats["rows"] or 1
        texts = {"type": stats["type"], "rows": f"{stats['rows']:,}",
                 "nulls": f"{stats['nulls']:,} ({100 * stats['nulls'] / rows:.1f} %)",
                 "min": stats["min"] if stats["min"] is not None else "—",
                 "max": stats["max"] if stats["max"] is not None else "—",
                 "distinct": f"≈ {stats['distinct']:,}"}
        for key, text in texts.items():
            self.fields[key].setText(str(text)[:200])
        ends = (texts["min"][:12], texts["max"][:12]) if numeric else ("", "")
        self.histogram.set_bars(bars, numeric, ends)
        self.status.setText("Most common values" if not numeric and bars else "")

    def show_error(self, text: str) -> None:
        self.status.setText(text)


@guard_model
class RecordModel(QAbstractTableModel):
    """One row as a form: field, type, value (the whole text, not the grid's cut)."""

    HEADERS = ("Field", "Type", "Value")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.fields: list[tuple[str, str, str]] = []

    def set_record(self, fields: list[tuple[str, str, str]]) -> None:
        self.beginResetModel()
        self.fields = list(fields)
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.fields)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else 3

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self.fields):
            return None
        value = self.fields[index.row()][index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return value if len(value) <= 500 else value[:500] + "…"
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 2 and len(value) > 60:
            return value[:4000]
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == 1:
            return QColor("#667085")
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self.HEADERS[section] if 0 <= section < 3 else None
        return str(section + 1) if 0 <= section < len(self.fields) else None


class RecordPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel("Select a row", self)
        self.model = RecordModel(self)
        self.view = QTableView(self)
        self.view.setObjectName("tableRecord")
        self.view.setModel(self.model)
        self.view.verticalHeader().hide()
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.view.setWordWrap(True)
        box = QVBoxLayout(self)
        box.addWidget(self.label)
        box.addWidget(self.view, 1)

    def show_record(self, row: int, fields: list[tuple[str, str, str]]) -> None:
        self.label.setText(f"Row {row + 1:,}")
        self.model.set_record(fields)


_DELIMITERS = (("Comma ,", ","), ("Tab", "\t"), ("Semicolon ;", ";"), ("Pipe |", "|"))
_QUOTES = (('Double "', '"'), ("Single '", "'"), ("None", ""))


class DialectBar(QWidget):
    """Delimiter, header, encoding and quote of a CSV: edited here, the file is read again with them."""

    dialectChosen = Signal(object)  # CsvDialect

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tableDialect")
        self.dialect = CsvDialect()
        self.delimiter = QComboBox(self)
        self.delimiter.setObjectName("dialectDelimiter")
        for label, value in _DELIMITERS:
            self.delimiter.addItem(label, value)
        self.header = QCheckBox("First row is the header", self)
        self.header.setObjectName("dialectHeader")
        self.encoding = QComboBox(self)
        self.encoding.setObjectName("dialectEncoding")
        self.encoding.setEditable(True)
        self.encoding.addItems(ENCODINGS)
        self.quote = QComboBox(self)
        self.quote.setObjectName("dialectQuote")
        for label, value in _QUOTES:
            self.quote.addItem(label, value)
        self.apply = QPushButton("Read again", self)
        self.apply.setObjectName("dialectApply")
        self.apply.setEnabled(False)
        self.apply.clicked.connect(self._on_apply)
        box = QHBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        for label, widget in (("Delimiter", self.delimiter), ("Encoding", self.encoding),
                              ("Quote", self.quote)):
            box.addWidget(QLabel(label, self))
            box.addWidget(widget)
        box.addWidget(self.header)
        box.addWidget(self.apply)
        box.addStretch(1)
        self.delimiter.currentIndexChanged.connect(self._on_edited)
        self.quote.currentIndexChanged.connect(self._on_edited)
        self.header.toggled.connect(self._on_edited)
        self.encoding.currentTextChanged.connect(self._on_edited)

    def set_dialect(self, dialect: CsvDialect) -> None:
        self.dialect = dialect
        for widget in (self.delimiter, self.quote, self.header, self.encoding):
            widget.blockSignals(True)
        index = self.delimiter.findData(dialect.delimiter)
        if index < 0:
            self.delimiter.addItem(repr(dialect.delimiter), dialect.delimiter)
            index = self.delimiter.count() - 1
        self.delimiter.setCurrentIndex(index)
        self.quote.setCurrentIndex(max(0, self.quote.findData(dialect.quote)))
        self.header.setChecked(dialect.header)
        self.encoding.setCurrentText(dialect.encoding)
        for widget in (self.delimiter, self.quote, self.header, self.encoding):
            widget.blockSignals(False)
        self.apply.setEnabled(False)

    def chosen(self) -> CsvDialect:
        return self.dialect.with_changes(delimiter=self.delimiter.currentData(),
                                         quote=self.quote.currentData(), header=self.header.isChecked(),
                                         encoding=self.encoding.currentText().strip() or "utf-8")

    def _on_edited(self, *_args: object) -> None:
        self.apply.setEnabled(self.chosen() != self.dialect)

    def _on_apply(self) -> None:
        self.apply.setEnabled(False)
        self.dialectChosen.emit(self.chosen())
