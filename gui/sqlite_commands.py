"""Undo commands of the SQL tab: each redo/undo is one short write through storage.sqlite_edit.

A command whose write the database refuses (a constraint, a malformed value, no permission)
fails at once: the reason in the message bar, the cell back to the stored value. A write that may
succeed later (the connection was lost, the file was locked) stays visible: the cell keeps the
typed value, marked, with the reason in its tooltip, and the document keeps it as a pending edit
(Retry, Discard). Either way the command is made obsolete so the stack never claims an edit that
is not in the database. Writes go to the document's :class:`storage.sql_db.Database` (a file or a server).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QUndoCommand

from storage.errors import KnownError
from storage.sql_errors import worth_retrying
from storage.sqlite_edit import delete_row, insert_row, read_row, update_cell

if TYPE_CHECKING:
    from .sqlite_document import SqliteDocument


class EditCell(QUndoCommand):
    def __init__(self, document: SqliteDocument, table: str, key: dict[str, Any], row: int,
                 column: int, name: str, old: Any, new: Any, schema: str | None = None) -> None:
        super().__init__(f"edit {name}")
        self.document, self.table, self.key = document, table, key
        self.row, self.column, self.name = row, column, name
        self.old, self.new = old, new
        self.schema = schema
        self.error = ""
        self.error_obj: KnownError | None = None

    def retry(self) -> EditCell:
        """A new command writing the same value again (after Reconnect)."""
        return EditCell(self.document, self.table, self.key, self.row, self.column, self.name,
                        self.old, self.new, self.schema)

    def _write(self, value: Any) -> None:
        model = self.document.model
        try:
            update_cell(self.document.database, self.table, self.key, self.name, value, schema=self.schema)
        except KnownError as exc:
            self.error, self.error_obj = str(exc), exc
            if not worth_retrying(exc):  # refused: said, and the cell shows what the database holds
                self.document.edit_refused(self.row, self.column, str(exc))
            else:
                self.document.edit_failed(self.row, self.column, value, str(exc))
                if value is self.new:  # a failed undo leaves the database holding the new value
                    self.document.edit_pending(self)
            self.setObsolete(True)
            return
        model.set_cached_value(self.row, self.column, value)
        self.document.edit_written(self.row, self.column, value)

    def redo(self) -> None:
        self._write(self.new)

    def undo(self) -> None:
        self._write(self.old)


class InsertRow(QUndoCommand):
    """A new row of defaults, or a copy of ``values`` (duplicate)."""

    def __init__(self, document: SqliteDocument, table: str, values: dict[str, Any],
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
            self.key = insert_row(self.document.database, self.table, values, self.key_columns,
                                  schema=self.schema)
        except KnownError as exc:
            self.document.note_error(exc)
            self.document.show_message(f"Not inserted: {exc}", "error")
            self.setObsolete(True)
            return
        self.document.rows_changed()

    def undo(self) -> None:
        if self.key is None:
            return
        try:
            delete_row(self.document.database, self.table, self.key, schema=self.schema)
        except KnownError as exc:
            self.document.note_error(exc)
            self.document.show_message(f"Could not undo the insert: {exc}", "error")
            self.setObsolete(True)
            return
        self.document.rows_changed()


class DeleteRows(QUndoCommand):
    def __init__(self, document: SqliteDocument, table: str, keys: list[dict[str, Any]],
                 columns: list[str], alias: str | None = None, schema: str | None = None) -> None:
        super().__init__(f"delete {len(keys)} row(s)")
        self.document, self.table, self.keys, self.columns = document, table, keys, columns
        self.schema = schema
        self.alias = alias  # the INTEGER PRIMARY KEY column that is the rowid, if any
        self.saved: list[dict[str, Any]] = []

    def redo(self) -> None:
        db = self.document.database
        try:
            self.saved = []
            for key in self.keys:
                row = read_row(db, self.table, key, self.columns, schema=self.schema)
                if row is not None:
                    values = dict(zip(self.columns, row, strict=True))
                    self.saved.append(values if self.alias else {**values, **key})
                delete_row(db, self.table, key, schema=self.schema)
        except KnownError as exc:
            self.document.note_error(exc)
            self.document.show_message(f"Not deleted: {exc}", "error")
            self.setObsolete(True)
        self.document.rows_changed()

    def undo(self) -> None:
        db = self.document.database
        try:
            for values in self.saved:
                insert_row(db, self.table, values, list(self.keys[0]), schema=self.schema)
        except KnownError as exc:
            self.document.note_error(exc)
            self.document.show_message(f"Could not undo the delete: {exc}", "error")
            self.setObsolete(True)
        self.document.rows_changed()
