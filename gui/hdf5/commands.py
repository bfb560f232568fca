"""Undo commands of the HDF5 tab: each calls ``storage.formats.hdf5.edit`` and tells the editor, whose
signals the document's views follow.

HDF5 writes in place, so a command's first write happens before it is pushed (a failure is
shown and nothing lands on the stack); ``redo`` after an undo writes again. Every command
remembers what it replaced, a deleted object lives in the editor's scratch file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QUndoCommand

from storage.formats.hdf5.edit import (
    create_dataset,
    create_group,
    delete_node,
    restore_node,
    set_attribute,
    set_cell,
)

if TYPE_CHECKING:
    from gui.hdf5.edit_actions import Hdf5Editor


def parent_of(path: str) -> str:
    parent = path.rstrip("/").rpartition("/")[0]
    return parent or "/"


class H5Command(QUndoCommand):
    """A write with its inverse; :meth:`apply` does the first write, before the push."""

    def __init__(self, editor: Hdf5Editor, text: str) -> None:
        super().__init__(text)
        self.editor = editor
        self._first = True

    def apply(self) -> None:
        self.forward()

    def redo(self) -> None:
        if self._first:  # already written by apply()
            self._first = False
            return
        self.editor.run_edit(self.forward)

    def undo(self) -> None:
        self.editor.run_edit(self.backward)

    def forward(self) -> None:
        raise NotImplementedError

    def backward(self) -> None:
        raise NotImplementedError


class SetCellCommand(H5Command):
    def __init__(self, editor: Hdf5Editor, path: str, coords: tuple[int, ...], field: str | None,
                 cell: tuple[int, int], value: Any) -> None:
        super().__init__(editor, f"Edit {path}[{', '.join(map(str, coords))}]")
        self.path, self.coords, self.field, self.cell = path, coords, field, cell
        self.value = value
        self.old: Any = None

    def forward(self) -> None:
        self.old = set_cell(self.editor.h5, self.path, self.coords, self.value, self.field)
        self.editor.cell_written(self.path, self.cell, self.value)

    def backward(self) -> None:
        set_cell(self.editor.h5, self.path, self.coords, self.old, self.field)
        self.editor.cell_written(self.path, self.cell, self.old)


class SetAttributeCommand(H5Command):
    """Create, change or (``value=None``) delete an attribute."""

    def __init__(self, editor: Hdf5Editor, path: str, name: str, value: Any, old: Any) -> None:
        verb = "Delete" if value is None else ("Add" if old is None else "Edit")
        super().__init__(editor, f"{verb} attribute {name} of {path}")
        self.path, self.name, self.value, self.old = path, name, value, old

    def forward(self) -> None:
        set_attribute(self.editor.h5, self.path, self.name, self.value)
        self.editor.attributes_changed(self.path)

    def backward(self) -> None:
        set_attribute(self.editor.h5, self.path, self.name, self.old)
        self.editor.attributes_changed(self.path)


class CreateCommand(H5Command):
    """Make a group, or a dataset of ``shape`` and ``dtype`` (filled with zeros)."""

    def __init__(self, editor: Hdf5Editor, path: str, shape: tuple[int, ...] | None = None,
                 dtype: str = "") -> None:
        kind = "group" if shape is None else "dataset"
        super().__init__(editor, f"Create {kind} {path}")
        self.path, self.shape, self.dtype = path, shape, dtype

    def forward(self) -> None:
        if self.shape is None:
            create_group(self.editor.h5, self.path)
        else:
            create_dataset(self.editor.h5, self.path, self.shape, self.dtype)
        self.editor.structure_changed(parent_of(self.path))

    def backward(self) -> None:
        delete_node(self.editor.h5, self.path, self.editor.scratch())
        self.editor.structure_changed(parent_of(self.path))


class DeleteCommand(H5Command):
    """Delete a group, dataset or link; its copy in the scratch file brings it back on undo."""

    def __init__(self, editor: Hdf5Editor, path: str) -> None:
        super().__init__(editor, f"Delete {path}")
        self.path = path
        self.key = ""

    def forward(self) -> None:
        self.key = delete_node(self.editor.h5, self.path, self.editor.scratch())
        self.editor.structure_changed(parent_of(self.path))

    def backward(self) -> None:
        restore_node(self.editor.h5, self.path, self.editor.scratch(), self.key)
        self.editor.structure_changed(parent_of(self.path))
