"""The Execute SQL editor: SQL syntax highlighting (keywords, strings, quoted names, numbers,
comments) and completion of table and column names from the schema (QCompleter, as DBeaver does)."""

from __future__ import annotations

import re

from PySide6.QtCore import QModelIndex, Qt, Slot
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QKeyEvent,
    QStandardItem,
    QStandardItemModel,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextCursor,
)
from PySide6.QtWidgets import QCompleter, QPlainTextEdit, QWidget

_KEYWORD_TEXT = (
    "ABORT ACTION ADD AFTER ALL ALTER ANALYZE AND AS ASC ATTACH AUTOINCREMENT BEFORE BEGIN BETWEEN BY "
    "CASCADE CASE CAST CHECK COLLATE COLUMN COMMIT CONFLICT CONSTRAINT CREATE CROSS CURRENT_DATE "
    "CURRENT_TIME CURRENT_TIMESTAMP DATABASE DEFAULT DEFERRED DELETE DESC DETACH DISTINCT DROP EACH "
    "ELSE END ESCAPE EXCEPT EXCLUSIVE EXISTS EXPLAIN FAIL FOR FOREIGN FROM FULL GLOB GROUP HAVING IF "
    "IGNORE IMMEDIATE IN INDEX INDEXED INITIALLY INNER INSERT INSTEAD INTERSECT INTO IS ISNULL JOIN KEY "
    "LEFT LIKE LIMIT MATCH NATURAL NO NOT NOTNULL NULL OF OFFSET ON OR ORDER OUTER OVER PARTITION PLAN "
    "PRAGMA PRIMARY QUERY RAISE RECURSIVE REFERENCES REGEXP REINDEX RELEASE RENAME REPLACE RESTRICT "
    "RETURNING RIGHT ROLLBACK ROW ROWS SAVEPOINT SELECT SET TABLE TEMP TEMPORARY THEN TO TRANSACTION "
    "TRIGGER UNION UNIQUE UPDATE USING VACUUM VALUES VIEW VIRTUAL WHEN WHERE WINDOW WITH WITHOUT"
)
KEYWORDS = frozenset(_KEYWORD_TEXT.split())


def _format(colour: str, bold: bool = False, italic: bool = False) -> QTextCharFormat:
    fmt = QTextCharFormat()
    fmt.setForeground(QColor(colour))
    if bold:
        fmt.setFontWeight(QFont.Weight.Bold)
    fmt.setFontItalic(italic)
    return fmt


class SqlHighlighter(QSyntaxHighlighter):
    """One pass of regular expressions per block; block comments carry over with the block state."""

    RULES = (
        (re.compile(r"\b(?:" + "|".join(sorted(KEYWORDS)) + r")\b", re.IGNORECASE),
         _format("#1d4ed8", bold=True)),
        (re.compile(r"\b\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\b"), _format("#9a3412")),
        (re.compile(r'"(?:[^"]|"")*"|`[^`]*`|\[[^\]]*\]'), _format("#7c3aed")),
        (re.compile(r"'(?:[^']|'')*'?"), _format("#047857")),
        (re.compile(r"--[^\n]*"), _format("#667085", italic=True)),
    )
    COMMENT = _format("#667085", italic=True)

    def highlightBlock(self, text: str) -> None:
        for pattern, fmt in self.RULES:
            for match in pattern.finditer(text):
                self.setFormat(match.start(), match.end() - match.start(), fmt)
        self.setCurrentBlockState(0)
        start = 0 if self.previousBlockState() == 1 else text.find("/*")
        while start >= 0:
            end = text.find("*/", start + 2 if self.previousBlockState() != 1 or start else 0)
            if end < 0:
                self.setCurrentBlockState(1)
                self.setFormat(start, len(text) - start, self.COMMENT)
                break
            self.setFormat(start, end + 2 - start, self.COMMENT)
            start = text.find("/*", end + 2)


# The word being typed, and the table name before a dot ("orders.cu" → "orders", "cu").
_TYPED = re.compile(r'(?:("(?:[^"]|"")+"|`[^`]+`|[\w$]+)\.)?([\w$]*)$')
_INSERT = Qt.ItemDataRole.UserRole + 1  # the text a completion inserts (the name quoted if need be)
_COMPLETING_KEYS = (Qt.Key.Key_Enter, Qt.Key.Key_Return, Qt.Key.Key_Tab, Qt.Key.Key_Backtab,
                    Qt.Key.Key_Escape)


