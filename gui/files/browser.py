"""The Files tab's folder browser: a QFileSystemModel tree with a detected-format column.

QFileSystemModel lists folders on its own thread, so a folder of 100,000 files shows its first
rows at once. Formats are sniffed only for rows a view asks about, in batches on a worker, and
cached by (path, size, mtime) so a changed file is sniffed again.
"""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import QDir, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QFileSystemModel,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from gui.common.first_paint import after_first_paint
from gui.common.model_guard import guard_model
from gui.common.workers import Worker, run_in_worker
from storage.core.sizes import size_text

BATCH = 256
SIZE_COLUMN = 1  # QFileSystemModel's
FORMAT_COLUMN = 4


def sniff_batch(paths: list[str], cancel=None) -> dict[str, str]:
    """Worker body: path -> format (or why it cannot be read) for each path."""
    from storage.sniff.detect import SniffResult, format_label, sniff_many

    out: dict[str, str] = {}
    for path, result in sniff_many(paths, cancel=cancel):
        out[os.fspath(path)] = format_label(result) if isinstance(result, SniffResult) else "unreadable"
    return out


@guard_model
class FormatFileSystemModel(QFileSystemModel):
    """QFileSystemModel plus a Format column filled in lazily by a sniffing worker."""

    formatsArrived = Signal(int)  # how many

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.cache: dict[str, tuple[int, int, str]] = {}  # path -> (size, mtime ms, format)
        self._pending: dict[str, None] = {}  # an ordered set of paths to sniff
        self._worker: Worker | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(30)
        self._timer.timeout.connect(self._sniff_pending)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.column() > 0 else FORMAT_COLUMN + 1

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if section == FORMAT_COLUMN and orientation == Qt.Orientation.Horizontal:
            return "Format" if role == Qt.ItemDataRole.DisplayRole else None
        return super().headerData(section, orientation, role)

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if index.isValid() and index.column() == FORMAT_COLUMN:
            if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
                return None
            return self.format_of(index)
        if (index.isValid() and index.column() == SIZE_COLUMN and role == Qt.ItemDataRole.DisplayRole
                and not self.isDir(index)):
            return size_text(self.size(index))  # Qt writes "984.00 KiB": one format everywhere
        return super().data(index, role)

    def format_of(self, index: QModelIndex | QPersistentModelIndex) -> str:
        """The cached format, or "…" after queueing the file for sniffing."""
        source = self.index(index.row(), 0, index.parent())
        if self.isDir(source):
            return ""
        info = self.fileInfo(source)
        path = info.absoluteFilePath()
        key = (info.size(), info.lastModified().toMSecsSinceEpoch())
        cached = self.cache.get(path)
        if cached is not None and cached[:2] == key:
            return cached[2]
        if path not in self._pending:
            self._pending[path] = None
            if not self._timer.isActive() and self._worker is None:
                self._timer.start()
        return "…"

    @Slot()
    def _sniff_pending(self) -> None:
        if self._worker is not None or not self._pending:
            return
        batch = list(self._pending)[:BATCH]
        stamps = {}
        for path in batch:
            info = self.fileInfo(self.index(path))
            stamps[path] = (info.size(), info.lastModified().toMSecsSinceEpoch())
        self._worker = run_in_worker(sniff_batch, batch,
                                     on_result=lambda found: self._on_sniffed(found, stamps),
                                     on_error=lambda _exc: self._on_sniffed({}, stamps))

    def _on_sniffed(self, found: dict[str, str], stamps: dict[str, tuple[int, int]]) -> None:
        if not isValid(self):  # the window closed while the batch was being sniffed
            return
        self._worker = None
        for path, stamp in stamps.items():
            fmt = found.get(path, "unreadable")
            self.cache[path] = (*stamp, fmt)
            self._pending.pop(path, None)
            index = self.index(path, FORMAT_COLUMN)
            if index.isValid():
                self.dataChanged.emit(index, index, [Qt.ItemDataRole.DisplayRole])
        self.formatsArrived.emit(len(stamps))
        if self._pending:
            self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self._pending.clear()
        if self._worker is not None:
            self._worker.cancel()


