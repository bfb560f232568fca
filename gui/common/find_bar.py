"""Find in a document: a find bar and a finder that steps through a tree's matches.

Edit ▸ Find (Ctrl+F) asks the current document to :meth:`~gui.common.document.Document.start_find`,
F3 / Shift+F3 to :meth:`~gui.common.document.Document.find_next`. Documents whose view has no
find field of its own put a :class:`FindBar` under it. The bar only takes the text and says
what happened; its owner searches. :class:`PathFinder` is that owner for trees of values:
the matches (paths from the root) are found in a worker, then stepped through in order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal, Slot
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QSizePolicy, QToolButton, QWidget
from shiboken6 import isValid

from gui.common.workers import Worker, run_in_worker

_NOTE_COLOURS = {"info": "", "warning": "color: #9a5b00", "error": "color: #b42318"}


class FindBar(QWidget):
    """A find field with previous / next buttons, a status note and a close button.

    Enter finds the next match, Shift+Enter the previous one, Esc hides the bar.
    """

    findRequested = Signal(bool)  # backward
    queryChanged = Signal()  # the text changed: earlier matches are stale
    closed = Signal()

    def __init__(self, parent: QWidget | None = None, placeholder: str = "Find") -> None:
        super().__init__(parent)
        self.setObjectName("findBar")
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)  # the view keeps the room
        self.edit = QLineEdit(self)
        self.edit.setObjectName("findEdit")
        self.edit.setPlaceholderText(placeholder)
        self.edit.setClearButtonEnabled(True)
        self.edit.setMinimumWidth(160)
        self.edit.installEventFilter(self)
        self.edit.textChanged.connect(self._on_text_changed)
        self.previous_button = QToolButton(self)
        self.previous_button.setText("▲")
        self.previous_button.setToolTip("Previous match (Shift+F3)")
        self.previous_button.clicked.connect(lambda: self.findRequested.emit(True))
        self.next_button = QToolButton(self)
        self.next_button.setText("▼")
        self.next_button.setToolTip("Next match (F3)")
        self.next_button.clicked.connect(lambda: self.findRequested.emit(False))
        self.note = QLabel(self)
        self.note.setObjectName("findNote")
        close = QToolButton(self)
        close.setText("✕")
        close.setToolTip("Close the find bar (Esc)")
        close.setAutoRaise(True)
        close.clicked.connect(self.close_bar)
        escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        escape.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        escape.activated.connect(self.close_bar)
        box = QHBoxLayout(self)
        box.setContentsMargins(4, 2, 4, 2)
        box.addWidget(QLabel("Find:", self))
        box.addWidget(self.edit, 2)
        box.addWidget(self.previous_button)
        box.addWidget(self.next_button)
        box.addWidget(self.note, 3)
        box.addWidget(close)
        self.hide()

    def text(self) -> str:
        return self.edit.text()

    def open(self) -> None:
        """Show the bar with its text selected, ready to type over."""
        self.show()
        self.edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.edit.selectAll()

    @Slot()
    def close_bar(self) -> None:
        self.hide()
        self.closed.emit()

    def say(self, text: str, kind: str = "info") -> None:
        """Show ``text`` beside the field ("3 of 12", "No more matches"; kind: info, warning, error)."""
        self.note.setText(text)
        self.note.setStyleSheet(_NOTE_COLOURS.get(kind, ""))

    @Slot(str)
    def _on_text_changed(self, _text: str) -> None:
        self.say("")
        self.queryChanged.emit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (watched is self.edit and isinstance(event, QKeyEvent) and event.type() == QEvent.Type.KeyPress
                and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)):
            self.findRequested.emit(bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier))
            return True
        return super().eventFilter(watched, event)


class PathFinder(QObject):
    """The matches of a :class:`FindBar`'s text in a tree, found in a worker and stepped through.

    ``search(text)``, called on the GUI thread, returns the job for a worker: ``job(limit,
    cancel)`` returns the matching paths in the tree's order (it must hold what it reads, not
    read the view from the worker thread); ``select(path)`` shows one (False: it is gone). The
    matches are kept until the text or the tree changes (:meth:`forget`).
    """

    stepped = Signal(object)  # the path selected
    searched = Signal(int)  # a search ended with this many matches

    def __init__(self, bar: FindBar, search: Callable[..., list[Any]],
                 select: Callable[[Sequence[Any]], bool], parent: QObject | None = None,
                 limit: int = 10_000) -> None:
        super().__init__(parent)
        self.bar = bar
        self._search = search
        self._select = select
        self.limit = limit
        self.hits: list[Any] | None = None
        self.hit = -1
        self._worker: Worker | None = None
        self._generation = 0
        self._backward = False
        bar.findRequested.connect(self.find)
        bar.queryChanged.connect(self.forget)

    @Slot()
    def forget(self) -> None:
        """Drop the matches (and stop a search under way): the next find searches again."""
        self._generation += 1
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None
        self.hits, self.hit = None, -1

    @property
    def busy(self) -> bool:
        return self._worker is not None

    @Slot(bool)
    def find(self, backward: bool = False) -> None:
        text = self.bar.text()
        if not text:
            self.bar.open()
            return
        self.bar.show()
        if self.hits is not None:
            self._step(backward)
            return
        self.forget()
        self._backward = backward
        generation = self._generation
        self.bar.say("Searching…")
        self._worker = run_in_worker(self._search(text), self.limit,
                                     on_result=lambda hits: self._on_hits(generation, hits),
                                     on_error=lambda exc: self._on_failed(generation, exc))

    def _on_hits(self, generation: int, hits: list[Any]) -> None:
        if generation != self._generation or not isValid(self.bar):  # stale, or the document closed
            return
        self._worker = None
        self.hits, self.hit = list(hits), -1
        self.searched.emit(len(self.hits))
        if not self.hits:
            self.bar.say("No matches", "warning")
            return
        self._step(self._backward)

    def _on_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation or not isValid(self.bar):
            return
        self._worker = None
        self.bar.say(f"Cannot search: {exc}", "error")

    def _step(self, backward: bool) -> None:
        hits = self.hits or []
        if not hits:
            self.bar.say("No matches", "warning")
            return
        if self.hit < 0:
            self.hit = len(hits) - 1 if backward else 0
        else:
            self.hit = (self.hit + (-1 if backward else 1)) % len(hits)
        path = hits[self.hit]
        if not self._select(path):
            self.bar.say("That match is gone: search again", "warning")
            self.hits = None
            return
        more = "+" if len(hits) >= self.limit else ""
        self.bar.say(f"{self.hit + 1:,} of {len(hits):,}{more}")
        self.stepped.emit(path)


def walk_paths(root: Any, children: Callable[[Any], Sequence[tuple[Any, Any]] | None],
               matches: Callable[[list[Any], Any, Any], bool], limit: int,
               cancel: Callable[[], bool] | None = None) -> list[list[Any]]:
    """Paths (keys from ``root``) of the nodes for which ``matches(path, value, parent)`` holds,
    in depth-first document order, at most ``limit``. ``children(value)`` gives (key, child)
    pairs or None for a leaf. Runs on a worker: a tree edited meanwhile may end the walk early."""
    hits: list[list[Any]] = []
    stack: list[tuple[Any, list[Any], Any]] = [(root, [], None)]
    seen = 0
    try:
        while stack:
            value, path, parent = stack.pop()
            seen += 1
            if cancel is not None and seen % 2048 == 0 and cancel():
                break
            if path and matches(path, value, parent):
                hits.append(path)
                if len(hits) >= limit:
                    break
            pairs = children(value)
            if pairs:
                stack.extend((v, [*path, k], value) for k, v in reversed(list(pairs)))
    except RuntimeError:  # the tree changed while we walked it
        pass
    return hits
