"""The JSON document's toolbar: view mode, expand to level, search (in a worker), path query."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QSpinBox,
    QToolButton,
    QWidget,
)

from gui.common.workers import Worker, run_in_worker
from storage.formats.json.doc import JsonEditError, resolve_query, to_pointer
from storage.formats.json.query import is_jsonpath, jsonpath_query
from storage.formats.json.search import search

INDENTS = [("Indent 2", (2, False)), ("Indent 4", (4, False)), ("Indent tab", ("\t", False)),
           ("One line", (None, False)), ("Compact", (None, True))]


class JsonToolbar(QWidget):
    modeChosen = Signal(str)
    searchFinished = Signal()
    queryFinished = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document: Any = None
        self.hits: list[list[Any]] = []
        self.hit = -1
        self._worker: Worker | None = None
        self._generation = 0
        self._query_generation = 0
        box = QHBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        self.mode_group = QButtonGroup(self)
        self.mode_buttons: dict[str, QToolButton] = {}
        for mode, label in (("tree", "Tree"), ("text", "Text"), ("table", "Table")):
            button = QToolButton(self)
            button.setText(label)
            button.setCheckable(True)
            button.setObjectName(f"mode-{mode}")
            button.clicked.connect(lambda _c=False, m=mode: self.modeChosen.emit(m))
            self.mode_group.addButton(button)
            self.mode_buttons[mode] = button
            box.addWidget(button)
        self.mode_buttons["tree"].setChecked(True)
        self.table_button = self.mode_buttons["table"]
        self.level = QSpinBox(self)
        self.level.setPrefix("Expand to level ")
        self.level.setSpecialValueText("Collapse all")  # level 0
        self.level.setToolTip("Open the tree down to this many levels")
        self.level.setAccessibleName("Expand to level")
        self.level.setRange(0, 50)
        self.level.setValue(1)
        box.addWidget(self.level)
        self.search_edit = QLineEdit(self)
        self.search_edit.setPlaceholderText("Search keys and values")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setMinimumWidth(80)
        self.regex = QCheckBox(".*", self)
        self.regex.setToolTip("Search with a regular expression")
        self.previous_button = QToolButton(self)
        self.previous_button.setText("◀")
        self.previous_button.setToolTip("Previous match")
        self.next_button = QToolButton(self)
        self.next_button.setText("▶")
        self.next_button.setToolTip("Next match")
        self.hit_label = QLabel(self)
        for widget in (self.search_edit, self.regex, self.previous_button, self.next_button,
                       self.hit_label):
            box.addWidget(widget)
        box.setStretchFactor(self.search_edit, 1)
        self.indent = QComboBox(self)
        self.indent.setToolTip("How the file is written when saved")
        for label, value in INDENTS:
            self.indent.addItem(label, value)
        box.addWidget(self.indent)
        self.query_edit = QLineEdit(self)
        self.query_edit.setMinimumWidth(60)  # the window stays usable at 700 px with every bar shown
        self.query_edit.setPlaceholderText("Path: /a/0, or JSONPath $..name")
        self.query_edit.setToolTip("A JSON Pointer (/a/0) goes to one node; a JSONPath query "
                                   "($.a[*].name, $..id, $.a[?(@.n > 2)]) lists every match")
        # JSONPath matches, listed under the toolbar by the document; a click selects one
        self.results = QListWidget(parent)
        self.results.setObjectName("jsonQueryResults")
        self.results.hide()
        self.results.currentRowChanged.connect(self._on_result_chosen)
        self.results_label = QLabel(parent)
        self.results_label.hide()
        self._query_worker: Worker | None = None
        box.addWidget(self.query_edit, 1)
        self.search_edit.returnPressed.connect(self._on_search_return)
        back = QShortcut(QKeySequence("Shift+Return"), self.search_edit)  # as in every find bar
        back.setContext(Qt.ShortcutContext.WidgetShortcut)
        back.activated.connect(lambda: self.step(-1))
        self.search_edit.textChanged.connect(self._on_search_changed)
        self.regex.toggled.connect(self._on_search_changed)
        self.next_button.clicked.connect(lambda: self.step(+1))
        self.previous_button.clicked.connect(lambda: self.step(-1))
        self.query_edit.returnPressed.connect(self._on_query)

    def connect_document(self, document: Any) -> None:
        self.document = document
        self.level.valueChanged.connect(document.expand_to_level)
        self.indent.activated.connect(lambda i: document.set_indent(*self.indent.itemData(i)))
        document.formatChanged.connect(self.show_indent)

    def show_indent(self) -> None:
        """Show the document's current way of writing (source's, or the user's choice)."""
        doc = self.document.doc if self.document is not None else None
        if doc is None:
            return
        value = (doc.fmt.indent, doc.fmt.compact if doc.fmt.indent is None else False)
        index = next((i for i, (_l, v) in enumerate(INDENTS) if v == value), -1)
        if index < 0:
            self.indent.addItem(f"Indent {doc.fmt.indent}", value)
            index = self.indent.count() - 1
        self.indent.setCurrentIndex(index)

    def show_mode(self, mode: str) -> None:
        self.mode_buttons[mode].setChecked(True)

    # -- search ----------------------------------------------------------------------------
    @Slot()
    def _on_search_changed(self) -> None:
        self.hits, self.hit = [], -1
        self.hit_label.setText("")
        self.stop_search()

    @Slot()
    def _on_search_return(self) -> None:
        if self.hits:
            self.step(+1)
        else:
            self.start_search()

    def start_search(self, direction: int = +1) -> None:
        """Search in a worker; the first match (the last one going back) is selected when the
        answer comes."""
        doc = self.document.doc if self.document is not None else None
        query = self.search_edit.text()
        if doc is None or not query:
            return
        if self.regex.isChecked():
            import re

            try:
                re.compile(query)
            except re.error as exc:
                self.hit_label.setText(f"bad regex: {exc}")
                return
        self.stop_search()
        self._generation += 1
        generation = self._generation
        self.hit_label.setText("searching…")
        self._worker = run_in_worker(
            search, doc.root, query, regex=self.regex.isChecked(),
            on_result=lambda hits: self._on_hits(generation, hits, direction),
            on_error=lambda exc: self._on_hits(generation, []))

    def stop_search(self) -> None:
        self._generation += 1
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None

    def _on_hits(self, generation: int, hits: list[list[Any]], direction: int = +1) -> None:
        if generation != self._generation:
            return
        self._worker = None
        self.hits, self.hit = hits, -1
        if not hits:
            self.hit_label.setText("no match")
        else:
            self.step(direction)
        self.searchFinished.emit()

    def step(self, direction: int) -> None:
        if not self.hits:
            self.start_search(direction)
            return
        if self.hit < 0 and direction < 0:
            self.hit = 0  # the first step back from no match lands on the last one
        self.hit = (self.hit + direction) % len(self.hits)
        if self.document.mode() == "table":
            self.document.set_mode("tree")  # the text view follows the selection too
        self.document.select_path(self.hits[self.hit])
        more = "+" if len(self.hits) >= 10_000 else ""
        self.hit_label.setText(f"{self.hit + 1} of {len(self.hits):,}{more}")

    # -- path query --------------------------------------------------------------------------
    def _query_failed(self, message: str) -> None:
        self.query_edit.setToolTip(message)
        self.query_edit.setStyleSheet("color: #b42318")
        self.results_label.setText(message)
        self.results_label.setVisible(True)

    @Slot()
    def _on_query(self) -> None:
        doc = self.document.doc if self.document is not None else None
        if doc is None:
            return
        self.query_edit.setStyleSheet("")
        self.results.hide()
        self.results_label.hide()
        if is_jsonpath(self.query_edit.text()):
            self.run_jsonpath(self.query_edit.text())
            return
        try:
            path = resolve_query(doc.root, self.query_edit.text())
        except JsonEditError as exc:
            self._query_failed(str(exc))
            return
        self.go_to(path)

    def run_jsonpath(self, query: str) -> None:
        """Run a JSONPath query in a worker; the matches are listed when it answers."""
        self.stop_query()
        self.results.clear()
        generation = self._query_generation
        self.results_label.setText("querying…")
        self.results_label.show()
        self._query_worker = run_in_worker(
            jsonpath_query, self.document.doc.root, query,
            on_result=lambda paths: self._on_query_result(generation, paths),
            on_error=lambda exc: self._on_query_result(generation, exc))

    def stop_query(self) -> None:
        self._query_generation += 1
        if self._query_worker is not None:
            self._query_worker.cancel()
            self._query_worker = None

    def _on_query_result(self, generation: int, paths: Any) -> None:
        if generation != self._query_generation:
            return
        self._query_worker = None
        if isinstance(paths, BaseException):
            self._query_failed(str(paths))
        else:
            self.show_results(paths)
        self.queryFinished.emit()

    def show_results(self, paths: list[list[Any]]) -> None:
        self.results.blockSignals(True)
        self.results.clear()
        for path in paths:
            item = QListWidgetItem(to_pointer(path) or "/ (the document)")
            item.setData(Qt.ItemDataRole.UserRole, path)
            self.results.addItem(item)
        self.results.blockSignals(False)
        more = "+" if len(paths) >= 10_000 else ""
        self.results_label.setText(f"{len(paths):,}{more} match(es); pick one to select it"
                                   if paths else "no match")
        self.results_label.show()
        rows = min(len(paths), 8)
        self.results.setFixedHeight(rows * max(16, self.results.sizeHintForRow(0)) + 6)
        self.results.setVisible(bool(paths))
        if paths:
            self.results.setCurrentRow(0)

    @Slot(int)
    def _on_result_chosen(self, row: int) -> None:
        item = self.results.item(row)
        if item is not None:
            self.go_to(item.data(Qt.ItemDataRole.UserRole))

    def go_to(self, path: list[Any]) -> None:
        self.query_edit.setToolTip("")
        if self.document.mode() == "table":
            self.document.set_mode("tree")  # the text view follows the selection too
        self.document.select_path(path)
