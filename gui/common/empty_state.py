"""What a tab shows when it holds no document: what it opens, an Open button, recent files."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget


class EmptyState(QWidget):
    openClicked = Signal()
    recentClicked = Signal(str)

    def __init__(self, icon: QIcon, heading: str, body: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("emptyState")
        picture = QLabel(self)
        picture.setPixmap(icon.pixmap(72, 72))
        picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title = QLabel(f"<h2 style='margin:0'>{heading}</h2>", self)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text = QLabel(body, self)
        text.setWordWrap(True)
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text.setFixedWidth(520)
        # A centred label in a layout loses height-for-width; give it its wrapped height.
        text.setMinimumHeight(text.heightForWidth(520))
        text.setStyleSheet("color: palette(placeholder-text);")
        self.open_button = QPushButton("Open…", self)
        self.open_button.setDefault(True)
        self.open_button.setMinimumWidth(140)
        self.open_button.clicked.connect(self.openClicked)
        hint = QLabel("or drop files on the window", self)
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setStyleSheet("color: palette(placeholder-text); font-size: 11px;")
        self.recent_label = QLabel(self)
        self.recent_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.recent_label.setTextFormat(Qt.TextFormat.RichText)
        self.recent_label.linkActivated.connect(self.recentClicked)

        box = QVBoxLayout(self)
        box.addStretch(2)
        box.addWidget(picture)
        box.addWidget(title)
        box.addWidget(text, 0, Qt.AlignmentFlag.AlignHCenter)
        box.addSpacing(12)
        box.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignHCenter)
        box.addWidget(hint)
        box.addSpacing(16)
        box.addWidget(self.recent_label)
        box.addStretch(3)

    def set_recent(self, paths: list[str]) -> None:
        """Show up to five recent files as links."""
        if not paths:
            self.recent_label.setText("")
            return
        links = "<br>".join(
            f"<a href='{_attr(p)}'>{_text(os.path.basename(p) or p)}</a>"
            f" <span style='color:gray'>{_text(os.path.dirname(p))}</span>" for p in paths[:5])
        self.recent_label.setText(f"<b>Recent</b><br>{links}")


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(value: str) -> str:
    return _text(value).replace("'", "&#39;")
