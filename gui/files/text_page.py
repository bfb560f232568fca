"""The Text view of a file: the editor, its find bar, encoding and line-ending choices.

Reading and decoding run in a worker; files of 50 MB or more open in the paged read-only view
first, with "Edit anyway" when they fit in memory: they are then edited in a
:class:`~gui.files.text_big.BigTextEditor` over a list of lines, which opens about as fast as Python
decodes, where QTextDocument would need seconds. Text that does not decode cleanly is shown
with the bad bytes escaped and stays read-only.
"""

from __future__ import annotations

import os
from functools import partial
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QTextDocument, QUndoCommand
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from gui.common import save_options
from gui.common.workers import Worker, run_in_worker, run_with_progress
from gui.files.encoding import PREVIEW_BYTES, EncodingButton, ReopenEncodingDialog
from gui.files.text_big import BigTextEditor
from gui.files.text_editor import CodeEditor, build_document
from gui.files.text_find import FindBar
from gui.files.text_paged import PagedTextView
from storage.core.errors import KnownError, UnreadableError
from storage.core.sizes import size_text
from storage.formats.text.file import LARGE_TEXT, TextContent, load_text, save_text
from storage.formats.text.lines import LineBuffer, load_lines, save_lines
from storage.formats.text.pages import TextPager

ENCODINGS = ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "cp1252",
             "latin-1", "ascii", "cp1251", "shift_jis", "gb18030", "euc-kr", "big5")
NEWLINES = (("Keep line endings", None), ("LF (Unix)", "\n"), ("CRLF (Windows)", "\r\n"),
            ("CR (old Mac)", "\r"))


def memory_available() -> int:
    """Bytes of memory free for a file opened for editing (a large guess when unknown)."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 40


def load_for_editing(path: str, encoding: str | None = None) -> tuple[TextContent, QTextDocument]:
    """Worker body: read and decode the file, and build the editor's text document."""
    content = load_text(path, encoding)
    return content, build_document(content.text)


class SaveOptionCommand(QUndoCommand):
    """Choosing another encoding, BOM or line ending for the next save is an undoable edit."""

    def __init__(self, page: TextPage, old: dict[str, Any], new: dict[str, Any]) -> None:
        super().__init__("Change save options")
        self.page, self.old, self.new = page, old, new

    def redo(self) -> None:
        self.page.apply_save_options(self.new)

    def undo(self) -> None:
        self.page.apply_save_options(self.old)


