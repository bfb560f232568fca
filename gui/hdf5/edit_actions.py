"""The HDF5 document's edit side: writable toggle, cell and attribute edits, create, delete, export.

Edits are written in place (HDF5 has no atomic save), so the writable mode is opt-in, asks
first, and copies the file to ``NAME.bak`` before the first write. Every edit is an undo command
(``gui.hdf5.commands``) that calls :class:`Hdf5Editor`'s writes; the editor says what changed
through its signals (``cellWritten``, ``attributesChanged``, ``structureChanged``) and the
document's views follow. The document counts as unmodified: its changes are already on disk, and
Save only flushes them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QMenu,
    QMessageBox,
    QToolButton,
)

from gui.common.clipboard import fit_block, one_undo_step, pasted_text
from gui.common.file_dialogs import suggested_path
from gui.common.workers import Worker, run_in_worker, run_with_progress
from gui.hdf5.commands import CreateCommand, DeleteCommand, H5Command, SetAttributeCommand, SetCellCommand
from storage.core.errors import KnownError
from storage.formats.hdf5.edit import (
    Scratch,
    flush,
    get_attribute,
    make_readonly,
    make_writable,
    parse_attribute,
    parse_value,
)
from storage.formats.hdf5.export import Cancelled, export_slice

if TYPE_CHECKING:
    from gui.hdf5.document import Hdf5Document
    from storage.formats.hdf5.io import H5File


class Hdf5Editor(QObject):
    """The edit bar, the tree's and attributes' edit menus, the writes and the slice export.

    It works on the document's open file and selection (``h5``, ``info``, ``current_path``,
    ``axes``) through the document's public API, owns the writable mode's backup, the scratch
    file of deleted objects and the export worker, and reports every write by a signal.
    """

    cellWritten = Signal(str, object, object)  # dataset path, (row, column) in the table, value
    attributesChanged = Signal(str)  # path of the object whose attributes changed
    structureChanged = Signal(str)  # path of the group whose members changed
    exportFinished = Signal(str)  # the message shown: written, cancelled or failed

    def __init__(self, document: Hdf5Document) -> None:
        super().__init__(document)
        self.document = document
        self._scratch: Scratch | None = None
        self._backed_up = False  # the .bak of this session exists: never overwrite it
        self._export_worker: Worker | None = None
        self._export_generation = 0
        self.bar = self._build_bar(document)

    @property
    def h5(self) -> H5File | None:
        return self.document.h5

    def _build_bar(self, document: Hdf5Document) -> QHBoxLayout:
        self.writable_box = QCheckBox("Writable", document)
        self.writable_box.setObjectName("writableToggle")
        self.writable_box.setToolTip("Allow edits. HDF5 writes in place: a .bak copy is made first.")
        self.writable_box.toggled.connect(self._on_writable_toggled)
        self.export_button = QToolButton(document)
        self.export_button.setText("Export slice")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.export_button)
        menu.addAction("As CSV…", lambda: self.export_dialog("csv"))
        menu.addAction("As NumPy .npy…", lambda: self.export_dialog("npy"))
        self.export_button.setMenu(menu)
        self.cancel_export_button = QToolButton(document)
        self.cancel_export_button.setText("Cancel export")
        self.cancel_export_button.clicked.connect(self.cancel_export)
        self.cancel_export_button.hide()
        tree = document.tree
        tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        tree.customContextMenuRequested.connect(self._on_tree_menu)
        delete = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), tree)
        delete.setContext(Qt.ShortcutContext.WidgetShortcut)
        delete.activated.connect(lambda: self.delete_path(self.document.current_path))
        document.attr_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        document.attr_view.customContextMenuRequested.connect(self._on_attr_menu)
        document.table_model.editRequested.connect(self._on_cell_edit)
        document.attr_model.editRequested.connect(self._on_attr_edit)
        bar = QHBoxLayout()
        bar.addWidget(self.writable_box)
        bar.addWidget(self.export_button)
        bar.addWidget(self.cancel_export_button)
        bar.addStretch(1)
        return bar

    def refresh_edit_bar(self) -> None:
        h5 = self.h5
        self.writable_box.blockSignals(True)
        self.writable_box.setChecked(bool(h5 and h5.writable))
        self.writable_box.blockSignals(False)
        self.writable_box.setEnabled(h5 is not None and not h5.lock_note)
        info = self.document.info
        self.export_button.setEnabled(info is not None and bool(info.shape) and self._export_worker is None)
        self.document.attr_model.editable = bool(h5 and h5.writable)

    # -- modes ---------------------------------------------------------------------------------
    def confirm_writable(self) -> bool:
        answer = QMessageBox.question(
            self.document, "Allow edits?",
            f"HDF5 files are changed in place. Before the first change Datashelf copies "
            f"{self.document.title()} to {self.document.title()}.bak.\n\nAllow edits to this file?")
        return answer == QMessageBox.StandardButton.Yes

    @Slot(bool)
    def _on_writable_toggled(self, on: bool) -> None:
        if on and not self.confirm_writable():
            self.refresh_edit_bar()
            return
        self.set_writable(on)

    def set_writable(self, on: bool) -> bool:
        if self.h5 is None:
            return False
        with self.document.disk.own_write():  # reopening for writing rewrites the superblock's flags
            self._switch_writable(on)
        self.document.disk.record()
        self.refresh_edit_bar()
        self.document.table_model.editable = bool(self.h5.writable and self.cell_editable())
        self.document.statusChanged.emit()
        return self.h5.writable == on

    def _switch_writable(self, on: bool) -> None:
        assert self.h5 is not None
        try:
            if on:
                bak = run_with_progress(self.document, f"Copying {self.document.title()} to .bak…",
                                        make_writable, self.h5, not self._backed_up)
                self._backed_up = True
                self.document.show_message(f"Writable: edits go straight to the file. The original is "
                                           f"kept as {os.path.basename(bak)}.", "warning")
            else:
                make_readonly(self.h5)
                self.document.show_standing_message()
        except KnownError as exc:
            self.document.show_message(str(exc), "error")

    def cell_editable(self) -> bool:
        if self.document.info is None or self.h5 is None:
            return False
        text = self.document.info.dtype
        return not (text.startswith(("vlen", "object", "region", "opaque", "enum")) or "×" in text)

    # -- running commands ---------------------------------------------------------------------
    def run_edit(self, step: Callable[[], None]) -> bool:
        """Run one write; flushed at once, so the disk watch can tell it from another program's."""
        with self.document.disk.own_write():
            try:
                step()
                if self.h5 is not None and self.h5.writable:
                    flush(self.h5)
            except KnownError as exc:
                self.document.show_message(str(exc), "error")
                return False
        self.document.disk.record()
        return True

    def push_edit(self, command: H5Command) -> bool:
        if not self.run_edit(command.apply):
            return False
        self.document.undo_stack.push(command)
        return True

    def scratch(self) -> Scratch:
        if self._scratch is None:
            self._scratch = Scratch()
        return self._scratch

    def close_scratch(self) -> None:
        if self._scratch is not None:
            self._scratch.close()
            self._scratch = None

    # -- cells -------------------------------------------------------------------------------------
    def cell_target(self, row: int, col: int) -> tuple[tuple[int, ...], str | None]:
        axes, index = self.document.axes.axes(), list(self.document.axes.index())
        if not self.document.info.shape:
            return (), None
        index[axes[0]] = row
        if axes[1] is not None:
            index[axes[1]] = col
        field = self.document.info.fields[col] if self.document.info.fields else None
        return tuple(index), field

    @Slot(int, int, str)
    def _on_cell_edit(self, row: int, col: int, text: str) -> None:
        self.edit_cell(row, col, text)

    def edit_cell(self, row: int, col: int, text: str) -> bool:
        if self.document.info is None or self.h5 is None or not self.h5.writable:
            return False
        try:
            command = self._cell_command(row, col, text)
        except ValueError as exc:
            self.document.show_message(f"Not written: {exc}", "error")
            return False
        return self.push_edit(command)

    def _cell_command(self, row: int, col: int, text: str) -> SetCellCommand:
        """The command writing ``text`` in a cell of the dataset shown; ValueError when the
        text is no value of the dataset's type."""
        info = self.document.info
        coords, field = self.cell_target(row, col)
        with self.h5.lock:
            dtype = self.h5.handle[info.path].dtype
        value = parse_value(text, dtype[field] if field else dtype)
        return SetCellCommand(self, info.path, coords, field, (row, col), value)

    def paste_cells(self, top: int, left: int, rows: list[list[str | None]]) -> str:
        """Edit ▸ Paste: TSV cells from (top, left) on, as ONE undoable change of the dataset."""
        info = self.document.info
        if info is None or not info.shape:
            raise KnownError("Select a dataset to paste into first.")
        if self.h5 is None or not self.h5.writable:
            raise KnownError("Read-only: tick Writable to paste into the dataset.")
        model = self.document.table_model
        cells, left_out = fit_block(rows, top, left, model.rowCount(), model.columnCount())
        commands = []
        for row, col, text in cells:  # every value is checked before the first is written
            try:
                commands.append(self._cell_command(row, col, text))
            except ValueError as exc:
                raise KnownError(f"Nothing pasted: row {row}, column {col}: {exc}") from None
        one_undo_step(self.document.undo_stack, f"Paste {len(cells)} cells into {info.path}",
                      [lambda c=command: self.push_edit(c) for command in commands])
        return pasted_text(len(cells), left_out)

    def cell_written(self, path: str, cell: tuple[int, int], value: Any) -> None:
        """Called by the cell commands after each write."""
        self.cellWritten.emit(path, cell, value)

    # -- attributes ---------------------------------------------------------------------------------
    @Slot(str, str)
    def _on_attr_edit(self, name: str, text: str) -> None:
        self.set_attribute(self.document.current_path, name, text)

    def set_attribute(self, path: str, name: str, text: str | None) -> bool:
        """Set attribute ``name`` from typed text (a Python literal or plain text); None deletes."""
        if self.h5 is None or not self.h5.writable or not name:
            return False
        old = get_attribute(self.h5, path, name)
        value = None if text is None else parse_attribute(text)
        return self.push_edit(SetAttributeCommand(self, path, name, value, old))

    def attributes_changed(self, path: str) -> None:
        """Called by the attribute commands after each write."""
        self.attributesChanged.emit(path)

    @Slot()
    def _on_attr_menu(self, pos) -> None:
        if self.h5 is None or not self.h5.writable or not self.document.current_path:
            return
        menu = QMenu(self.document)
        menu.addAction("Add attribute…", self._ask_new_attribute)
        index = self.document.attr_view.indexAt(pos)
        if index.isValid():
            name = self.document.attr_model.attributes[index.row()].name
            menu.addAction(f"Delete attribute {name}",
                           lambda: self.set_attribute(self.document.current_path, name, None))
        menu.exec(self.document.attr_view.viewport().mapToGlobal(pos))

    def _ask_new_attribute(self) -> None:
        name, ok = QInputDialog.getText(self.document, "Add attribute", "Name:")
        if ok and name:
            value, ok = QInputDialog.getText(self.document, "Add attribute", f"Value of {name} (e.g. 3, 1.5, "
                                             "[1, 2], or text):")
            if ok:
                self.set_attribute(self.document.current_path, name, value)

    # -- structure ----------------------------------------------------------------------------------
    def create_group(self, parent: str, name: str) -> bool:
        if self.h5 is None or not self.h5.writable:
            return False
        return self.push_edit(CreateCommand(self, f"{parent.rstrip('/')}/{name}"))

    def create_dataset(self, parent: str, name: str, shape: tuple[int, ...], dtype: str) -> bool:
        if self.h5 is None or not self.h5.writable:
            return False
        return self.push_edit(CreateCommand(self, f"{parent.rstrip('/')}/{name}", shape, dtype))

    def delete_path(self, path: str) -> bool:
        if self.h5 is None or not self.h5.writable or path in ("", "/"):
            return False
        return self.push_edit(DeleteCommand(self, path))

    def structure_changed(self, parent: str) -> None:
        """Called by the create and delete commands after each write."""
        self.structureChanged.emit(parent)

    @Slot()
    def _on_tree_menu(self, pos) -> None:
        node = self.document.tree_model.node(self.document.tree.indexAt(pos))
        if node is None or self.h5 is None or not self.h5.writable:
            return
        menu = QMenu(self.document)
        if node.kind == "group":
            menu.addAction("New group…", lambda: self._ask_new(node.path, dataset=False))
            menu.addAction("New dataset…", lambda: self._ask_new(node.path, dataset=True))
        if node.path != "/":
            menu.addAction(f"Delete {node.name}", lambda: self.delete_path(node.path))
        menu.exec(self.document.tree.viewport().mapToGlobal(pos))

    def _ask_new(self, parent: str, dataset: bool) -> None:
        name, ok = QInputDialog.getText(self.document, "New dataset" if dataset else "New group", "Name:")
        if not ok or not name:
            return
        if not dataset:
            self.create_group(parent, name)
            return
        spec, ok = QInputDialog.getText(self.document, "New dataset", "Shape and type, e.g. 100, 3 float64:",
                                        text="10 float64")
        if not ok:
            return
        *dims, dtype = spec.replace(",", " ").split() or ["float64"]
        try:
            shape = tuple(int(d) for d in dims)
        except ValueError:
            self.document.show_message(f"Not created: {spec!r} is not a shape and type", "error")
            return
        self.create_dataset(parent, name, shape, dtype)

    # -- export ----------------------------------------------------------------------------------------
    def export_dialog(self, fmt: str) -> None:
        if self.document.info is None:
            return
        base = self.document.info.path.strip("/").replace("/", "_") or "dataset"
        start = suggested_path(self.document.path, f"{base}.{fmt}")
        dest, _ = QFileDialog.getSaveFileName(self.document, "Export slice", start,
                                              "CSV (*.csv)" if fmt == "csv" else "NumPy (*.npy)")
        if dest:
            self.export_to(dest, fmt)

    def export_to(self, dest: str, fmt: str) -> None:
        """Write the current slice to ``dest`` in a worker; ``exportFinished`` says how it went."""
        if self.document.info is None or self.h5 is None:
            return
        name = os.path.basename(dest)
        generation = self._export_generation
        self.export_button.setEnabled(False)
        self.cancel_export_button.show()
        self.document.show_message(f"Exporting to {name}…", "info")
        self._export_worker = run_in_worker(
            export_slice, self.h5, self.document.info.path, self.document.axes.axes(),
            self.document.axes.index(), dest, fmt,
            on_result=lambda rows: self._on_exported(generation, f"Exported {rows:,} rows to {dest}", "info"),
            on_error=lambda exc: self._on_exported(
                generation, f"Export cancelled: {name} was not written" if isinstance(exc, Cancelled)
                else f"Export failed: {exc}", "error"),
            on_progress=lambda done: generation == self._export_generation and self.document.show_message(
                f"Exporting to {name}… {done:.0%}", "info"))

    @Slot()
    def cancel_export(self) -> None:
        if self._export_worker is not None:
            self._export_worker.cancel()

    def is_exporting(self) -> bool:
        return self._export_worker is not None

    def stop_export(self) -> None:
        """The file is being closed or reopened: stop the export and forget what it answers."""
        self._export_generation += 1
        if self._export_worker is not None:
            self._export_worker.cancel()
            self._export_worker = None
            self.cancel_export_button.hide()

    def _on_exported(self, generation: int, text: str, kind: str) -> None:
        if generation != self._export_generation:  # the document was closed or reloaded meanwhile
            return
        self._export_worker = None
        self.cancel_export_button.hide()
        self.document.show_message(text, kind)
        self.refresh_edit_bar()
        self.exportFinished.emit(text)
