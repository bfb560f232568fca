"""The Record tab of the SQL tab: an editable form with one labelled field per column.

It follows the grid's current row; the row's whole values (not the grid's cut previews) are read
in a worker and the fields become editable once they arrived. Each field change goes through
the document's ``edit_cell``, so it is an undo command written at once, and a constraint error
is shown under the field that caused it (and under the columns the message names): the panel
follows the document's ``cellWritten`` and ``writeFailed`` signals.

The form is filled by keyboard: New Record (Alt+N) shows the new row as soon as its page of the
grid arrived, with its first typed field focused; Tab and Shift+Tab walk the fields in column
order (wrapping, never leaving the form), Enter writes a one-line field and moves on (in the last
field it only writes), and Ctrl+Enter writes the field being edited from anywhere in the form.

A field that references another table gets ↗ (show the referenced row in the grid) and a chooser
(the grid's searchable list of referenced rows; the key picked is written through the field's
normal edit). :class:`RecordPanel` talks to its document only through :class:`RecordHost`.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QModelIndex, QPoint, Qt, Slot
from PySide6.QtGui import QKeySequence, QShortcut, QUndoStack
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gui.sql.fk import ForeignKeys
from gui.sql.record_field import RecordField
from gui.sql.tasks import esc
from storage.formats.sql.bounds import VALUE_LIMIT, LargeValue, raised_limit
from storage.formats.sql.db import Database
from storage.formats.sql.edit import read_row
from storage.formats.sql.schema_types import Table
from storage.formats.sql.sqlite_db import Reader
from storage.formats.sql.values import constraint_columns

if TYPE_CHECKING:
    from gui.sql.browse import BrowsePanel
    from gui.sql.editing import GridEdits

MAX_FORM_FIELDS = 300  # a form of 2,000 editors would take seconds to build; the grid shows all


class RecordHost(Protocol):
    """What the record form needs from its document (and its grid)."""

    table: Table | None  # the table the grid shows
    model: Any  # the grid's model: the rows' cached values and whether they are editable
    reader: Reader | None
    database: Database | None

    @property
    def undo_stack(self) -> QUndoStack: ...
    def current_index(self) -> QModelIndex: ...
    def set_current_index(self, index: QModelIndex) -> None: ...
    def start_task(self, fn: Any, *args: Any, on_result: Any = None, on_error: Any = None) -> Any: ...
    def show_message(self, text: str, kind: str = "info") -> None: ...
    @property
    def browse(self) -> BrowsePanel: ...
    @property
    def edits(self) -> GridEdits: ...
    @property
    def fks(self) -> ForeignKeys: ...


class FkPickPopup(QDialog):
    """A popup with the foreign-key editor; Return writes the key chosen and closes it."""

    def __init__(self, document: Any, target: Any, affinity: str, value: Any, parent: QWidget) -> None:
        from gui.sql.fk_editor import FkEditor

        super().__init__(parent, Qt.WindowType.Popup)
        self.editor = FkEditor(document, target, affinity, self)
        self.editor.setMinimumWidth(320)
        box = QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.addWidget(QLabel(f"A row of {target.table} (type to search, Return to choose):", self))
        box.addWidget(self.editor)
        self.editor.set_stored(value)


class RecordPanel(QWidget):
    """The record form: previous/next/new record and per-field editors."""

    def __init__(self, host: RecordHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self._fields: list[RecordField] = []
        self._table: Table | None = None
        self.row = -1
        self.values: tuple | None = None  # whole values of the row shown; None: loading
        self.key: dict[str, Any] | None = None  # the key of the row shown
        self._whole_row = -1  # the row whose values over the grid's cap the user asked to load
        self._token = 0  # bumped by each row shown: a late read for another row is dropped
        self._waiting = -1  # the row shown before its page arrived: shown again once it has
        self._focus_new = False  # New Record: focus the first field once the new row is ready
        self._refocus = -1  # Previous / Next from a field: that field again once the row is ready
        self.fk_popup: FkPickPopup | None = None
        self.prev_button = QPushButton("◀ &Previous", self)
        self.prev_button.clicked.connect(lambda: self._step(-1))
        self.next_button = QPushButton("Ne&xt ▶", self)
        self.next_button.clicked.connect(lambda: self._step(1))
        self.new_button = QPushButton("&New Record", self)
        self.new_button.setToolTip("Insert a row and fill it in here (Alt+N); Tab walks the fields, "
                                   "Enter in the last one or Ctrl+Enter anywhere writes the field")
        self.new_button.clicked.connect(self.new_record)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            commit = QShortcut(QKeySequence(keys), self)
            commit.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            commit.activated.connect(self.commit)
        host.model.dataChanged.connect(self._on_grid_data)
        self.label = QLabel(self)
        bar = QHBoxLayout()
        for widget in (self.prev_button, self.next_button, self.new_button):
            bar.addWidget(widget)
        bar.addWidget(self.label, 1)
        self.form = QWidget()
        self._grid = QGridLayout(self.form)
        self._grid.setColumnStretch(1, 1)
        self._grid.setVerticalSpacing(8)
        self.scroll = scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 4, 0, 0)
        box.addLayout(bar)
        box.addWidget(scroll, 1)

    def _build_form(self, table: Table) -> None:
        for field in self._fields:
            field.deleteLater()
        while self._grid.count():
            item = self._grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self._fields = []
        self._table = table
        for i, col in enumerate(table.columns[:MAX_FORM_FIELDS]):
            label = QLabel(f"<b>{esc(col.name)}</b><br><span style='color:#667085'>"
                           f"{esc(col.decl_type or 'any type')}{' · PK' if col.pk else ''}"
                           f"{' · NOT NULL' if col.notnull else ''}</span>", self.form)
            label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
            field = RecordField(col, self.form)
            field.edited.connect(lambda value, c=i: self._on_field_edited(c, value))
            field.loadRequested.connect(lambda c=i: self._on_field_load(c))
            field.saveRequested.connect(lambda c=i: self._on_field_save(c))
            field.stepRequested.connect(lambda step, c=i: self._on_field_step(c, step))
            field.entered.connect(lambda c=i: self._on_field_entered(c))
            self._grid.addWidget(label, i, 0)
            self._grid.addWidget(field, i, 1)
            self._fields.append(field)
            self._decorate(i, field)
        if len(table.columns) > MAX_FORM_FIELDS:
            note = QLabel(f"The form shows the first {MAX_FORM_FIELDS} of {len(table.columns):,} "
                          "columns; edit the others in the grid.", self.form)
            self._grid.addWidget(note, MAX_FORM_FIELDS, 0, 1, 2)
        self._grid.setRowStretch(len(self._fields) + 1, 1)

    def show_row(self, index: QModelIndex) -> None:
        """Show the grid's current row: cached values at once, whole values from a worker."""
        if not index.isValid() or self.host.table is None:
            return
        self._token += 1
        token = self._token
        table = self.host.table
        row = index.row()
        key = self.host.browse.key_of(row)
        names = [c.name for c in table.columns[:MAX_FORM_FIELDS]]
        model = self.host.model
        cached = tuple(model.index(row, c).data(Qt.ItemDataRole.EditRole) for c in range(len(names)))
        large = any(isinstance(v, LargeValue) for v in cached)  # past the cap: read only on request
        cached = tuple(v.label() if isinstance(v, LargeValue) else v for v in cached)
        self.row = row
        self._waiting = -1
        self._show_record(table, cached, whole=False)
        if key is None and self.host.reader is not None and self.host.model.cached_row(row) is None:
            self._waiting = row  # its page is on its way (asked for above): shown again when it lands
            return
        if key is None or self.host.reader is None:
            return
        if large and self._whole_row != row:
            self.label.setText(self.label.text() + " — values over "
                                      f"{VALUE_LIMIT // 2**20} MB are read when you double-click one")
            return
        reader, db = self.host.reader, self.host.database

        def shown(values: Any) -> None:
            if token == self._token and values is not None:
                self.key = key
                self._show_record(table, tuple(values), whole=True)
                if self._focus_new:
                    self._focus_new = False
                    self.focus_field(self._first_typed_field())
                elif self._refocus >= 0:  # Previous / Next by keyboard: the same field, next row
                    self.focus_field(self._refocus)
                self._refocus = -1

        def read(conn: Any) -> Any:
            with raised_limit(conn) if large else contextlib.nullcontext():  # asked for: read it whole
                return read_row(db, table.name, key, names, conn, schema=table.schema)

        self.host.start_task(lambda: reader.run(read), on_result=shown)

    def load_whole_row(self, index: QModelIndex) -> None:
        """The user asked for the row's values past the grid's cap ("900 MB text — show…")."""
        self._whole_row = index.row()
        self.show_row(index)

    def _show_record(self, table: Table, values: tuple, whole: bool) -> None:
        if table is not self._table:
            self._build_form(table)
        self.values = values if whole else None
        editable = whole and self.host.model.editable
        for field, value in zip(self._fields, values, strict=False):
            field.set_value(value, editable)
            field.set_error("")
        total = self.host.model.rowCount()
        self.label.setText(f"Row {self.row + 1:,} of {total:,}"
                                  + ("" if whole else " (loading…)"))
        self.prev_button.setEnabled(self.row > 0)
        self.next_button.setEnabled(self.row + 1 < total)
        self.new_button.setEnabled(self.host.model.editable)

    def _step(self, step: int) -> None:
        row = self.row + step
        if 0 <= row < self.host.model.rowCount():
            self._refocus = self._focused_field()
            self.commit()  # Alt+X / Alt+P leave the field without its focus-out: write it first
            column = max(0, self.host.current_index().column())
            self.host.set_current_index(self.host.model.index(row, column))

    @Slot(QModelIndex, QModelIndex)
    def _on_grid_data(self, top: QModelIndex, bottom: QModelIndex) -> None:
        """A page of the grid arrived: the row waiting for it is shown now."""
        row = self._waiting
        if row < 0 or not top.row() <= row <= bottom.row() or self.host.model.cached_row(row) is None:
            return
        self._waiting = -1
        current = self.host.current_index()
        if current.isValid() and current.row() == row and self.isVisible():
            self.show_row(current)

    def new_record(self) -> None:
        """Insert a row; the form shows it, ready to type in, with the first field focused."""
        self.commit()  # what was typed in the row shown is written before the new row shows
        stack = self.host.undo_stack
        before = stack.index()
        self._focus_new = True
        self.host.edits.new_record()
        if stack.index() == before:
            self._focus_new = False  # not inserted: the message line says why
        elif not self.host.browse.show_new_row:
            self._focus_new = False
            self.host.show_message("A new row was inserted. The grid is sorted or filtered, so it "
                                   "is not shown here: clear the sort and filters to fill it in.")

    def _first_typed_field(self) -> int:
        """The first field a new record is typed into: past a rowid key the database numbered."""
        table = self._table
        if table is None or not self._fields:
            return 0
        alias = self.host.edits.rowid_alias()
        numbered = alias is not None and self._fields[0].column.name == alias
        return 1 if numbered and len(self._fields) > 1 else 0

    def focus_field(self, column: int) -> None:
        if 0 <= column < len(self._fields):
            field = self._fields[column]
            field.focus_editor()
            self.scroll.ensureWidgetVisible(field)

    def _on_field_step(self, column: int, step: int) -> None:
        """Tab / Shift+Tab in a field: the next or previous field, wrapping around."""
        if self._fields:
            self.focus_field((column + step) % len(self._fields))

    def _on_field_entered(self, column: int) -> None:
        """Enter wrote the field: the next one, or in the last field the record is done."""
        if column + 1 < len(self._fields):
            self.focus_field(column + 1)

    def focusNextPrevChild(self, forward: bool) -> bool:
        """Tab from the buttons above the form goes into the fields (Qt's window-wide focus chain
        would reach them last, as the form's editors are made after the rest of the window)."""
        focus = QApplication.focusWidget()
        buttons = [self.prev_button, self.next_button, self.new_button]
        if self._fields and focus in buttons:
            shown = [b for b in buttons if b.isEnabled()]
            at = shown.index(focus) if focus in shown else -1
            if forward and at == len(shown) - 1:
                self.focus_field(0)
                return True
            if 0 <= at + (1 if forward else -1) < len(shown):
                shown[at + (1 if forward else -1)].setFocus(Qt.FocusReason.TabFocusReason)
                return True
        return super().focusNextPrevChild(forward)

    def _focused_field(self) -> int:
        return next((i for i, field in enumerate(self._fields) if field.has_focus()), -1)

    @Slot()
    def commit(self) -> None:
        """Ctrl+Enter (and Enter in the last field): write the field being edited now."""
        column = self._focused_field()
        if column >= 0:
            self._fields[column].commit()

    @Slot()
    def grid_reset(self) -> None:
        """Another table, sort or filter: the row shown is no longer the grid's row; stop edits."""
        self._token += 1
        self._waiting = self._refocus = -1
        self.values = self.key = None
        for field in self._fields:
            field.set_value(field.value, False)
        self.label.setText("Pick a row in the Browse tab")

    def _on_field_edited(self, column: int, value: Any) -> None:
        if self.values is None or self.row < 0:
            return
        if self._table is not self.host.table or self.host.browse.key_of(self.row) != self.key:
            # the grid moved under the form (a refresh, someone else's insert): reload, write nothing
            self.host.show_message("The row moved in the grid; it was reloaded. Edit it again.", "info")
            self.show_row(self.host.current_index())
            return
        self._fields[column].set_error("")
        self.host.edits.edit_cell(self.row, column, value, old=self.values[column], convert=False)

    def _on_field_save(self, column: int) -> None:
        self.host.edits.save_value(self.host.model.index(self.row, column))

    def _on_field_load(self, column: int) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load Value from File")
        if path:
            self.host.edits.load_value_from(path, self.row, column, old=self.values[column]
                                 if self.values else None)

    # -- what the edit commands report (the document's cellWritten and writeFailed) ------------
    @Slot(int, int, object)
    def cell_written(self, row: int, column: int, value: Any) -> None:
        if row != self.row or self.values is None or column >= len(self._fields):
            return
        values = list(self.values)
        values[column] = value
        self.values = tuple(values)
        self._fields[column].set_value(value, self.host.model.editable)
        self._fields[column].set_error("")

    @Slot(int, int, object, str)
    def write_failed(self, row: int, column: int, _value: Any, message: str) -> None:
        self.write_refused(row, column, message)

    @Slot(int, int, str)
    def write_refused(self, row: int, column: int, message: str) -> None:
        """Show a failed write under its field, and under the columns the message names."""
        if row != self.row or self._table is None:
            return
        names = [c.name for c in self._table.columns[:MAX_FORM_FIELDS]]
        named = constraint_columns(message, self._table.name, names)
        for i in {column, *(names.index(n) for n in named)}:
            if i < len(self._fields):
                self._fields[i].set_error(message)

    def field(self, name: str) -> RecordField:
        return next(f for f in self._fields if f.column.name == name)

    # -- foreign keys ------------------------------------------------------------------------
    def _decorate(self, column: int, field: RecordField) -> None:
        """A field that references another table: ↗ (go to the row) and … (choose a row)."""
        fk = self.host.fks.foreign_key_of(column)
        if fk is None:
            return
        go = QToolButton(field)
        go.setText("↗")
        go.setToolTip(f"Go to the referenced row {fk.describe()}")
        go.clicked.connect(lambda: self.host.fks.go_to_referenced(self.host.model.index(self.row, column)))
        field.add_button(go)
        if fk.composite:
            go.setToolTip(go.toolTip() + " (a composite key: edit its columns one by one)")
            return
        pick = QToolButton(field)
        pick.setText("…")
        pick.setToolTip(f"Choose a row of {fk.ref_table}")
        pick.clicked.connect(lambda: self.pick_value(column, field))
        field.pick_button = pick
        field.add_button(pick)

    def pick_value(self, column: int, field: RecordField) -> FkPickPopup | None:
        """Open the chooser under the field; the key picked goes through the field's edit."""
        target = self.host.fks.fk_target(column)
        table = self.host.table
        if target is None or table is None or not self.host.model.editable or self.values is None:
            return None
        popup = FkPickPopup(self.host, target, table.columns[column].affinity, field.value, self)

        def chosen() -> None:
            value = popup.editor.stored()
            popup.close()
            if value != field.value or type(value) is not type(field.value):
                field.edited.emit(value)

        popup.editor.returnPressed.connect(chosen)
        popup.move(field.mapToGlobal(QPoint(0, field.height())))
        popup.show()
        popup.editor.setFocus()
        self.fk_popup = popup
        return popup

