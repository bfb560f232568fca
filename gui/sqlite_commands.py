"""Undo commands of the SQLite tab: each redo/undo is one short write through storage.sqlite_edit.

A command whose write fails stays visible: the cell keeps the typed value, marked, with the
reason in its tooltip and in the document's message bar; the command is made obsolete so the
stack never claims an edit that is not in the file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QUndoCommand

from storage.errors import KnownError
from storage.sqlite_edit import delete_row, insert_row, read_row, update_cell

if TYPE_CHECKING:
    from .sqlite_document import SqliteDocument


class EditCell(QUndoCommand):
    def __init__(self, document: SqliteDocument, table: str, key: dict[str, Any], row: int,
                 column: int, name: str, old: Any, new: Any) -> None:
        super().__init__(f"edit {name}")
        self.document, self.table, self.key = document, table, key
        self.row, self.column, self.name = row, column, name
        self.old, self.new = old, new

    def _write(self, value: Any) -> None:
        model = self.document.model
        try:
            update_cell(self.document.path or "", self.table, self.key, self.name, value)
        except KnownError as exc:
            self.document.edit_failed(self.row, self.column, value, str(exc))
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
                 key_columns: list[str], text: str = "insert row") -> None:
        super().__init__(text)
        self.document, self.table, self.values, self.key_columns = document, table, values, key_columns
        self.key: dict[str, Any] | None = None

    def redo(self) -> None:
        values = dict(self.values)
        if self.key is not None:
            values.update(self.key)  # redo puts the row back under the same key
        try:
            self.key = insert_row(self.document.path or "", self.table, values, self.key_columns)
        except KnownError as exc:
            self.document.show_message(f"Not inserted: {exc}", "error")
            self.setObsolete(True)
            return
        self.document.rows_changed()

    def undo(self) -> None:
        if self.key is None:
            return
        try:
            delete_row(self.document.path or "", self.table, self.key)
        except KnownError as exc:
            self.document.show_message(f"Could not undo the insert: {exc}", "error")
            self.setObsolete(True)
            return
        self.document.rows_changed()


class DeleteRows(QUndoCommand):
    def __init__(self, document: SqliteDocument, table: str, keys: list[dict[str, Any]],
                 columns: list[str], alias: str | None = None) -> None:
        super().__init__(f"delete {len(keys)} row(s)")
        self.document, self.table, self.keys, self.columns = document, table, keys, columns
        self.alias = alias  # the INTEGER PRIMARY KEY column that is the rowid, if any
        self.saved: list[dict[str, Any]] = []

    def redo(self) -> None:
        path = self.document.path or ""
        try:
            self.saved = []
            for key in self.keys:
                row = read_row(path, self.table, key, self.columns)
                if row is not None:
                    values = dict(zip(self.columns, row, strict=True))
                    self.saved.append(values if self.alias else {**values, **key})
                delete_row(path, self.table, key)
        except KnownError as exc:
            self.document.show_message(f"Not deleted: {exc}", "error")
            self.setObsolete(True)
        self.document.rows_changed()

    def undo(self) -> None:
        path = self.document.path or ""
        try:
            for values in self.saved:
                insert_row(path, self.table, values, list(self.keys[0]))
        except KnownError as exc:
            self.document.show_message(f"Could not undo the delete: {exc}", "error")
            self.setObsolete(True)
        self.document.rows_changed()
