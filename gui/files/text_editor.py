"""A plain-text editor with a line-number gutter whose undo history lives in a QUndoStack.

QPlainTextEdit keeps its own undo history. The main window's Edit > Undo works on a QUndoGroup
of each document's ``undo_stack``, and the modified marker follows that stack's clean state,
so every undo step the text document adds is mirrored by a :class:`TextEditCommand` that calls
the text document's own undo/redo. The editor's Ctrl+Z and context-menu Undo go through the
stack too, so both histories always agree.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QRect, QSize, Qt, Slot
from PySide6.QtGui import (
    QColor,
    QContextMenuEvent,
    QFontDatabase,
    QKeyEvent,
    QKeySequence,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QTextDocument,
    QUndoCommand,
    QUndoStack,
)
from PySide6.QtWidgets import QPlainTextDocumentLayout, QPlainTextEdit, QWidget


def build_document(text: str) -> QTextDocument:
    """Worker side: fill a QTextDocument (seconds for a million lines) off the GUI thread.

    The document has no layout yet (that needs fonts, so the GUI thread adds it) and is handed
    over to the GUI thread before it is returned.
    """
    document = QTextDocument()
    document.setUndoRedoEnabled(False)
    document.setPlainText(text)
    document.moveToThread(QCoreApplication.instance().thread())
    return document


class TextEditCommand(QUndoCommand):
    """One undo step of a QTextDocument, replayed through the document's own history."""

    def __init__(self, document: QTextDocument) -> None:
        super().__init__("Edit text")
        self._document = document
        self._first = True  # the edit has already happened when the command is pushed

    def redo(self) -> None:
        if self._first:
            self._first = False
            return
        self._document.redo()

    def undo(self) -> None:
        self._document.undo()


class LineNumbers(QWidget):
    """The gutter: paints the numbers of the visible blocks."""

    def __init__(self, editor: CodeEditor) -> None:
        super().__init__(editor)
        self.editor = editor

    def sizeHint(self) -> QSize:
        return QSize(self.editor.gutter_width(), 0)

    def paintEvent(self, event: QPaintEvent) -> None:
        self.editor.paint_gutter(self, event)


class CodeEditor(QPlainTextEdit):
    """QPlainTextEdit with line numbers, a fixed font and undo mirrored into ``undo_stack``."""

    def __init__(self, undo_stack: QUndoStack, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = undo_stack
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.gutter = LineNumbers(self)
        self.blockCountChanged.connect(self._on_block_count_changed)
        self.updateRequest.connect(self._on_update_request)
        self._on_block_count_changed(1)
        self._bridge_document()

    def _bridge_document(self) -> None:
        self.document().undoCommandAdded.connect(self._on_undo_command_added)

    def set_text(self, text: str) -> None:
        """Replace the whole text without an undo step (loading, reverting)."""
        self.document().setUndoRedoEnabled(False)
        self.setPlainText(text)
        self.document().setUndoRedoEnabled(True)

    def adopt_document(self, document: QTextDocument) -> None:
        """Show a document built by :func:`build_document` (on a worker) instead of the old one."""
        document.setDocumentLayout(QPlainTextDocumentLayout(document))
        document.setDefaultFont(self.font())
        document.setUndoRedoEnabled(True)
        document.setParent(self)  # owned by the editor: replaced documents are deleted by Qt
        self.setDocument(document)
        self._bridge_document()
        self._on_block_count_changed(document.blockCount())

    def text(self) -> str:
        """The text with "\\n" between lines (no NBSP or separator substitution)."""
        return self.document().toRawText().replace("\u2029", "\n")

    @Slot()
    def _on_undo_command_added(self) -> None:
        self.undo_stack.push(TextEditCommand(self.document()))

    # -- undo through the stack -----------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.matches(QKeySequence.StandardKey.Undo):
            self.undo_stack.undo()
            return
        if event.matches(QKeySequence.StandardKey.Redo):
            self.undo_stack.redo()
            return
        super().keyPressEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        menu = self.createStandardContextMenu(event.pos())
        for action in menu.actions():
            if action.objectName() == "edit-undo":
                action.triggered.disconnect()
                action.triggered.connect(self.undo_stack.undo)
            elif action.objectName() == "edit-redo":
                action.triggered.disconnect()
                action.triggered.connect(self.undo_stack.redo)
        menu.exec(event.globalPos())
        menu.deleteLater()

    # -- the gutter -----------------------------------------------------------------------------
    def gutter_width(self) -> int:
        digits = len(str(max(1, self.blockCount())))
        return 12 + self.fontMetrics().horizontalAdvance("9") * max(digits, 3)

    @Slot(int)
    def _on_block_count_changed(self, _count: int) -> None:
        self.setViewportMargins(self.gutter_width(), 0, 0, 0)

    @Slot(QRect, int)
    def _on_update_request(self, rect: QRect, dy: int) -> None:
        if dy:
            self.gutter.scroll(0, dy)
        else:
            self.gutter.update(0, rect.y(), self.gutter.width(), rect.height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        area = self.contentsRect()
        self.gutter.setGeometry(QRect(area.left(), area.top(), self.gutter_width(), area.height()))

    def paint_gutter(self, gutter: QWidget, event: QPaintEvent) -> None:
        painter = QPainter(gutter)
        painter.fillRect(event.rect(), self.palette().alternateBase())
        painter.setPen(QColor("#8a8f98"))
        block = self.firstVisibleBlock()
        number = block.blockNumber()
        top = round(self.blockBoundingGeometry(block).translated(self.contentOffset()).top())
        height = self.fontMetrics().height()
        width = gutter.width() - 6
        while block.isValid() and top <= event.rect().bottom():
            bottom = top + round(self.blockBoundingRect(block).height())
            if block.isVisible() and bottom >= event.rect().top():
                painter.drawText(0, top, width, height, Qt.AlignmentFlag.AlignRight, str(number + 1))
            block = block.next()
            top = bottom
            number += 1
        painter.end()

    def go_to_line(self, line: int) -> None:
        block = self.document().findBlockByNumber(max(0, line - 1))
        if block.isValid():
            cursor = self.textCursor()
            cursor.setPosition(block.position())
            self.setTextCursor(cursor)
            self.centerCursor()
            self.setFocus()
