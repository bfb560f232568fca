"""The base of every open document: a widget with a path, a format and its own undo stack.

Each tab holds several documents. The main window reads a document's title, modified state
(``QUndoStack.cleanChanged``, Orange canvas style), size and view state through this small
API, and each format's tab subclasses it with its real viewer and editor.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QBoxLayout, QWidget

from gui.common.workers import Worker, run_in_worker
from storage.core.errors import classify

PICKLE_CHECK_WAIT_MS = 1000  # the pickle-start check of a document that never says it has loaded
# The pickle-start check waits this long once the content is shown: importing the scanner holds
# the GIL for ~30 ms, which the first rows and the first scrolls must not wait for (issue 16).
PICKLE_CHECK_IDLE_MS = 300


def _pickle_start_verdict(path: str) -> Any:
    """Worker body: the pickle verdict of a file opened in another tab. The scanner is imported
    here, on the worker, so opening a document never waits for it on the GUI thread."""
    from storage.formats.objects.file import pickle_start_verdict

    return pickle_start_verdict(path)


@runtime_checkable
class PendingWrites(Protocol):
    """A document holding edits its database has not taken yet (the server was down): closing
    asks Retry / Discard / Cancel instead of Save / Discard / Cancel."""

    def pending_count(self) -> int: ...

    def retry_pending_edits(self) -> None: ...

    def discard_pending_edits(self) -> None: ...


# -- optional features: what a document may offer beyond the base API, checked with isinstance --

@runtime_checkable
class Reloadable(Protocol):
    """A document that can read its file (or server) again: View ▸ Reload and the disk bar."""

    def reload(self) -> None: ...


@runtime_checkable
class Convertible(Protocol):
    """A document that can write the table it shows to CSV, Parquet, JSON Lines or SQLite: File ▸
    Convert… (enabled while ``can_convert``) opens its Convert dialog."""

    def can_convert(self) -> bool: ...

    def ask_convert(self) -> Any: ...


@runtime_checkable
class ShowsFirstLines(Protocol):
    """A document whose loading page can show the start of its file while the rest is read
    (the opener read it when it sniffed the file, so it shows at once)."""

    def show_first_lines(self, text: str) -> None: ...


@runtime_checkable
class Located(Protocol):
    """A document without a path that says where it lives (a server: its URL, no password)."""

    @property
    def location(self) -> str: ...


@runtime_checkable
class KindLabelled(Protocol):
    """A document whose status bar names its kind better than its format ("PICKLE (gzip)")."""

    @property
    def kind_label(self) -> str: ...


@runtime_checkable
class ServerDocument(Protocol):
    """A document that may be a database server's, opened from a URL (None: a file)."""

    server_url: str | None
    connection_name: str | None


