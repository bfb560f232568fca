"""The open database of one SQL document: where it is, its connections, its schema and its mode.

:class:`SqlSession` opens (and reopens) the database in workers — an SQLite file through
:func:`gui.sql.tasks.open_database`, a server through :func:`gui.sql.server.open_server` — and
holds what the opening gave: two read-only connections (pages, and counts, so a slow count never
holds up scrolling), the schema, and the :class:`storage.formats.sql.db.Database` that edits write to.
It owns the workers reading it, so closing cancels them. It has no widget: the document's
widgets follow :attr:`SqlSession.opened` and :attr:`SqlSession.openFailed`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal
from shiboken6 import isValid

from gui.common.workers import Worker as Task
from gui.common.workers import run_in_worker as run_task
from gui.sql.server import ServerConnection, open_server
from gui.sql.tasks import live_tasks, open_database
from storage.core.sqlite_recover import BUSY_TIMEOUT_MS, roll_back_hot_journal
from storage.formats.sql.db import Database, SqliteDatabase
from storage.formats.sql.schema_types import Schema
from storage.formats.sql.sqlite_db import Reader


class SqlSession(QObject):
    """One open database (an SQLite file, or a server from a URL) and the workers reading it."""

    opened = Signal()  # the connections and the schema are in
    openFailed = Signal(object)  # the exception: why it could not be opened (or connected)

    def __init__(self, path: str | None, connection: ServerConnection, read_only: bool,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = path
        self.connection = connection  # inert for a file
        self.database: Database | None = connection.db
        self.schema: Schema | None = None
        self.reader: Reader | None = None  # pages of the grid
        self.counter: Reader | None = None  # counts, exports: never holds up the pages
        self.read_only = read_only
        self.immutable = False  # read with immutable=1 (a WAL file read-only, or as it is on disk)
        self.on_disk = False  # the user chose to read a database with a hot journal as it is on disk
        self._workers: list[Task] = []
        self._generation = 0  # bumped by each (re)open: a late answer for an older one is dropped

    @property
    def is_server(self) -> bool:
        return self.connection.is_server

    # -- workers -----------------------------------------------------------------------------
    def start_task(self, fn: Callable[..., Any], *args: Any, on_result: Callable[[Any], None] | None = None,
                   on_error: Callable[[BaseException], None] | None = None) -> Task:
        """Run ``fn(*args)`` on a worker; the callbacks are skipped once the session is gone."""
        task = run_task(fn, *args, on_result=self._while_alive(on_result),
                        on_error=self._while_alive(on_error))
        self._workers = [t for t in self._workers if t in live_tasks()] + [task]
        return task

    def _while_alive(self, callback: Callable[[Any], None] | None) -> Callable[[Any], None] | None:
        """``callback``, skipped when its answer arrives after this session (and its document) is
        gone: a worker outliving a closed tab."""
        if callback is None:
            return None

        def call(value: Any) -> None:
            if isValid(self):
                callback(value)

        return call

    def cancel(self) -> None:
        """Stop every read under way: the connections' statements and the workers."""
        for reader in (self.reader, self.counter):
            if reader is not None:
                reader.interrupt()
        for worker in self._workers:
            worker.cancel()

    # -- opening -------------------------------------------------------------------------------
    def open(self) -> None:
        """(Re)open: new connections and the schema, read in a worker; then :attr:`opened` (or
        :attr:`openFailed`)."""
        self.close_readers()
        self._generation += 1
        generation = self._generation
        if self.is_server:
            connection = self.connection
            self.start_task(open_server, connection.url, connection.password, connection.db,
                            on_result=lambda r: self._on_opened(generation, r),
                            on_error=lambda e: self._on_failed(generation, e))
            return
        self.start_task(open_database, self.path, self.read_only, self.on_disk,
                        on_result=lambda r: self._on_opened(generation, r),
                        on_error=lambda e: self._on_failed(generation, e))

    def _on_opened(self, generation: int, result: dict[str, Any]) -> None:
        if generation != self._generation:
            result["reader"].close()
            result["counter"].close()
            return
        self.reader, self.counter = result["reader"], result["counter"]
        self.schema = result["schema"]
        self.immutable = result["immutable"]
        if self.is_server:
            self.connection.db = self.database = result["database"]
            self.database.read_only = self.read_only
        else:
            self.database = SqliteDatabase(self.path or "", self.immutable, self.read_only)
        self.opened.emit()

    def _on_failed(self, generation: int, exc: BaseException) -> None:
        if generation == self._generation:
            self.openFailed.emit(exc)

    def roll_back(self, on_result: Callable[[Any], None], on_error: Callable[[BaseException], None]) -> None:
        """Let SQLite's recovery undo the change a stopped program left unfinished (in a worker)."""
        self.start_task(roll_back_hot_journal, self.path or "", BUSY_TIMEOUT_MS / 1000,
                        on_result=on_result, on_error=on_error)

    def try_password(self, password: str) -> None:
        """Connect with a password typed after the server refused one; it is the connection's then."""
        from storage.formats.sql.url import open_database_url  # SQLAlchemy: servers only

        generation = self._generation
        self.start_task(open_database_url, self.connection.url, password,
                        on_result=lambda db: self._on_password_taken(generation, password, db),
                        on_error=lambda e: self._on_failed(generation, e))

    def _on_password_taken(self, generation: int, password: str, database: Any) -> None:
        if generation != self._generation:
            database.close()
            return
        self.connection.take_password(password, database)
        self.open()

    # -- closing -------------------------------------------------------------------------------
    def close_readers(self) -> None:
        """Cancel the workers and close the connections (a reopen or VACUUM follows, or the end)."""
        for worker in self._workers:
            worker.cancel()
        for reader in (self.reader, self.counter):
            if reader is not None:
                reader.close()
        self.reader = self.counter = None

    def close(self) -> None:
        """The document closes: late answers are dropped, every connection is closed."""
        self._generation += 1
        self.close_readers()
        self.connection.close()
