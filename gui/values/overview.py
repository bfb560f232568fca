"""A read-only overview of any file: what it is, why we think so, what is inside, what is risky.

It is what a tab shows for a file before the tab's own viewer takes over, and it stays the
fallback for formats no tab edits. The report comes from ``storage.inspect.report`` (the same one the
``inspect`` command prints) and is computed in a worker; nothing of the file runs.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Slot
from PySide6.QtGui import QBrush, QColor, QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from gui.common.document import Document
from gui.common.formatting import human_size
from gui.common.loading_page import LoadingPage
from gui.common.model_guard import guard_model
from gui.values.tree import ValueTreeModel
from gui.values.tree_model import column_header
from storage.core.errors import KnownError
from storage.inspect.preview import preview_text

_SEVERITY_COLOURS = {"dangerous": "#b42318", "suspicious": "#9a6700", "info": "#475467"}


def load_overview(path: str, fmt: str) -> dict[str, Any]:
    """Worker body: the inspect report plus a preview of the file's first bytes."""
    from storage.inspect.report import inspect_path  # imported on first use: keeps launch quick

    report = inspect_path(path)
    encoding = report.get("summary", {}).get("encoding")
    try:
        text, truncated = preview_text(path, report.get("format", fmt), encoding=encoding)
    except (OSError, KnownError) as exc:
        text, truncated = f"(no preview: {exc})", False
    report["preview"] = {"text": text, "truncated": truncated}
    return report


