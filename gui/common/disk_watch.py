"""Every open file is watched: a change on disk reloads a document without local edits at once
(said in the status bar, as VS Code does); with edits, a bar offers Reload, Keep mine and Compare.

A :class:`DiskGuard` belongs to one document. It records what the file looked like when the
document loaded or saved it (size, mtime, inode and a bounded SHA-256, see
``storage.core.disk_stamp``; the hash is made in a worker), watches the file and its folder with a
``QFileSystemWatcher`` (an atomic replace drops a file watch, the folder watch sees the new one)
and compares again when either fires. The document's own saves run inside :meth:`own_write`,
so they are never taken for a change. Before a save the main window calls
:func:`confirm_save`, which asks Overwrite / Save As… / Cancel when the file changed since.

A document supplies ``reload()``; optionally ``watched_paths()`` (:class:`WatchesSeveralFiles`:
a shelf is several files) and ``disk_diff_job()`` (:class:`ComparesWithDisk`), a worker body
taking ``cancel`` that returns a diff (text and JSON) — without it, Compare is hidden.
"""

from __future__ import annotations

import contextlib
import html
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QMessageBox, QPushButton, QSizePolicy, QWidget

from gui.common.workers import Worker, run_in_worker, run_with_progress
from storage.core.disk_stamp import EDGE_BYTES, DiskStamp, content_changed, stat_files, take_stamp

if TYPE_CHECKING:
    from gui.common.diff_dialog import DiffDialog
    from gui.common.document import Document

DEBOUNCE_MS = 150


@runtime_checkable
class WatchesSeveralFiles(Protocol):
    """A document kept in several files (a shelf: ``x.dat`` and ``x.dir``): all are watched."""

    def watched_paths(self) -> list[str]: ...


@runtime_checkable
class ComparesWithDisk(Protocol):
    """A document whose Compare shows a diff: a worker body taking ``cancel`` that returns one,
    or None when there is nothing to compare (Reload only)."""

    def disk_diff_job(self) -> Callable[..., Any] | None: ...


