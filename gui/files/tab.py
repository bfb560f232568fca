"""Files tab: the way in for text, binary and anything no other tab claims.

A folder browser on the left (Enter or double-click opens a file in the tab its content
belongs to); on the right the open files, each as Text, Hex or Info.
"""

from __future__ import annotations

import os

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QSplitter, QWidget

from gui.common.document import Document
from gui.common.tab_page import TabPage
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
        root = (self.settings["files.root_folder"] if self.settings else "") or os.path.expanduser("~")
        hidden = bool(self.settings["files.show_hidden"]) if self.settings else False
        self.browser = FolderBrowser(root, hidden, self)
        self.browser.fileActivated.connect(lambda path: self.pathsRequested.emit([path]))
        if self.settings is not None:
            self.browser.rootChanged.connect(self._remember_root)
            self.browser.hiddenToggled.connect(self._remember_hidden)
        self.browser.setMinimumWidth(140)  # the window may get small: the rows clip, not grow it
        self.stack.setMinimumWidth(300)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setObjectName("filesSplitter")
        layout = self.layout()
        layout.removeWidget(self.stack)
        self.splitter.addWidget(self.browser)
        self.splitter.addWidget(self.stack)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([380, 820])
        layout.addWidget(self.splitter)

    def show_folder_of(self, path: str) -> None:
        """Browse the folder holding ``path`` (a file named on the command line)."""
        folder = os.path.dirname(os.path.abspath(path))
        if os.path.isdir(folder) and folder != self.browser.root:
            self.browser.set_root(folder)

    def _remember_root(self, folder: str) -> None:
        self.settings["files.root_folder"] = folder

    def _remember_hidden(self, show: bool) -> None:
        self.settings["files.show_hidden"] = show

    def fallback_document(self, path: str, fmt: str) -> Document:
        from gui.files.document import FileDocument  # on first use: keeps an empty launch quick

        return FileDocument(path, fmt, self)  # anything no other tab claims opens as text or hex
