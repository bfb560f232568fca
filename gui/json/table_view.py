"""The JSON document's table mode: which array of objects it shows, and its column widths.

:class:`JsonTablePanel` is the Table page of :class:`gui.json.document.JsonDocument`. It shows an
array of objects of the open value tree and turns cell edits into undo commands on that tree.
Column widths the user sets are remembered per table (by JSON Pointer) and column name, saved in
the document's view state and restored when the table is shown again, in this launch or the next.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, Qt, Signal, Slot
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTableView, QVBoxLayout, QWidget

from gui.common.clipboard import TableClipboard
from gui.json.table import RecordsTableModel, is_table
from gui.values.commands import InsertCommand, SetValueCommand
from gui.values.editable import EditableValueTreeModel
from storage.core.errors import KnownError
from storage.formats.json.doc import JsonDoc, to_pointer
from storage.formats.json.io import JsonFormat, dumps

if TYPE_CHECKING:  # Convert… is imported when first used: it keeps opening a file quick
    from gui.common.convert_dialog import ConversionRun, ConvertDialog
    from storage.core.convert import Target

MAX_REMEMBERED_TABLES = 20
_ONE_LINE = JsonFormat(indent=None, compact=True, trailing_newline=False)


def pointer_text(path: list[Any]) -> str:
    """A node's JSON Pointer as the user reads it (the root has a name)."""
    return to_pointer(path) or "/ (the document)"