class ChangeBar(QFrame):
    """The strip above a document that says its file changed on disk."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("diskBar")
        self.setStyleSheet("#diskBar { background: #fff4d6; border-bottom: 1px solid #e0c068; }"
                           " #diskBar QLabel { color: #7a5300; }")
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.compare_button = QPushButton("Compare…", self)
        self.compare_button.setToolTip("Show the differences between what you see and the file on disk")
        self.reload_button = QPushButton("Reload", self)
        self.reload_button.setToolTip("Read the file again (unsaved changes are dropped)")
        self.keep_button = QPushButton("Keep mine", self)
        self.keep_button.setToolTip("Keep what you see; saving will overwrite the file on disk")
        box = QHBoxLayout(self)
        box.setContentsMargins(10, 5, 8, 5)
        box.addWidget(self.label, 1)
        for button in (self.compare_button, self.reload_button, self.keep_button):
            box.addWidget(button)
        self.hide()


class DiskGuard(QObject):
    """Watches one document's file(s) and offers what to do when they change on disk."""

    changeShown = Signal()  # the bar is up
    reloadedQuietly = Signal()  # the file changed and the document, without edits, was reloaded
    keptMine = Signal()  # the user chose Keep mine
    diffShown = Signal()  # the compare dialog has its diff

    def __init__(self, document: Any, *, keep_label: str = "Keep mine",
                 keep_marks_modified: bool = True) -> None:
        super().__init__(document)
        self.document = document
        self.keep_marks_modified = keep_marks_modified  # False where edits are on disk already
        self.bar = ChangeBar(document)
        self.bar.keep_button.setText(keep_label)
        self.bar.reload_button.clicked.connect(self._on_reload)
        self.bar.keep_button.clicked.connect(self.keep_mine)
        self.bar.compare_button.clicked.connect(self.compare)
        self.note: Callable[[], str] | None = None  # an extra sentence for the bar (HDF5 writable)
        self.recorded: DiskStamp | None = None
        self.diff_dialog: DiffDialog | None = None
        self._paths: list[str] = []
        self._suspended = 0
        self._generation = 0
        self._workers: list[Worker] = []
        self._diff_worker: Worker | None = None
        self._diff_generation = 0
        self.watcher = QFileSystemWatcher(self)
        self.watcher.fileChanged.connect(self._on_fs_event)
        self.watcher.directoryChanged.connect(self._on_fs_event)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.check)

    # -- what is watched -------------------------------------------------------------------------
    def paths(self) -> list[str]:
        if isinstance(self.document, WatchesSeveralFiles):
            return list(self.document.watched_paths())
        return [self.document.path] if self.document.path else []

    def _watch(self) -> None:
        """Watch the files that exist and their folders; drop what is no longer ours."""
        files = [p for p in self._paths if os.path.exists(p)]
        folders = sorted({os.path.dirname(p) or "." for p in self._paths})
        stale = [p for p in self.watcher.files() + self.watcher.directories()
                 if p not in files and p not in folders]
        if stale:
            self.watcher.removePaths(stale)
        wanted = [p for p in files if p not in self.watcher.files()]
        wanted += [d for d in folders if d not in self.watcher.directories() and os.path.isdir(d)]
        if wanted:
            self.watcher.addPaths(wanted)

    # -- recording -------------------------------------------------------------------------------
    def record(self) -> None:
        """The document now matches the disk (loaded, saved, kept): remember the file as it is."""
        self._paths = self.paths()
        self._generation += 1
        generation = self._generation
        self._debounce.stop()
        for worker in self._workers:  # hashes of an older state: no longer wanted
            worker.cancel()
        self.recorded = DiskStamp(stat_files(self._paths))
        self._watch()
        self.bar.hide()
        if not self._paths:
            return
        self._start(take_stamp, self._paths,
                    on_result=lambda stamp: self._on_hashed(generation, stamp))

    def _on_hashed(self, generation: int, stamp: DiskStamp | None) -> None:
        if generation != self._generation or stamp is None or self.recorded is None:
            return
        if stamp.stats == self.recorded.stats:
            self.recorded = stamp
        else:  # it changed between the stat and the hash: look again
            self.check()

    def _start(self, fn: Callable[..., Any], *args: Any, on_result: Callable[[Any], None]) -> None:
        worker = run_in_worker(fn, *args, on_result=on_result, on_error=lambda _exc: None)
        self._workers.append(worker)
        worker.signals.finished.connect(lambda: self._workers.remove(worker)
                                        if worker in self._workers else None)

    @contextlib.contextmanager
    def own_write(self) -> Iterator[None]:
        """Wrap the document's own save: changes made meanwhile are ours. Call :meth:`record`
        after a successful save; after a failed one the files are checked again."""
        self._suspended += 1
        try:
            yield
        finally:
            self._suspended -= 1
            if not self._suspended:
                self._debounce.start()  # record() stops it after a save that worked

    # -- noticing changes ------------------------------------------------------------------------
    @Slot(str)
    def _on_fs_event(self, _path: str) -> None:
        if not self._suspended and self.recorded is not None:
            self._debounce.start()

    @Slot()
    def check(self) -> None:
        """Compare the files with the recorded stamp: stats first, a hash only when they moved."""
        if self._suspended or self.recorded is None:
            return
        self._watch()  # a replaced file dropped out of the watch
        stats = stat_files(self._paths)
        if stats == self.recorded.stats and not self.bar.isVisibleTo(self.document):
            return
        generation = self._generation
        self._start(take_stamp, self._paths, on_result=lambda now: self._on_checked(generation, now))

    def _on_checked(self, generation: int, now: DiskStamp | None) -> None:
        if generation != self._generation or now is None or self.recorded is None or self._suspended:
            return
        if content_changed(self.recorded, now):
            self.show_change(now.missing)
        elif not now.missing:
            self.recorded = now  # touched, or written back with the same bytes: nothing to say
            self.bar.hide()

    def check_now(self) -> bool:
        """The same check, waited for (tests, the Files tab's check): True when the file changed
        (the bar shows, or the document was reloaded)."""
        if self.recorded is None:
            return False
        self._watch()
        now = take_stamp(self._paths)
        if now is not None and content_changed(self.recorded, now):
            self.show_change(now.missing)
            return True
        return False

    def show_change(self, deleted: bool) -> None:
        if not deleted and self._reloads_quietly():
            self._on_reload()
            self.document.statusMessage.emit(f"{self.document.title()} changed on disk: reloaded.")
            self.reloadedQuietly.emit()
            return
        title = html.escape(self.document.title())
        if deleted:
            text = (f"<b>{title}</b> was deleted or moved on disk. What you see stays; "
                    "Save writes it back.")
        else:
            text = f"<b>{title}</b> changed on disk."
            if self.document.is_modified():
                text += " Your unsaved changes are kept unless you reload."
        if self.note is not None and self.note():
            text += " " + self.note()
        self.bar.label.setText(text)
        self.bar.reload_button.setVisible(not deleted)
        self.bar.compare_button.setVisible(not deleted and self._diff_job() is not None)
        self.bar.show()
        self.changeShown.emit()

    def _reloads_quietly(self) -> bool:
        """Nothing of the user's would be lost (no unsaved edits, no warning to read)."""
        return not self.document.is_modified() and not (self.note is not None and self.note())

    def is_showing(self) -> bool:
        return self.bar.isVisibleTo(self.document)

    # -- the user's answer -----------------------------------------------------------------------
    @Slot()
    def _on_reload(self) -> None:
        self.bar.hide()
        self.document.reload()
        if self.document.pickle_checked:  # the new content gets its own pickle verdict
            self.document.check_pickle_verdict()

    @Slot()
    def keep_mine(self) -> None:
        """Keep what the document shows; it now differs from the disk, so it counts as unsaved."""
        self.record()
        if self.keep_marks_modified:
            self.document.undo_stack.resetClean()
        self.document.statusChanged.emit()
        self.keptMine.emit()

    def _diff_job(self) -> Callable[..., Any] | None:
        return self.document.disk_diff_job() if isinstance(self.document, ComparesWithDisk) else None

    @Slot()
    def compare(self) -> DiffDialog | None:
        """The diff of the document against the disk (made in a worker), with Reload and Keep mine."""
        job = self._diff_job()
        if job is None:
            self._on_reload()
            return None
        if self.diff_dialog is not None:
            self.diff_dialog.close()
        from gui.common.diff_dialog import DiffDialog  # when first asked: keeps opening quick

        same = self.document.disk_diff_same_text
        dialog = self.diff_dialog = DiffDialog(self.document.title(), self.document.is_modified(),
                                               self.document, same)
        dialog.accepted.connect(self._on_reload)
        dialog.rejected.connect(self.keep_mine)
        dialog.finished.connect(lambda _r: self._on_diff_closed(dialog))
        self._diff_generation += 1
        generation = self._diff_generation
        self._diff_worker = run_in_worker(
            job, on_result=lambda result: self._on_diff(generation, result),
            on_error=lambda exc: self._on_diff(generation, exc))
        dialog.open()
        return dialog

    def _on_diff(self, generation: int, result: Any) -> None:
        if generation == self._diff_generation and self.diff_dialog is not None:
            self._diff_worker = None
            if result is not None:
                self.diff_dialog.show_result(result)
            self.diffShown.emit()

    def _on_diff_closed(self, dialog: DiffDialog) -> None:
        if dialog is self.diff_dialog:
            self._diff_generation += 1
            if self._diff_worker is not None:
                self._diff_worker.cancel()
            self._diff_worker = self.diff_dialog = None
        dialog.deleteLater()

    # -- before a save -----------------------------------------------------------------------------
    def changed_since_recorded(self, parent: QWidget) -> DiskStamp | None:
        """The current stamp when the files changed since they were recorded, else None.

        Hashing waits in a worker behind a progress dialog (it is bounded, so short)."""
        if self.recorded is None or not self._paths:
            return None
        now = run_with_progress(parent, f"Checking {self.document.title()} on disk…", take_stamp,
                                self._paths)
        if now is None or not content_changed(self.recorded, now):
            return None
        return now

    def stop(self) -> None:
        """The document closes: no more watching, no more answers."""
        self._generation += 1
        self._diff_generation += 1
        self._debounce.stop()
        for worker in list(self._workers):
            worker.cancel()
        if self._diff_worker is not None:
            self._diff_worker.cancel()
        if self.diff_dialog is not None:
            self.diff_dialog.close()
        watched = self.watcher.files() + self.watcher.directories()
        if watched:
            self.watcher.removePaths(watched)
        self.recorded = None