class TextPage(QWidget):
    """Editor or paged view of one text file; the owning document supplies the undo stack."""

    loaded = Signal()
    failed = Signal(object)  # the exception that stopped the load (the document classifies it)

    def __init__(self, path: str, undo_stack, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path = path
        self.undo_stack = undo_stack
        self.content: TextContent | None = None
        self.options: dict[str, Any] = {"encoding": None, "newline": None, "bom": None}
        self.pager: TextPager | None = None
        self._worker: Worker | None = None
        self._generation = 0

        self.code_editor = CodeEditor(undo_stack, self)
        self.big_editor: BigTextEditor | None = None  # made for the first big file edited
        self.editor: CodeEditor | BigTextEditor = self.code_editor  # the one shown
        self.find_bar = FindBar(self.editor, self)
        self.facts = QLabel(self)
        self.problem = QLabel(self)
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #9b1c1c;")
        self.problem.hide()
        self.encoding_button = EncodingButton(self)
        self.encoding_button.reopenRequested.connect(self._on_reopen_requested)
        self.reopen_dialog: ReopenEncodingDialog | None = None
        self.encoding_combo = QComboBox(self)
        self.encoding_combo.setToolTip("Save as: encoding used when saving")
        self.bom_combo = QComboBox(self)
        self.bom_combo.addItems(["no BOM", "with BOM"])
        self.newline_combo = QComboBox(self)
        for label, _value in NEWLINES:
            self.newline_combo.addItem(label)
        for combo in (self.encoding_combo, self.bom_combo, self.newline_combo):
            combo.activated.connect(self._on_option_chosen)
        for combo in (self.encoding_combo, self.bom_combo, self.newline_combo):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(5)
        self.facts.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.problem.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.edit_anyway = QPushButton("Edit anyway", self)
        self.edit_anyway.clicked.connect(lambda: self.load(force_edit=True))
        self.edit_anyway.hide()

        self.views = QStackedWidget(self)
        self.loading = QLabel("Reading…", self)
        self.views.addWidget(self.loading)
        editor_page = QWidget(self)
        self.editor_box = QVBoxLayout(editor_page)
        self.editor_box.setContentsMargins(0, 0, 0, 0)
        self.editor_box.setSpacing(0)
        self.editor_box.addWidget(self.editor, 1)
        self.editor_box.addWidget(self.find_bar)
        self.views.addWidget(editor_page)

        top = QHBoxLayout()
        top.setContentsMargins(6, 2, 6, 2)
        top.addWidget(self.facts, 1)
        top.addWidget(self.edit_anyway)
        top.addWidget(self.encoding_button)
        self.save_as_label = QLabel("Save as:", self)
        top.addWidget(self.save_as_label)
        for combo in (self.encoding_combo, self.bom_combo, self.newline_combo):
            top.addWidget(combo)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addLayout(top)
        box.addWidget(self.problem)
        box.addWidget(self.views, 1)

    # -- loading ---------------------------------------------------------------------------------
    def load(self, encoding: str | None = None, force_edit: bool = False) -> None:
        """Read the file again (discarding edits); big files get the paged view unless forced."""
        self._generation += 1
        generation = self._generation
        if self._worker is not None:
            self._worker.cancel()
        self._close_pager()
        try:
            size = os.stat(self.path).st_size
        except OSError as exc:
            self.failed.emit(UnreadableError(f"Cannot read {self.path}: {exc.strerror or exc}"))
            return
        if size >= LARGE_TEXT and not force_edit:
            self._show_paged(size, encoding)
            return
        self.views.setCurrentWidget(self.loading)
        self.loading.setText(f"Reading {os.path.basename(self.path)}…")
        self._worker = run_in_worker(
            load_lines if size >= LARGE_TEXT else load_for_editing, self.path, encoding,
            on_result=lambda loaded: self._on_loaded(generation, *loaded),
            on_error=lambda exc: self._on_failed(generation, exc))

    def _show_paged(self, size: int, encoding: str | None) -> None:
        from storage.core.disk_stamp import read_regular
        from storage.formats.text.file import decode_text

        try:
            head, _info = read_regular(self.path, 64 * 1024)
            probe = decode_text(head[: len(head) - 8] if len(head) > 8 else head, encoding)
            self.pager = TextPager(self.path, probe.encoding, len(probe.bom))
        except KnownError as exc:
            self.failed.emit(exc)
            return
        self.content = None
        if self.big_editor is not None:  # back to the paged view: drop the lines read before
            self.big_editor.set_lines(LineBuffer())
        view = PagedTextView(self.pager, self)
        self.views.addWidget(view)
        self.views.setCurrentWidget(view)
        self.paged_view = view
        fits = size * 4 < memory_available()
        self.edit_anyway.setVisible(True)
        self.edit_anyway.setEnabled(fits)
        self.edit_anyway.setToolTip("Load the whole file into the editor" if fits
                                    else "Not enough free memory to edit this file")
        self.facts.setText(f"{size_text(size)} · paged read-only view (only the visible lines are read)")
        self.encoding_button.show_content(probe)
        self._set_save_controls(False)
        self.loaded.emit()

    def _close_pager(self) -> None:
        view = getattr(self, "paged_view", None)
        if view is not None:
            self.views.removeWidget(view)
            view.deleteLater()
            self.paged_view = None
        if self.pager is not None:
            self.pager.close()
            self.pager = None
        self.edit_anyway.hide()

    def _on_failed(self, generation: int, exc: BaseException) -> None:
        if generation == self._generation:
            self._worker = None
            self.failed.emit(exc)

    def _on_loaded(self, generation: int, content: TextContent,
                   text: QTextDocument | LineBuffer) -> None:
        if generation != self._generation:
            if isinstance(text, QTextDocument):
                text.deleteLater()
            return
        self._worker = None
        self.content = content
        if isinstance(text, LineBuffer):
            self._show_editor(self._big_editor())
            self.editor.set_lines(text)
        else:
            self._show_editor(self.code_editor)
            self.code_editor.adopt_document(text)
            self.code_editor.document().setModified(False)
        self.editor.setReadOnly(bool(content.read_only))
        self.find_bar.set_read_only(bool(content.read_only))
        self.options = {"encoding": content.encoding, "newline": None, "bom": bool(content.bom)}
        self.apply_save_options(self.options)
        self._set_save_controls(not content.read_only)
        self.views.setCurrentIndex(1)
        self._show_facts()
        self.loaded.emit()

    def _big_editor(self) -> BigTextEditor:
        if self.big_editor is None:
            self.big_editor = BigTextEditor(self.undo_stack, self)
            self.big_editor.hide()
        return self.big_editor

    def _show_editor(self, editor: CodeEditor | BigTextEditor) -> None:
        """Put ``editor`` above the find bar in place of the other one."""
        if editor is self.editor:
            return
        self.editor_box.replaceWidget(self.editor, editor)
        self.editor.hide()
        editor.show()
        self.editor = editor
        self.find_bar.set_editor(editor)

    def line_count(self) -> int:
        if self.editor is self.big_editor:
            return self.big_editor.line_count()
        return self.content.line_count if self.content is not None else 0

    def _show_facts(self) -> None:
        content = self.content
        if content is None:
            return
        endings = content.endings
        if endings == "mixed":
            endings = "mixed (" + ", ".join(f"{n:,} {k}" for k, n in content.counts.items() if n) + ")"
        # the encoding is on its button
        self.facts.setText(f"Line endings {endings} · {self.line_count():,} lines")
        self.facts.setToolTip(self.facts.text())
        self.encoding_button.show_content(content)
        if content.read_only:
            offsets = ", ".join(f"{o:,}" for o in content.bad_offsets[:12])
            more = " …" if len(content.bad_offsets) > 12 else ""
            self.problem.setText(f"<b>Read-only:</b> {content.read_only}"
                                 + (f"<br>Bad bytes at offsets: {offsets}{more}" if offsets else ""))
        self.problem.setVisible(bool(content.read_only))

    def _set_save_controls(self, enabled: bool) -> None:
        for combo in (self.encoding_combo, self.bom_combo, self.newline_combo):
            combo.setEnabled(enabled)
        self.save_as_label.setEnabled(enabled)

    def reopen_with(self, encoding: str) -> None:
        """Read the file again in ``encoding`` (edits are dropped, as VS Code does)."""
        self.undo_stack.clear()
        self.load(encoding, force_edit=self.pager is None)

    @Slot()
    def _on_reopen_requested(self) -> None:
        """Show Reopen with Encoding, previewing the file's first 4 KB (one small read)."""
        try:
            with open(self.path, "rb") as handle:
                head = handle.read(PREVIEW_BYTES)
        except OSError as exc:
            self.failed.emit(UnreadableError(f"Cannot read {self.path}: {exc.strerror or exc}"))
            return
        shown = self.content
        encoding = shown.encoding if shown is not None else (
            self.pager.encoding if self.pager is not None else "utf-8")
        bom = len(shown.bom) if shown is not None else 0
        dialog = ReopenEncodingDialog(head[bom:], encoding, bool(shown and shown.guessed), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.reopen_with(dialog.encoding() or encoding))
        dialog.finished.connect(lambda _result: setattr(self, "reopen_dialog", None))
        self.reopen_dialog = dialog
        dialog.open()

    # -- save options ----------------------------------------------------------------------------
    def apply_save_options(self, options: dict[str, Any]) -> None:
        self.options = dict(options)
        encoding = options.get("encoding") or "utf-8"
        self.encoding_combo.clear()
        self.encoding_combo.addItems(list(dict.fromkeys([encoding, *ENCODINGS])))
        self.encoding_combo.setCurrentIndex(0)
        self.bom_combo.setCurrentIndex(1 if options.get("bom") else 0)
        self.newline_combo.setCurrentIndex(
            next(i for i, (_l, v) in enumerate(NEWLINES) if v == options.get("newline")))

    @Slot()
    def _on_option_chosen(self) -> None:
        new = {"encoding": self.encoding_combo.currentText(),
               "bom": self.bom_combo.currentIndex() == 1,
               "newline": NEWLINES[self.newline_combo.currentIndex()][1]}
        if new != self.options:
            self.undo_stack.push(SaveOptionCommand(self, dict(self.options), new))

    # -- saving ----------------------------------------------------------------------------------
    def can_save(self) -> bool:
        return self.content is not None and not self.content.read_only

    def save_to(self, path: str) -> TextContent:
        """Write the text to ``path`` (raises KnownError); the page then matches the disk."""
        assert self.content is not None
        options = dict(self.options)
        if options["encoding"] == self.content.encoding:
            options.pop("encoding")
        if isinstance(self.editor, BigTextEditor):  # joined and encoded on the worker
            job = partial(save_lines, path, self.editor.buffer.snapshot(), self.content,
                          backup=save_options.backup(), **options)
        else:
            job = partial(save_text, path, self.editor.text(), self.content, backup=save_options.backup(),
                          **options)
        fresh = run_with_progress(self, f"Saving {os.path.basename(path)}…", job)
        self.path = path
        self.content = fresh
        self.options = {"encoding": fresh.encoding, "newline": None, "bom": bool(fresh.bom)}
        self.apply_save_options(self.options)
        if isinstance(self.editor, CodeEditor):  # the next keystroke starts a new undo step
            self.editor.document().setModified(False)
        self._show_facts()
        return fresh

    def close_page(self) -> None:
        self._generation += 1
        if self._worker is not None:
            self._worker.cancel()
        self._close_pager()
        if self.big_editor is not None:  # let go of the big text now, not when Qt deletes us
            self.big_editor.set_lines(LineBuffer())
