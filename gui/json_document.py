"""The JSON tab's document: tree, text and table views of one JSON or JSON Lines file.

The file is parsed in a worker (``storage.json_io``); the tree appears when it is parsed, and the
duplicate-key check runs afterwards as a second pass. A file that does not parse opens in the text
view at the error, so the user can fix it there. Every edit is a command on the undo stack that
calls the storage document (``storage.json_doc.JsonDoc``); saving writes through the atomic writer.
"""

from __future__ import annotations

import os
from functools import partial
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QSplitter,
    QStackedWidget,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from storage.errors import KnownError
from storage.json_doc import JsonDoc
from storage.json_io import JsonParseError, detect_format
from storage.json_summary import first_summary, load_for_editor, second_pass
from storage.json_text_index import image_of_text

from . import journal_hooks, save_options
from .disk_watch import DiskGuard
from .document import Document
from .json_commands import SetIndentCommand, SetValueCommand
from .json_edit import JsonEditMixin, _esc
from .json_model import EditableValueTreeModel
from .json_state import JsonStateMixin
from .json_table_view import JsonTableMixin
from .json_text import JsonTextView
from .json_text_sync import JsonTextSyncMixin
from .json_toolbar import JsonToolbar
from .loading_page import LoadingPage
from .value_tree_model import ValueTreeModel
from .workers import Worker, run_in_worker, run_with_progress

MODES = ("tree", "text", "table")
EDITABLE_TEXT_CHARS = 4_000_000  # a broken file bigger than this is shown read-only


