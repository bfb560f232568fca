"""The text view's encoding indicator and VS Code's "Reopen with Encoding…" dialog.

The indicator names the encoding the text was read in and says when it is only a guess; its menu
opens the dialog, which lists encodings with a preview of the file's first lines in the selected
one, so the user can see which reads right before reopening.
"""

from __future__ import annotations

import codecs

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QAction, QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPlainTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from storage.formats.text.file import TextContent, codec_name

# (codec, what a user knows it as), in the order VS Code lists the common ones.
ENCODING_NAMES = (
    ("utf-8", "Unicode (UTF-8)"), ("utf-16-le", "UTF-16 LE"), ("utf-16-be", "UTF-16 BE"),
    ("utf-32-le", "UTF-32 LE"), ("utf-32-be", "UTF-32 BE"), ("cp1252", "Western (Windows 1252)"),
    ("latin-1", "Western (ISO 8859-1)"), ("iso8859-15", "Western (ISO 8859-15)"),
    ("mac-roman", "Western (Mac Roman)"), ("cp437", "DOS (CP 437)"), ("cp850", "Western (DOS 850)"),
    ("cp1250", "Central European (Windows 1250)"), ("iso8859-2", "Central European (ISO 8859-2)"),
    ("cp1251", "Cyrillic (Windows 1251)"), ("koi8-r", "Cyrillic (KOI8-R)"),
    ("cp1253", "Greek (Windows 1253)"), ("cp1254", "Turkish (Windows 1254)"),
    ("cp1255", "Hebrew (Windows 1255)"), ("cp1256", "Arabic (Windows 1256)"),
    ("cp1257", "Baltic (Windows 1257)"), ("cp1258", "Vietnamese (Windows 1258)"),
    ("shift_jis", "Japanese (Shift JIS)"), ("euc-jp", "Japanese (EUC-JP)"),
    ("gb18030", "Simplified Chinese (GB 18030)"), ("big5", "Traditional Chinese (Big5)"),
    ("euc-kr", "Korean (EUC-KR)"), ("ascii", "ASCII"),
)
PREVIEW_BYTES = 4096


def indicator_text(content: TextContent) -> str:
    """What the indicator shows: the encoding, and "guessed" when detection chose it."""
    return content.encoding_label() + (" (guessed)" if content.guessed else "")


class EncodingButton(QToolButton):
    """The encoding the text was read in; its menu offers Reopen with Encoding…."""

    reopenRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.setAutoRaise(True)
        self.setText("Encoding")
        menu = QMenu(self)
        self.reopen_action = QAction("Reopen with Encoding…", self)
        self.reopen_action.triggered.connect(self.reopenRequested)
        menu.addAction(self.reopen_action)
        self.setMenu(menu)
        self.setAccessibleName("Encoding")

    def show_content(self, content: TextContent | None, label: str = "") -> None:
        if content is None:
            self.setText(label or "Encoding")
            self.setToolTip("")
            return
        self.setText(indicator_text(content))
        self.setToolTip(f"Read as {content.encoding_label()}: {content.how}.\n"
                        "Click to reopen the file in another encoding.")


class ReopenEncodingDialog(QDialog):
    """Pick the encoding to read the file in again, with a preview of its first lines."""

    def __init__(self, head: bytes, current: str, guessed: bool,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Reopen with Encoding")
        self.head = head
        self.list = QListWidget(self)
        current = codec_name(current)
        names = list(ENCODING_NAMES)
        if current not in {codec_name(c) for c, _ in names}:
            names.insert(0, (current, current.upper()))
        for codec, label in names:
            note = ""
            if codec_name(codec) == current:
                note = "  — guessed from content" if guessed else "  — current"
            item = QListWidgetItem(f"{label}  [{codec}]{note}", self.list)
            item.setData(Qt.ItemDataRole.UserRole, codec)
            if codec_name(codec) == current:
                self.list.setCurrentItem(item)
        self.preview = QPlainTextEdit(self)
        self.preview.setReadOnly(True)
        self.preview.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.preview.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.list.currentItemChanged.connect(self._on_current_changed)
        self.list.itemActivated.connect(lambda _item: self.accept())
        buttons = QDialogButtonBox(self)
        self.reopen_button = buttons.addButton("Reopen", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        box = QVBoxLayout(self)
        box.addWidget(QLabel("Read the file again in:", self))
        box.addWidget(self.list, 2)
        box.addWidget(QLabel("Preview of the first lines:", self))
        box.addWidget(self.preview, 1)
        box.addWidget(buttons)
        self.resize(520, 480)
        self._on_current_changed()

    def encoding(self) -> str | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def select(self, encoding: str) -> None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if codec_name(item.data(Qt.ItemDataRole.UserRole)) == codec_name(encoding):
                self.list.setCurrentItem(item)
                return
        raise KeyError(encoding)

    @Slot()
    def _on_current_changed(self, *_args) -> None:
        encoding = self.encoding()
        if encoding is None:
            self.preview.setPlainText("")
            return
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        text = decoder.decode(self.head, final=False)  # a cut character at the end is not an error
        self.preview.setPlainText(text.replace("\r\n", "\n"))
        self.reopen_button.setEnabled(True)
