"""Editing in the SQLite tab: cells, NULLs, BLOBs from files, inserted, copied and deleted rows.

A mixin of :class:`gui.sqlite_document.SqliteDocument`; every edit is an undo command from
:mod:`gui.sqlite_commands` that writes at once in its own short transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, Qt, Slot
from PySide6.QtWidgets import QApplication, QFileDialog, QMenu, QStyledItemDelegate

from storage.errors import KnownError
from storage.sql_filter import coerce
from storage.sql_values import field_kind
from storage.sqlite_bounds import LargeValue, raised_limit
from storage.sqlite_db import LockedError
from storage.sqlite_edit import UNKNOWN, comparable, read_row

from .sqlite_commands import DeleteRows, EditCell, InsertRow
from .sqlite_fields import Invalid, LineEdit, create_editor
from .sqlite_tasks import esc
from .workers import Worker as Task

if TYPE_CHECKING:
    from .sqlite_document import SqliteDocument


_GRID = object()  # edit_cell's default: the old value is the grid's cached one


class CellDelegate(QStyledItemDelegate):
    """Opens the editor of the cell's kind (numbers, dates, text) and writes through edit_cell.

    Cells cut for the grid (long text, BLOBs) are edited in the Record tab, which loads them whole.
    """

    def __init__(self, document: SqliteDocument) -> None:
        super().__init__(document)
        self.document = document

    def _kind(self, index: QModelIndex) -> tuple[str, str]:
        model = index.model()
        types = getattr(model, "types", [])
        decl = types[index.column()] if index.column() < len(types) else ""
        return field_kind(decl, index.data(Qt.ItemDataRole.EditRole)), decl

    def createEditor(self, parent, option, index):
        fk_editor = self.document.fks.fk_editor(index, parent)
        if fk_editor is not None:
            return fk_editor
        kind, decl = self._kind(index)
        if kind == "blob" or self.document.model.is_cut(index.row(), index.column()):
            self.document.show_record_of(index)
            return None
        editor = create_editor(kind, decl, parent)
        if isinstance(editor, LineEdit):
            editor.setPlaceholderText("NULL")
        return editor

    def updateEditorGeometry(self, editor, option, index) -> None:
        rect = option.rect  # a date editor wider than its column spills over: the date stays readable
        rect.setWidth(max(rect.width(), editor.sizeHint().width() + 24))
        editor.setGeometry(rect)

    def setEditorData(self, editor, index) -> None:
        editor.set_stored(index.data(Qt.ItemDataRole.EditRole))

    def setModelData(self, editor, model, index) -> None:
        try:
            value = editor.stored()
        except Invalid as exc:
            self.document.show_message(f"Not written: {exc}", "error")
            return
        self.document.edit_cell(index.row(), index.column(), value, convert=isinstance(editor, LineEdit))


class EditingMixin:
    """Edits of the current table, each pushed on the document's undo stack."""

    # -- editing -------------------------------------------------------------------------------
    def show_message(self, text: str, kind: str = "info") -> None:
        """The message line above the grid; it belongs to the table shown (cleared when another
        table is shown, see :meth:`clear_message_of_other_table`)."""
        colour = {"error": "#b42318", "info": "#475467"}.get(kind, "#475467")
        self.message.setText(f"<span style='color:{colour}'>{esc(text)}</span>")
        self.message.setVisible(bool(text))
        self._message_table = self.table.qualified if self.table is not None and text else None

    def explain_write_error(self, exc: KnownError) -> KnownError:
        """A grid write found the file locked while this tab's own Execute SQL transaction is
        open: that transaction holds the write lock, not another program; say so."""
        if isinstance(exc, LockedError) and not self.is_server and self.sql_panel.transaction_open:
            return LockedError("the transaction open in Execute SQL holds this file's write lock: "
                               "Commit or Rollback it in the Execute SQL tab's bar, then Retry",
                               exc.location)
        return exc

    def clear_message_of_other_table(self) -> None:
        """A message about another table than the one shown no longer applies: it goes."""
        if self.message.isVisible() and getattr(self, "_message_table", None) is not None \
                and (self.table is None or self._message_table != self.table.qualified):
            self.show_message("")

    def ask_conflict(self, what: str, ours: Any, theirs: Any, undo: bool = False) -> str:
        """Overwrite / Keep theirs / Cancel: someone else changed the cell since we read it."""
        from .sql_edit_prompts import ask_conflict

        return ask_conflict(self, what, ours, theirs, undo)

    def ask_rows_conflict(self, action: str, rows: list[tuple[Any, Any]]) -> str:
        from .sql_edit_prompts import ask_rows_conflict

        return ask_rows_conflict(self, action, rows)

    def key_of(self, row: int) -> dict[str, Any] | None:
        found = self.model.cached_row(row)
        if found is None or self.model.pager is None:
            return None
        page, _offset = found
        return self.model.pager.row_key(page, row)

    def edit_cell(self, row: int, column: int, text: str | Any, old: Any = _GRID,
                  convert: bool = True) -> None:
        """Write one cell: text is converted with the column's affinity unless ``convert`` is off.

        ``old`` is the whole previous value (for undo); by default the grid's cached value.
        """
        table = self.table
        key = self.key_of(row)
        if table is None or key is None or self.read_only or not table.editable:
            return
        col = table.columns[column]
        if old is _GRID:
            old = self.model.index(row, column).data(Qt.ItemDataRole.EditRole)
            if self.model.is_cut(row, column):  # the grid holds its start: the check needs it whole
                try:
                    found = read_row(self.database, table.name, key, [col.name], schema=table.schema)
                except KnownError as exc:
                    self.show_message(f"Not written: {exc}", "error")
                    return
                old = found[0] if found else old
        # A server reads the text as the column's type itself (exact decimals, dates, JSON).
        server = self.database is not None and not self.database.is_sqlite
        convert = convert and isinstance(text, str) and not server
        value = _convert(text, col.affinity, old) if convert else text
        if value == old and type(value) is type(old):
            return
        self.undo_stack.push(EditCell(self, table.name, key, row, column, col.name, old, value, table.schema,
                                      check_in_sql=not server or comparable(col.decl_type),
                                      decl_type=col.decl_type))

    def set_null(self) -> None:
        for index in self.grid.selectionModel().selectedIndexes() or [self.grid.currentIndex()]:
            if index.isValid():
                self.edit_cell(index.row(), index.column(), None)

    def edit_written(self, row: int, column: int, value: Any) -> None:
        self.note_own_write()
        self.show_message("")
        self.cellWritten.emit(row, column, value)
        self.connection_back()  # a write went through

    def edit_refused(self, row: int, column: int, message: str) -> None:
        """The database refused a write: say why; the cell shows the stored value again."""
        self.model.clear_failed(row, column)
        self.show_message(f"Not written: {message}", "error")
        self.writeFailed.emit(row, column, message)

    def edit_failed(self, row: int, column: int, value: Any, message: str) -> None:
        """A write failed: the cell keeps the typed value, marked; the reason is shown by the field."""
        self.model.mark_failed(row, column, value, message)
        self.show_message(f"Not written: {message}", "error")
        self.writeFailed.emit(row, column, message)

    def show_record_of(self, index: QModelIndex) -> None:
        self.grid.setCurrentIndex(index)
        self.views.setCurrentWidget(self.record)
        self.show_message("Long values and BLOBs are edited in the Record tab.", "info")
        if isinstance(index.data(Qt.ItemDataRole.EditRole), LargeValue):
            self.record.load_whole_row(index)  # "900 MB text — show…": read in a worker, on request

    def rows_changed(self) -> None:
        self.note_own_write()
        self.reload_rows()

    def _rowid_alias(self) -> str | None:
        table = self.table
        if table is None or table.without_rowid or table.key is not None:
            return None
        pks = [c for c in table.columns if c.pk]
        return pks[0].name if len(pks) == 1 and pks[0].decl_type.upper() == "INTEGER" else None

    def new_record(self) -> None:
        """New Record in the Record tab: insert a row, and show it once counted (in rowid order)."""
        self._show_new_record = not self.sort and not self.filters and not self.search.text()
        self.insert_row()

    def insert_row(self) -> None:
        if self.table is None or self.read_only or not self.table.editable:
            return
        self.undo_stack.push(InsertRow(self, self.table.name, {}, self.table.key_columns,
                                       schema=self.table.schema))

    def duplicate_row(self) -> None:
        table = self.table
        key = self.key_of(self.grid.currentIndex().row())
        if table is None or key is None or self.read_only or not table.editable:
            return
        alias = self._rowid_alias()
        # A server's generated key (serial, a DEFAULT) gets a new value; others are copied.
        columns = [c.name for c in table.columns
                   if c.name != alias and not (table.key is not None and c.pk and c.default is not None)]
        try:
            row = read_row(self.database, table.name, key, columns, schema=table.schema)
        except KnownError as exc:
            self.show_message(str(exc), "error")
            return
        if row is None:
            return
        values = dict(zip(columns, row, strict=True))
        self.undo_stack.push(InsertRow(self, table.name, values, table.key_columns, "duplicate row",
                                       table.schema))

    def delete_rows(self) -> None:
        table = self.table
        if table is None or self.read_only or not table.editable:
            return
        rows = sorted({i.row() for i in self.grid.selectionModel().selectedIndexes()}
                      or {self.grid.currentIndex().row()})
        found = [(r, self.key_of(r)) for r in rows if r >= 0]
        found = [(r, k) for r, k in found if k is not None]
        if not found:
            return
        from .sql_edit_prompts import confirm_delete

        if not confirm_delete(self, len(found), table.qualified):
            return
        # What the user saw: each row is deleted only if it still holds it (cut values not compared).
        seen = [self._seen_row(r) for r, _k in found]
        self.undo_stack.push(DeleteRows(self, table.name, [k for _r, k in found],
                                        [c.name for c in table.columns], self._rowid_alias(),
                                        table.schema, seen, types=[c.decl_type for c in table.columns]))

    def _seen_row(self, row: int) -> tuple | None:
        """The grid's values of ``row`` (UNKNOWN where cut), None when it has not all columns."""
        width = self.model.columnCount()
        if self.table is None or width != len(self.table.columns):
            return None
        values = []
        for column in range(width):
            if self.model.is_cut(row, column):
                values.append(UNKNOWN)
            else:
                values.append(self.model.index(row, column).data(Qt.ItemDataRole.EditRole))
        return tuple(values)

    @Slot(object)
    def _on_grid_menu(self, pos) -> None:
        index = self.grid.indexAt(pos)
        menu = QMenu(self)
        editable = self.model.editable and index.isValid()
        menu.addAction("Copy", lambda: QApplication.clipboard().setText(str(index.data() or "")))
        menu.addSeparator()
        menu.addAction("Set NULL", self.set_null).setEnabled(editable)
        menu.addAction("Load from File…", lambda: self._load_blob(index)).setEnabled(editable)
        menu.addAction("Save Value to File…", lambda: self.save_value(index)).setEnabled(index.isValid())
        menu.addSeparator()
        menu.addAction("Insert Row", self.insert_row).setEnabled(self.model.editable)
        menu.addAction("Duplicate Row", self.duplicate_row).setEnabled(editable)
        menu.addAction("Delete Row(s)", self.delete_rows).setEnabled(editable)
        self.fks.add_fk_actions(menu, index)
        menu.popup(self.grid.viewport().mapToGlobal(pos))

    def _load_blob(self, index: QModelIndex) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load Value from File")
        if path:
            self.load_value_from(path, index.row(), index.column())

    def load_value_from(self, path: str, row: int, column: int, old: Any = _GRID) -> Task:
        """Read a file in a worker, then store its bytes in the cell (an undoable edit)."""
        def read(file_path: str) -> bytes:
            try:
                with open(file_path, "rb") as handle:
                    return handle.read()
            except OSError as exc:
                raise KnownError(f"Cannot read {file_path}: {exc.strerror or exc}") from None

        return self.start_task(read, path, on_result=lambda data: self.edit_cell(row, column, data, old))

    def save_value(self, index: QModelIndex) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save Value to File")
        if path:
            self.save_value_to(path, index.row(), index.column())

    def save_value_to(self, path: str, row: int, column: int) -> Task | None:
        """Write a cell's whole value to a file (BLOBs as they are, text as UTF-8), in a worker."""
        key = self.key_of(row)
        if key is None or self.table is None or self.reader is None:
            return None
        reader, db, table, schema = self.reader, self.database, self.table.name, self.table.schema
        name = self.table.columns[column].name

        def read(conn: Any) -> Any:
            with raised_limit(conn):  # the user asked for this value whole, however large
                return read_row(db, table, key, [name], conn, schema=schema)

        def write() -> int:
            from storage.atomic import atomic_write

            found = reader.run(read)
            value = found[0] if found else None
            data = value if isinstance(value, bytes) else b"" if value is None else str(value).encode()
            atomic_write(path, data)
            return len(data)

        return self.start_task(write, on_result=lambda n: self.show_message(f"Saved {n:,} bytes to {path}"))


def _convert(text: str, affinity: str, old: Any) -> Any:
    """The typed value for an edited cell: numbers for numeric columns, else the text."""
    if affinity in ("INTEGER", "REAL", "NUMERIC") or isinstance(old, int | float):
        value = coerce(text)
        if affinity == "REAL" and isinstance(value, int):
            return float(value)
        return value
    return text


