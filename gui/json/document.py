"""The JSON tab's document: tree, text and table views of one JSON or JSON Lines file.

The file is parsed in a worker (``storage.formats.json.io``); the tree appears when it is parsed, and the
duplicate-key check runs afterwards as a second pass. A file that does not parse opens in the text
view at the error, so the user can fix it there. Every edit is a command on the undo stack that
calls the storage document (``storage.formats.json.doc.JsonDoc``); saving writes through the atomic writer.

The document is composed of parts that own their state: the tree with its edit actions
(:class:`gui.json.edit.JsonTreeView`), the table (:class:`gui.json.table_view.JsonTablePanel`),
the text view's follower (:class:`gui.json.text_sync.JsonTextSync`) and the toolbar. They talk to
the document through its public methods and follow the undo stack's changes.
"""

from __future__ import annotations

import os
from functools import partial
from html import escape
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, Signal, Slot
from PySide6.QtGui import QTextCursor, QUndoCommand
from PySide6.QtWidgets import QSplitter, QStackedWidget, QTreeView, QVBoxLayout, QWidget

from gui.common import save_options
from gui.common.disk_watch import DiskGuard
from gui.common.document import Document
from gui.common.loading_page import LoadingPage
from gui.common.notice_bar import MessageLine
from gui.common.workers import Worker, run_in_worker, run_with_progress
from gui.json.edit import JsonTreeView
from gui.json.table_view import JsonTablePanel
from gui.json.text import JsonTextView
from gui.json.text_sync import JsonTextSync
from gui.json.toolbar import JsonToolbar
from gui.json.tree_model import JsonTreeModel
from gui.recovery.hooks import SwapContentCommand, expect_payload
from gui.values.commands import SetValueCommand
from gui.values.tree import ValueTreeModel
from storage.core.errors import KnownError, UnsupportedError
from storage.core.sizes import size_text
from storage.formats.json.doc import JsonDoc, JsonEditError
from storage.formats.json.io import (
    JsonParseError,
    detect_format,
    parse_jsonl_text,
    parse_text,
    read_json,
    read_jsonl,
)
from storage.formats.json.summary import edited_summary, first_summary, load_for_editor, second_pass
from storage.formats.json.text_index import image_of_text
from storage.inspect.preview import first_lines
from storage.recovery.payload import pack

MODES = ("tree", "text", "table")
EDITABLE_TEXT_CHARS = 4_000_000  # a broken file bigger than this is shown read-only


class SetIndentCommand(QUndoCommand):
    """Change how the file is written on save (indent, or one compact line)."""

    def __init__(self, document: JsonDocument, indent: int | str | None, compact: bool) -> None:
        super().__init__("Change indent")
        self.document, self.new = document, (indent, compact)
        self.old: tuple[int | str | None, bool] = (None, False)

    def redo(self) -> None:
        self.old = self.document.write_format()
        self.document.set_write_format(*self.new)

    def undo(self) -> None:
        self.document.set_write_format(*self.old)


