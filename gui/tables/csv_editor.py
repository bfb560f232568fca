"""Editing a CSV file in the Tables tab: cell edits, row insert and delete, undo, save.

:class:`CsvEditor` belongs to one :class:`~gui.tables.document.TableDocument`. When a CSV file
is open it scans the file's record spans on a worker (:func:`storage.formats.table.csv_edit.scan_rows`)
and checks that the scan counts the rows DuckDB counts; then the grid becomes editable. Every
edit is a :class:`QUndoCommand` on the document's undo stack over a :class:`CsvEdits` overlay;
the grid's reader lays the overlay over DuckDB's pages, so edits show at once. Sorting, filters
and search run on the saved file only: while they narrow or reorder the grid it is read-only.
Parquet and Arrow files, files over the size limit and files in multi-byte encodings stay
read-only, and trying to edit them says why.
"""

from __future__ import annotations

import os
from functools import partial
from typing import Any

from PySide6.QtCore import QEvent, QItemSelectionModel, QObject, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QKeySequence, QShortcut, QUndoCommand
from PySide6.QtWidgets import QAbstractItemView, QPushButton

from gui.common.workers import run_in_worker, run_with_progress
from gui.recovery.hooks import expect_payload
from storage.core.errors import KnownError, UnsupportedError
from storage.formats.table.csv_edit import (
    CsvEdits,
    RowSpans,
    editable_reason,
    edits_body,
    edits_from_body,
    read_record,
    scan_rows,
    write_edited,
)
from storage.formats.table.dialect import CsvDialect
from storage.formats.table.source import Call, TableSource, View, cell_text
from storage.recovery.payload import pack

READ_ONLY_FORMATS = frozenset({"parquet", "arrow"})
EDITED = QColor("#fff4c2")
SORTED_NOTE = "Sort, filters and search show the saved file: save to include your edits."


def prepare_editing(path: str, dialect: CsvDialect, source: TableSource, call: Call,
                    cancel=None) -> RowSpans:
    """Worker body: the record spans, checked against DuckDB's row count."""
    spans = scan_rows(path, dialect, cancel)
    rows = source.count(View(), call)
    if rows != spans.rows:
        raise KnownError(f"the file's rows could not be matched one to one ({spans.rows:,} records found, "
                         f"{rows:,} rows read), so it is shown read-only.")
    return spans


