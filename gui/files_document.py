"""A file in the Files tab, seen as Text, Hex or Info (a mode bar switches between them).

Text files start in the text editor, everything else in the hex view. Edits of either view
are commands on the document's one undo stack, so the view can only be switched while there
are no unsaved changes. A change on disk (QFileSystemWatcher plus a size/mtime check) shows a
bar offering to reload.
"""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import QFileSystemWatcher, Qt, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from storage.errors import KnownError

from . import journal_hooks
from .document import Document
from .files_info import InfoPage
from .hex_page import HexPage
from .text_page import TextPage

MODES = ("text", "hex", "info")


class FileDocument(Document):
    """Text / Hex / Info views of one file, with save, save as and revert."""

    def __init__(self, path: str, fmt: str, parent: QWidget | None = None) -> None:
        super().__init__(path, fmt, parent)
        self.pages: dict[str, QWidget] = {}
        self.mode = ""
        self._stamp: tuple[int, int] | None = None
        self._saving = False
        self._watcher = QFileSystemWatcher(self)
        self._watcher.fileChanged.connect(self._on_file_changed)

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

        self.disk_bar = QFrame(self)
        self.disk_bar.setObjectName("diskBar")
        self.disk_bar.setStyleSheet("#diskBar { background: #fff4d6; } #diskBar QLabel { color: #7a5300; }")
        self.disk_label = QLabel(self.disk_bar)
        self.disk_reload = QPushButton("Reload", self.disk_bar)
        self.disk_reload.clicked.connect(self.reload)
        self.disk_ignore = QPushButton("Ignore", self.disk_bar)
        self.disk_ignore.clicked.connect(self._remember_disk_state)
        disk_box = QHBoxLayout(self.disk_bar)
        disk_box.setContentsMargins(8, 4, 8, 4)
        disk_box.addWidget(self.disk_label, 1)
        disk_box.addWidget(self.disk_reload)
        disk_box.addWidget(self.disk_ignore)
        self.disk_bar.hide()

        self.stack = QStackedWidget(self)
        self.error_label = QLabel(self)
        self.error_label.setWordWrap(True)
        self.error_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack.addWidget(self.error_label)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addLayout(bar)
        box.addWidget(self.disk_bar)
        box.addWidget(self.stack, 1)
        find = QShortcut(QKeySequence(QKeySequence.StandardKey.Find), self)
        find.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        find.activated.connect(self._on_find_shortcut)
        self._remember_disk_state()
        self.set_mode("text" if fmt == "text" else "hex")

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
            self._on_page_failed(str(exc))
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

    @Slot(str)
    def _on_page_failed(self, message: str) -> None:
        self.error_label.setText(f"<b>Cannot show this file:</b> {_esc(message)}")
        self.stack.setCurrentWidget(self.error_label)
        if not self.is_loaded:
            self.mark_loaded()

    @Slot()
    def _on_find_shortcut(self) -> None:
        page = self.pages.get(self.mode)
        if isinstance(page, TextPage):
            page.find_bar.focus_find()
        elif isinstance(page, HexPage):
            page.search_edit.setFocus()

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
        self._saving = True
        try:
            page.save_to(path)  # type: ignore[attr-defined]
        except KnownError as exc:
            self._say(f"<span style='color:#9b1c1c'><b>Not saved:</b> {_esc(str(exc))}</span>")
            return False
        finally:
            self._saving = False
        if path != self.path:
            self._forget_watch()
            self.path = path
            for other in self.pages.values():
                other.path = path  # type: ignore[attr-defined]
        self.undo_stack.setClean()
        self._remember_disk_state()
        self._say("")
        self.statusChanged.emit()
        return True

    def reload(self) -> None:
        """Drop unsaved changes and read the file again (Revert, and Reload after a change)."""
        self.undo_stack.clear()
        self._remember_disk_state()
        for mode, page in self.pages.items():
            try:
                if mode == "text":
                    page.load()  # type: ignore[attr-defined]
                elif mode == "hex":
                    page.reopen()  # type: ignore[attr-defined]
                else:
                    page.refresh()  # type: ignore[attr-defined]
            except KnownError as exc:
                self._on_page_failed(str(exc))
        self.statusChanged.emit()

    # -- changes on disk -------------------------------------------------------------------------
    def _disk_stamp(self) -> tuple[int, int] | None:
        try:
            info = os.stat(self.path or "")
        except OSError:
            return None
        return info.st_size, info.st_mtime_ns

    @Slot()
    def _remember_disk_state(self) -> None:
        self._stamp = self._disk_stamp()
        if self.path and self._stamp is not None and self.path not in self._watcher.files():
            self._watcher.addPath(self.path)
        self.disk_bar.hide()

    def _forget_watch(self) -> None:
        if self.path and self.path in self._watcher.files():
            self._watcher.removePath(self.path)

    @Slot(str)
    def _on_file_changed(self, _path: str) -> None:
        if self._saving:
            return
        self.check_disk()

    def check_disk(self) -> bool:
        """Compare the file with what was read; show the reload bar when it changed."""
        stamp = self._disk_stamp()
        if stamp is not None and self.path not in self._watcher.files():
            self._watcher.addPath(self.path)  # an atomic replace drops the watch
        if stamp == self._stamp:
            return False
        if stamp is None:
            self.disk_label.setText(f"<b>{_esc(self.title())}</b> was deleted or moved. What you see "
                                    "stays; Save writes it back.")
            self.disk_reload.setEnabled(False)
        else:
            changes = " Reloading drops your unsaved changes." if self.is_modified() else ""
            self.disk_label.setText(f"<b>{_esc(self.title())}</b> changed on disk.{changes}")
            self.disk_reload.setEnabled(True)
        self.disk_bar.show()
        return True

    # -- crash recovery (gui/journal_hooks.py) ----------------------------------------------------
    def journal_payload(self) -> bytes | None:
        return journal_hooks.file_payload(self)

    def restore_from_journal(self, payload: bytes) -> None:
        journal_hooks.file_restore(self, payload)

    def journal_job(self):
        """The text or byte edits snapshotted now, packed on the journal's worker."""
        return journal_hooks.file_job(self)

    # -- session ---------------------------------------------------------------------------------
    def view_state(self) -> dict[str, Any]:
        return {"mode": self.mode} if self.is_loaded else super().view_state()

    def restore_view_state(self, state: dict[str, Any]) -> None:
        mode = state.get("mode")
        if mode in MODES and mode != self.mode:
            self.set_mode(mode)

    def close_document(self) -> None:
        self._forget_watch()
        for page in self.pages.values():
            page.close_page()  # type: ignore[attr-defined]


def _esc(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