class FolderBrowser(QWidget):
    """Folder picker, name filter, hidden-files toggle and the tree of files."""

    fileActivated = Signal(str)
    rootChanged = Signal(str)
    hiddenToggled = Signal(bool)

    def __init__(self, root: str, show_hidden: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = FormatFileSystemModel(self)
        self.model.setReadOnly(True)
        self.model.setNameFilterDisables(False)
        self.tree = QTreeView(self)
        self.tree.setObjectName("filesTree")
        self.tree.setModel(self.model)
        self.tree.setUniformRowHeights(True)
        # Sorting by name starts Qt's collator (~6 ms): the header shows the order at once, and the
        # view sorts (the order the model lists in anyway) once it has been painted.
        self.tree.header().setSortIndicator(0, Qt.SortOrder.AscendingOrder)
        self.tree.header().setSortIndicatorShown(True)
        after_first_paint(self.tree, lambda: self.tree.setSortingEnabled(True), owner=self)
        self.tree.setDragEnabled(True)  # the model gives file URLs: drop them on any tab
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(0, 170)
        header.resizeSection(1, 70)
        header.resizeSection(FORMAT_COLUMN, 64)
        header.hideSection(2)  # "Type" from the extension: the Format column says what it is
        header.moveSection(FORMAT_COLUMN, 1)  # Name, Format, Size, Modified: what matters first
        self.tree.activated.connect(self._on_activated)

        self.folder_button = QPushButton("Folder…", self)
        self.folder_button.setToolTip("Choose the folder to browse")
        self.folder_button.clicked.connect(self._on_choose_folder)
        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText("Filter: name or glob (*.csv)")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setMinimumWidth(50)
        self.filter_edit.textChanged.connect(self.set_filter)
        self.hidden_box = QCheckBox("Hidden", self)
        self.hidden_box.setToolTip("Show hidden files")
        self.hidden_box.setChecked(show_hidden)
        self.hidden_box.toggled.connect(self.set_show_hidden)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.folder_button)
        row.addWidget(self.filter_edit, 1)
        row.addWidget(self.hidden_box)
        box = QVBoxLayout(self)
        box.setContentsMargins(4, 4, 0, 4)
        box.addLayout(row)
        box.addWidget(self.tree, 1)
        self.set_show_hidden(show_hidden, notify=False)
        self.root = ""
        self.set_root(root)

    def set_root(self, folder: str) -> None:
        folder = os.path.abspath(folder)
        if not os.path.isdir(folder):
            folder = os.path.expanduser("~")
        self.root = folder
        self.tree.setRootIndex(self.model.setRootPath(folder))
        self.folder_button.setToolTip(folder)
        self.folder_button.setText(os.path.basename(folder.rstrip(os.sep)) or folder)
        self.rootChanged.emit(folder)

    @Slot(str)
    def set_filter(self, text: str) -> None:
        text = text.strip()
        if not text:
            self.model.setNameFilters([])
        elif any(ch in text for ch in "*?["):
            self.model.setNameFilters([text])
        else:
            self.model.setNameFilters([f"*{text}*"])

    @Slot(bool)
    def set_show_hidden(self, show: bool, notify: bool = True) -> None:
        filters = QDir.Filter.AllEntries | QDir.Filter.NoDotAndDotDot | QDir.Filter.AllDirs
        if show:
            filters |= QDir.Filter.Hidden
        self.model.setFilter(filters)
        if notify:
            self.hiddenToggled.emit(show)

    @Slot()
    def _on_choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Browse folder", self.root)
        if folder:
            self.set_root(folder)

    @Slot(QModelIndex)
    def _on_activated(self, index: QModelIndex) -> None:
        if not index.isValid() or self.model.isDir(index.siblingAtColumn(0)):
            return
        self.fileActivated.emit(self.model.filePath(index.siblingAtColumn(0)))

    def stop(self) -> None:
        self.model.stop()
