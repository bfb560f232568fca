"""The editor of a foreign-key cell: a line edit whose completer lists rows of the referenced table.

The list is filled on a worker: first the referenced table's first rows by key, then, as the
user types, the rows whose key or display column match (``LIKE`` in SQL, see
:func:`storage.formats.sql.fk.choices`). Each choice reads "key — display value"; picking one stores the
key. A typed key that names no row is still accepted (the database decides on write), but the
editor marks it and says so.
"""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QCompleter, QLineEdit, QToolButton, QWidget
from shiboken6 import isValid

from gui.common.model_guard import guard_model
from storage.core.errors import KnownError
from storage.formats.sql.filters import coerce
from storage.formats.sql.fk import Choice, choice_label, choices, key_exists
from storage.formats.sql.sqlite_db import Interrupted

KEY_ROLE = Qt.ItemDataRole.UserRole + 1
SEPARATOR = " — "


@guard_model
class FkChoicesModel(QAbstractListModel):
    """Rows offered for a foreign-key cell; ``data()`` only reads the list it was given."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.items: list[Choice] = []
        self.labels: list[str] = []

    def set_choices(self, items: list[Choice]) -> None:
        self.beginResetModel()
        self.items = list(items)
        self.labels = [choice_label(key, display) for key, display in self.items]
        self.endResetModel()

    def key_of(self, text: str) -> tuple[bool, Any]:
        """(found, key) of the choice whose label (or bare key) is ``text``."""
        for (key, display), label in zip(self.items, self.labels, strict=True):
            if text == label or (display is None and text == str(key)):
                return True, key
        return False, None

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.items)

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.items):
            return None
        row = index.row()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole, Qt.ItemDataRole.ToolTipRole):
            return self.labels[row]
        if role == KEY_ROLE:
            return self.items[row][0]
        return None


class _ReaderHolder:
    """Owns an editor's connection, so it can be closed once the editor is gone."""

    def __init__(self) -> None:
        self.reader: Any = None
        self.closed = False
        self.lock = threading.Lock()

    def open(self, database: Any) -> Any:
        """The connection, opened on first use (on a worker); Interrupted once closed."""
        with self.lock:
            if self.closed:
                raise Interrupted("The editor was closed.")
            if self.reader is None:
                self.reader = database.reader()
            return self.reader

    def close(self, *_args: Any) -> None:
        with self.lock:
            self.closed = True
            reader, self.reader = self.reader, None
        if reader is not None:
            reader.close()


class FkEditor(QLineEdit):
    """Type a key, or pick "key — display value" from the rows the referenced table offers."""

    searched = Signal()  # a search's answer arrived (tests wait for it)

    def __init__(self, document: Any, target: Any, affinity: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document, self.target, self.affinity = document, target, affinity
        self.choices_model = FkChoicesModel(self)
        self._completer = QCompleter(self.choices_model, self)
        self._completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        self._completer.setMaxVisibleItems(12)
        self._completer.popup().setMinimumWidth(320)
        self.setCompleter(self._completer)
        self.setPlaceholderText("NULL")
        self.missing = False  # the typed key names no row of the referenced table
        self._generation = 0
        self._database = document.database
        self._holder = _ReaderHolder()
        self.destroyed.connect(self._holder.close)  # not a method of self: it runs after self is gone
        self._searched_text: str | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(200)
        self._timer.timeout.connect(self._search)
        self.textEdited.connect(lambda _t: self._timer.start())
        self.browse = QToolButton(self)
        self.browse.setText("▾")
        self.browse.setCursor(Qt.CursorShape.ArrowCursor)
        self.browse.setToolTip(f"Rows of {target.table}")
        self.browse.clicked.connect(self.show_choices)
        self.setTextMargins(0, 0, 22, 0)
        self.setToolTip(f"References {target.table}.{target.key}: type to search its rows")

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.browse.setGeometry(self.width() - 22, 1, 21, self.height() - 2)

    # -- the delegate's editor API -------------------------------------------------------------
    def set_stored(self, value: Any) -> None:
        self.setText("" if value is None else str(value))
        self._search(first_rows=True)  # the first rows by key, as a list opened by its arrow

    def stored(self) -> Any:
        text = self.text()
        found, key = self.choices_model.key_of(text)
        if found:
            return key
        if SEPARATOR in text:
            text = text.split(SEPARATOR, 1)[0]
        if text == "":
            return None
        if self.affinity in ("INTEGER", "REAL", "NUMERIC"):
            return coerce(text)
        return text

    def choose(self, row: int) -> None:
        """Pick the ``row``-th choice, as clicking it in the list does."""
        self.setText(self.choices_model.labels[row])
        self._set_missing(False)

    # -- searching -----------------------------------------------------------------------------
    def _is_search(self) -> bool:
        """A word typed into a numeric key column is a search, not a key: it is not checked."""
        return self.affinity in ("INTEGER", "REAL", "NUMERIC") and isinstance(self.stored(), str)

    @Slot()
    def show_choices(self) -> None:
        self._search(first_rows=True, popup=True)

    def _search_text(self) -> str:
        text = self.text()
        if text in self.choices_model.labels:
            return ""  # a picked choice: offer the neighbours, not a search for the label
        return text.split(SEPARATOR, 1)[0]

    def _reader(self) -> Any:
        """The editor's own connection, opened on first use (on the worker) and closed with the editor.

        Its own, so a slow search never holds up the grid's paging, and a new search interrupts
        the one before instead of queueing behind it.
        """
        return self._holder.open(self._database)

    @Slot()
    def _search(self, first_rows: bool = False, popup: bool = False) -> None:
        if self._database is None:
            return
        current = self._holder.reader
        if current is not None:
            current.interrupt()  # the answer to the last search is no longer wanted
        text = "" if first_rows else self._search_text()
        self._generation += 1
        generation = self._generation
        target, kind, dialect = self.target, self.document.db_kind(), self.document.db_dialect()
        typed = None if self._is_search() else self.stored()

        def work() -> tuple[list[Choice], bool]:
            def run(conn: Any) -> tuple[list[Choice], bool]:
                found = choices(conn, kind, target.table, target.key, target.display, text,
                                schema=target.schema, dialect=dialect)
                ok = typed is None or key_exists(conn, kind, target.table, target.key, typed,
                                                 schema=target.schema, dialect=dialect)
                return found, ok
            return self._reader().run(run)

        self.document.start_task(work, on_result=lambda r: self._on_found(generation, text, popup, r),
                             on_error=lambda e: self._on_failed(generation, e))

    def _on_found(self, generation: int, text: str, popup: bool, result: tuple[list[Choice], bool]) -> None:
        if not isValid(self) or generation != self._generation:
            return  # the editor closed before the answer came
        found, ok = result
        self._searched_text = text
        self.choices_model.set_choices(found)
        self._set_missing(not ok)
        if (popup or self.hasFocus()) and found and self.isVisible():
            self._completer.complete()
        self.searched.emit()

    def _on_failed(self, generation: int, exc: BaseException) -> None:
        if isValid(self) and generation == self._generation:
            self.setToolTip(f"The rows of {self.target.table} could not be read: "
                            f"{exc if isinstance(exc, KnownError) else repr(exc)}")
            self.searched.emit()

    def _set_missing(self, missing: bool) -> None:
        self.missing = missing
        self.setStyleSheet("QLineEdit { background: #fef0c7; }" if missing else "")
        self.setToolTip(f"No row of {self.target.table} has {self.target.key} = {self.text()!r}; "
                        "the database may refuse it" if missing
                        else f"References {self.target.table}.{self.target.key}: type to search its rows")