class Document(QWidget):
    """An open file in a tab. Subclasses show it; the undo stack tracks its edits."""

    modifiedChanged = Signal(bool)
    statusChanged = Signal()  # path, format or size changed: the status bar refreshes
    viewStateChanged = Signal()  # splitters, columns or selection moved: the session saves
    loaded = Signal()  # the content arrived and the saved view state was applied
    statusMessage = Signal(str)  # a passing note for the window's status bar
    bugFound = Signal(str, object)  # context, storage.core.errors.Failure: the window offers its traceback
    disk = None  # a gui.common.disk_watch.DiskGuard when the document watches its file for changes
    disk_diff_same_text = "The file on disk holds the same text."  # Compare found no difference
    verdict_bar = None  # a gui.common.safety_bar.SafetyBar when the file also reads as a pickle
    pickle_checked = False  # check_pickle_verdict ran: a reload from disk runs it again

    def __init__(self, path: str | None, fmt: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path = os.path.abspath(path) if path else None
        self.format = fmt
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)
        self._pending_view_state: dict[str, Any] = {}
        self.is_loaded = False
        self._worker: Worker | None = None  # the newest load (see run_latest)
        self._generation = 0
        self._pickle_check_due = False  # check_pickle_verdict waits for the content (or a second)
        self.loaded.connect(self._on_loaded_check_soon)

    @Slot(bool)
    def _on_clean_changed(self, clean: bool) -> None:
        self.modifiedChanged.emit(not clean)

    # -- what the window shows ------------------------------------------------------------
    def title(self) -> str:
        return os.path.basename(self.path) if self.path else "Untitled"

    def is_modified(self) -> bool:
        return not self.undo_stack.isClean()

    def file_size(self) -> int | None:
        try:
            return os.stat(self.path).st_size if self.path else None
        except OSError:
            return None

    def stamp_path(self) -> str | None:
        """The file whose size, mtime and hash tell whether the document changed on disk."""
        return self.path

    # -- saving: read-only documents keep these defaults ------------------------------------
    def can_save(self) -> bool:
        return False

    def save(self) -> bool:
        """Write the document to :attr:`path`; return True on success."""
        return False

    def save_as(self, path: str) -> bool:
        """Write the document to ``path`` and make that its path; return True on success."""
        return False

    # -- find: Edit ▸ Find (Ctrl+F), Find Next (F3), Find Previous (Shift+F3) ---------------------
    def start_find(self) -> bool:
        """Show this document's find field and focus it; False when there is nothing to search."""
        return False

    def find_next(self, backward: bool = False) -> bool:
        """Go to the next (``backward``: previous) match of the find field's text, or open the
        field when it is empty; False when there is nothing to search. Long searches run in a
        worker: this returns at once and the match is selected when it is found."""
        return False

    # -- crash recovery (gui/recovery/manager.py): documents that edit in memory override these --
    def journal_payload(self) -> bytes | None:
        """The unsaved edits as bytes (``storage.recovery.payload``), or None: nothing to journal.

        Called on the GUI thread a few seconds after a change. SQLite and HDF5 keep the default:
        their edits are written to the file at once, so there is nothing to recover.
        """
        return None

    def journal_path(self) -> str | None:
        """What the journal files this document's edits under (its path; a server its URL)."""
        return self.path

    def journal_extra(self) -> dict[str, Any]:
        """More for the journal entry, as plain JSON data (a server's URL and connection name)."""
        return {}

    def restore_from_journal(self, payload: bytes) -> None:
        """Apply what :meth:`journal_payload` returned as ONE undoable edit (KnownError if not)."""
        from storage.core.errors import UnsupportedError

        raise UnsupportedError(f"{self.title()} cannot take back unsaved edits.")

    # -- session state ---------------------------------------------------------------------
    def view_state(self) -> dict[str, Any]:
        """Splitter sizes, column widths, selection: plain JSON data for the settings."""
        return dict(self._pending_view_state)

    def apply_view_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`view_state` returned: now if loaded, else once the content arrives."""
        self._pending_view_state = dict(state)
        if self.is_loaded:
            self._restore_pending_view_state()

    def _restore_pending_view_state(self) -> None:
        """Hand the waiting view state, once, to :meth:`restore_view_state` (call after loading)."""
        state, self._pending_view_state = self._pending_view_state, {}
        if state:
            self.restore_view_state(state)

    def restore_view_state(self, state: dict[str, Any]) -> None:
        """Subclasses put back splitters, columns and selection from ``state`` (plain JSON data)."""

    def mark_loaded(self) -> None:
        self.is_loaded = True
        self.loaded.emit()

    def describe_failure(self, exc: BaseException) -> str:
        """The message saying why ``exc`` stopped this document (``storage.core.errors.classify``). A bug
        of ours never blames the file, and is also reported through :attr:`bugFound`."""
        failure = classify(exc)
        if failure.bug:
            self.bugFound.emit(self.title(), failure)
        return failure.message

    # -- loading on a worker: only the newest request is answered ---------------------------
    def run_latest(self, fn: Callable[..., Any], *args: Any,
                   on_result: Callable[[int, Any], None],
                   on_error: Callable[[int, BaseException], None]) -> None:
        """Run ``fn(*args)`` on a worker, cancelling the previous load; the callbacks get the
        request's generation, so a handler can drop an answer that is no longer the newest."""
        self._generation += 1
        generation = self._generation
        if self._worker is not None:
            self._worker.cancel()
        self._worker = run_in_worker(fn, *args, on_result=lambda value: on_result(generation, value),
                                     on_error=lambda exc: on_error(generation, exc))

    def is_latest(self, generation: int) -> bool:
        """True when ``generation`` (as given to a :meth:`run_latest` callback) is the newest load;
        the answer is then no longer awaited."""
        if generation != self._generation:
            return False
        self._worker = None
        return True

    def cancel_latest(self) -> None:
        """Stop the newest load; whatever it still answers is dropped."""
        self._generation += 1
        if self._worker is not None:
            self._worker.cancel()

    # -- the pickle verdict of a file shown in a tab other than Objects ----------------------
    def check_pickle_verdict(self) -> None:
        """Read the file from byte 0 as ``pickle.load`` would (on a worker); when that gets
        anywhere, or the name says pickle, a verdict bar appears above the document.

        The check starts ``PICKLE_CHECK_IDLE_MS`` after the content is shown (or after
        ``PICKLE_CHECK_WAIT_MS``, should it never be): the first screen, and the rows that follow
        it, do not wait for the scanner."""
        if not self.path:
            return
        self.pickle_checked = True
        self._pickle_check_due = True
        if self.is_loaded:
            self._on_loaded_check_soon()
            return
        QTimer.singleShot(PICKLE_CHECK_WAIT_MS, self, self._run_due_pickle_check)

    @Slot()
    def _on_loaded_check_soon(self) -> None:
        """The content is shown: a due check starts once the event loop had a moment to paint it."""
        if self._pickle_check_due:
            QTimer.singleShot(PICKLE_CHECK_IDLE_MS, self, self._run_due_pickle_check)

    @Slot()
    def _run_due_pickle_check(self) -> None:
        if self._pickle_check_due:
            self._pickle_check_due = False
            self._start_pickle_check()

    def _start_pickle_check(self) -> None:
        run_in_worker(_pickle_start_verdict, self.path, on_result=self._on_pickle_verdict,
                      on_error=self._on_pickle_verdict_failed)

    @Slot(object)
    def _on_pickle_verdict(self, verdict: Any) -> None:
        if verdict is None:
            if self.verdict_bar is not None:  # reloaded: the file no longer reads as a pickle
                self.verdict_bar.hide()
            return
        from gui.common.safety_bar import SafetyBar

        if self.verdict_bar is None:
            self.verdict_bar = SafetyBar(self)
            self.verdict_bar.trust_button.hide()  # no loader to trust here: it is not an Objects file
            layout = self.layout()
            if isinstance(layout, QBoxLayout):  # every document stacks its parts in a box
                layout.insertWidget(0, self.verdict_bar)
        self.verdict_bar.show_report(verdict, prefix=verdict.note)
        self.verdict_bar.show()

    @Slot(object)
    def _on_pickle_verdict_failed(self, _exc: BaseException) -> None:
        """The file could not be read again (gone, locked): the document says so itself."""

    def ask_to_close(self, parent: QWidget) -> bool:
        """Before closing: ask about what closing would lose besides unsaved changes (an open
        transaction, say); False when the user cancelled."""
        return True

    def close_document(self) -> None:
        """Stop background work before the widget goes away."""