@guard_model
class FindingsModel(QAbstractTableModel):
    """Severity / Finding / Global rows of an inspect report."""

    HEADERS = ("Severity", "Finding", "Global")

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[dict[str, Any]] = []

    def set_findings(self, findings: list[dict[str, Any]]) -> None:
        self.beginResetModel()
        self._rows = list(findings)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.HEADERS)

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        key = ("severity", "message", "global")[index.column()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return str(row.get(key) or "")
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == 0:
            return QBrush(QColor(_SEVERITY_COLOURS.get(row.get("severity"), "#000000")))
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        return column_header(self.HEADERS, section, orientation, role)


class OverviewDocument(Document):
    """Header, findings, summary tree and a preview of the first bytes."""

    def __init__(self, path: str, fmt: str, parent: QWidget | None = None) -> None:
        super().__init__(path, fmt, parent)
        self.report: dict[str, Any] | None = None

        self.stack = QStackedWidget(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self.stack.addWidget(self._build_loading_page())
        self.stack.addWidget(self._build_content_page())
        self.reload()

    # -- pages -----------------------------------------------------------------------------
    def _build_loading_page(self) -> QWidget:
        page = LoadingPage(f"Reading {self.title()}…", parent=self)
        page.cancelled.connect(self._on_cancel)
        self.loading_label, self.cancel_button = page.label, page.cancel_button
        return page

    def _build_content_page(self) -> QWidget:
        page = QWidget(self)
        self.heading = QLabel(page)
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        self.heading.setWordWrap(True)
        self.heading.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.findings_model = FindingsModel(self)
        self.findings_view = QTableView(page)
        self.findings_view.setModel(self.findings_model)
        self.findings_view.verticalHeader().hide()
        self.findings_view.verticalHeader().setDefaultSectionSize(22)
        header = self.findings_view.horizontalHeader()
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.resizeSection(0, 100)
        header.resizeSection(2, 220)
        self.findings_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)

        self.summary_model = ValueTreeModel(None, self)
        self.summary_view = QTreeView(page)
        self.summary_view.setModel(self.summary_model)
        self.summary_view.setUniformRowHeights(True)
        self.summary_view.setAlternatingRowColors(True)
        self.summary_view.header().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.summary_view.header().setStretchLastSection(True)
        self.summary_view.header().resizeSection(0, 200)
        self.summary_view.header().resizeSection(1, 240)

        self.preview = QPlainTextEdit(page)
        self.preview.setReadOnly(True)
        self.preview.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.preview.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.preview_label = QLabel("Preview", page)

        left = QSplitter(Qt.Orientation.Vertical, page)
        left.addWidget(self.findings_view)
        left.addWidget(self.summary_view)
        left.setSizes([140, 400])
        right = QWidget(page)
        right_box = QVBoxLayout(right)
        right_box.setContentsMargins(0, 0, 0, 0)
        right_box.addWidget(self.preview_label)
        right_box.addWidget(self.preview)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, page)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setSizes([520, 480])
        self.left_splitter = left
        for splitter in (self.splitter, self.left_splitter):
            splitter.splitterMoved.connect(self.viewStateChanged)
        self.summary_view.header().sectionResized.connect(self.viewStateChanged)
        self.summary_view.selectionModel().currentChanged.connect(self.viewStateChanged)

        top = QHBoxLayout()
        top.addWidget(self.heading, 1)
        box = QVBoxLayout(page)
        box.setContentsMargins(8, 8, 8, 8)
        box.addLayout(top)
        box.addWidget(self.splitter, 1)
        return page

    # -- loading -----------------------------------------------------------------------------
    def reload(self) -> None:
        self.stack.setCurrentIndex(0)
        self.run_latest(load_overview, self.path, self.format, on_result=self._on_loaded,
                        on_error=self._on_failed)

    @Slot()
    def _on_cancel(self) -> None:
        self.cancel_latest()  # whatever arrives now is dropped
        self.loading_label.setText(f"Stopped reading {self.title()}. Close the tab or reload.")
        self.cancel_button.setEnabled(False)

    def _on_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self._on_loaded(generation, {
            "path": self.path, "format": self.format, "ok": False,
            "error": {"message": self.describe_failure(exc)}, "summary": {}, "findings": [],
            "preview": {"text": getattr(exc, "__traceback_text__", ""), "truncated": False},
        })

    def _on_loaded(self, generation: int, report: dict[str, Any]) -> None:
        if generation != self._generation:
            return
        self._worker = None
        self.report = report
        if report.get("format") not in (None, "unknown"):
            self.format = report["format"]
        self.heading.setText(self._heading_html(report))
        self.findings_model.set_findings(report.get("findings", []))
        self.findings_view.setVisible(bool(report.get("findings")))
        self.summary_model.set_value(report.get("summary", {}))
        self.summary_view.expandToDepth(0)
        preview = report.get("preview", {})
        self.preview.setPlainText(preview.get("text", ""))
        self.preview_label.setText(
            "Preview of the first bytes" if preview.get("truncated") else "Preview")
        self.stack.setCurrentIndex(1)
        self._restore_pending_view_state()
        self.statusChanged.emit()
        self.mark_loaded()

    def _heading_html(self, report: dict[str, Any]) -> str:
        summary = report.get("summary", {})
        size = summary.get("size")
        facts = [report.get("format", "unknown").upper()]
        if isinstance(size, int):
            facts.append(human_size(size))
        lines = [f"<b style='font-size:15px'>{_esc(self.title())}</b>",
                 f"<span style='color:#475467'>{' · '.join(facts)} · {_esc(self.path or '')}</span>"]
        if summary.get("detected_by"):
            lines.append(f"Detected: {_esc(summary['detected_by'])}")
        error = report.get("error")
        if error:
            where = ", ".join(f"{k} {error[k]}" for k in ("line", "column", "offset")
                              if error.get(k) is not None)
            lines.append(f"<span style='color:#b42318'><b>Cannot read this file:</b> "
                         f"{_esc(error.get('message', ''))}{' (' + where + ')' if where else ''}</span>")
        dangerous = [f for f in report.get("findings", []) if f.get("severity") == "dangerous"]
        if dangerous:
            lines.append(f"<span style='color:#b42318'><b>Dangerous:</b> loading this file the usual "
                         f"way would run code ({len(dangerous)} finding(s) below). "
                         "Nothing has been run.</span>")
        return "<br>".join(lines)

    # -- view state --------------------------------------------------------------------------
    def view_state(self) -> dict[str, Any]:
        if not self.is_loaded:
            return super().view_state()
        current = self.summary_view.currentIndex()
        header = self.summary_view.header()
        return {
            "splitter": self.splitter.sizes(),
            "left_splitter": self.left_splitter.sizes(),
            "columns": [header.sectionSize(i) for i in range(header.count())],
            "selected": [_jsonable(k) for k in self.summary_model.node(current).path()]
            if current.isValid() else None,
        }

    def restore_view_state(self, state: dict[str, Any]) -> None:
        if not state:
            return
        for key, splitter in (("splitter", self.splitter), ("left_splitter", self.left_splitter)):
            sizes = state.get(key)
            if isinstance(sizes, list) and all(isinstance(s, int) for s in sizes):
                splitter.setSizes(sizes)
        columns = state.get("columns")
        if isinstance(columns, list):
            for i, width in enumerate(columns[:-1]):  # the last one stretches
                if isinstance(width, int) and width > 0:
                    self.summary_view.header().resizeSection(i, width)
        selected = state.get("selected")
        if isinstance(selected, list):
            index = self.summary_model.index_for_path(selected)
            if index.isValid():
                self.summary_view.setCurrentIndex(index)
                self.summary_view.scrollTo(index)

    def close_document(self) -> None:
        self.cancel_latest()


def _esc(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _jsonable(key: Any) -> Any:
    return key if isinstance(key, str | int) else str(key)
