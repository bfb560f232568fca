"""Live refresh of the SQLite tab: reload the visible rows when another program changes the file.

Two signals of a change, both cheap and neither waiting for a lock: a ``QFileSystemWatcher`` on
the database, its ``-wal`` file and their folder (the ``-wal`` file may appear later), debounced
so a burst of writes reloads once; and polling ``PRAGMA data_version`` as the fallback for file
systems that do not report changes. Either way the reload only happens when ``data_version``
moved, and the document's own writes move the baseline first (:meth:`note_own_write`), so an
edit made here is never taken for an external change.

A mixin of :class:`gui.sqlite_document.SqliteDocument`; it shares the document's state.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QFileSystemWatcher, QTimer, Slot

from storage.errors import KnownError
from storage.sqlite_db import connect_reader, data_version

from .sqlite_tasks import REFRESH_MS

DEBOUNCE_MS = 150


class LiveRefreshMixin:
    """Watches the file and reloads the grid on changes made by others."""

    def _init_refresh(self) -> None:
        self._data_version: int | None = None
        self._watcher = None  # a read-only connection asking PRAGMA data_version, GUI thread, no wait
        self.external_reloads = 0  # reloads caused by other programs (tests read it)
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setInterval(REFRESH_MS)
        self._refresh_timer.timeout.connect(self._on_refresh_tick)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self._on_refresh_tick)
        self.file_watcher = QFileSystemWatcher(self)
        self.file_watcher.fileChanged.connect(self._on_file_changed)
        self.file_watcher.directoryChanged.connect(self._on_file_changed)

    def _start_watching(self) -> None:
        """After an open: the data_version baseline, the file watcher and the polling fallback."""
        if self.immutable:  # an immutable reader never sees others' changes: nothing to watch
            return
        path = self.path or ""
        try:
            self._watcher = connect_reader(path, timeout=0)
        except KnownError:
            self._watcher = None
            return
        self._data_version = data_version(self._watcher)
        self._watch_paths()
        self._refresh_timer.start()

    def _watch_paths(self) -> None:
        path = self.path or ""
        wanted = [p for p in (path, path + "-wal", os.path.dirname(path) or ".") if os.path.exists(p)]
        watched = set(self.file_watcher.files()) | set(self.file_watcher.directories())
        missing = [p for p in wanted if p not in watched]
        if missing:
            self.file_watcher.addPaths(missing)

    def _stop_watching(self) -> None:
        self._refresh_timer.stop()
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
        """This document just wrote: take the new data_version as the baseline (not external)."""
        if self._watcher is not None:
            version = data_version(self._watcher)
            if version is not None:
                self._data_version = version

    @Slot()
    def _on_refresh_tick(self) -> None:
        """Ask PRAGMA data_version (microseconds, never waits for a lock): reload on a change."""
        if self._watcher is None:
            return
        if not os.path.exists(self.path or ""):
            self._stop_watching()
            self.show_message(f"{self.path} was deleted or moved; the rows shown may be out of date.",
                              "error")
            return
        self._watch_paths()  # a replaced file drops out of the watcher; a new -wal file joins
        version = data_version(self._watcher)
        if version is None:
            return
        changed = self._data_version is not None and version != self._data_version
        self._data_version = version
        if changed:
            self.external_reloads += 1
            self.reload_rows()

    def reload_rows(self) -> None:
        """The database changed: recount and refetch the visible pages; the scroll position stays."""
        if self.model.pager is None or self.counter is None:
            return
        self.model.refresh()
        self._count_grid(self._generation, self.model.pager, None)
