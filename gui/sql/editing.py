"""Editing in the SQL tab: cells, NULLs, BLOBs from files, inserted, copied and deleted rows.

:class:`GridEdits` turns what the user does in the grid (and the record form) into undo commands
from :mod:`gui.sql.commands`, pushed on the document's stack; each writes at once in its own
short transaction and reports back through the document (``edit_written``, ``rows_changed``…),
whose signals the views follow. :class:`CellDelegate` opens the grid's cell editors.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, QObject, QPoint, Qt, Slot
from PySide6.QtWidgets import QApplication, QFileDialog, QMenu, QStyledItemDelegate

from gui.common.clipboard import TableClipboard, fit_block, pasted_text, select_block
from gui.common.file_dialogs import start_folder, suggested_path
from gui.common.workers import Worker as Task
from gui.sql.cells import copied_text, format_value
from storage.core.errors import KnownError
from storage.formats.sql.bounds import LargeValue, raised_limit
from storage.formats.sql.filters import coerce
from storage.formats.sql.values import field_kind

if TYPE_CHECKING:  # the commands and the editors are imported at the first edit (issue 16)
    from gui.sql.browse import BrowsePanel
    from gui.sql.commands import CellEdit
    from gui.sql.document import SqlDocument


_GRID = object()  # edit_cell's default: the old value is the grid's cached one
MAX_COPY_ROWS = 100_000  # rows a copy reads beyond what the grid has loaded


class CellDelegate(QStyledItemDelegate):
    """Opens the editor of the cell's kind (numbers, dates, text) and writes through edit_cell.

    Cells cut for the grid (long text, BLOBs) are edited in the Record tab, which loads them whole.
    """

    def __init__(self, document: SqlDocument) -> None:
        super().__init__(document)
        self.document = document

    def _kind(self, index: QModelIndex) -> tuple[str, str]:
        model = index.model()
        types = getattr(model, "types", [])
        decl = types[index.column()] if index.column() < len(types) else ""
        return field_kind(decl, index.data(Qt.ItemDataRole.EditRole)), decl

    def createEditor(self, parent, option, index):
        from gui.sql.fields import LineEdit, create_editor

        fk_editor = self.document.fks.fk_editor(index, parent)
        if fk_editor is not None:
            return fk_editor
        kind, decl = self._kind(index)
        if kind == "blob" or self.document.model.is_cut(index.row(), index.column()):
            self.document.edits.show_record_of(index)
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
        from gui.sql.fields import Invalid, LineEdit

        try:
            value = editor.stored()
        except Invalid as exc:
            self.document.show_message(f"Not written: {exc}", "error")
            return
        self.document.edits.edit_cell(index.row(), index.column(), value,
                                      convert=isinstance(editor, LineEdit))


class GridEdits(QObject):
    """Edits of the grid's table, each pushed on the document's undo stack as a command."""

    def __init__(self, document: SqlDocument, browse: BrowsePanel) -> None:
        super().__init__(browse)
        self.document, self.browse = document, browse
        browse.grid.customContextMenuRequested.connect(self._on_grid_menu)
        # Edit ▸ Cut, Copy, Paste; refusals in the message line above the grid
        self.clipboard = TableClipboard(browse.grid, self.cell_text, self.paste_cells, self.clear_cells,
                                        report=lambda text: document.show_message(text, "error"),
                                        load=self.rows_for_copy)
        self._copy_pages: dict[int, Any] = {}  # pages read for a copy beyond the grid's cache

    @property
    def _editable_table(self) -> Any:
        """The table shown when it can be edited now, else None."""
        table = self.browse.table
        return table if table is not None and table.editable and not self.document.read_only else None

    def edit_cell(self, row: int, column: int, text: str | Any, old: Any = _GRID,
                  convert: bool = True) -> None:
        """Write one cell: text is converted with the column's affinity unless ``convert`` is off.

        ``old`` is the whole previous value (for undo); by default the grid's cached value.
        """
        from gui.sql.commands import EditCell

        table = self.browse.table
        if table is None or self.document.read_only or not table.editable:
            return
        try:
            self._check_loaded({row}, "edit")  # its page dropped meanwhile (a refresh): said, not lost
            edit = self._cell_edit(row, column, text, old, convert)
        except KnownError as exc:
            self.document.show_message(f"Not written: {exc}", "error")
            return
        if edit is not None:
            self.document.undo_stack.push(EditCell(
                self.document, table.name, edit.key, row, column, edit.name, edit.old, edit.new, table.schema,
                check_in_sql=edit.check_in_sql, decl_type=edit.decl_type))

    def _cell_edit(self, row: int, column: int, text: str | Any, old: Any = _GRID,
                   convert: bool = True) -> CellEdit | None:
        """What writing ``text`` in a cell of the table shown means (None: no change, or the row
        is not loaded); KnownError when the whole old value cannot be read."""
        from gui.sql.commands import CellEdit, read_in_worker
        from storage.formats.sql.edit import comparable, read_row

        table = self.browse.table
        key = self.browse.key_of(row)
        if table is None or key is None:
            return None
        col = table.columns[column]
        if old is _GRID:
            old = self.browse.model.index(row, column).data(Qt.ItemDataRole.EditRole)
            if self.browse.model.is_cut(row, column):  # the grid holds its start: the check needs it whole
                found = read_in_worker(self.document, read_row, self.document.database, table.name,
                                       key, [col.name], schema=table.schema)
                old = found[0] if found else old
        # A server reads the text as the column's type itself (exact decimals, dates, JSON).
        server = self.document.database is not None and not self.document.database.is_sqlite
        convert = convert and isinstance(text, str) and not server
        value = _convert(text, col.affinity, old) if convert else text
        if value == old and type(value) is type(old):
            return None
        return CellEdit(row, column, key, col.name, old, value,
                        check_in_sql=not server or comparable(col.decl_type), decl_type=col.decl_type)

    def cell_text(self, index: QModelIndex) -> str | None:
        """A cell as Copy puts it in TSV (:func:`gui.sql.cells.copied_text`); None when its row
        is not loaded. A value the grid holds only the start of is copied as shown."""
        model = self.browse.model
        pager = model.pager
        page = self._copy_pages.get(index.row() // pager.page_size) if pager is not None else None
        if page is None and model.cached_row(index.row()) is not None:
            if model.is_cut(index.row(), index.column()):
                return index.data()
            return copied_text(index.data(Qt.ItemDataRole.EditRole), index.data())
        offset = index.row() - page.start if page is not None else -1
        if page is None or not 0 <= offset < len(page.values):
            return None
        value = page.values[offset][index.column()]
        size = page.sizes[offset][index.column()] if page.sizes else None
        return format_value(value, size) if size is not None else copied_text(value, format_value(value))

    @contextlib.contextmanager
    def rows_for_copy(self, top: int, _left: int, bottom: int, _right: int) -> Iterator[None]:
        """Read the pages of rows ``top..bottom`` the grid has not loaded, for one copy (on a
        worker, the window painting meanwhile); the grid's own cache is left as it is."""
        model = self.browse.model
        pager, reader = model.pager, self.document.reader
        if pager is None or reader is None:
            yield
            return
        size = pager.page_size
        numbers = range(top // size, bottom // size + 1)
        # All of them when one is missing: pages arriving meanwhile may push others out of the cache.
        missing = list(numbers) if any(model.cached_row(n * size) is None for n in numbers) else []
        if len(missing) * size > MAX_COPY_ROWS:
            raise KnownError(f"Copying reads at most {MAX_COPY_ROWS:,} rows the grid has not shown; "
                             "use Export… for large parts of a table.")
        if missing:
            from gui.sql.commands import read_in_worker

            pages = read_in_worker(self.document, lambda: [reader.run(lambda conn, n=n: pager.fetch(conn, n))
                                                           for n in missing])
            self._copy_pages = {page.number: page for page in pages}
        try:
            yield
        finally:
            self._copy_pages = {}

    def _writable_table(self, doing: str) -> Any:
        """The table shown, when cells can be written now; else KnownError saying why."""
        table = self.browse.table
        if table is None:
            raise KnownError(f"Show a table to {doing} first.")
        if self.document.read_only:
            raise KnownError(f"Read-only: switch Read-only off to {doing}.")
        if not table.editable:
            raise KnownError(f"{table.qualified} cannot be edited here"
                             f"{': ' + table.key_note if table.key_note else ''}.")
        return table

    def _check_loaded(self, rows: set[int], doing: str) -> None:
        if any(self.browse.key_of(row) is None for row in rows):
            raise KnownError(f"Some of the rows to {doing} are not loaded (not yet, or being read again "
                             "after a change): scroll to them and try again.")

    def paste_cells(self, top: int, left: int, rows: list[list[str | None]]) -> str:
        """Write TSV cells from (top, left) on as ONE undoable change in one transaction; an
        empty cell writes NULL. Cells beyond the grid's last row or column are left out."""
        table = self._writable_table("paste into the table")
        model = self.browse.model
        cells, left_out = fit_block(rows, top, left, model.rowCount(), model.columnCount())
        self._check_loaded({row for row, _c, _t in cells}, "paste into")
        edits = [self._cell_edit(row, column, text or None) for row, column, text in cells]
        self._push_cells(table, [e for e in edits if e is not None], "paste")
        bottom, right = max(r for r, _c, _t in cells), max(c for _r, c, _t in cells)
        select_block(self.browse.grid, top, left, bottom, right)
        return pasted_text(len(cells), left_out)

    def clear_cells(self, cells: list[tuple[int, int]], verb: str = "cut") -> str:
        """The cells become NULL as ONE undoable change (Edit ▸ Cut after the copy, or Set NULL
        on a selection); ``verb`` names the step."""
        table = self._writable_table(f"{verb} cells")
        self._check_loaded({row for row, _c in cells}, verb)
        edits = [self._cell_edit(row, column, None, convert=False) for row, column in cells]
        self._push_cells(table, [e for e in edits if e is not None], verb)
        return f"{verb.capitalize()}: {len(cells):,} cell{'s' if len(cells) != 1 else ''} set to NULL"

    def _push_cells(self, table: Any, edits: list[CellEdit], verb: str) -> None:
        from gui.sql.commands import EditCells

        if edits:
            text = f"{verb} {len(edits)} cell{'s' if len(edits) != 1 else ''}"
            self.document.undo_stack.push(EditCells(self.document, table.name, edits, text, table.schema))

    def set_null(self) -> None:
        """Set NULL on the current cell, or on every selected cell as ONE undoable change."""
        grid = self.browse.grid
        cells = sorted({(i.row(), i.column()) for i in grid.selectionModel().selectedIndexes()
                        or [grid.currentIndex()] if i.isValid()})
        if len(cells) == 1:
            self.edit_cell(*cells[0], None)
        elif cells:
            try:
                said = self.clear_cells(cells, "set NULL")
            except KnownError as exc:
                self.document.show_message(str(exc), "error")
                return
            self.document.show_message(said)

    def show_record_of(self, index: QModelIndex) -> None:
        self.browse.grid.setCurrentIndex(index)
        self.document.show_record_tab()
        self.document.show_message("Long values and BLOBs are edited in the Record tab.", "info")
        if isinstance(index.data(Qt.ItemDataRole.EditRole), LargeValue):
            self.document.record.load_whole_row(index)  # "900 MB text — show…": read in a worker

    def rowid_alias(self) -> str | None:
        table = self.browse.table
        if table is None or table.without_rowid or table.key is not None:
            return None
        pks = [c for c in table.columns if c.pk]
        return pks[0].name if len(pks) == 1 and pks[0].decl_type.upper() == "INTEGER" else None

    def new_record(self) -> None:
        """New Record in the Record tab: insert a row, and show it once counted (in rowid order)."""
        browse = self.browse
        spec = browse.current_spec()  # unsorted and unfiltered: the new row is the last one
        browse.show_new_row = spec is not None and not (spec.sort or spec.filters or spec.search
                                                         or spec.where.strip())
        self.insert_row()

    def insert_row(self) -> None:
        from gui.sql.commands import InsertRow

        table = self._editable_table
        if table is None:
            return
        self.document.undo_stack.push(InsertRow(self.document, table.name, self._new_row_values(),
                                                table.key_columns, schema=table.schema))

    def _new_row_values(self) -> dict[str, Any]:
        """A new SQLite row's values beyond the defaults: 0 or '' in each NOT NULL column that has
        no default (as DB Browser for SQLite does), so New Record works on such tables too."""
        table, db = self.browse.table, self.document.database
        if table is None or db is None or not db.is_sqlite:
            return {}
        alias = self.rowid_alias()
        return {c.name: 0 if c.affinity in ("INTEGER", "REAL", "NUMERIC") else ""
                for c in table.columns
                if c.notnull and c.default is None and not c.hidden and c.name != alias}

    def duplicate_row(self) -> None:
        from gui.sql.commands import InsertRow, read_in_worker
        from storage.formats.sql.edit import read_row

        table = self.browse.table
        key = self.browse.key_of(self.browse.grid.currentIndex().row())
        if table is None or key is None or self.document.read_only or not table.editable:
            return
        alias = self.rowid_alias()
        # A server's generated key (serial, a DEFAULT) gets a new value; others are copied.
        columns = [c.name for c in table.columns
                   if c.name != alias and not (table.key is not None and c.pk and c.default is not None)]
        try:
            row = read_in_worker(self.document, read_row, self.document.database, table.name, key, columns,
                                 schema=table.schema)
        except KnownError as exc:
            self.document.show_message(str(exc), "error")
            return
        if row is None:
            return
        values = dict(zip(columns, row, strict=True))
        self.document.undo_stack.push(InsertRow(self.document, table.name, values, table.key_columns,
                                                "duplicate row", table.schema))

    def delete_rows(self) -> None:
        table = self.browse.table
        if table is None or self.document.read_only or not table.editable:
            return
        rows = sorted({i.row() for i in self.browse.grid.selectionModel().selectedIndexes()}
                      or {self.browse.grid.currentIndex().row()})
        found = [(r, self.browse.key_of(r)) for r in rows if r >= 0]
        found = [(r, k) for r, k in found if k is not None]
        if not found:
            return
        from gui.sql.commands import DeleteRows
        from gui.sql.edit_prompts import confirm_delete

        if not confirm_delete(self.browse, len(found), table.qualified):
            return
        # What the user saw: each row is deleted only if it still holds it (cut values not compared).
        seen = [self._seen_row(r) for r, _k in found]
        self.document.undo_stack.push(DeleteRows(self.document, table.name, [k for _r, k in found],
                                        [c.name for c in table.columns], self.rowid_alias(),
                                        table.schema, seen, types=[c.decl_type for c in table.columns]))

    def _seen_row(self, row: int) -> tuple | None:
        """The grid's values of ``row`` (UNKNOWN where cut), None when it has not all columns."""
        from storage.formats.sql.edit import UNKNOWN

        width = self.browse.model.columnCount()
        if self.browse.table is None or width != len(self.browse.table.columns):
            return None
        values = []
        for column in range(width):
            if self.browse.model.is_cut(row, column):
                values.append(UNKNOWN)
            else:
                values.append(self.browse.model.index(row, column).data(Qt.ItemDataRole.EditRole))
        return tuple(values)

    @Slot(QPoint)
    def _on_grid_menu(self, pos: QPoint) -> None:
        index = self.browse.grid.indexAt(pos)
        menu = QMenu(self.browse)
        editable = self.browse.model.editable and index.isValid()
        menu.addAction("Copy", self._copy_selection)
        paste = menu.addAction("Paste", self._paste_clipboard)
        paste.setEnabled(editable and bool(QApplication.clipboard().text()))
        menu.addSeparator()
        menu.addAction("Set NULL", self.set_null).setEnabled(editable)
        menu.addAction("Load from File…", lambda: self._load_blob(index)).setEnabled(editable)
        menu.addAction("Save Value to File…", lambda: self.save_value(index)).setEnabled(index.isValid())
        menu.addSeparator()
        menu.addAction("Insert Row", self.insert_row).setEnabled(self.browse.model.editable)
        menu.addAction("Duplicate Row", self.duplicate_row).setEnabled(editable)
        menu.addAction("Delete Row(s)", self.delete_rows).setEnabled(editable)
        self.document.fks.add_fk_actions(menu, index)
        menu.popup(self.browse.grid.viewport().mapToGlobal(pos))

    def _copy_selection(self) -> None:
        try:
            QApplication.clipboard().setText(self.clipboard.copy()[0])
        except KnownError as exc:
            self.document.show_message(str(exc), "error")

    def _paste_clipboard(self) -> None:
        try:
            self.document.show_message(self.clipboard.paste(QApplication.clipboard().text()))
        except KnownError as exc:
            self.document.show_message(f"Not pasted: {exc}", "error")

    def _load_blob(self, index: QModelIndex) -> None:
        path, _ = QFileDialog.getOpenFileName(self.browse, "Load Value from File",
                                              start_folder(self.document.path))
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

        return self.document.start_task(read, path,
                                        on_result=lambda data: self.edit_cell(row, column, data, old))

    def save_value(self, index: QModelIndex) -> None:
        table = self.browse.table
        column = table.columns[index.column()].name if table is not None and index.isValid() else "value"
        kind = ".bin" if isinstance(index.data(Qt.ItemDataRole.EditRole), bytes) else ".txt"
        start = suggested_path(self.document.path, f"{table.name if table else 'value'} {column}{kind}")
        path, _ = QFileDialog.getSaveFileName(self.browse, "Save Value to File", start)
        if path:
            self.save_value_to(path, index.row(), index.column())

    def save_value_to(self, path: str, row: int, column: int) -> Task | None:
        """Write a cell's whole value to a file (BLOBs as they are, text as UTF-8), in a worker."""
        key = self.browse.key_of(row)
        if key is None or self.browse.table is None or self.document.reader is None:
            return None
        reader, db = self.document.reader, self.document.database
        table, schema = self.browse.table.name, self.browse.table.schema
        name = self.browse.table.columns[column].name

        from storage.formats.sql.edit import read_row

        def read(conn: Any) -> Any:
            with raised_limit(conn):  # the user asked for this value whole, however large
                return read_row(db, table, key, [name], conn, schema=schema)

        def write() -> int:
            from storage.core.atomic import atomic_write

            found = reader.run(read)
            value = found[0] if found else None
            data = value if isinstance(value, bytes) else b"" if value is None else str(value).encode()
            atomic_write(path, data)
            return len(data)

        return self.document.start_task(
            write, on_result=lambda n: self.document.show_message(f"Saved {n:,} bytes to {path}"))


def _convert(text: str, affinity: str, old: Any) -> Any:
    """The typed value for an edited cell: numbers for numeric columns, else the text."""
    if affinity in ("INTEGER", "REAL", "NUMERIC") or isinstance(old, int | float):
        value = coerce(text)
        if affinity == "REAL" and isinstance(value, int):
            return float(value)
        return value
    return text


