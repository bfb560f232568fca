"""The page a document shows while its content is read on a worker: what, a busy bar, Cancel,
and (when the document has one) a first look at the file while the full read goes on."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QProgressBar, QPushButton, QVBoxLayout, QWidget


class LoadingPage(QWidget):
    """A centred message and busy bar; with ``cancellable`` a Cancel button emits :attr:`cancelled`.

    :meth:`show_preview` fills the page below the bar with read-only text (the first lines of a big
    file, shown while it is parsed); :meth:`clear_preview` takes it away again.
    """

    cancelled = Signal()

    def __init__(self, text: str, cancellable: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel(text, self)
        bar = QProgressBar(self)
        bar.setRange(0, 0)
        bar.setMaximumWidth(320)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.clicked.connect(self.cancelled)
        self.cancel_button.setVisible(cancellable)
        self.preview = QPlainTextEdit(self)
        self.preview.setObjectName("loadingPreview")
        self.preview.setReadOnly(True)
        self.preview.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.preview.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.preview.hide()
        box = QVBoxLayout(self)
        box.addStretch(1)
        for widget in (self.label, bar, self.cancel_button):
            box.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)
        box.addWidget(self.preview, 1)
        box.addStretch(2)
        self._box = box

    def show_preview(self, text: str) -> None:
        """Show ``text`` (the start of the file) under the busy bar, filling the page."""
        self.preview.setPlainText(text)
        self.preview.show()
        self._stretch(0)

    def clear_preview(self) -> None:
        self.preview.clear()
        self.preview.hide()
        self._stretch(1)

    def _stretch(self, factor: int) -> None:
        """The empty space above and below: centred when alone, none beside a preview."""
        last = self._box.count() - 1
        self._box.setStretch(0, factor)
        self._box.setStretch(last, 2 * factor)
