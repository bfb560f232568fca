"""The page a document shows while its content is read on a worker: what, a busy bar, Cancel."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget


class LoadingPage(QWidget):
    """A centred message and busy bar; with ``cancellable`` a Cancel button emits :attr:`cancelled`."""

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
        box = QVBoxLayout(self)
        box.addStretch(1)
        for widget in (self.label, bar, self.cancel_button):
            box.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)
        box.addStretch(2)
