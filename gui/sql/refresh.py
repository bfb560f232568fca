"""Live refresh of the SQL tab: notice when another program changes the file.

Two signals of a change, both cheap and neither waiting for a lock: a ``QFileSystemWatcher`` on
the database, its ``-wal`` file and their folder (the ``-wal`` file may appear later), debounced
so a burst of writes reloads once; and polling ``PRAGMA data_version`` as the fallback for file
systems that do not report changes. Either way :attr:`LiveRefresh.changed` is only emitted when
``data_version`` moved, and the document's own writes move the baseline first
(:meth:`LiveRefresh.note_own_write`), so an edit made here is never taken for an external change.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal, Slot

from gui.sql.tasks import REFRESH_MS
from storage.core.errors import KnownError
from storage.formats.sql.sqlite_db import connect_reader, data_version

DEBOUNCE_MS = 150


class LiveRefresh(QObject):
    """Watches one SQLite file; emits :attr:`changed` when another program wrote to it."""

    changed = Signal()  # another program changed the database: reload what is shown
    vanished = Signal(str)  # the file was deleted or moved: the message to show

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = ""
        self._data_version: int | None = None
        self._watcher = None  # a read-only connection asking PRAGMA data_version, GUI thread, no wait
        self.external_reloads = 0  # changes made by other programs (tests read it)
        self.held = 0  # the document is writing: its change is not another program's
        self.poll_timer = QTimer(self)
        self.poll_timer.setInterval(REFRESH_MS)
        self.poll_timer.timeout.connect(self.tick)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.tick)
        self.file_watcher = QFileSystemWatcher(self)
        self.file_watcher.fileChanged.connect(self._on_file_changed)
        self.file_watcher.directoryChanged.connect(self._on_file_changed)

    def start(self, path: str) -> None:
        """After an open: the data_version baseline, the file watcher and the polling fallback.
        (Not for an immutable reader: it never sees others' changes.)"""
        self.stop()
        self.path = path
        try:
            self._watcher = connect_reader(path, timeout=0)
        except KnownError:
            self._watcher = None
            return
        self._data_version = data_version(self._watcher)
        self._watch_paths()
        self.poll_timer.start()

    def _watch_paths(self) -> None:
        path = self.path
        wanted = [p for p in (path, path + "-wal", os.path.dirname(path) or ".") if os.path.exists(p)]
        watched = set(self.file_watcher.files()) | set(self.file_watcher.directories())
        missing = [p for p in wanted if p not in watched]
        if missing:
            self.file_watcher.addPaths(missing)

    def stop(self) -> None:
        self.poll_timer.stop()
        self._debounce.stop()
        paths = self.file_watcher.files() + self.file_watcher.directories()
        if paths:
            self.file_watcher.removePaths(paths)
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None

    @Slot(str)
    def _on_file_changed(self, _path: str) -> None:
        if self._watcher is not None:
            self._debounce.start()

    def note_own_write(self) -> None:
        """The document just wrote: take the new data_version as the baseline (not external)."""
        if self._watcher is not None:
            version = data_version(self._watcher)
            if version is not None:
                self._data_version = version

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """While the document writes (its write on a worker, the GUI loop running): no ticks; the
        write's end moves the baseline (:meth:`note_own_write`)."""
        self.held += 1
        try:
            yield
        finally:
            self.held -= 1

    @Slot()
    def tick(self) -> None:
        """Ask PRAGMA data_version (microseconds, never waits for a lock): emit on a change."""
        if self._watcher is None:
            return
        if self.held:
            self._debounce.start()  # asked again once the write is done and noted
            return
        if not os.path.exists(self.path):
            self.stop()
            self.vanished.emit(f"{self.path} was deleted or moved; the rows shown may be out of date.")
            return
        self._watch_paths()  # a replaced file drops out of the watcher; a new -wal file joins
        version = data_version(self._watcher)
        if version is None:
            return
        changed = self._data_version is not None and version != self._data_version
        self._data_version = version
        if changed:
            self.external_reloads += 1
            self.changed.emit()