def confirm_save(parent: QWidget, document: Document) -> str:
    """Before saving ``document`` over its file: "save" when the file is as it was recorded (or
    the user chose Overwrite), "save_as" or "cancel" after asking."""
    guard: DiskGuard | None = document.disk
    if guard is None:
        return "save"
    now = guard.changed_since_recorded(parent)
    if now is None:
        return "save"
    what = "was deleted or moved" if now.missing else "changed on disk"
    how = (f" (compared by size, date and the first and last {EDGE_BYTES // 2**20} MB: the file is big)"
           if now.partial or (guard.recorded is not None and guard.recorded.partial) else "")
    box = QMessageBox(QMessageBox.Icon.Warning, "File changed on disk",
                      f"The file {document.title()} {what} since you opened it{how}.\n\n"
                      "Overwrite it with your version, save your version under another name, "
                      "or cancel?", QMessageBox.StandardButton.NoButton, parent)
    box.setObjectName("changedOnDiskBox")
    overwrite = box.addButton("Overwrite", QMessageBox.ButtonRole.DestructiveRole)
    overwrite.setObjectName("overwriteButton")
    save_as = box.addButton("Save As…", QMessageBox.ButtonRole.AcceptRole)
    save_as.setObjectName("saveAsButton")
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    cancel.setObjectName("cancelButton")
    box.setDefaultButton(save_as)
    box.exec()
    clicked = box.clickedButton()
    if clicked is overwrite:
        return "save"
    if clicked is save_as:
        return "save_as"
    return "cancel"
