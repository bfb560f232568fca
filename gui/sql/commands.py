"""Undo commands of the SQL tab: each redo/undo is one short write through storage.formats.sql.edit.

A command whose write the database refuses (a constraint, a malformed value, no permission)
fails at once: the reason in the message bar, the cell back to the stored value. A write that may
succeed later (the connection was lost, the file was locked) stays visible: the cell keeps the
typed value, marked, with the reason in its tooltip, and the document keeps it as a pending edit
(Retry, Discard). Either way the command is made obsolete so the stack never claims an edit that
is not in the database. Writes go to the document's :class:`storage.formats.sql.db.Database` (a file or a
server), each on a worker (:func:`in_worker`): the GUI thread never waits for the database.

Every write is conditional on the row still holding what was read (the optimistic check of
:mod:`storage.formats.sql.edit`): when someone else changed it, the document asks Overwrite / Keep
theirs / Cancel with both values, and Cancel of an undo or redo puts the stack index back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtGui import QUndoCommand, QUndoStack

from gui.common.workers import run_with_progress
from storage.core.errors import KnownError, UnsupportedError
from storage.formats.sql.db import Database
from storage.formats.sql.edit import (
    UNKNOWN,
    CellWrite,
    Conflict,
    delete_row,
    delete_rows,
    insert_row,
    read_row,
    restore_rows,
    update_cell,
    update_cells,
)
from storage.formats.sql.errors import ConnectionLost, worth_retrying
from storage.formats.sql.schema_types import Table
from storage.recovery.payload import pack_sql_edits, sql_edits_of, unpack

if TYPE_CHECKING:
    from gui.sql.document import SqlDocument

T = TypeVar("T")



def _give_up(command: QUndoCommand, document: Any, exc: KnownError,
             message: Callable[[KnownError], str]) -> None:
    """A write the database refused: say why (the Reconnect bar too when the link is gone) and
    drop the step from the stack, for the database holds what it held."""
    exc = document.explain_write_error(exc)
    document.note_error(exc)
    document.show_message(message(exc), "error")
    command.setObsolete(True)

class WriteInProgress(KnownError):
    """A write asked for while the document's previous write is still on its worker."""


