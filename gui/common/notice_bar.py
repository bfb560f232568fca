"""A dismissible message strip at the top of the window (like VS Code's notifications).

Problems that need no decision (a file that could not be opened, a settings file that was
reset) are shown here instead of in a modal dialog, so nothing blocks and several can queue.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout, QWidget

from storage.core.errors import Failure

_COLOURS = {
    "info": ("#e8f1fb", "#1f5a96"),
    "warning": ("#fff4d6", "#7a5300"),
    "error": ("#fde7e7", "#9b1c1c"),
}


class Notice(QFrame):
    dismissed = Signal()

    def __init__(self, text: str, level: str, parent: QWidget | None = None, details: str = "") -> None:
        super().__init__(parent)
        self.details = details
        background, foreground = _COLOURS.get(level, _COLOURS["info"])
        self.setObjectName(f"notice-{level}")
        self.setStyleSheet(
            f"#notice-{level} {{ background: {background}; border-bottom: 1px solid {foreground}; }}"
            f"#notice-{level} QLabel {{ color: {foreground}; }}")
        self.level = level
        self.label = QLabel(text, self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton(self)
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.setAutoRaise(True)
        close.clicked.connect(self.dismissed.emit)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        if details:  # a bug of ours: its traceback goes in the bug report
            copy = QPushButton("Copy details", self)
            copy.setObjectName("copyDetails")
            copy.setToolTip("Copy the traceback, for a bug report")
            copy.clicked.connect(self.copy_details)
            layout.addWidget(copy, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)

    @Slot()
    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(self.details)

    def text(self) -> str:
        return self.label.text()


class NoticeBar(QWidget):
    """A vertical stack of notices; the newest at the bottom, at most a few at once."""

    MAX = 4

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(0)
        self.hide()

    def show_message(self, text: str, level: str = "info", details: str = "") -> Notice:
        notices = self.notices()
        for old in notices:
            if old.text() == text:
                return old  # the same message twice stays one notice
        if len(notices) >= self.MAX:
            self._remove(notices[0])
        notice = Notice(text, level, self, details)
        notice.dismissed.connect(lambda: self._remove(notice))
        self._layout.addWidget(notice)
        self.show()
        return notice

    @Slot(str, object)
    def show_failure(self, context: str, failure: Failure) -> Notice:
        """Say why ``context`` failed (``storage.core.errors.classify``): the file's or the environment's
        fault as it is, a bug of ours as one, with a Copy details button for its traceback."""
        return self.show_message(f"{context}: {failure.message}", "error",
                                 failure.details if failure.bug else "")

    def notices(self) -> list[Notice]:
        return [self._layout.itemAt(i).widget() for i in range(self._layout.count())]

    def messages(self) -> list[str]:
        return [n.text() for n in self.notices()]

    @Slot()
    def clear(self) -> None:
        for notice in self.notices():
            self._remove(notice)

    def _remove(self, notice: Notice) -> None:
        self._layout.removeWidget(notice)
        notice.deleteLater()
        if self._layout.count() == 0:
            self.hide()


class MessageLine(QLabel):
    """One coloured line of rich text above a document's views (a parse error, load notes);
    hidden while there is nothing to say."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hide()

    def show_message(self, html: str, level: str) -> None:
        background, foreground = _COLOURS[level]
        self.setStyleSheet(f"background: {background}; color: {foreground}; padding: 4px;")
        self.setText(html)
        self.show()