class JsonDocument(Document):
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
        self._summary_worker: Worker | None = None
        self._summary_generation = 0
        self._generation = 0
        self._text_push: JsonTextView | None = None  # the text view typing the edit being pushed
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
        self.loading_page = page
        self.loading_label = page.label
        return page

    def _build_content_page(self) -> QWidget:
        page = QWidget(self)
        self.toolbar = JsonToolbar(page)
        self.message = MessageLine(page)

        self.text_view = JsonTextView(page)
        self.text_view.setObjectName("jsonText")
        self.text_view.valueEdited.connect(self._on_text_edited)
        self.text_view.unparsedChanged.connect(self._on_unparsed_changed)
        self.text_sync = JsonTextSync(self)

        self.model = JsonTreeModel(JsonDoc(None), self)
        self.tree = JsonTreeView(self.model, self.undo_stack, self.text_sync.text_for, page)
        header = self.tree.header()
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

        self.table_panel = JsonTablePanel(self.model, self.undo_stack, page)
        self.table_panel.viewStateChanged.connect(self.viewStateChanged)
        self.table_panel.path_for = lambda: self.path
        self.table_panel.messageShown.connect(self.message.show_message)

        self.modes = QStackedWidget(page)
        for widget in (self.tree, self.text_view, self.table_panel):
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
        self.loading_page.clear_preview()
        if self.path:  # the first lines while the whole file is parsed (a big file takes seconds)
            run_in_worker(first_lines, self.path, self.format,
                          on_result=lambda text: self._on_first_lines(generation, text))
        self._worker = run_in_worker(
            load_for_editor, self.path, self.format,
            on_result=lambda result: self._on_loaded(generation, result),
            on_error=lambda exc: self._on_loaded(generation, exc))

    def show_first_lines(self, text: str) -> None:
        """The start of the file, read when it was sniffed: shown at once while it is parsed."""
        self._on_first_lines(self._generation, text)

    def _on_first_lines(self, generation: int, text: str | None) -> None:
        if generation == self._generation and self._worker is not None and text:
            self.loading_page.show_preview(text)

    def _on_loaded(self, generation: int, result: Any) -> None:
        if generation != self._generation:
            return
        self._worker = None
        self.undo_stack.clear()
        self.duplicates, self.malformed = [], []
        if isinstance(result, JsonParseError):
            self.parse_error = result
            self.doc = None
            self.tree.set_document(None)
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
            self.message.show_message(f"<b>Cannot parse {self.title()}:</b> {_esc(str(result))}. "
                                      f"Fix it in {where}.", "error")
        elif isinstance(result, BaseException):
            message = self.describe_failure(result)
            self.parse_error = None
            self.message.show_message(f"<b>Cannot open {self.title()}:</b> {_esc(message)}", "error")
        else:
            self.parse_error = None
            self.set_doc(JsonDoc.from_load(result))
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

    def set_doc(self, doc: JsonDoc) -> None:
        """Make ``doc`` the open value tree; every view shows it."""
        self.doc = doc
        self.side_splitter.show()
        self.text_view.parser = self.text_parser()
        self.tree.set_document(doc)
        self.toolbar.table_button.setEnabled(True)
        self.toolbar.indent.setEnabled(not doc.lines)
        self.formatChanged.emit()
        self.table_panel.show_source(self.doc, self.current_path())
        if self.mode() == "text":
            self.text_sync.fill()

    def text_parser(self):
        return parse_jsonl_text if self.format == "jsonl" else parse_text

    def _on_second_pass(self, generation: int, found: dict[str, Any]) -> None:
        if generation != self._generation:
            return
        self._dup_worker = None
        self.duplicates = found.get("duplicate_keys", [])
        self._show_load_notes()
        self._set_summary({**self.summary_model.root_value(), **found})

    def _set_summary(self, summary: dict[str, Any]) -> None:
        """Show ``summary``, keeping the selected row (the second pass adds to it)."""
        size = summary.get("size")
        if isinstance(size, int):  # the size a save writes, in the one size format
            summary = {**summary, "size": size_text(size) + (f" ({size:,} bytes)" if size >= 1024 else "")}
        current = self.summary_view.currentIndex()
        path = self.summary_model.node(current).path() if current.isValid() else None
        self.summary_model.set_value(summary)
        if path:
            index = self.summary_model.index_for_path(path)
            if index.isValid():
                self.summary_view.setCurrentIndex(index)

    def _show_load_notes(self) -> None:
        notes = []
        if self.duplicates:
            notes.append("Duplicate keys (the last one wins; saving keeps only it): "
                         + ", ".join(_esc(repr(k)) for k in self.duplicates))
        if self.malformed:
            lines = "; ".join(f"line {n}: {_esc(m)}" for n, m in self.malformed[:10])
            more = f" and {len(self.malformed) - 10} more" if len(self.malformed) > 10 else ""
            notes.append(f"{len(self.malformed)} malformed line(s) skipped (kept as they are when "
                         f"saving): {lines}{more}")
        if notes:
            self.message.show_message("<br>".join(notes), "warning")
        else:
            self.message.hide()

    # -- the selected node ---------------------------------------------------------------------
    def current_path(self) -> list[Any] | None:
        return self.tree.current_path()

    def select_path(self, path: list[Any]) -> bool:
        """Fetch along ``path``, expand to it and make it current."""
        return self.tree.select_path(path)

    # -- File ▸ Convert…: the array of records shown as a table ----------------------------------
    def can_convert(self) -> bool:
        return self.table_panel.convert_button.isEnabled()

    def ask_convert(self) -> Any:
        return self.table_panel.ask_convert()

    # -- find (Edit ▸ Find, F3, Shift+F3): the toolbar's search of keys and values ------------------
    def start_find(self) -> bool:
        edit = self.toolbar.search_edit
        edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        edit.selectAll()
        return True

    def find_next(self, backward: bool = False) -> bool:
        """The next match in the tree; in the Text view its span is selected (text_sync follows)."""
        if not self.toolbar.search_edit.text():
            return self.start_find()
        self.toolbar.step(-1 if backward else +1)
        return True

    @Slot(int)
    def expand_to_level(self, level: int) -> None:
        self.tree.expand_to_level(level)

    @Slot(QModelIndex, QModelIndex)
    def _on_current_changed(self, _current: QModelIndex, _previous: QModelIndex) -> None:
        self._show_node_text()
        self.text_sync.show_current()

    def _show_node_text(self) -> None:
        path = self.current_path()
        if self.doc is None or path is None:
            self.node_text.set_text("", read_only=True)
            return
        try:
            value = self.doc.get(path)
        except JsonEditError:
            self.node_text.set_text("", read_only=True)
            return
        self.node_text.set_text(*self.text_sync.text_for(value))

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
            self.text_sync.fill()
        if mode == "table":
            self.table_panel.show_source(self.doc, self.current_path())
        self.modes.setCurrentIndex(MODES.index(mode))
        if mode == "text":
            self.text_sync.show_current()
        self.toolbar.show_mode(mode)
        self.viewStateChanged.emit()

    # -- edits from the text views -------------------------------------------------------------
    def _on_text_edited(self, value: Any) -> None:
        if self.doc is None:  # the file did not parse: the fixed text becomes the document
            self.parse_error = None
            self.message.hide()
            text = self.text_view.text()
            self.set_doc(JsonDoc(value, detect_format(text, "utf-8", 0), lines=self.format == "jsonl"))
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
        """The values changed (an edit, undo or redo): the views that did not make it follow."""
        self.text_sync.note_edit()
        source = self._text_push
        if self.mode() == "text" and source is not self.text_view:
            self.text_sync.fill()
        if source is not self.node_text:
            self._show_node_text()
        self.table_panel.refresh()
        self._refresh_summary()

    def _refresh_summary(self, retry: bool = True) -> None:
        """Size, counts and lengths follow the edits (a worker: writing a big document takes time)."""
        if self.doc is None:
            return
        self._summary_generation += 1
        generation, doc = self._summary_generation, self.doc
        if self._summary_worker is not None:
            self._summary_worker.cancel()
        self._summary_worker = run_in_worker(
            edited_summary, doc,
            on_result=lambda found: self._on_summary_refreshed(generation, doc, found, retry),
            on_error=lambda _exc: self._on_summary_refreshed(generation, doc, None, retry))

    def _on_summary_refreshed(self, generation: int, doc: JsonDoc, found: dict[str, Any] | None,
                              retry: bool) -> None:
        if generation != self._summary_generation or doc is not self.doc:
            return  # a later edit's answer follows
        self._summary_worker = None
        if found is None:  # the document changed while it was being walked: walk it once more
            if retry:
                self._refresh_summary(retry=False)
            return
        self._set_summary({**self.summary_model.root_value(), **found})

    # -- how the save writes the file ------------------------------------------------------------
    def write_format(self) -> tuple[int | str | None, bool]:
        """(indent, compact) the save will write."""
        fmt = self.doc.fmt if self.doc is not None else None
        return (fmt.indent, fmt.compact) if fmt is not None else (None, False)

    def set_write_format(self, indent: int | str | None, compact: bool) -> None:
        """Called by :class:`SetIndentCommand`; the toolbar follows :attr:`formatChanged`."""
        if self.doc is not None:
            self.doc.fmt.indent, self.doc.fmt.compact = indent, compact
            self.formatChanged.emit()

    def set_indent(self, indent: int | str | None, compact: bool = False) -> None:
        if self.doc is not None and self.write_format() != (indent, compact):
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
            self.message.show_message("<b>Not saved:</b> the text is not valid JSON yet; fix the "
                                      "error shown below the text first.", "error")
            return False
        with self.disk.own_write():  # our own replace must not look like a change on disk
            try:
                # Serialising a big document takes seconds: a worker does it, the window paints.
                run_with_progress(self, f"Saving {os.path.basename(path)}…",
                                  partial(self.doc.save, path, backup=save_options.backup()))
            except KnownError as exc:
                self.message.show_message(f"<b>Not saved:</b> {_esc(str(exc))}", "error")
                return False
        self.path = os.path.abspath(path)
        self.disk.record()
        self.undo_stack.setClean()
        self.statusChanged.emit()
        return True

    # -- the file on disk (gui/common/disk_watch.py) -----------------------------------------------------
    disk_diff_same_text = ("The file on disk holds the same data as the editor "
                           "(only its formatting may differ).")

    def disk_diff_job(self):
        """Compare: the editor's values against the file's, both written out the same way.
        Without a parsed document there is nothing to compare (Reload only)."""
        if self.doc is None or not self.path:
            return None
        from storage.formats.json.diff import diff_with_disk  # difflib: when Compare… is asked

        return partial(diff_with_disk, self.doc.root, self.path, self.doc.fmt, self.doc.lines)

    # -- view state ------------------------------------------------------------------------------
    def view_state(self) -> dict[str, Any]:
        if not self.is_loaded:
            return super().view_state()
        header = self.tree.header()
        path = self.current_path()
        return {
            "mode": self.mode(),
            "splitter": self.splitter.sizes(),
            "side_splitter": self.side_splitter.sizes(),
            "columns": [header.sectionSize(i) for i in range(header.count())],
            "summary_columns": [self.summary_view.header().sectionSize(i) for i in range(3)],
            "summary_selected": self.summary_model.node(self.summary_view.currentIndex()).path()
            if self.summary_view.currentIndex().isValid() else None,
            "selected": [k if isinstance(k, str | int) else str(k) for k in path] if path else None,
            **self.table_panel.view_state(),
        }

    def restore_view_state(self, state: dict[str, Any]) -> None:
        if not state:
            return
        for key, splitter in (("splitter", self.splitter), ("side_splitter", self.side_splitter)):
            sizes = state.get(key)
            if isinstance(sizes, list) and all(isinstance(s, int) for s in sizes):
                splitter.setSizes(sizes)
        for key, view in (("columns", self.tree), ("summary_columns", self.summary_view)):
            columns = state.get(key)
            if isinstance(columns, list):
                for i, width in enumerate(columns[:-1]):  # the last one stretches
                    if isinstance(width, int) and width > 0:
                        view.header().resizeSection(i, width)
        self.table_panel.restore_view_state(state)
        summary_selected = state.get("summary_selected")
        if isinstance(summary_selected, list):
            index = self.summary_model.index_for_path(summary_selected)
            if index.isValid():
                self.summary_view.setCurrentIndex(index)
        selected = state.get("selected")
        if isinstance(selected, list) and self.doc is not None:
            self.select_path(selected)
        if state.get("mode") in ("tree", "table") and self.doc is not None:
            self.set_mode(state["mode"])
        elif state.get("mode") == "text":
            self.set_mode("text")

    # -- crash recovery (gui/recovery/manager.py) ----------------------------------------------------
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
        if self.text_view.unparsed_edit:  # typed text that does not parse yet: keep it raw
            return pack("json-text", {"lines": self.format == "jsonl", "encoding": "utf-8"},
                        self.text_view.text().encode("utf-8", "surrogatepass"))
        if self.doc is None:
            return None  # the file did not parse and was not edited: nothing to keep
        try:
            return pack("json", {"lines": self.doc.lines}, self.doc.to_bytes())
        except KnownError:  # NaN or too deep: the save would refuse it too
            return None

    def restore_from_journal(self, payload: bytes) -> None:
        kind, header, body = expect_payload(payload, "json", "json-text")
        if kind == "json-text":
            self._restore_typed_text(body.decode("utf-8", "surrogatepass"))
            return
        if self.doc is None:
            raise UnsupportedError(f"{self.title()} did not parse; open it again to restore.")
        read = read_jsonl if header.get("lines") else read_json
        new = JsonDoc.from_load(read(self.path or "", body))
        old = self.doc
        self.undo_stack.push(SwapContentCommand(lambda: self.set_doc(new), lambda: self.set_doc(old)))

    def _restore_typed_text(self, text: str) -> None:
        """Put typed text that did not parse back into the text view, with its located error.

        The JSON text view's typing is not on the undo stack (only parsed values are), so this is
        not an undo step: the text is set and the document counts as modified until it parses.
        """
        self.set_mode("text")
        view = self.text_view
        if view.is_paged() or view.editor.isReadOnly():
            raise UnsupportedError(f"{self.title()} is shown read-only; its typed text cannot "
                                   "be put back.")
        cursor = QTextCursor(view.editor.document())
        cursor.select(QTextCursor.SelectionType.Document)
        cursor.insertText(text)  # the editor's own undo can still take it back
        if view.reparse() is None:  # still does not parse: show where
            view.show_error()

    def close_document(self) -> None:
        self._generation += 1
        for worker in (self._worker, self._dup_worker):
            if worker is not None:
                worker.cancel()
        self.toolbar.stop_search()
        self.toolbar.stop_query()
        self.disk.stop()
        self.text_sync.stop()


def _esc(text: str) -> str:
    return escape(str(text), quote=False)
