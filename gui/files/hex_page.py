"""The Hex view of a file: the hex grid, go to offset, and search for hex bytes or text."""

from __future__ import annotations

import os
from functools import partial

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from gui.common import save_options
from gui.common.workers import Worker, run_in_worker, run_with_progress
from gui.files.hex_view import HexView
from storage.formats.text.hex import HexBuffer, parse_hex, parse_offset


class HexPage(QWidget):
    """A HexView with its tool row; edits go to the owning document's undo stack."""

    def __init__(self, path: str, undo_stack, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path = path
        self.undo_stack = undo_stack
        self.buffer = HexBuffer(path)  # raises KnownError: the document shows it
        self.view = HexView(self.buffer, undo_stack, self)
        self.view.cursorMoved.connect(self._on_cursor_moved)
        self._search: Worker | None = None

        self.offset_edit = QLineEdit(self)
        self.offset_edit.setPlaceholderText("Go to offset (0x1f or 31)")
        self.offset_edit.returnPressed.connect(self._on_go_to)
        self.search_edit = QLineEdit(self)
        self.search_edit.setPlaceholderText("Search")
        self.search_edit.returnPressed.connect(self.find_next)
        self.search_mode = QComboBox(self)
        self.search_mode.addItems(["Text", "Hex"])
        self.find_button = QPushButton("Find next", self)
        self.find_button.clicked.connect(self.find_next)
        self.status = QLabel(self)
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        for edit in (self.offset_edit, self.search_edit):
            edit.setMinimumWidth(60)
        row = QHBoxLayout()
        row.setContentsMargins(6, 2, 6, 2)
        row.addWidget(self.offset_edit, 1)
        row.addWidget(self.search_edit, 2)
        row.addWidget(self.search_mode)
        row.addWidget(self.find_button)
        row.addWidget(self.status, 2)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addLayout(row)
        box.addWidget(self.view, 1)
        self._on_cursor_moved(0)

    def bytes_changed(self) -> None:
        """The buffer's edits were replaced (a restored journal): repaint and recount them."""
        self.view.viewport().update()
        self._on_cursor_moved(self.view.cursor)

    @Slot(int)
    def _on_cursor_moved(self, offset: int) -> None:
        size = self.buffer.size
        changed = f" · {len(self.buffer.overlay)} byte(s) changed" if self.buffer.overlay else ""
        self.status.setText(f"Offset {offset:#x} ({offset:,}) of {size:,} bytes{changed}")

    @Slot()
    def _on_go_to(self) -> None:
        try:
            offset = parse_offset(self.offset_edit.text())
        except ValueError:
            self.status.setText("Not an offset: write 0x1f, 1fh or 31")
            return
        if not 0 <= offset < max(self.buffer.size, 1):
            self.status.setText(f"Offset {offset:,} is past the end ({self.buffer.size:,} bytes)")
            return
        self.view.go_to(offset)
        self.view.setFocus()

    def needle(self) -> bytes | None:
        text = self.search_edit.text()
        if not text:
            return None
        if self.search_mode.currentText() == "Hex":
            try:
                return parse_hex(text)
            except ValueError as exc:
                self.status.setText(f"Not hex bytes: {exc}")
                return None
        return text.encode("utf-8")

    @Slot()
    def find_next(self) -> None:
        """Search from after the caret in a worker (wrapping once to the start)."""
        needle = self.needle()
        if needle is None:
            return
        if self._search is not None:
            self._search.cancel()
        start = self.view.cursor + 1 if self.view.selection_length else self.view.cursor
        self.status.setText("Searching…")
        self._search = run_in_worker(_find_wrapping, self.buffer, needle, start,
                                     dict(self.buffer.overlay),
                                     on_result=lambda found: self._on_found(found, needle),
                                     on_error=lambda exc: self.status.setText(f"Search failed: {exc}"))

    def _on_found(self, found: int, needle: bytes) -> None:
        self._search = None
        if found < 0:
            self.status.setText("Not found")
            return
        self.view.go_to(found, len(needle))
        self.status.setText(f"Found at {found:#x} ({found:,})")

    # -- saving ----------------------------------------------------------------------------------
    def save_to(self, path: str) -> None:
        """Stream the file with the overwrites applied to ``path``; raises KnownError."""
        run_with_progress(self, f"Saving {os.path.basename(path)}…",
                          partial(self.buffer.save_to, backup=save_options.backup()), path)
        self.reopen(path)

    def reopen(self, path: str | None = None) -> None:
        """Read the file again from disk, dropping the overwrites."""
        self.path = path or self.path
        fresh = HexBuffer(self.path)
        self.buffer.close()
        self.buffer = fresh
        self.view.buffer = fresh
        self.view._update_bar()
        self.view.go_to(min(self.view.cursor, max(fresh.size - 1, 0)))

    def close_page(self) -> None:
        if self._search is not None:
            self._search.cancel()
        self.buffer.close()


def _find_wrapping(buffer: HexBuffer, needle: bytes, start: int, overlay: dict[int, int],
                   cancel=None) -> int:
    found = buffer.find(needle, start, cancel, overlay)
    if found < 0 and start > 0:
        found = buffer.find(needle, 0, cancel, overlay)
    return found

