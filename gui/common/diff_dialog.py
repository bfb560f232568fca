"""The dialog shown when an open file changed on disk: a unified diff, then Reload or Keep mine.

Used by every document that can compare (text and JSON); the diff itself is made in a worker
(``storage.formats.json.diff`` for JSON values, ``storage.formats.text.diff`` for text) and handed to
:meth:`DiffDialog.show_result`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QColor, QFontDatabase, QSyntaxHighlighter, QTextCharFormat
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:  # the diff itself is made on a worker; importing it here would slow the launch
    from storage.core.line_diff import DiffResult


class DiffHighlighter(QSyntaxHighlighter):
    """Added lines green, removed lines red, hunk headers blue."""

    def __init__(self, document) -> None:
        super().__init__(document)
        self.formats = {}
        for prefix, (background, foreground) in {"+": ("#e6ffec", "#116329"),
                                                 "-": ("#ffebe9", "#82071e"),
                                                 "@": ("#ddf4ff", "#0a3069")}.items():
            fmt = QTextCharFormat()
            fmt.setBackground(QColor(background))
            fmt.setForeground(QColor(foreground))
            self.formats[prefix] = fmt

    def highlightBlock(self, text: str) -> None:
        if text.startswith(("+++", "---")):
            return
        fmt = self.formats.get(text[:1])
        if fmt is not None:
            self.setFormat(0, len(text), fmt)


class DiffDialog(QDialog):
    """Shows what changed on disk; ``accepted`` means reload, ``rejected`` keep the editor's."""

    def __init__(self, title: str, modified: bool, parent: QWidget | None = None,
                 same_text: str = "The file on disk holds the same text as the editor.") -> None:
        super().__init__(parent)
        self.same_text = same_text
        self.setWindowTitle(f"{title} changed on disk")
        self.resize(760, 520)
        self.summary = QLabel("Comparing your version with the file on disk…", self)
        self.summary.setWordWrap(True)
        self.diff = QPlainTextEdit(self)
        self.diff.setObjectName("diskDiff")
        self.diff.setReadOnly(True)
        self.diff.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.diff.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.highlighter = DiffHighlighter(self.diff.document())
        buttons = QDialogButtonBox(self)
        self.reload_button = QPushButton(
            "Reload (discard my edits)" if modified else "Reload", self)
        self.keep_button = QPushButton("Keep mine", self)
        self.keep_button.setToolTip("Keep what the editor shows; saving will overwrite the file")
        buttons.addButton(self.reload_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.keep_button, QDialogButtonBox.ButtonRole.RejectRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        box = QVBoxLayout(self)
        box.addWidget(self.summary)
        box.addWidget(self.diff, 1)
        box.addWidget(buttons)

    def show_result(self, result: DiffResult | BaseException) -> None:
        if isinstance(result, BaseException):
            self.summary.setText(f"Cannot compare the two versions: {result}")
            return
        parts = []
        if result.note:
            parts.append(result.note)
        if result.identical and not result.note:
            parts.append(self.same_text)
        else:
            parts.append(f"Lines starting with - are yours (in the editor), lines starting with "
                         f"+ are on disk: {result.removed:,} removed, {result.added:,} added"
                         + (" (cut short: the difference is large)." if result.truncated else "."))
        self.summary.setText(" ".join(parts))
        self.diff.setPlainText(result.text)
