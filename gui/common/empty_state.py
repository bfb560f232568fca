"""What a tab shows when it holds no document: what it opens, an Open button, recent files."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget


class EmptyState(QWidget):
    """Built when first shown (or first reached into): of the six tabs' empty states, a launch
    paints one, so the others cost nothing until their tab is clicked."""

    openClicked = Signal()
    recentClicked = Signal(str)

    def __init__(self, icon: QIcon, heading: str, body: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("emptyState")
        self._parts = (icon, heading, body)
        self._open_button: QPushButton | None = None
        self._recent_label: QLabel | None = None
        self._recent: list[str] = []
        QVBoxLayout(self)

    @property
    def open_button(self) -> QPushButton:
        self._build()
        return self._open_button

    @property
    def recent_label(self) -> QLabel:
        self._build()
        return self._recent_label

    def layout(self) -> QVBoxLayout:
        self._build()
        return super().layout()

    def showEvent(self, event) -> None:
        self._build()
        super().showEvent(event)

    def _build(self) -> None:
        if self._open_button is not None:
            return
        icon, heading, body = self._parts
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
        self._open_button = QPushButton("Open…", self)
        self._open_button.setDefault(True)
        self._open_button.setMinimumWidth(140)
        self._open_button.clicked.connect(self.openClicked)
        hint = QLabel("or drop files on the window", self)
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setStyleSheet("color: palette(placeholder-text); font-size: 11px;")
        self._recent_label = QLabel(self)
        self._recent_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._recent_label.setTextFormat(Qt.TextFormat.RichText)
        self._recent_label.linkActivated.connect(self.recentClicked)

        box = super().layout()
        box.addStretch(2)
        box.addWidget(picture)
        box.addWidget(title)
        box.addWidget(text, 0, Qt.AlignmentFlag.AlignHCenter)
        box.addSpacing(12)
        box.addWidget(self._open_button, 0, Qt.AlignmentFlag.AlignHCenter)
        box.addWidget(hint)
        box.addSpacing(16)
        box.addWidget(self._recent_label)
        box.addStretch(3)
        self.set_recent(self._recent)
        if self.isVisible():  # built in showEvent: the parts missed the show of the children
            for part in (picture, title, text, self._open_button, hint, self._recent_label):
                part.show()

    def set_recent(self, paths: list[str]) -> None:
        """Show up to five recent files as links."""
        self._recent = list(paths)
        if self._recent_label is None:
            return  # shown when built
        if not paths:
            self._recent_label.setText("")
            return
        links = "<br>".join(
            f"<a href='{_attr(p)}'>{_text(os.path.basename(p) or p)}</a>"
            f" <span style='color:gray'>{_text(os.path.dirname(p))}</span>" for p in paths[:5])
        self._recent_label.setText(f"<b>Recent</b><br>{links}")


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(value: str) -> str:
    return _text(value).replace("'", "&#39;")
