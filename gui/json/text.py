"""The text view of a JSON document: syntax highlighting, located errors, re-parse on edit.

Small documents are edited in a ``QPlainTextEdit``; big ones are shown read-only in a
:class:`~gui.json.paged_text.PagedTextView`, which paints only the visible lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QFontDatabase, QSyntaxHighlighter, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QStackedWidget,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from gui.json.paged_text import PagedTextView
from storage.formats.json.io import JsonParseError, parse_text
from storage.formats.json.text_index import Span, TextImage, image_of_text

PARSE_DELAY_MS = 400

def _format(colour: str, bold: bool = False) -> QTextCharFormat:
    fmt = QTextCharFormat()
    fmt.setForeground(QColor(colour))
    if bold:
        fmt.setFontWeight(700)
    return fmt


class JsonHighlighter(QSyntaxHighlighter):
    """Keys, strings, numbers and literals, one line at a time (strings never span lines in JSON)."""

    TOKEN = re.compile(r'("(?:[^"\\]|\\.)*")(\s*:)?|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(true|false|null)')

    def __init__(self, document) -> None:
        super().__init__(document)
        self.formats = {"key": _format("#7a3e9d", True), "string": _format("#067d17"),
                        "number": _format("#1750eb"), "literal": _format("#871094", True)}

    def highlightBlock(self, text: str) -> None:
        if len(text) > 5000:
            return  # a minified megabyte on one line: highlighting it would freeze typing
        for match in self.TOKEN.finditer(text):
            string, colon, number, literal = match.groups()
            if string is not None:
                kind = "key" if colon else "string"
                self.setFormat(match.start(1), len(string), self.formats[kind])
            elif number is not None:
                self.setFormat(match.start(3), len(number), self.formats["number"])
            else:
                self.setFormat(match.start(4), len(literal), self.formats["literal"])


class JsonTextView(QWidget):
    """A JSON editor pane: text, a status line with the parse error, re-parse after typing.

    ``valueEdited`` carries the parsed value once the text is valid JSON again.
    """

    valueEdited = Signal(object)
    unparsedChanged = Signal(bool)  # typed text that does not parse yet appeared / went

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editor = QPlainTextEdit(self)
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.editor.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.highlighter = JsonHighlighter(self.editor.document())
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.status.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.goto_button = QPushButton("Go to error", self)
        self.goto_button.clicked.connect(self.show_error)
        self.goto_button.hide()
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.status, 1)
        row.addWidget(self.goto_button)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        self.paged = PagedTextView(self)
        self.pages = QStackedWidget(self)
        self.pages.addWidget(self.editor)
        self.pages.addWidget(self.paged)
        box.addWidget(self.pages, 1)
        box.addLayout(row)
        self.error: JsonParseError | None = None
        self.parser: Callable[[str], Any] = parse_text
        self.unparsed_edit = False  # the editor holds typed text that does not parse (unsaved)
        self._setting = False
        self._image: TextImage | None = None
        self._kind: tuple[bytes, bool] = (b"  ", False)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(PARSE_DELAY_MS)
        self._timer.timeout.connect(self.reparse)
        self.editor.textChanged.connect(self._on_text_changed)

    def set_text(self, text: str, read_only: bool = False, unit: bytes = b"  ",
                 jsonl: bool = False) -> None:
        """Show ``text`` without treating it as an edit (``unit``: its indentation step)."""
        self._kind = (unit, jsonl)
        self._timer.stop()
        self._setting = True
        try:
            self.editor.setPlainText(text)
        finally:
            self._setting = False
        self.editor.setReadOnly(read_only)
        self.pages.setCurrentWidget(self.editor)
        self._image = None
        self.set_error(None)
        self._set_unparsed(False)

    def set_image(self, image: TextImage | None, note: str = "") -> None:
        """Show a big document read-only (``image``), or ``note`` while its text is made."""
        self._timer.stop()
        self.paged.set_image(image, note)
        self.pages.setCurrentWidget(self.paged)
        self.set_error(None)
        if image is not None:
            self.status.setText(f"{image.line_count:,} lines, read-only: a document this big is "
                                "edited in the tree (or select a smaller node and edit its text "
                                "on the right).")

    def is_paged(self) -> bool:
        return self.pages.currentWidget() is self.paged

    def image(self) -> TextImage | None:
        """The text as UTF-8 with line starts (made from the editor's text when needed)."""
        if self.is_paged():
            return self.paged.image
        if self._image is None:
            self._image = image_of_text(self.text(), self._kind[1], self._kind[0])
        return self._image

    def text(self) -> str:
        if self.is_paged():
            image = self.paged.image
            return image.data.decode("utf-8", "replace") if image is not None else ""
        return self.editor.toPlainText()

    def show_span(self, span: Span | None) -> None:
        """Highlight a node's text (byte offsets into :meth:`image`) and scroll to it."""
        if self.is_paged():
            self.paged.show_span(span)
            return
        selections = []
        if span is not None:
            data = self.image().data
            start = len(data[:span[0]].decode("utf-8", "replace"))
            end = start + len(data[span[0]:span[1]].decode("utf-8", "replace"))
            cursor = QTextCursor(self.editor.document())
            cursor.setPosition(start)
            cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
            selection = QTextEdit.ExtraSelection()
            selection.cursor = cursor
            selection.format.setBackground(QColor("#fff1a8"))
            selections.append(selection)
            view = QTextCursor(self.editor.document())
            view.setPosition(end)
            self.editor.setTextCursor(view)
            self.editor.ensureCursorVisible()
            view.setPosition(start)
            self.editor.setTextCursor(view)
            self.editor.ensureCursorVisible()
        self.editor.setExtraSelections(selections)

    @Slot()
    def _on_text_changed(self) -> None:
        self._image = None
        if not self._setting and not self.editor.isReadOnly():
            self._timer.start()

    def pending(self) -> bool:
        return self._timer.isActive()

    @Slot()
    def reparse(self) -> Any:
        """Parse the text now; emit ``valueEdited`` when valid, show the located error if not."""
        self._timer.stop()
        try:
            value = self.parser(self.text())
        except JsonParseError as exc:
            self.set_error(exc)
            self._set_unparsed(not self.is_paged() and not self.editor.isReadOnly())
            return None
        self.set_error(None)
        self._set_unparsed(False)
        self.valueEdited.emit(value)
        return value

    def _set_unparsed(self, unparsed: bool) -> None:
        if unparsed != self.unparsed_edit or unparsed:  # each new unparsed edit is news
            self.unparsed_edit = unparsed
            self.unparsedChanged.emit(unparsed)

    def set_error(self, error: JsonParseError | None) -> None:
        self.error = error
        self.goto_button.setVisible(error is not None)
        if error is None:
            self.status.setText("")
            self.status.setStyleSheet("")
            return
        self.status.setStyleSheet("color: #b42318")
        snippet = re.sub(r"\s+$", "", error.snippet)
        self.status.setText(f"{error}" + (f"\n{snippet}" if snippet else ""))

    @Slot()
    def show_error(self) -> None:
        """Put the cursor on the error's line and column."""
        if self.error is None or self.error.location.line is None:
            return
        if self.is_paged() and self.paged.image is not None:
            image = self.paged.image
            line = min(self.error.location.line - 1, image.line_count - 1)
            text = image.line(line)
            column = min((self.error.location.column or 1) - 1, len(text))
            start = int(image.line_starts[line]) + len(text[:column].encode("utf-8", "surrogatepass"))
            end = start + max(1, len(text[column:column + 1].encode("utf-8", "surrogatepass")))
            self.paged.show_span((start, end), "#ffb4b4")
            self.paged.setFocus()
            return
        block = self.editor.document().findBlockByNumber(self.error.location.line - 1)
        column = min((self.error.location.column or 1) - 1, max(0, block.length() - 1))
        cursor = QTextCursor(block)
        cursor.setPosition(block.position() + column)
        self.editor.setTextCursor(cursor)
        self.editor.ensureCursorVisible()
        self.editor.setFocus()
