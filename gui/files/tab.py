"""Files tab: the way in for text, binary and anything no other tab claims.

A folder browser on the left (Enter or double-click opens a file in the tab its content
belongs to); on the right the open files, each as Text, Hex or Info.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QIcon, QShowEvent
from PySide6.QtWidgets import QSplitter, QWidget

from gui.common.document import Document
from gui.common.first_paint import after_first_paint
from gui.common.tab_page import TabPage

if TYPE_CHECKING:
    from gui.files.browser import FolderBrowser


class FilesTab(TabPage):
    tab_id = "files"
    title = "&Files"
    heading = "Files"
    blurb = ("Text and binary files, and anything the other tabs do not claim. Browse a folder "
             "on the left, or open a file: text opens in an editor that keeps its encoding and "
             "line endings, anything else in a hex editor.")
    name_filter = "All files (*)"  # the way in for anything: no format's globs first
    icon_name = "text-x-generic"

    pathsRequested = Signal(list)  # the browser asks the window to open files in their tabs

    def __init__(self, icon: QIcon, parent: QWidget | None = None) -> None:
        super().__init__(icon, parent)
        self.settings = getattr(parent, "settings", None)
        self._root = (self.settings["files.root_folder"] if self.settings else "") or os.path.expanduser("~")
        self._browser: FolderBrowser | None = None
        self._browser_due = False  # its building is queued for after the tab's first paint
        # The folder browser (a QFileSystemModel and its tree: ~30 ms) is built right after the
        # tab's first paint, or when asked for; until then this stands in its place in the
        # splitter. The window's first paint (an empty launch, a text file) comes sooner, and a
        # file named on the command line shows another tab first.
        self._browser_slot = QWidget(self)
        self._browser_slot.setMinimumWidth(140)
        self.stack.setMinimumWidth(300)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setObjectName("filesSplitter")
        layout = self.layout()
        layout.removeWidget(self.stack)
        self.splitter.addWidget(self._browser_slot)
        self.splitter.addWidget(self.stack)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([380, 820])
        layout.addWidget(self.splitter)

    @property
    def browser(self) -> FolderBrowser:
        """The folder browser, built on first use."""
        if self._browser is None:
            from gui.files.browser import FolderBrowser

            hidden = bool(self.settings["files.show_hidden"]) if self.settings else False
            browser = FolderBrowser(self._root, hidden)
            browser.fileActivated.connect(lambda path: self.pathsRequested.emit([path]))
            if self.settings is not None:
                browser.rootChanged.connect(self._remember_root)
                browser.hiddenToggled.connect(self._remember_hidden)
            browser.setMinimumWidth(140)  # the window may get small: the rows clip, not grow it
            self.splitter.replaceWidget(0, browser)
            self._browser_slot.deleteLater()
            self._browser = browser
        return self._browser

    def showEvent(self, event: QShowEvent) -> None:
        if self._browser is None and not self._browser_due:  # right after the tab's first paint
            self._browser_due = True
            after_first_paint(self, lambda: self.browser, owner=self)
        super().showEvent(event)

    def show_folder_of(self, path: str) -> None:
        """Browse the folder holding ``path`` (a file named on the command line)."""
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            return
        if self._browser is None:  # not built yet: it opens there (and remembers it, as it would)
            self._root = folder
            if self.settings is not None:
                self._remember_root(folder)
        elif folder != self._browser.root:
            self._browser.set_root(folder)

    def _remember_root(self, folder: str) -> None:
        self.settings["files.root_folder"] = folder

    def _remember_hidden(self, show: bool) -> None:
        self.settings["files.show_hidden"] = show

    def fallback_document(self, path: str, fmt: str) -> Document:
        from gui.files.document import FileDocument  # on first use: keeps an empty launch quick

        return FileDocument(path, fmt, self)  # anything no other tab claims opens as text or hex