class JsonDocument(JsonTextSyncMixin, JsonTableMixin, JsonStateMixin, JsonEditMixin, Document):
    """Tree / Text / Table of a JSON document, edited through undo commands."""

    formatChanged = Signal()  # the indent the save will write changed

    def __init__(self, path: str | None, fmt: str, parent: QWidget | None = None) -> None:
        super().__init__(path, fmt, parent)
        self.doc: JsonDoc | None = None
        self.parse_error: JsonParseError | None = None
        self.duplicates: list[str] = []
        self.malformed: list[tuple[int, str]] = []
        self._worker: Worker | None = None
        self._dup_worker: Worker | None = None
        self._generation = 0
        self.disk = DiskGuard(self)

        self.stack = QStackedWidget(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.disk.bar)
        layout.addWidget(self.stack)
        self.stack.addWidget(self._build_loading_page())
        self.stack.addWidget(self._build_content_page())
        self.undo_stack.indexChanged.connect(self._on_undo_index_changed)
        self.reload()

    # -- pages ---------------------------------------------------------------------------------
    def _build_loading_page(self) -> QWidget:
        page = LoadingPage(f"Parsing {self.title()}…", cancellable=False, parent=self)
        self.loading_label = page.label
        return page

    def _build_content_page(self) -> QWidget:
        page = QWidget(self)
        self.toolbar = JsonToolbar(page)
        self.message = QLabel(page)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()

        self.model = EditableValueTreeModel(JsonDoc(None), self)
        self.model.editRequested.connect(self._on_model_edit)
        self.model.moveRequested.connect(self.move_node)
        self.tree = QTreeView(page)
        self.tree.setObjectName("jsonTree")
        self.tree.setModel(self.model)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.tree.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.tree.setDropIndicatorShown(True)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._on_context_menu)
        self.install_shortcuts()
        header = self.tree.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.resizeSection(0, 220)
        header.resizeSection(1, 320)
        header.resizeSection(2, 110)
        self.tree.selectionModel().currentChanged.connect(self._on_current_changed)
        self.node_text = JsonTextView(page)
        self.node_text.valueEdited.connect(self._on_node_text_edited)
        self.summary_model = ValueTreeModel(None, self)
        self.summary_view = QTreeView(page)
        self.summary_view.setObjectName("jsonSummary")
        self.summary_view.setModel(self.summary_model)
        self.summary_view.setUniformRowHeights(True)
        self.summary_view.header().resizeSection(0, 150)
        self.side_splitter = QSplitter(Qt.Orientation.Vertical, page)
        self.side_splitter.addWidget(self.summary_view)
        self.side_splitter.addWidget(self.node_text)
        self.side_splitter.setSizes([160, 440])

        self.text_view = JsonTextView(page)
        self.text_view.setObjectName("jsonText")
        self.text_view.valueEdited.connect(self._on_text_edited)
        self.text_view.unparsedChanged.connect(self._on_unparsed_changed)
        self.text_view.paged.offsetClicked.connect(self._on_text_clicked)

        table_page = self._build_table_page(page)

        self.modes = QStackedWidget(page)
        for widget in (self.tree, self.text_view, table_page):
            self.modes.addWidget(widget)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, page)
        self.splitter.addWidget(self.modes)
        self.splitter.addWidget(self.side_splitter)
        self.splitter.setSizes([700, 320])
        self.toolbar.modeChosen.connect(self.set_mode)
        self.toolbar.connect_document(self)
        for signal in (self.splitter.splitterMoved, self.side_splitter.splitterMoved,
                       header.sectionResized, self.summary_view.header().sectionResized,
                       self.summary_view.selectionModel().currentChanged,
                       self.tree.selectionModel().currentChanged):
            signal.connect(self.viewStateChanged)

        box = QVBoxLayout(page)
        box.setContentsMargins(4, 4, 4, 4)
        box.addWidget(self.toolbar)
        box.addWidget(self.toolbar.results_label)
        box.addWidget(self.toolbar.results)
        box.addWidget(self.message)
        box.addWidget(self.splitter, 1)
        return page

    # -- loading -------------------------------------------------------------------------------
    @Slot()
    def reload(self) -> None:
        self._generation += 1
        generation = self._generation
        self.stack.setCurrentIndex(0)
        self.disk.record()  # before the read: a change while parsing shows the bar
        for worker in (self._worker, self._dup_worker):
            if worker is not None:
                worker.cancel()
        self._worker = run_in_worker(
            load_for_editor, self.path, self.format,
            on_result=lambda result: self._on_loaded(generation, result),
            on_error=lambda exc: self._on_loaded(generation, exc))

    def _on_loaded(self, generation: int, result: Any) -> None:
        if generation != self._generation:
            return
        self._worker = None
        self.undo_stack.clear()
        self.duplicates, self.malformed = [], []
        if isinstance(result, JsonParseError):
            self.parse_error = result
            self.doc = None
            self.model.reset_document(JsonDoc(None))
            self.text_view.parser = self.text_parser()
            editable = len(result.text) <= EDITABLE_TEXT_CHARS
            if editable:
                self.text_view.set_text(result.text)
            else:  # too big for a text editor: shown a page at a time, at the error
                self.text_view.set_image(image_of_text(result.text))
            self.text_view.set_error(result)
            self.side_splitter.hide()  # no tree yet: nothing to summarise or select
            self.set_mode("text")
            self.text_view.show_error()
            where = ("the text view; the tree appears when the text is valid" if editable else
                     "a text editor (the file is too big to edit here), then reload it")
            self._show_message(f"<b>Cannot parse {self.title()}:</b> {_esc(str(result))}. Fix it in "
                               f"{where}.", "error")
        elif isinstance(result, BaseException):
            message = str(result) if isinstance(result, KnownError | OSError) else f"internal error: {result}"
            self.parse_error = None
            self._show_message(f"<b>Cannot open {self.title()}:</b> {_esc(message)}", "error")
        else:
            self.parse_error = None
            self._set_doc(JsonDoc.from_load(result))
            self.malformed = list(getattr(result, "bad", []))
            self._show_load_notes()
            self._set_summary(first_summary(result))
            if self.path:
                self._dup_worker = run_in_worker(
                    second_pass, self.path, self.format, self.doc.root,
                    on_result=lambda found: self._on_second_pass(generation, found))
        self.stack.setCurrentIndex(1)
        self._restore_pending_view_state()
        self.statusChanged.emit()
        if not self.is_loaded:
            self.mark_loaded()

    def _set_doc(self, doc: JsonDoc) -> None:
        self.doc = doc
        self.side_splitter.show()
        self.text_view.parser = self.text_parser()
        self.model.reset_document(doc)
        self.tree.expandToDepth(0)
        self.toolbar.table_button.setEnabled(True)
        self.toolbar.indent.setEnabled(not doc.lines)
        self.formatChanged.emit()
        self._refresh_table_source()
        if self.mode() == "text":
            self._fill_text_view()

    def _on_second_pass(self, generation: int, found: dict[str, Any]) -> None:
        if generation != self._generation:
            return
        self._dup_worker = None
        self.duplicates = found.get("duplicate_keys", [])
        self._show_load_notes()
        self._set_summary({**self.summary_model.root_value(), **found})

    def _set_summary(self, summary: dict[str, Any]) -> None:
        """Show ``summary``, keeping the selected row (the second pass adds to it)."""
        current = self.summary_view.currentIndex()
        path = self.summary_model.node(current).path() if current.isValid() else None
        self.summary_model.set_value(summary)
        if path:
            index = self.summary_model.index_for_path(path)
            if index.isValid():
                self.summary_view.setCurrentIndex(index)

    # -- modes ---------------------------------------------------------------------------------
    def mode(self) -> str:
        return MODES[self.modes.currentIndex()]

    @Slot(str)
    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            return
        if self.mode() == "text" and mode != "text" and self.text_view.pending():
            self.text_view.reparse()
        if mode == "text" and self.parse_error is None:
            self._fill_text_view()
        if mode == "table":
            self._refresh_table_source()
        self.modes.setCurrentIndex(MODES.index(mode))
        if mode == "text":
            self._show_current_in_text()
        self.toolbar.show_mode(mode)
        self.viewStateChanged.emit()

    # -- edits from the views ----------------------------------------------------------------------
    def _on_text_edited(self, value: Any) -> None:
        if self.doc is None:  # the file did not parse: the fixed text becomes the document
            self.parse_error = None
            self.message.hide()
            text = self.text_view.text()
            self._set_doc(JsonDoc(value, detect_format(text, "utf-8", 0), lines=self.format == "jsonl"))
            self.undo_stack.resetClean()  # the fixed text is not on disk yet
            return
        command = SetValueCommand(self.model, [], value, "Edit text")
        command.mergeable = True  # type: ignore[attr-defined]
        self._push_from_text(command, self.text_view)

    def _on_node_text_edited(self, value: Any) -> None:
        path = self.current_path()
        if self.doc is None or path is None:
            return
        command = SetValueCommand(self.model, path, value, "Edit node text")
        command.mergeable = True  # type: ignore[attr-defined]
        self._push_from_text(command, self.node_text)

    def _push_from_text(self, command: SetValueCommand, source: JsonTextView) -> None:
        """Push an edit typed in ``source``, which must not be refilled under the typing."""
        self._text_push = source
        try:
            self.undo_stack.push(command)
        finally:
            self._text_push = None

    @Slot(int)
    def _on_undo_index_changed(self, _index: int) -> None:
        self._edit_count += 1
        source = getattr(self, "_text_push", None)
        if self.mode() == "text" and source is not self.text_view:
            self._fill_text_view()
        if source is not self.node_text:
            self._show_node_text()
        if self.table_model.records:
            self.table_model.refresh()

    def set_indent(self, indent: int | str | None, compact: bool = False) -> None:
        if self.doc is not None and (self.doc.fmt.indent, self.doc.fmt.compact) != (indent, compact):
            self.undo_stack.push(SetIndentCommand(self, indent, compact))

    # -- saving ---------------------------------------------------------------------------------
    def can_save(self) -> bool:
        return True

    def save(self) -> bool:
        return self.save_as(self.path) if self.path else False

    def save_as(self, path: str) -> bool:
        if self.mode() == "text" and self.text_view.pending():
            self.text_view.reparse()
        if self.doc is None:
            self._show_message("<b>Not saved:</b> the text is not valid JSON yet; fix the error "
                               "shown below the text first.", "error")
            return False
        with self.disk.own_write():  # our own replace must not look like a change on disk
            try:
                # Serialising a big document takes seconds: a worker does it, the window paints.
                run_with_progress(self, f"Saving {os.path.basename(path)}…",
                                  partial(self.doc.save, path, backup=save_options.backup()))
            except KnownError as exc:
                self._show_message(f"<b>Not saved:</b> {_esc(str(exc))}", "error")
                return False
        self.path = os.path.abspath(path)
        self.disk.record()
        self.undo_stack.setClean()
        self.statusChanged.emit()
        return True

    # -- crash recovery (gui/journal_hooks.py) ----------------------------------------------------
    def is_modified(self) -> bool:
        """Typed text that does not parse yet counts as unsaved too (and is journaled)."""
        return super().is_modified() or self.text_view.unparsed_edit

    @Slot(bool)
    def _on_clean_changed(self, clean: bool) -> None:
        self.modifiedChanged.emit(not clean or self.text_view.unparsed_edit)

    @Slot(bool)
    def _on_unparsed_changed(self, _unparsed: bool) -> None:
        self.modifiedChanged.emit(self.is_modified())

    def journal_payload(self) -> bytes | None:
        return journal_hooks.json_payload(self)

    def restore_from_journal(self, payload: bytes) -> None:
        journal_hooks.json_restore(self, payload)

    def close_document(self) -> None:
        self._generation += 1
        for worker in (self._worker, self._dup_worker):
            if worker is not None:
                worker.cancel()
        self.toolbar.stop_search()
        self.toolbar.stop_query()
        self.disk.stop()
        self._stop_text_workers()