class JsonTablePanel(QWidget):
    """An array of objects of the value tree as a table; edits go on the document's undo stack."""

    viewStateChanged = Signal()  # a column was resized: the session saves the widths
    messageShown = Signal(str, str)  # text, kind ("info", "error"): a conversion's outcome

    def __init__(self, model: EditableValueTreeModel, undo_stack: QUndoStack,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tree_model = model
        self.undo_stack = undo_stack
        self.table_widths: dict[str, dict[str, int]] = {}  # table pointer -> column -> width
        self._sizing_table = False
        self.table_model = RecordsTableModel(self)
        self.table_model.editRequested.connect(self._on_table_edit)
        self.table = QTableView(self)
        self.table.setObjectName("jsonTable")
        self.table.setModel(self.table_model)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicatorShown(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().sectionResized.connect(self._on_table_column_resized)
        TableClipboard(self.table, self.cell_text)  # Edit ▸ Copy: the selected cells as TSV
        self.table_label = QLabel(self)
        self.path_for: Any = lambda: None  # the document's file, where Convert… suggests its target
        self.convert_button = QPushButton("Convert…", self)
        self.convert_button.setObjectName("jsonConvert")
        self.convert_button.setToolTip("Write these records to CSV, Parquet, JSON Lines or a table in an "
                                       "SQLite file")
        self.convert_button.setEnabled(False)
        self.convert_button.clicked.connect(self.ask_convert)
        head = QHBoxLayout()
        head.addWidget(self.table_label, 1)
        head.addWidget(self.convert_button)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(head)
        box.addWidget(self.table, 1)

    def cell_text(self, index: QModelIndex) -> str:
        """A cell as Copy puts it in TSV: text as it is, a missing key or null as empty, other
        values (numbers, booleans, nested objects) as compact JSON."""
        model = self.table_model
        record = model.records[model.record_index(index.row())]
        key = model.columns[index.column()]
        value = record.get(key) if isinstance(record, dict) else None
        if value is None or isinstance(value, str):
            return value or ""
        try:
            return dumps(value, _ONE_LINE)
        except KnownError:  # NaN typed in: as the table shows it
            return str(index.data())

    def show_source(self, doc: JsonDoc | None, selected: list[Any] | None) -> None:
        """Show the selected array of objects, else the first such array under the root."""
        if doc is None:
            return
        path = selected or []
        value = doc.get(path)
        while not is_table(value) and path:
            path = path[:-1]
            value = doc.get(path)
        if not is_table(value) and isinstance(doc.root, dict):
            path = next(([k] for k, v in doc.root.items() if is_table(v)), [])
            value = doc.get(path)
        if is_table(value):
            self.table_model.first_number = 1 if doc.lines and not path else 0  # JSON Lines: record 1 first
            if path != self.table_model.path or value is not self.table_model.records:
                self.table_model.set_records(path, value)
                self._size_table_columns()
            self.table_label.setText(f"{len(value):,} records at {pointer_text(path)}")
        else:
            self.table_model.set_records([], [])
            self.table_label.setText("Select an array of objects to see it as a table.")
        self.convert_button.setEnabled(bool(self.table_model.records))

    def ask_convert(self) -> ConvertDialog | None:
        """Convert…: the records shown to CSV, Parquet, JSON Lines or an SQLite table."""
        if not self.table_model.records:
            return None
        path = self.table_model.path
        name = str(path[-1]) if path else "records"
        from gui.common.convert_dialog import ConvertDialog

        dialog = ConvertDialog(self.path_for(), name, self)
        if path:  # a table inside the document: named after its key, not the file
            dialog.table.setText(name)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.targetChosen.connect(self.convert_to)
        dialog.open()
        return dialog

    def convert_to(self, target: Target, open_when_done: bool = False) -> ConversionRun:
        from gui.common.convert_dialog import ConversionRun
        from storage.core.convert import records_source

        # A copy of each record: edits made while the worker writes do not reach it half way.
        records = [dict(r) if isinstance(r, dict) else r for r in self.table_model.records]
        run = ConversionRun(self, target, lambda: records_source(records), open_when_done=open_when_done)
        run.finished.connect(lambda ok, text: self.messageShown.emit(text, "info" if ok else "error"))
        return run

    def refresh(self) -> None:
        """The values changed (an edit, undo or redo): the shown records are read again."""
        if self.table_model.records:
            self.table_model.refresh()

    def _on_table_edit(self, path: list[Any], value: Any, exists: bool) -> None:
        if exists:
            self.undo_stack.push(SetValueCommand(self.tree_model, path, value))
        else:
            record = self.tree_model.doc.get(path[:-1])
            self.undo_stack.push(InsertCommand(self.tree_model, path[:-1], len(record), path[-1], value,
                                               f"Add {path[-1]!r}"))

    def _size_table_columns(self) -> None:
        """Widths the user chose for this table, else fitted to the contents (within bounds)."""
        saved = self.table_widths.get(to_pointer(self.table_model.path), {})
        self._sizing_table = True
        try:
            self.table.resizeColumnsToContents()
            for column, name in enumerate(self.table_model.columns):
                width = saved.get(name)
                if not isinstance(width, int) or width <= 0:
                    width = min(max(self.table.columnWidth(column), 60), 320)
                self.table.setColumnWidth(column, width)
        finally:
            self._sizing_table = False

    @Slot(int, int, int)
    def _on_table_column_resized(self, column: int, _old: int, new: int) -> None:
        if self._sizing_table or not 0 <= column < len(self.table_model.columns):
            return
        if column == len(self.table_model.columns) - 1:
            return  # the last column stretches with the window
        pointer = to_pointer(self.table_model.path)
        widths = self.table_widths.pop(pointer, {})
        widths[self.table_model.columns[column]] = new
        self.table_widths[pointer] = widths  # most recently used last
        while len(self.table_widths) > MAX_REMEMBERED_TABLES:
            del self.table_widths[next(iter(self.table_widths))]
        self.viewStateChanged.emit()

    def view_state(self) -> dict[str, Any]:
        return {"table_columns": self.table_widths}

    def restore_view_state(self, state: dict[str, Any]) -> None:
        widths = state.get("table_columns")
        if not isinstance(widths, dict):
            return
        self.table_widths = {
            str(pointer): {str(k): v for k, v in columns.items() if isinstance(v, int) and v > 0}
            for pointer, columns in widths.items() if isinstance(columns, dict)}
        if self.table_model.records:
            self._size_table_columns()