def in_worker(document: SqlDocument, write: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one database write on a worker and return its answer (or raise its error).

    The command that asked completes when the worker answers; meanwhile the GUI thread keeps
    painting (:func:`gui.common.workers.run_with_progress`: an event loop, and a modal progress dialog
    once the write takes longer than a moment), and live refresh holds off, so the document's own
    write is never taken for another program's.
    """
    if document.is_writing():  # a second change while the first is on its way (the GUI loop runs)
        raise WriteInProgress("another change is still being written; make this one again in a moment")
    with document.writing():
        return run_with_progress(document, "Writing to the database…", lambda: write(*args, **kwargs))


def read_in_worker(parent: Any, read: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A read the GUI must have before it goes on (a row to copy, what a lost write did): on a
    worker, the GUI thread painting meanwhile, like :func:`in_worker`."""
    return run_with_progress(parent, "Reading from the database…", lambda: read(*args, **kwargs))


class EditCell(QUndoCommand):
    """One cell: redo writes ``new`` if the cell still holds ``old``, undo writes ``old`` back if
    it still holds ``new`` (the optimistic check, see :func:`storage.formats.sql.edit.update_cell`).

    When someone else changed the cell since, the document asks Overwrite / Keep theirs /
    Cancel with both values. Cancel leaves the stack where it was: the step stays to undo (or
    redo) later. ``written`` marks a command whose write is known done already (found after a
    lost connection): pushing it writes nothing.
    """

    def __init__(self, document: SqlDocument, table: str, key: dict[str, Any], row: int,
                 column: int, name: str, old: Any, new: Any, schema: str | None = None,
                 check_in_sql: bool = True, decl_type: str = "") -> None:
        super().__init__(f"edit {name}")
        self.document, self.table, self.key = document, table, key
        self.row, self.column, self.name = row, column, name
        self.old, self.new = old, new
        self.schema = schema
        self.check_in_sql = check_in_sql
        self.decl_type = decl_type
        self.error = ""
        self.error_obj: KnownError | None = None
        self.written = False  # the database holds ``new`` already: the first redo is only a record
        self._pushed = False
        self._restore_index: str | None = None  # "undo"/"redo": the next call only moves the index back

    def retry(self) -> EditCell:
        """A new command writing the same value again (after Reconnect), at the row that holds
        its key now (-1 when that row is not loaded: the write goes by key anyway)."""
        row = self.document.pending.row_of(self)
        return EditCell(self.document, self.table, self.key, row, self.column, self.name,
                        self.old, self.new, self.schema, self.check_in_sql, self.decl_type)

    def _write(self, value: Any, expected: Any, undoing: bool) -> None:
        try:
            in_worker(self.document, update_cell, self.document.database, self.table, self.key, self.name,
                      value, schema=self.schema, expected=expected, check_in_sql=self.check_in_sql,
                      decl_type=self.decl_type)
        except Conflict as exc:
            self._conflict(value, exc.current, undoing)
            return
        except KnownError as exc:
            exc = self.document.explain_write_error(exc)
            self.error, self.error_obj = str(exc), exc
            if not worth_retrying(exc):  # refused: said, and the cell shows what the database holds
                self.document.edit_refused(self.row, self.column, str(exc))
            else:
                self.document.edit_failed(self.row, self.column, value, str(exc))
                if value is self.new:  # a failed undo leaves the database holding the new value
                    self.document.pending.add(self)
            self.setObsolete(True)
            return
        self.document.edit_written(self.row, self.column, value)

    def _conflict(self, value: Any, theirs: Any, undoing: bool) -> None:
        """Someone else wrote ``theirs`` since we read the cell: ask, then act on the answer."""
        answer = self.document.ask_conflict(f"{self.name!r} of {self.table!r}", value, theirs, undoing)
        if answer == "overwrite":
            self._write(value, theirs, undoing)  # conditional on theirs: a third writer asks again
            return
        self.document.cell_changed(self.row, self.column, theirs)
        if answer == "theirs" or not self._pushed:
            self.document.show_message(f"Kept the value someone else wrote in {self.name!r}; "
                                       "yours was not written.")
            self.setObsolete(True)
            return
        # Cancel of an undo or a redo: nothing written, and the stack goes back where it was.
        self.document.show_message(f"Nothing written: {self.name!r} holds someone else's value.")
        self._restore_index = "redo" if undoing else "undo"
        stack = self.document.undo_stack
        QTimer.singleShot(0, stack.redo if undoing else stack.undo)

    def _only_index(self, call: str) -> bool:
        if self._restore_index == call:
            self._restore_index = None
            return True
        return False

    def redo(self) -> None:
        if self._only_index("redo"):
            return
        first = not self._pushed
        if first and self.written:
            self.document.edit_written(self.row, self.column, self.new)
        else:
            self._write(self.new, self.old, False)
        self._pushed = True

    def undo(self) -> None:
        if self._only_index("undo"):
            return
        self._write(self.old, self.new, True)


@dataclass(frozen=True)
class CellEdit:
    """One cell of :class:`EditCells`: where it is shown, its row key, and old and new value."""

    row: int
    column: int
    key: dict[str, Any]
    name: str
    old: Any
    new: Any
    check_in_sql: bool = True
    decl_type: str = ""


class EditCells(QUndoCommand):
    """Many cells at once (a paste, a cut) in ONE transaction: all are written or none.

    Redo writes each ``new`` where the cell still holds ``old`` and undo the other way round
    (the optimistic check of :func:`storage.formats.sql.edit.update_cells`). When the database
    refuses, or someone else changed one of the cells since, nothing is written, the reason is
    shown and the step leaves the stack: the database holds what it held.
    """

    def __init__(self, document: SqlDocument, table: str, cells: list[CellEdit], text: str,
                 schema: str | None = None) -> None:
        super().__init__(text)
        self.document, self.table, self.cells, self.schema = document, table, cells, schema

    def _write(self, undoing: bool) -> None:
        writes = [CellWrite(c.key, c.name, c.old if undoing else c.new, c.new if undoing else c.old,
                            c.check_in_sql, c.decl_type) for c in self.cells]
        what = "Could not undo the change" if undoing else f"Not written ({self.text()})"
        try:
            in_worker(self.document, update_cells, self.document.database, self.table, writes,
                      schema=self.schema)
        except Conflict as exc:
            position, theirs = exc.items[0]
            cell = self.cells[position]
            self.document.cell_changed(cell.row, cell.column, theirs)
            self.document.show_message(f"{what}: someone else changed {cell.name!r} of a row since "
                                       "it was read; nothing was written.", "error")
            self.setObsolete(True)
            return
        except KnownError as exc:
            _give_up(self, self.document, exc, lambda e: f"{what}: {e}; nothing was written.")
            return
        for cell in self.cells:
            self.document.edit_written(cell.row, cell.column, cell.old if undoing else cell.new)

    def redo(self) -> None:
        self._write(False)

    def undo(self) -> None:
        self._write(True)


class InsertRow(QUndoCommand):
    """A new row of defaults, or a copy of ``values`` (duplicate)."""

    def __init__(self, document: SqlDocument, table: str, values: dict[str, Any],
                 key_columns: list[str], text: str = "insert row", schema: str | None = None) -> None:
        super().__init__(text)
        self.document, self.table, self.values, self.key_columns = document, table, values, key_columns
        self.key: dict[str, Any] | None = None
        self.schema = schema

    def redo(self) -> None:
        values = dict(self.values)
        if self.key is not None:
            values.update(self.key)  # redo puts the row back under the same key
        try:
            self.key = in_worker(self.document, insert_row, self.document.database, self.table, values,
                                 self.key_columns, schema=self.schema)
        except KnownError as exc:
            _give_up(self, self.document, exc, lambda e: f"Not inserted: {e}")
            return
        self.document.rows_changed()

    def undo(self) -> None:
        if self.key is None:
            return
        try:
            in_worker(self.document, delete_row, self.document.database, self.table, self.key,
                      schema=self.schema)
        except KnownError as exc:
            _give_up(self, self.document, exc, lambda e: f"Could not undo the insert: {e}")
            return
        self.document.rows_changed()


class DeleteRows(QUndoCommand):
    """Delete rows in one transaction, each only if it still holds what the grid showed
    (``seen``); undo puts them back under their keys unless someone has used a key since.
    Either way a changed row asks Delete anyway (Restore anyway) / Keep theirs / Cancel.

    ``saved`` given: the rows are known deleted already (found after a lost connection), so
    pushing the command writes nothing.
    """

    def __init__(self, document: SqlDocument, table: str, keys: list[dict[str, Any]],
                 columns: list[str], alias: str | None = None, schema: str | None = None,
                 seen: list[tuple | None] | None = None,
                 saved: list[dict[str, Any]] | None = None, types: list[str] | None = None) -> None:
        super().__init__(f"delete {len(keys)} row(s)")
        self.document, self.table, self.keys, self.columns = document, table, keys, columns
        self.schema = schema
        self.alias = alias  # the INTEGER PRIMARY KEY column that is the rowid, if any
        self.seen = seen
        self.types = list(types or [])
        self.saved: list[dict[str, Any]] = list(saved or [])
        self._written = saved is not None
        self._restore_index: str | None = None
        self._pushed = False

    def _only_index(self, call: str) -> bool:
        if self._restore_index == call:
            self._restore_index = None
            return True
        return False

    def _cancel(self, undoing: bool) -> None:
        if not self._pushed:
            self.setObsolete(True)
            return
        self._restore_index = "redo" if undoing else "undo"
        stack = self.document.undo_stack
        QTimer.singleShot(0, stack.redo if undoing else stack.undo)

    def redo(self) -> None:
        if self._only_index("redo"):
            return
        first = not self._pushed
        try:
            self._redo(first)
        finally:
            self._pushed = True

    def _redo(self, first: bool) -> None:
        if first and self._written:
            self.document.rows_changed()
            return
        db = self.document.database
        seen = self.seen if first else None  # a redo compares with what its undo put back
        skip: frozenset[int] = frozenset()
        force = False
        while True:
            try:
                found = in_worker(self.document, delete_rows, db, self.table, self.keys, self.columns, seen,
                                  schema=self.schema, force=force, skip=skip, types=self.types)
                break
            except Conflict as exc:
                answer = self.document.ask_rows_conflict("Delete", [
                    (seen[i] if seen else None, theirs) for i, theirs in exc.items])
                if answer == "overwrite":
                    force = True
                elif answer == "theirs":
                    skip = frozenset(i for i, _row in exc.items)
                else:
                    self.document.show_message("Nothing deleted.")
                    self._cancel(False)
                    self.document.rows_changed()
                    return
            except KnownError as exc:
                exc = self.document.explain_write_error(exc)
                self._failed(exc, "Not deleted")
                return
        self.saved = []
        for key, row in zip(self.keys, found, strict=True):
            if row is not None:
                values = dict(zip(self.columns, row, strict=True))
                self.saved.append(values if self.alias else {**values, **key})
        if not self.saved:
            self.setObsolete(True)
        self.document.rows_changed()

    def _failed(self, exc: KnownError, what: str) -> None:
        self.setObsolete(True)
        if isinstance(exc, ConnectionLost):  # did it happen? asked again once the connection is back
            self.document.pending.outcome_unknown(self, exc)
        else:
            self.document.note_error(exc)
            self.document.show_message(f"{what}: {exc}", "error")
        self.document.rows_changed()

    def undo(self) -> None:
        if self._only_index("undo"):
            return
        db = self.document.database
        key_columns = list(self.keys[0])
        replace: frozenset[int] = frozenset()
        skip: frozenset[int] = frozenset()
        while True:
            try:
                in_worker(self.document, restore_rows, db, self.table, self.saved, key_columns,
                          schema=self.schema, replace=replace, skip=skip, types=self.types)
                break
            except Conflict as exc:
                answer = self.document.ask_rows_conflict("Restore", [
                    (tuple(self.saved[i].values()), theirs) for i, theirs in exc.items])
                if answer == "overwrite":
                    replace = frozenset(i for i, _row in exc.items)
                elif answer == "theirs":
                    skip = frozenset(i for i, _row in exc.items)
                else:
                    self.document.show_message("Nothing put back.")
                    self._cancel(True)
                    self.document.rows_changed()
                    return
            except KnownError as exc:
                _give_up(self, self.document, exc, lambda e: f"Could not undo the delete: {e}")
                break
        self.document.rows_changed()

    def verify(self) -> tuple[list[dict[str, Any]], int]:
        """After a lost connection: (the deleted rows as the grid showed them, for undo; the
        rows still there), read by key. A row the grid had cut cannot be put back by undo."""
        db = self.document.database
        seen = self.seen or [None] * len(self.keys)
        gone, there = [], 0
        for key, shown_row in zip(self.keys, seen, strict=False):
            if read_row(db, self.table, key, list(key), schema=self.schema) is not None:
                there += 1
            elif shown_row is not None and UNKNOWN not in shown_row:
                values = dict(zip(self.columns, shown_row, strict=True))
                gone.append(values if self.alias else {**values, **key})
        return gone, there


class PendingHost(Protocol):
    """What the pending edits need from their document: the grid's model marks the cells."""

    table: Table | None  # the table the grid shows
    model: Any  # the grid's model: mark_failed_key / clear_failed_key / row_of_key
    undo_stack: QUndoStack
    read_only: bool
    database: Database | None

    def show_message(self, text: str, kind: str = "info") -> None: ...
    def note_error(self, error: BaseException) -> bool: ...


class PendingEdits(QObject):
    """Writes that failed but may succeed later (the connection was lost, the file was locked).

    Edits stay visible, marked in their cells by row key, until Retry writes them (each as a new
    undoable command) or Discard forgets them; they are unsaved work, journaled for crash
    recovery. Deletes whose outcome a lost connection left unknown are read again by key once
    the connection is back (:meth:`check_outcomes`)."""

    changed = Signal()  # the list of pending edits changed

    def __init__(self, host: PendingHost, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.edits: list[EditCell] = []  # EditCell commands whose write failed
        self.unknown_outcomes: list[DeleteRows] = []

    def add(self, command: EditCell) -> None:
        """An edit's write failed: keep it to retry (the cell stays marked)."""
        if command not in self.edits:
            self.edits.append(command)
        # Marked by its row key from now on: the mark follows the row through sorts and filters.
        model = self.host.model
        model.clear_failed(command.row, command.column)
        if self.shows(command):
            model.mark_failed_key(command.key, command.column, command.new, command.error)
        self.changed.emit()

    def outcome_unknown(self, command: DeleteRows, error: KnownError) -> None:
        """A delete lost its connection mid-write: it may have happened. Say so, and find out
        (by reading the rows by key) once the connection is back, never guess."""
        if command not in self.unknown_outcomes:
            self.unknown_outcomes.append(command)
        self.host.note_error(error)
        self.host.show_message(f"The connection was lost while deleting {len(command.keys)} row(s): "
                               "whether they were deleted is checked when the connection is back "
                               "(Reconnect).", "error")

    def shows(self, command: EditCell) -> bool:
        """Whether the grid shows the table of an edit command."""
        table = self.host.table
        return table is not None and command.table == table.name and command.schema == table.schema

    def row_of(self, command: EditCell) -> int:
        """The grid row holding an edit's row key now; -1 when not loaded or another table is shown."""
        row = self.host.model.row_of_key(command.key) if self.shows(command) else None
        return -1 if row is None else row

    def remark(self) -> None:
        """After the grid reloads: the failed edits of the table shown stay marked in their cells,
        found by row key (the row they were on may hold another row now, or none)."""
        for command in self.edits:
            if self.shows(command):
                self.host.model.mark_failed_key(command.key, command.column, command.new, command.error)

    def _unmark(self, commands: list[EditCell]) -> None:
        for command in commands:
            if self.shows(command):
                self.host.model.clear_failed_key(command.key, command.column)

    @Slot()
    def retry(self) -> None:
        """Write the failed edits again, each as a new undoable command."""
        if self.host.read_only:  # restored into a file opened read-only: nothing is written there
            self.host.show_message("Read-only: switch Read-only off to write the edits kept.", "error")
            return
        pending, self.edits = self.edits, []
        self.changed.emit()
        self._unmark(pending)
        for at, command in enumerate(pending):
            self.host.undo_stack.push(command.retry())
            if self.edits and isinstance(self.edits[-1].error_obj, ConnectionLost):
                # Still unreachable: the others stay pending without a connect timeout each.
                self.edits.extend(c for c in pending[at + 1:] if c not in self.edits)
                self.remark()
                break
        self.changed.emit()

    @Slot()
    def discard(self) -> None:
        """Forget the failed edits: the cells show what the database holds again."""
        pending, self.edits = self.edits, []
        self._unmark(pending)
        self.changed.emit()

    def check_outcomes(self) -> None:
        """After (re)connecting to a server: read by key what lost writes did, and say the truth.

        A delete found done becomes an undoable step; an edit found written leaves the pending
        list (its cell shows the value, unmarked) and becomes an undoable step too."""
        host = self.host
        if host.database is None:
            return
        said = []
        for command in list(self.unknown_outcomes):
            try:
                gone, there = read_in_worker(host, command.verify)
            except KnownError as exc:
                host.note_error(exc)
                return  # still unreachable: asked again at the next Reconnect
            self.unknown_outcomes.remove(command)
            deleted = len(command.keys) - there
            if deleted:
                if gone:  # undoable: the rows as the grid showed them
                    host.undo_stack.push(type(command)(command.document, command.table, command.keys,
                                                       command.columns, command.alias, command.schema,
                                                       command.seen, saved=gone, types=command.types))
                said.append(f"Deleted {deleted} row(s): confirmed after the connection came back.")
            if there and deleted:
                said.append(f"{there} row(s) were not deleted.")
            elif there:
                said.append(f"Not deleted: {there} of {len(command.keys)} row(s) are still there "
                            "(the connection was lost before the delete was written).")
        for command in list(self.edits):
            if not isinstance(command.error_obj, ConnectionLost):
                continue
            try:
                found = read_in_worker(host, read_row, host.database, command.table, command.key,
                                       [command.name], schema=command.schema)
            except KnownError as exc:
                host.note_error(exc)
                return
            if found is not None and found[0] == command.new and command.new != command.old:
                self.edits.remove(command)
                self._unmark([command])
                done = command.retry()
                done.written = True
                host.undo_stack.push(done)
                said.append(f"The edit of {command.name!r} was written before the connection was lost.")
        if said:
            self.changed.emit()
            host.show_message(" ".join(said))

    # -- crash recovery: edits not written are journaled like any unsaved document's ------------
    def journal_payload(self) -> bytes | None:
        if not self.edits:
            return None
        return pack_sql_edits([{"table": c.table, "schema": c.schema, "key": c.key, "row": c.row,
                                "column": c.column, "name": c.name, "old": c.old, "new": c.new,
                                "decl_type": c.decl_type, "check_in_sql": c.check_in_sql,
                                "error": c.error} for c in self.edits])

    def restore(self, document: SqlDocument, payload: bytes) -> None:
        """The edits a crash left unwritten come back as pending edits (Retry writes them, each
        only where the row still holds the value it had; Discard forgets them)."""
        kind, _header, body = unpack(payload)
        if kind != "sql-edits":
            raise UnsupportedError(f"The recovery data holds {kind} edits, not database edits.")
        for edit in sql_edits_of(body):
            command = EditCell(document, edit["table"], edit["key"], int(edit.get("row", 0)),
                               int(edit.get("column", 0)), edit["name"], edit["old"], edit["new"],
                               edit.get("schema"), bool(edit.get("check_in_sql", True)),
                               str(edit.get("decl_type") or ""))
            command.error = "kept from before Datashelf closed unexpectedly; not written yet"
            self.edits.append(command)
        self.remark()
        self.changed.emit()
