"""The Execute SQL editor: SQL syntax highlighting (keywords, strings, quoted names, numbers, comments)."""

from __future__ import annotations

import re

from PySide6.QtGui import QColor, QFont, QFontDatabase, QSyntaxHighlighter, QTextCharFormat
from PySide6.QtWidgets import QPlainTextEdit, QWidget

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


class SqlEditor(QPlainTextEdit):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setPlaceholderText("SQL — Ctrl+Return runs the statement under the cursor (or the selection)")
        self.highlighter = SqlHighlighter(self.document())
