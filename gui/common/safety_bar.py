"""The safety report above an Objects document: what the file would do if loaded the usual way."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:  # the safe loader: imported by the worker that reads the file, not before a first screen
    from storage.formats.objects.file import ObjectsFile

_STYLE = {
    "dangerous": ("#fdecea", "#8c1d18", "Dangerous"),
    "suspicious": ("#fff4d6", "#7a5300", "Suspicious"),
    "info": ("#e8f3ea", "#1e5a2b", "Safe"),
}


class SafetyBar(QFrame):
    """A coloured summary, a details table of every global and finding, and "Trust and load…"."""

    trustRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("safetyBar")
        # As tall as its text and table need, never more: the document below gets the rest.
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.installEventFilter(self)
        self.details_button = QPushButton("Details", self)
        self.details_button.setCheckable(True)
        self.details_button.toggled.connect(self._on_details_toggled)
        self.trust_button = QPushButton("Trust and load…", self)
        self.trust_button.setToolTip("Load the file with Python's own unpickler in a separate process "
                                     "(this runs the file's code)")
        # Never the button Enter presses: running a file's code takes a deliberate click.
        self.trust_button.setAutoDefault(False)
        self.trust_button.setDefault(False)
        self.trust_button.clicked.connect(self.trustRequested)
        self._table: QTableWidget | None = None  # the details, made when first shown
        self._rows: list[tuple[str, str, str, str]] = []  # what the details list
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.summary, 1)
        row.addWidget(self.details_button)
        row.addWidget(self.trust_button)
        self._box = QVBoxLayout(self)
        self._box.setContentsMargins(8, 6, 8, 6)
        self._box.addLayout(row)
        self.level = "info"

    @property
    def table(self) -> QTableWidget:
        """The details: every global and finding (made on first use; a first screen never shows it)."""
        if self._table is None:
            table = self._table = QTableWidget(0, 4, self)
            table.setHorizontalHeaderLabels(["Severity", "What", "Why", "Where"])
            table.verticalHeader().hide()
            table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
            table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
            table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
            table.setMaximumHeight(170)
            table.hide()
            self._box.addWidget(table)
            self._show_rows()
        return self._table

    def show_report(self, result: ObjectsFile, prefix: str = "") -> None:
        """The verdict of the safe read (also when its values could not be shown)."""
        self.level = result.worst
        background, colour, title = _STYLE.get(self.level, _STYLE["suspicious"])
        self.setStyleSheet(f"#safetyBar {{ background: {background}; }} "
                           f"#safetyBar QLabel {{ color: {colour}; }}")
        dangerous = result.dangerous
        suspicious = [g for g in result.globals.values() if g.severity == "suspicious"]
        if dangerous:
            names = ", ".join(html.escape(g.qualname) for g in dangerous[:6])
            more = f" and {len(dangerous) - 6} more" if len(dangerous) > 6 else ""
            body = (f"loading this file the usual way would call {names}{more}. "
                    "Nothing was run: what you see was read without executing it.")
        elif suspicious:
            names = ", ".join(html.escape(g.qualname) for g in suspicious[:6])
            body = (f"the file names types Datashelf does not know ({names}); loading it "
                    "the usual way would import and call them. Shown here without running anything.")
        elif self.level != "info":
            body = html.escape(next((f.message for f in result.findings if f.severity == self.level), ""))
        elif prefix and result.findings:  # another tab's file: what pickle.load would make of it
            body = html.escape(result.findings[0].message)
        else:
            body = "only plain values and known types. Nothing was run to show it."
        text = f"<b>{title}:</b> {html.escape(prefix)}{body}"
        if result.load_error:
            text += " <i>The values cannot be shown</i> (see below); this verdict reads every opcode."
        self.summary.setText(text)
        self._fit_summary()
        self._fill(result)

    def show_trusted(self, result: ObjectsFile) -> None:
        """After Trust and load: the file's code ran (in a separate process); say so, in red."""
        self.level = "trusted"
        background, colour, _title = _STYLE["dangerous"]
        self.setStyleSheet(f"#safetyBar {{ background: {background}; }} "
                           f"#safetyBar QLabel {{ color: {colour}; }}")
        names = ", ".join(html.escape(g.qualname) for g in result.dangerous[:6])
        ran = f" It called {names}." if names else ""
        self.summary.setText("<b>Trusted load:</b> the file was loaded by Python's own unpickler in a "
                             f"separate process, running its code.{ran} What you see is what it built, "
                             "read-only.")
        self._fit_summary()

    def _fill(self, result: ObjectsFile) -> None:
        from storage.formats.objects.file import SEVERITY_ORDER  # imported by now: it made result

        offsets = result.global_offsets
        rows = [(g.severity, f"{g.qualname}" + (f" ×{g.count}" if g.count > 1 else ""), g.why,
                 f"byte {offsets[key]:,}" if key in offsets else "")  # where inspect says it is
                for key, g in result.globals.items()]
        rows += [(f.severity, f.message, "", f.where) for f in result.findings]
        rows.sort(key=lambda r: SEVERITY_ORDER.get(r[0], 3))
        self._rows = rows
        self._show_rows()
        self.details_button.setText(f"Details ({len(rows)})")

    def clear_details(self) -> None:
        """No verdict yet: nothing to detail (the table, if made, empty and hidden)."""
        self._rows = []
        if self._table is not None:
            self._table.setRowCount(0)
            self._table.hide()

    def _show_rows(self) -> None:
        table = self._table
        if table is None:
            return
        table.setRowCount(len(self._rows))
        for number, values in enumerate(self._rows):
            for column, text in enumerate(values):
                item = QTableWidgetItem(text)
                if column == 0:
                    item.setForeground(QColor(_STYLE.get(values[0], _STYLE["suspicious"])[1]))
                table.setItem(number, column, item)
        table.resizeColumnToContents(0)
        table.resizeColumnToContents(1)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # The label's own resize, not the bar's: when the bar is resized its layout has not
        # given the label its new width yet, and a height fitted to the old, narrow width
        # would stay (a bar a third of the window tall).
        if watched is self.summary and event.type() == QEvent.Type.Resize:
            self._fit_summary()
        return super().eventFilter(watched, event)

    def _fit_summary(self) -> None:
        """A wrapped label in a row does not grow by itself: give it the height its text needs."""
        width = self.summary.width()
        if width <= 0:
            return
        # QLabel's heightForWidth never answers less than its minimum height: lift the old
        # constraint first, or a height fitted to a narrow first layout would stay for good.
        old = self.summary.minimumHeight()
        self.summary.setMinimumHeight(0)
        needed = self.summary.heightForWidth(width)
        self.summary.setMinimumHeight(needed if needed > 0 else old)

    def _on_details_toggled(self, shown: bool) -> None:
        if shown or self._table is not None:
            self.table.setVisible(shown)
