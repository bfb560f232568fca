"""A file in the Files tab, seen as Text, Hex or Info (a mode bar switches between them).

Text files start in the text editor, everything else in the hex view. Edits of either view
are commands on the document's one undo stack, so the view can only be switched while there
are no unsaved changes. A change on disk shows the shared bar (:mod:`gui.common.disk_watch`): Reload,
Keep mine, and Compare for the text view.
"""

from __future__ import annotations

import os
from functools import partial
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gui.common.disk_watch import DiskGuard
from gui.common.document import Document
from gui.files import journal as files_journal
from gui.files.hex_page import HexPage
from gui.files.info import InfoPage
from gui.files.text_big import BigTextEditor
from gui.files.text_page import TextPage
from storage.core.errors import KnownError
from storage.formats import registry as format_registry

MODES = ("text", "hex", "info")


class FileDocument(Document):
    """Text / Hex / Info views of one file, with save, save as and revert."""

    def __init__(self, path: str, fmt: str, parent: QWidget | None = None) -> None:
        super().__init__(path, fmt, parent)
        self.pages: dict[str, QWidget] = {}
        self.mode = ""

        self.mode_buttons = QButtonGroup(self)
        bar = QHBoxLayout()
        bar.setContentsMargins(6, 4, 6, 0)
        for mode in MODES:
            button = QToolButton(self)
            button.setText(mode.capitalize())
            button.setCheckable(True)
            button.setObjectName(f"mode-{mode}")
            button.clicked.connect(lambda _=False, m=mode: self.set_mode(m))
            self.mode_buttons.addButton(button)
            bar.addWidget(button)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        bar.addWidget(self.message, 1)
        self.revert_button = QPushButton("Revert", self)
        self.revert_button.setToolTip("Drop unsaved changes and read the file again")
        self.revert_button.clicked.connect(self.reload)
        self.revert_button.setEnabled(False)
        self.undo_stack.cleanChanged.connect(lambda clean: self.revert_button.setEnabled(not clean))
        bar.addWidget(self.revert_button)

        self.disk = DiskGuard(self)

        self.stack = QStackedWidget(self)
        self.error_label = QLabel(self)
        self.error_label.setWordWrap(True)
        self.error_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack.addWidget(self.error_label)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addLayout(bar)
        box.addWidget(self.disk.bar)
        box.addWidget(self.stack, 1)
        self.disk.record()
        entry = format_registry.get(fmt)
        self.set_mode("text" if entry is not None and entry.textual else "hex")

    # -- modes -----------------------------------------------------------------------------------
    def set_mode(self, mode: str) -> bool:
        """Show the Text, Hex or Info view; refused while there are unsaved changes."""
        if mode == self.mode:
            return True
        if self.is_modified() and mode != "info" and self.mode in ("text", "hex"):
            self._say("Save or revert the changes before switching view.")
            self._check_mode_button()
            return False
        page = self.pages.get(mode)
        if page is None:
            page = self._make_page(mode)
            if page is None:
                self._check_mode_button()
                return False
        if mode in ("text", "hex") and self.is_modified() is False:
            self.undo_stack.clear()
        self.mode = mode
        self.stack.setCurrentWidget(page)
        self._check_mode_button()
        self._say("")
        self.statusChanged.emit()
        self.viewStateChanged.emit()
        return True

    def _check_mode_button(self) -> None:
        for button in self.mode_buttons.buttons():
            button.setChecked(button.objectName() == f"mode-{self.mode}")

    def _make_page(self, mode: str) -> QWidget | None:
        assert self.path is not None
        try:
            if mode == "text":
                page: QWidget = TextPage(self.path, self.undo_stack, self)
                page.loaded.connect(self._on_page_loaded)
                page.failed.connect(self._on_page_failed)
            elif mode == "hex":
                page = HexPage(self.path, self.undo_stack, self)
                page.view.setFocus()
            else:
                page = InfoPage(self.path, self)
        except KnownError as exc:
            self._on_page_failed(exc)
            return None
        self.pages[mode] = page
        self.stack.addWidget(page)
        if mode == "text":
            page.load()
        elif not self.is_loaded:
            self.mark_loaded()
            self._restore_pending_view_state()
        return page

    @Slot()
    def _on_page_loaded(self) -> None:
        self.statusChanged.emit()
        if not self.is_loaded:
            self._restore_pending_view_state()
            self.mark_loaded()

    @Slot(object)
    def _on_page_failed(self, exc: BaseException) -> None:
        self.error_label.setText(f"<b>Cannot show this file:</b> {_esc(self.describe_failure(exc))}")
        self.stack.setCurrentWidget(self.error_label)
        if not self.is_loaded:
            self.mark_loaded()

    # -- find (Edit ▸ Find, F3, Shift+F3) ---------------------------------------------------------
    def start_find(self) -> bool:
        page = self.pages.get(self.mode)
        if isinstance(page, TextPage):
            page.find_bar.focus_find()
        elif isinstance(page, HexPage):
            page.search_edit.setFocus()
            page.search_edit.selectAll()
        else:
            return False
        return True

    def find_next(self, backward: bool = False) -> bool:
        page = self.pages.get(self.mode)
        if isinstance(page, TextPage):
            if not page.find_bar.find_edit.text():
                page.find_bar.focus_find()
            elif backward:
                page.find_bar.find_previous()
            else:
                page.find_bar.find_next()
        elif isinstance(page, HexPage):
            if not page.search_edit.text():
                page.search_edit.setFocus()
            else:
                page.find_next()  # the hex search goes forward only
        else:
            return False
        return True

    def _say(self, text: str) -> None:
        self.message.setText(text)

    # -- saving ----------------------------------------------------------------------------------
    def can_save(self) -> bool:
        page = self.pages.get(self.mode)
        if isinstance(page, TextPage):
            return page.can_save()
        return isinstance(page, HexPage)

    def save(self) -> bool:
        return self.save_as(self.path) if self.path else False

    def save_as(self, path: str) -> bool:
        page = self.pages.get(self.mode)
        if not self.can_save() or page is None:
            self._say("This view cannot be saved.")
            return False
        path = os.path.abspath(path)
        with self.disk.own_write():
            try:
                page.save_to(path)  # type: ignore[attr-defined]
            except KnownError as exc:
                self._say(f"<span style='color:#9b1c1c'><b>Not saved:</b> {_esc(str(exc))}</span>")
                return False
        if path != self.path:
            self.path = path
            for other in self.pages.values():
                other.path = path  # type: ignore[attr-defined]
        self.disk.record()
        self.undo_stack.setClean()
        self._say("")
        self.statusChanged.emit()
        return True

    def reload(self) -> None:
        """Drop unsaved changes and read the file again (Revert, and Reload after a change)."""
        self.undo_stack.clear()
        self.disk.record()
        for mode, page in self.pages.items():
            try:
                if mode == "text":
                    page.load()  # type: ignore[attr-defined]
                elif mode == "hex":
                    page.reopen()  # type: ignore[attr-defined]
                else:
                    page.refresh()  # type: ignore[attr-defined]
            except KnownError as exc:
                self._on_page_failed(exc)
        self.statusChanged.emit()

    # -- changes on disk -------------------------------------------------------------------------
    def check_disk(self) -> bool:
        """Compare the file with what was read now; True (and the bar shown) when it changed."""
        return self.disk.check_now()

    def disk_diff_job(self):
        """Compare (text view with an editable text): the editor's text against the file's."""
        page = self.pages.get("text")
        if self.mode != "text" or not isinstance(page, TextPage) or page.content is None:
            return None
        editor = page.editor
        mine = editor.buffer.snapshot() if isinstance(editor, BigTextEditor) else editor.text()
        from storage.formats.text.diff import diff_text_with_disk  # only when comparing: keeps launch quick

        return partial(diff_text_with_disk, mine, self.path, page.content.encoding)

    # -- crash recovery (gui/files/journal.py) ----------------------------------------------------
    def journal_payload(self) -> bytes | None:
        return files_journal.file_payload(self)

    def restore_from_journal(self, payload: bytes) -> None:
        files_journal.file_restore(self, payload)

    def journal_job(self):
        """The text or byte edits snapshotted now, packed on the journal's worker."""
        return files_journal.file_job(self)

    # -- session ---------------------------------------------------------------------------------
    def view_state(self) -> dict[str, Any]:
        return {"mode": self.mode} if self.is_loaded else super().view_state()

    def restore_view_state(self, state: dict[str, Any]) -> None:
        mode = state.get("mode")
        if mode in MODES and mode != self.mode:
            self.set_mode(mode)

    def close_document(self) -> None:
        self.disk.stop()
        for page in self.pages.values():
            page.close_page()  # type: ignore[attr-defined]


def _esc(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