class CsvEditor(QObject):
    """The edit overlay of one table document, its undo commands, buttons and save."""

    stateChanged = Signal()

    def __init__(self, document: Any) -> None:
        super().__init__(document)
        self.document = document
        self.spans: RowSpans | None = None
        self.edits: CsvEdits | None = None
        self.dialect: CsvDialect | None = None
        self.path: str | None = None
        self.reason: str | None = "Reading the file…"
        self._call: Call | None = None
        self._generation = 0
        self._pending: bytes | None = None  # journal edits waiting for the rows to be read
        grid = document.grid
        self.insert_button = QPushButton("Insert Row", document)
        self.insert_button.setObjectName("tableInsertRow")
        self.insert_button.setToolTip("Insert a row below the current one (Insert)")
        self.insert_button.clicked.connect(self.insert_row)
        self.delete_button = QPushButton("Delete Row(s)", document)
        self.delete_button.setObjectName("tableDeleteRows")
        self.delete_button.setToolTip("Delete the selected rows (Ctrl+Delete)")
        self.delete_button.clicked.connect(self.delete_rows)
        for key, slot in ((QKeySequence(Qt.Key.Key_Insert), self.insert_row),
                          (QKeySequence("Ctrl+Delete"), self.delete_rows)):
            shortcut = QShortcut(key, grid)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)
        triggers = QAbstractItemView.EditTrigger
        grid.setEditTriggers(triggers.DoubleClicked | triggers.EditKeyPressed | triggers.AnyKeyPressed)
        document.model.overlay = self
        document.model.editRequested.connect(self.set_cell)
        grid.installEventFilter(self)
        grid.viewport().installEventFilter(self)
        self._sync()

    # -- when editing is possible ------------------------------------------------------------------
    def start(self, source: TableSource) -> None:
        """A file was (re)opened: scan a CSV's rows, or say why it stays read-only."""
        self.stop()
        self.spans = self.edits = None
        self.path, self.dialect = source.path, source.dialect
        if source.format in READ_ONLY_FORMATS:
            self.reason = f"{source.label} files are read-only: Datashelf edits CSV files only."
        else:
            self.reason = editable_reason(source.path, source.dialect)
        if self.reason is None:
            self.reason = "Editing starts when the file's rows are read…"
            call = self._call = Call()
            self._generation += 1
            generation = self._generation
            run_in_worker(prepare_editing, source.path, source.dialect, source, call,
                          on_result=lambda spans: self._on_ready(generation, source, spans),
                          on_error=lambda exc: self._on_failed(generation, exc))
        self._sync()

    def reset(self) -> None:
        """The file is read again: no edits until its rows are scanned anew."""
        self.stop()
        self.spans = self.edits = None
        self.reason = "Editing starts when the file's rows are read…"
        self._sync()

    def stop(self) -> None:
        self._generation += 1
        if self._call is not None:
            self._call.cancel()
            self._call = None

    def _on_ready(self, generation: int, source: TableSource, spans: RowSpans) -> None:
        if generation != self._generation or self.document.source is not source:
            return
        self._call = None
        self.spans, self.edits, self.reason = spans, CsvEdits(spans.rows), None
        model = self.document.model
        if model.rowCount() != spans.rows and not self.document.view.narrowed:
            model.set_row_count(spans.rows)
            model.rows_exact = True
        self._sync()
        pending, self._pending = self._pending, None
        if pending is not None:
            try:
                self.restore(pending)
            except KnownError as exc:
                self.document.message.show_message(f"The unsaved edits were not restored: {exc}", "error")

    def _on_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self._call = None
        self.reason = f"This file is shown read-only: {self.document.describe_failure(exc)}"
        self._sync()

    def ready(self) -> bool:
        return self.edits is not None

    def can_edit(self) -> bool:
        view = self.document.view
        return self.edits is not None and not view.narrowed and not view.order

    def why_not(self) -> str:
        if self.reason:
            return self.reason
        return "The grid is sorted or filtered: clear sort and filters to edit (edits go by file order)."

    def view_changed(self) -> None:
        """Sort, filters or search changed: edit only in file order; say the view is the saved file."""
        self._sync()
        if self.edits is not None and self.edits.changed and (self.document.view.narrowed
                                                              or self.document.view.order):
            self.document.message.show_message(SORTED_NOTE, "info")

    def _sync(self) -> None:
        editable = self.can_edit()
        self.document.model.editable = editable
        csv = self.document.format == "csv"
        self.insert_button.setVisible(csv)
        self.delete_button.setVisible(csv)
        self.insert_button.setEnabled(editable)
        self.delete_button.setEnabled(editable)
        tip = "" if editable else self.why_not()
        self.document.mode.setToolTip(tip or "Double-click, F2 or type to edit a cell; Save writes the file")
        self.insert_button.setToolTip(tip or "Insert a row below the current one (Insert)")
        self.delete_button.setToolTip(tip or "Delete the selected rows (Ctrl+Delete)")
        self.stateChanged.emit()

    def mode_word(self) -> str:
        if self.can_edit():
            return "Editable"
        if self.ready():
            return "Read-only while sorted or filtered"
        return "Read-only"

    # -- refusing edits with a reason ----------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if self.can_edit() or self.document.source is None:
            return False
        kind = event.type()
        if kind == QEvent.Type.MouseButtonDblClick or (kind == QEvent.Type.KeyPress and _edit_key(event)):
            self.document.message.show_message(self.why_not(), "warning")
            return kind == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_F2
        return False

    def refuse(self) -> None:
        self.document.message.show_message(self.why_not(), "warning")

    # -- the overlay the grid reads through -------------------------------------------------------------
    def overlays(self, view: View) -> bool:
        return self.edits is not None and self.edits.changed and not view.narrowed and not view.order

    def read_tile(self, source: TableSource, r0: int, r1: int, c0: int, c1: int) -> list[list[str]]:
        """Rows r0..r1 (columns c0..c1) as the grid shows them with the edits (on the pump worker)."""
        edits = self.edits
        assert edits is not None
        ids = edits.ids(r0, min(r1, edits.rows))
        values = dict(edits.values)
        originals = [i for i in ids if i < edits.base_rows and i not in values]
        page: dict[int, list[str]] = {}
        if originals:
            low, high = min(originals), max(originals)
            cells = source.text_page(low, high - low + 1, View(), range(c0, c1))
            page = {i: cells[i - low] for i in originals if i - low < len(cells)}
        tile = []
        for ident in ids:
            if ident in page:
                tile.append(page[ident])
            else:
                row = values.get(ident, [])
                tile.append([cell_text(row[c]) if c < len(row) else "" for c in range(c0, c1)])
        tile += [[""] * (c1 - c0) for _ in range(r1 - r0 - len(tile))]
        return tile

    def background(self, row: int) -> QColor | None:
        """A pale yellow behind rows that were edited or inserted and are not saved yet."""
        edits = self.edits
        if edits is None or not edits.values or not self.overlays(self.document.view) or row >= edits.rows:
            return None
        return EDITED if edits.row_id(row) in edits.values else None

    def row_values(self, row: int) -> list[str]:
        """The whole row ``row`` as it is now (its edits, or its fields read from the file)."""
        assert self.edits is not None and self.spans is not None and self.dialect is not None
        ident = self.edits.row_id(row)
        if ident in self.edits.values:
            return list(self.edits.values[ident])
        return read_record(self.path or "", self.spans, ident + (1 if self.spans.header else 0), self.dialect)

    def record_fields(self, row: int) -> list[tuple[str, str, str]] | None:
        """(name, type, text) of row ``row`` with the edits, or None when DuckDB's row is the same."""
        edits = self.edits
        if edits is None or not self.overlays(self.document.view) or not 0 <= row < edits.rows:
            return None
        if edits.order is None and edits.row_id(row) not in edits.values:
            return None
        try:
            values = self.row_values(row)
        except OSError:
            return None
        columns = self.document.model.columns
        return [(c.name, c.type, values[i] if i < len(values) else "") for i, c in enumerate(columns)]

    def edit_text(self, row: int, column: int) -> str | None:
        """The full value of a cell for its editor (never the grid's cut, one-line text)."""
        if not self.can_edit() or self.edits is None or not 0 <= row < self.edits.rows:
            return None
        try:
            values = self.row_values(row)
        except OSError:
            return None
        return values[column] if column < len(values) else ""

    # -- edits ---------------------------------------------------------------------------------------
    def column_count(self) -> int:
        return self.document.model.columnCount()

    def set_cell(self, row: int, column: int, text: str) -> None:
        if not self.can_edit() or self.edits is None:
            self.refuse()
            return
        try:
            old = self.row_values(row)
        except OSError as exc:
            self.document.message.show_message(f"Cannot read the row: {exc.strerror or exc}", "error")
            return
        old += [""] * (self.column_count() - len(old))
        if old[column] == text:
            return
        self.document.undo_stack.push(SetCellCommand(self, row, column, old, text))

    def current_rows(self) -> list[int]:
        grid = self.document.grid
        rows = sorted({index.row() for index in grid.selectionModel().selectedIndexes()})
        if not rows and grid.currentIndex().isValid():
            rows = [grid.currentIndex().row()]
        return rows

    def insert_row(self) -> None:
        if not self.can_edit() or self.edits is None:
            self.refuse()
            return
        current = self.document.grid.currentIndex()
        row = current.row() + 1 if current.isValid() else self.edits.rows
        self.document.undo_stack.push(InsertRowCommand(self, row))
        self.select(row, max(current.column(), 0))

    def delete_rows(self) -> None:
        if not self.can_edit() or self.edits is None:
            self.refuse()
            return
        rows = self.current_rows()
        if not rows:
            self.document.message.show_message("Select the rows to delete first.", "warning")
            return
        self.document.undo_stack.push(DeleteRowsCommand(self, rows))
        if self.edits.rows:
            self.select(min(rows[0], self.edits.rows - 1), max(self.document.grid.currentIndex().column(), 0))

    def select(self, row: int, column: int) -> None:
        index = self.document.model.index(row, column)
        if index.isValid():
            self.document.grid.selectionModel().setCurrentIndex(
                index, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def show_cell(self, row: int, column: int, values: list[str] | None) -> None:
        text = values[column] if values is not None and column < len(values) else None
        if text is None:
            self.document.model.refresh()
        else:
            self.document.model.set_cached_text(row, column, cell_text(text))
        self.document.show_record(row)

    def rows_changed(self) -> None:
        """Rows were inserted or deleted: the grid is read again through the overlay."""
        assert self.edits is not None
        model = self.document.model
        model.set_row_count(self.edits.rows)
        model.rows_exact = True
        model.refresh()
        self.document.refresh_mode()
        current = self.document.grid.currentIndex()
        if current.isValid():
            self.document.show_record(current.row())

    # -- the crash journal (gui/recovery) ------------------------------------------------------------------
    def journal_payload(self) -> bytes | None:
        if self.edits is None or self.spans is None or not self.edits.changed:
            return None
        return pack("csv-edits", {"size": self.spans.size}, edits_body(self.edits))

    def restore(self, payload: bytes) -> None:
        """Journal edits back as ONE undoable edit; kept until the rows are read when that is not done."""
        _kind, header, body = expect_payload(payload, "csv-edits")
        if self.edits is None or self.spans is None:
            if self.reason is not None and not self.reason.startswith("Editing starts"):
                raise UnsupportedError(self.reason)
            self._pending = payload
            return
        if header.get("size") != self.spans.size:
            raise UnsupportedError("the file is not the one the edits were made over")
        new = edits_from_body(body, self.edits.base_rows)
        self.document.undo_stack.push(ReplaceEditsCommand(self, new))

    # -- saving ----------------------------------------------------------------------------------------
    def save(self, path: str) -> str | None:
        """Write the file with the edits to ``path``; the error message, or None when saved."""
        if self.edits is None or self.spans is None or self.dialect is None or not self.path:
            return self.why_not()
        from gui.common import save_options

        try:
            # a big file takes seconds: a worker writes it, the window paints
            run_with_progress(self.document, f"Saving {os.path.basename(path)}…", partial(
                write_edited, self.path, path, self.spans, self.edits, self.dialect,
                backup=save_options.backup()))
        except KnownError as exc:
            return str(exc)
        except OSError as exc:
            return f"Cannot write {os.path.basename(path)}: {exc.strerror or exc}"
        return None


def _edit_key(event: QEvent) -> bool:
    """A key that would start editing a cell: F2, or printable text without Ctrl or Alt."""
    if not isinstance(event, QKeyEvent):
        return False
    if event.key() == Qt.Key.Key_F2:
        return True
    modifiers = event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
    return not modifiers and bool(event.text()) and event.text().isprintable()


class ReplaceEditsCommand(QUndoCommand):
    """Restored journal edits in place of the (empty) edits there were."""

    def __init__(self, editor: CsvEditor, new: CsvEdits) -> None:
        super().__init__("Restore unsaved edits")
        assert editor.edits is not None
        self.editor, self.old, self.new = editor, editor.edits, new

    def redo(self) -> None:
        self.editor.edits = self.new
        self.editor.rows_changed()

    def undo(self) -> None:
        self.editor.edits = self.old
        self.editor.rows_changed()


class SetCellCommand(QUndoCommand):
    def __init__(self, editor: CsvEditor, row: int, column: int, old: list[str], text: str) -> None:
        super().__init__(f"Edit cell ({row + 1}, {column + 1})")
        assert editor.edits is not None
        self.editor, self.row, self.column = editor, row, column
        self.ident = editor.edits.row_id(row)
        self.before = editor.edits.values.get(self.ident)
        self.after = list(old)
        self.after[column] = text

    def redo(self) -> None:
        assert self.editor.edits is not None
        self.editor.edits.set_values(self.ident, self.after)
        self.editor.show_cell(self.row, self.column, self.after)

    def undo(self) -> None:
        assert self.editor.edits is not None and self.editor.spans is not None
        self.editor.edits.set_values(self.ident, self.before)
        self.editor.show_cell(self.row, self.column, self.editor.row_values(self.row))


class InsertRowCommand(QUndoCommand):
    def __init__(self, editor: CsvEditor, row: int) -> None:
        super().__init__(f"Insert row {row + 1}")
        self.editor, self.row = editor, row
        self.ident: int | None = None
        self.values = [""] * editor.column_count()

    def redo(self) -> None:
        edits = self.editor.edits
        assert edits is not None
        if self.ident is None:
            self.ident = edits.insert(self.row, self.values)
        else:
            edits.reinsert(self.row, self.ident, self.values)
        self.editor.rows_changed()

    def undo(self) -> None:
        assert self.editor.edits is not None
        _ident, values = self.editor.edits.remove(self.row)
        self.values = values if values is not None else self.values
        self.editor.rows_changed()


class DeleteRowsCommand(QUndoCommand):
    def __init__(self, editor: CsvEditor, rows: list[int]) -> None:
        super().__init__(f"Delete {len(rows):,} row{'s' if len(rows) != 1 else ''}")
        self.editor, self.rows = editor, sorted(rows)
        self.removed: list[tuple[int, int, list[str] | None]] = []

    def redo(self) -> None:
        edits = self.editor.edits
        assert edits is not None
        self.removed = [(row, *edits.remove(row)) for row in reversed(self.rows)]
        self.editor.rows_changed()

    def undo(self) -> None:
        edits = self.editor.edits
        assert edits is not None
        for row, ident, values in reversed(self.removed):
            edits.reinsert(row, ident, values)
        self.editor.rows_changed()