def _bare(name: str) -> str:
    """A name as typed in SQL without its quotes ("Order Items" → Order Items), lowercased."""
    if len(name) > 1 and name[0] in "\"`" and name[-1] == name[0]:
        name = name[1:-1].replace(name[0] * 2, name[0])
    return name.lower()


class SqlEditor(QPlainTextEdit):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setPlaceholderText("SQL — Ctrl+Return runs the statement under the cursor (or the selection); "
                                "Ctrl+Space completes table and column names")
        self.highlighter = SqlHighlighter(self.document())
        self.names = QStandardItemModel(self)  # what the completer offers now
        self.completer = QCompleter(self)
        self.completer.setWidget(self)
        self.completer.setModel(self.names)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.completer.activated[QModelIndex].connect(self._on_completion)
        self._everything: list[tuple[str, str, str]] = []  # (shown, inserted, kind) of every name
        self._columns: dict[str, list[tuple[str, str, str]]] = {}  # bare table name -> its columns
        self._typed = ""

    # -- completion ----------------------------------------------------------------------------
    def set_names(self, tables: dict[str, tuple[str, list[tuple[str, str]]]]) -> None:
        """The schema's names to complete: for each table, keyed by how it is written in SQL
        (quoted where needed), its bare name and its columns as (bare name, written name)."""
        columns: dict[str, list[tuple[str, str, str]]] = {}
        everything: dict[str, tuple[str, str, str]] = {}
        for written, (bare, cols) in tables.items():
            everything[written] = (bare, written, "table")
            listed = [(name, sql, f"column of {bare}") for name, sql in cols]
            columns[_bare(written)] = columns[bare.lower()] = listed
            for entry in listed:
                everything.setdefault(entry[1], entry)
        for keyword in sorted(KEYWORDS):
            everything.setdefault(keyword, (keyword, keyword, "keyword"))
        self._everything = sorted(everything.values(), key=lambda e: (e[2] == "keyword", e[0].lower()))
        self._columns = columns

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if self.completer.popup().isVisible() and event.key() in _COMPLETING_KEYS:
            event.ignore()  # the completer's popup takes these
            return
        control = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        forced = event.key() == Qt.Key.Key_Space and control
        if not forced:
            super().keyPressEvent(event)
        typed = event.text()
        shown = self.completer.popup().isVisible()
        if forced or (typed and (typed[-1].isalnum() or typed[-1] in "_$.")):
            self.complete(forced)
        elif shown and event.key() == Qt.Key.Key_Backspace:
            self.complete(False)  # the list widens again
        elif shown:
            self.completer.popup().hide()

    def complete(self, forced: bool = True) -> bool:
        """Offer the names that fit the word under the cursor (after "table." its columns);
        True when the list is shown."""
        before = self.textCursor().block().text()[:self.textCursor().positionInBlock()]
        match = _TYPED.search(before)
        table, word = (match.group(1), match.group(2)) if match else (None, "")
        if table is not None and _bare(table) in self._columns:
            entries = self._columns[_bare(table)]
        elif table is None and (forced or len(word) >= 2):
            entries = self._everything
        else:
            self.completer.popup().hide()
            return False
        self.names.clear()
        for shown, inserted, kind in entries:
            item = QStandardItem(shown)
            item.setData(inserted, _INSERT)
            item.setToolTip(kind)
            self.names.appendRow(item)
        self._typed = word
        self.completer.setCompletionPrefix(word)
        count = self.completer.completionCount()
        exact = count == 1 and self.completer.currentCompletion().lower() == word.lower()
        if count == 0 or (exact and not forced):
            self.completer.popup().hide()
            return False
        self.completer.popup().setCurrentIndex(self.completer.completionModel().index(0, 0))
        rect = self.cursorRect()
        rect.setWidth(self.completer.popup().sizeHintForColumn(0)
                      + self.completer.popup().verticalScrollBar().sizeHint().width() + 8)
        self.completer.complete(rect)
        return True

    @Slot(QModelIndex)
    def _on_completion(self, index: QModelIndex) -> None:
        inserted = index.data(_INSERT) or index.data()
        cursor = self.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.Left, QTextCursor.MoveMode.KeepAnchor, len(self._typed))
        cursor.insertText(str(inserted))
        self.setTextCursor(cursor)
