"""Run something once a widget has been painted: the first lines of a file are on screen before the
GUI thread is held a while (a tab's modules imported, its document made)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QWidget


class _FirstPaint(QObject):
    """Watches a widget for its first paint, then runs the callback once from the event loop; at
    the latest after the timeout (a minimised window, a widget replaced before it was painted)."""

    def __init__(self, widget: QWidget, callback: Callable[[], None], owner: QObject,
                 timeout_ms: int, unless_hidden: bool) -> None:
        super().__init__(owner)  # not the widget's child: its deletion must not drop the callback
        self._callback: Callable[[], None] | None = callback
        widget.installEventFilter(self)
        if unless_hidden:  # once the event loop runs: a widget not visible then is not painted soon
            QTimer.singleShot(0, self, lambda: None if widget.isVisible() else self._run())
        QTimer.singleShot(timeout_ms, self, self._run)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and self._callback is not None:
            watched.removeEventFilter(self)
            QTimer.singleShot(0, self, self._run)  # once this paint has reached the screen
        return False

    def _run(self) -> None:
        callback, self._callback = self._callback, None
        if callback is not None:
            self.deleteLater()
            callback()


def after_first_paint(widget: QWidget, callback: Callable[[], None], owner: QObject,
                      timeout_ms: int = 500, unless_hidden: bool = False) -> None:
    """Call ``callback`` once, right after ``widget`` is first painted, or ``timeout_ms`` from now
    if that comes first; with ``unless_hidden``, at once if ``widget`` is not visible when the event
    loop next runs (a document opened behind another: nothing paints it). ``owner`` (a
    longer-lived object) keeps the watch alive; deleting it cancels the call."""
    _FirstPaint(widget, callback, owner, timeout_ms, unless_hidden)
