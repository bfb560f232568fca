"""Crash recovery, the writing side: journal each modified document a few seconds after a change.

Two seconds after the last change of a modified document (its undo stack's ``indexChanged``),
a snapshot of the edits is taken on the GUI thread, where it cannot race the next edit, and
packed and written on a worker (``gui.recovery.hooks.snapshot_job``): texts are copied (a big
text's line buffer cheaply) and joined and encoded on the worker; JSON and pickle trees are
edited in place: small ones are serialised on the GUI thread, big ones on the worker, whose
result is dropped (and the document rescheduled) if an edit landed while it ran. Payloads over
``storage.recovery.journal.MAX_PAYLOAD`` are skipped. Jobs run one at a time, so a drop never overtakes
the write it cancels. The entry goes when the document is saved or undone
back to clean (``modifiedChanged(False)``), closed without saving, and on a clean exit.

Each session writes to its own ``journal/session-PID-XXXX/`` folder and holds a lock on it (the
OS drops it when the process dies, even by SIGKILL). At start, the folders whose lock can be
taken belong to sessions that did not exit cleanly: their entries move to ``journal/recovered/``,
where this session's writes never overwrite them before the user decides (gui/recovery/restore.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Slot
from shiboken6 import isValid

from gui.common.document import Document
from gui.common.workers import Worker, run_in_worker
from storage.core.atomic import remove_stale_temporaries
from storage.core.errors import KnownError
from storage.recovery import journal as journal_module
from storage.recovery.journal import (
    FileStamp,
    Journal,
    JournalEntry,
    SessionLock,
    complete_stamp,
    session_folders,
    stamp_of,
)
from storage.recovery.payload import kind_of

if TYPE_CHECKING:
    from gui.app.mainwindow import MainWindow

log = logging.getLogger(__name__)
DELAY_MS = 2000
LOCK_NAME = "lock"


STALE = "stale"  # write_entry's answer when an edit raced a serialisation


def write_entry(journal: Journal, entry: JournalEntry, make: Callable[[], bytes | None],
                still_current: Callable[[], bool] | None = None) -> FileStamp | str | None:
    """Worker body: pack the snapshot, hash the original once (if unchanged), write the entry."""
    try:
        payload = make()
    except RuntimeError:  # a dict changed size under a racing serialisation
        if still_current is None:
            raise
        return STALE
    if still_current is not None and not still_current():
        return STALE
    if payload is None:
        journal.drop(entry.path)
        return entry.stamp
    entry.kind = kind_of(payload)
    entry.stamp = complete_stamp(entry.stamp_path, entry.stamp)
    journal.write(entry, payload)
    return entry.stamp


def take_over(base: Path, recovered: Journal) -> None:
    """Move what sessions that are gone left in ``base/session-*`` into ``recovered``."""
    for folder in session_folders(base):
        lock = SessionLock(folder / LOCK_NAME)
        if not lock.acquire():
            continue  # another Datashelf is running and owns it
        try:
            _move_entries(Journal(folder), recovered)
            with contextlib.suppress(OSError):
                (folder / LOCK_NAME).unlink()
                folder.rmdir()
        finally:
            lock.release()


def _move_entries(journal: Journal, recovered: Journal) -> None:
    for entry in journal.entries():
        try:
            journal.move_to(entry, recovered)
        except OSError as exc:
            log.warning("Cannot keep the journal entry of %s: %s", entry.path, exc)
    journal.clear()  # whatever is left is damaged or half-written


class JournalManager(QObject):
    """Keeps ``<settings dir>/journal/`` in step with the window's unsaved documents."""

    def __init__(self, window: MainWindow, folder: str | os.PathLike[str]) -> None:
        super().__init__(window)
        self.window = window
        base = Path(folder)
        self.recovered = Journal(base / "recovered")
        try:
            take_over(base, self.recovered)
        except KnownError as exc:  # a read-only settings folder: recovery just does not happen
            log.warning("Crash recovery is off: %s", exc)
        # This session's own folder, locked while it runs, so a second Datashelf sharing the
        # settings never mistakes our live entries for a crash's.
        self.journal = Journal(base / f"session-{os.getpid()}-{os.urandom(4).hex()}")
        self._lock = SessionLock(self.journal.folder / LOCK_NAME)
        if not self._lock.acquire():
            log.warning("Cannot lock the journal folder %s", self.journal.folder)
        self._stamps: dict[Document, FileStamp | None] = {}
        self._written: dict[Document, str] = {}  # the path each document's entry is under
        self._pending: list[Document] = []
        self._edits: dict[Document, int] = {}  # indexChanged count (merges included)
        self._too_big: set[Document] = set()
        self._queue: deque[tuple[Callable[..., Any], tuple, Callable[[Any], None] | None]] = deque()
        self._busy: Worker | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DELAY_MS)
        self._timer.timeout.connect(self._flush)
        window.documentOpened.connect(self._on_document_opened)

    # -- following the documents ----------------------------------------------------------------
    @Slot(object)
    def _on_document_opened(self, document: Document) -> None:
        self._stamps[document] = _stamp(document)
        document.undo_stack.indexChanged.connect(lambda _i, d=document: self.document_changed(d))
        document.modifiedChanged.connect(lambda modified, d=document: self._on_modified(d, modified))
        if document.path and os.path.isfile(document.path):
            # A save killed mid-way (a crash, a power cut) leaves its hidden temporary beside the file.
            run_in_worker(remove_stale_temporaries, os.path.dirname(os.path.abspath(document.path)),
                          on_result=self._on_leftovers_removed)

    def _on_leftovers_removed(self, removed: list[str]) -> None:
        if removed:
            log.info("Removed temporary files of interrupted saves: %s", ", ".join(removed))
            self.window.statusBar().showMessage(
                f"Removed {len(removed)} temporary file(s) left by an interrupted save", 5000)

    def _on_modified(self, document: Document, modified: bool) -> None:
        if not _alive(document):
            return
        if modified:
            self.document_changed(document)
            return
        # Saved (or undone back to what is on disk): the file is the truth again.
        if document in self._pending:
            self._pending.remove(document)
        self._stamps[document] = _stamp(document)
        self._drop(document)

    def document_changed(self, document: Document) -> None:
        """Journal ``document`` a few seconds from now if it has unsaved edits."""
        if not _alive(document):  # a stack being deleted still signals
            return
        self._edits[document] = self._edits.get(document, 0) + 1
        if document.is_modified() and document.journal_path() and document not in self._pending:
            self._pending.append(document)
        if self._pending:
            self._timer.start()

    def document_closed(self, document: Document) -> None:
        """The user closed ``document`` (saved or discarded): its entry goes."""
        if document in self._pending:
            self._pending.remove(document)
        self._drop(document)
        self._stamps.pop(document, None)
        self._edits.pop(document, None)
        self._too_big.discard(document)

    def flush_now(self) -> None:
        """Take the pending snapshots at once (tests, and before a risky operation)."""
        self._timer.stop()
        self._flush()

    @Slot()
    def _flush(self) -> None:
        from gui.recovery.hooks import snapshot_job  # on the first edit: keeps launch quick

        pending, self._pending = self._pending, []
        for document in pending:
            path = document.journal_path() if _alive(document) else None
            if not _alive(document) or not document.is_modified() or not path:
                continue
            if (document.file_size() or 0) > journal_module.MAX_PAYLOAD:
                if document not in self._too_big:  # say it once per document
                    self._too_big.add(document)
                    log.warning("Not journaling %s: bigger than %d bytes", document.path,
                                journal_module.MAX_PAYLOAD)
                continue
            try:
                make, racy = snapshot_job(document)
            except (KnownError, MemoryError, RecursionError) as exc:
                log.warning("Cannot journal %s: %s", document.path, exc)
                make, racy = None, False
            if make is None:
                self._drop(document)
                continue
            if self._written.get(document) not in (None, path):
                self._drop(document)  # saved under another name since the last write
            stamp = self._stamps.get(document)
            entry = JournalEntry(path=path, format=document.format, kind="",
                                 title=document.title(), saved_at=time.time(), stamp=stamp)
            if document.stamp_path() != path:
                entry.extra["stamp_path"] = document.stamp_path()
            entry.extra.update(document.journal_extra())
            self._written[document] = path
            check = None
            if racy:
                count = self._edits.get(document, 0)
                check = lambda d=document, n=count: self._edits.get(d, 0) == n  # noqa: E731
            self._enqueue(write_entry, (self.journal, entry, make, check),
                          lambda done, d=document, s=stamp: self._on_written(d, s, done))

    def _on_written(self, document: Document, stamp: FileStamp | None, done: Any) -> None:
        if done == STALE:
            self.document_changed(document)  # edited while serialising: try again later
            return
        if isinstance(done, FileStamp) and self._stamps.get(document) is stamp:
            self._stamps[document] = done  # hashed once: later writes reuse it

    def _drop(self, document: Document) -> None:
        path = self._written.pop(document, None)
        if path is not None:
            self._enqueue(self.journal.drop, (path,), None)

    # -- one job at a time, in order ----------------------------------------------------------------
    def _enqueue(self, fn: Callable[..., Any], args: tuple,
                 on_done: Callable[[Any], None] | None) -> None:
        self._queue.append((fn, args, on_done))
        self._pump()

    def _pump(self) -> None:
        if self._busy is not None or not self._queue:
            return
        fn, args, on_done = self._queue.popleft()

        def finished(result: Any) -> None:
            self._busy = None
            if on_done is not None:
                on_done(result)
            self._pump()

        self._busy = run_in_worker(fn, *args, on_result=finished, on_error=self._on_error)

    def _on_error(self, exc: BaseException) -> None:
        self._busy = None
        log.warning("Journal write failed: %s", exc)
        if isinstance(exc, KnownError):
            self.window.notices.show_message(f"Crash recovery could not save a copy of your "
                                             f"edits: {exc}", "warning")
        self._pump()

    def is_idle(self) -> bool:
        return self._busy is None and not self._queue and not self._pending

    # -- a clean exit -----------------------------------------------------------------------------
    def finish(self) -> None:
        """Every document was saved or discarded: wait for the writer, then empty the journal.

        Entries of crashed sessions the user has not decided on yet stay in ``recovered/``.
        """
        self._timer.stop()
        self._pending.clear()
        self._queue.clear()
        if self._busy is not None:
            self._busy.done.wait(5)
        self._written.clear()
        with contextlib.suppress(OSError):
            self.journal.clear()
            self._lock.release()
            (self.journal.folder / LOCK_NAME).unlink()
            self.journal.folder.rmdir()


def _stamp(document: Document) -> FileStamp | None:
    where = document.stamp_path()
    return stamp_of(where) if where else None


def _alive(document: Document) -> bool:
    return isValid(document) and isValid(document.undo_stack)
