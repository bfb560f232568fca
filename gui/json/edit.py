"""The JSON document's tree: selection, paths, the context menu and its edits.

:class:`JsonTreeView` is the Tree page of :class:`gui.json.document.JsonDocument`. Every edit it
offers is an undo command on the document's stack that calls the value tree model (Orange canvas
style); the document and its other views follow the stack's changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QModelIndex, QPoint, Qt, Slot
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence, QUndoStack
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QMenu, QTreeView, QWidget

from gui.common.clipboard import TreeClipboard
from gui.json.table_view import pointer_text
from gui.values.commands import (
    InsertCommand,
    MoveCommand,
    RemoveCommand,
    RenameCommand,
    SetValueCommand,
    SortKeysCommand,
    duplicate_command,
)
from gui.values.editable import EditableValueTreeModel
from gui.values.tree import access_path
from storage.core.errors import KnownError
from storage.formats.json.doc import JsonDoc, convert, json_type, to_dotted, to_pointer

TYPES = ("string", "number", "boolean", "null", "object", "array")


class JsonTreeView(QTreeView):
    """Key / Value / Type of the open value tree, with its edit actions and keys."""

    def __init__(self, model: EditableValueTreeModel, undo_stack: QUndoStack,
                 text_for: Callable[[Any], tuple[str, bool]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tree_model = model
        self.undo_stack = undo_stack
        self.text_for = text_for  # (text, read_only) of a value, as the text views show it
        self.doc: JsonDoc | None = None  # the parsed document; None while the file does not parse
        model.editRequested.connect(self._on_model_edit)
        model.moveRequested.connect(self.move_node)
        self.setObjectName("jsonTree")
        self.setModel(model)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setDropIndicatorShown(True)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._on_context_menu)
        self.install_shortcuts()
        self.clipboard = TreeClipboard(self, self.value_text, self.path_text)  # Edit ▸ Copy, Copy Path
        header = self.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.resizeSection(0, 220)
        header.resizeSection(1, 320)
        header.resizeSection(2, 110)

    def set_document(self, doc: JsonDoc | None) -> None:
        """Show ``doc`` (None: the file did not parse, so there is nothing to edit)."""
        self.doc = doc
        self.tree_model.reset_document(doc if doc is not None else JsonDoc(None))
        if doc is not None:
            self.expandToDepth(0)

    # -- paths and selection ----------------------------------------------------------------
    def current_path(self) -> list[Any] | None:
        index = self.currentIndex()
        return self.tree_model.node(index).path() if index.isValid() else None

    def select_path(self, path: list[Any]) -> bool:
        """Fetch along ``path``, expand to it and make it current."""
        index = self.tree_model.index_for_path(path)
        if not index.isValid() and path:
            return False
        if index.isValid():
            parent = index.parent()
            while parent.isValid():
                self.expand(parent)
                parent = parent.parent()
            self.setCurrentIndex(index)
            self.scrollTo(index)
        return True

    def value_text(self, index: QModelIndex) -> str:
        """What Copy gives for a node: a string as it is, anything else as JSON text."""
        value = self.tree_model.node(index).value
        if isinstance(value, str):
            return value
        text, read_only = self.text_for(value)
        if read_only:  # too large to show as text: the text is a note, not the value
            raise KnownError("This value is too large to copy as text; select a smaller node.")
        return text

    def path_text(self, index: QModelIndex) -> str:
        """What Copy Path gives: code reaching the node, ``data["users"][0]["name"]``."""
        return access_path("data", self.tree_model.node(index).path())

    @Slot(int)
    def expand_to_level(self, level: int) -> None:
        self.collapseAll()
        if level > 0:
            self.expandToDepth(level - 1)

    # -- edits from the models ---------------------------------------------------------------
    def _on_model_edit(self, path: list[Any], column: int, value: Any) -> None:
        if column == 0:
            parent = self.tree_model.doc.get(path[:-1])
            row = self.tree_model.made_node(path).row
            if isinstance(parent, dict):
                self.undo_stack.push(RenameCommand(self.tree_model, path[:-1], row, value))
        else:
            self.undo_stack.push(SetValueCommand(self.tree_model, path, value))

    # -- context menu ------------------------------------------------------------------------
    @Slot(QPoint)
    def _on_context_menu(self, pos: QPoint) -> None:
        menu = self.build_context_menu()
        if menu is not None:
            menu.exec(self.viewport().mapToGlobal(pos))

    def build_context_menu(self) -> QMenu | None:
        path = self.current_path()
        if self.doc is None or path is None:
            return None
        value = self.doc.get(path)
        menu = QMenu(self)
        code_path = self.path_text(self.currentIndex())
        menu.addAction("Copy Path", lambda: self.copy_text(code_path))
        menu.addAction("Copy JSON Pointer", lambda: self.copy_text(to_pointer(path)))
        menu.addAction("Copy dotted path", lambda: self.copy_text(to_dotted(path)))
        menu.addAction("Copy value as JSON", lambda: self.copy_text(self.text_for(value)[0]))
        menu.addSeparator()
        if isinstance(value, dict | list):
            menu.addAction("Add child", lambda: self.add_child(path))
        menu.addAction("Insert after", lambda: self.insert_after(path))
        menu.addAction("Duplicate", lambda: self.duplicate(path))
        menu.addAction("Delete", lambda: self.delete(path))
        menu.addAction("Move up", lambda: self.move(path, -1))
        menu.addAction("Move down", lambda: self.move(path, +1))
        if isinstance(value, dict):
            menu.addAction("Sort keys", lambda: self.sort_keys(path))
        types = menu.addMenu("Change type")
        for kind in TYPES:
            action = types.addAction(kind, lambda k=kind: self.change_type(path, k))
            action.setCheckable(True)
            action.setChecked(kind == json_type(value))
        return menu

    def install_shortcuts(self) -> None:
        """Keys for the tree's edits, active while the tree has focus."""
        keys = {
            "Delete": lambda p: self.delete(p), "Insert": lambda p: self.insert_after(p),
            "Ctrl+D": lambda p: self.duplicate(p), "Alt+Up": lambda p: self.move(p, -1),
            "Alt+Down": lambda p: self.move(p, +1),
            "Ctrl+Shift+C": lambda p: self.copy_text(to_pointer(p)),
        }
        for key, run in keys.items():
            action = QAction(self)
            action.setShortcut(QKeySequence(key))
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            action.triggered.connect(lambda _c=False, r=run: self._on_shortcut(r))
            self.addAction(action)

    def _on_shortcut(self, run) -> None:
        path = self.current_path()
        if self.doc is not None and path is not None and self.state() != self.State.EditingState:
            run(path)

    def copy_text(self, text: str) -> None:
        QGuiApplication.clipboard().setText(text)

    def _row(self, path: list[Any]) -> int:
        node = self.tree_model.made_node(path)
        return node.row if node is not None else int(path[-1])

    def add_child(self, path: list[Any]) -> None:
        """Add a value to the object or array at ``path`` and start editing it."""
        container = self.doc.get(path)
        key = _fresh_key(container) if isinstance(container, dict) else len(container)
        self.undo_stack.push(InsertCommand(self.tree_model, path, len(container), key,
                                           new_value_like(container), "Add child"))
        self._edit_new([*path, key])

    def insert_after(self, path: list[Any]) -> None:
        if not path:
            return
        parent = self.doc.get(path[:-1])
        row = self._row(path) + 1
        key = _fresh_key(parent) if isinstance(parent, dict) else row
        self.undo_stack.push(InsertCommand(self.tree_model, path[:-1], row, key, new_value_like(parent)))
        self._edit_new([*path[:-1], key])

    def _edit_new(self, path: list[Any]) -> None:
        """Select the value just added and open its editor (a new object key's name first)."""
        self.select_path(path)
        index = self.tree_model.index_for_path(path)
        if index.isValid():
            column = 0 if isinstance(path[-1], str) else 1
            target = index.siblingAtColumn(column)
            if self.tree_model.flags(target) & Qt.ItemFlag.ItemIsEditable:
                self.setCurrentIndex(target)
                self.edit(target)

    def duplicate(self, path: list[Any]) -> None:
        if path:
            command = duplicate_command(self.tree_model, path, self._row(path))
            self.undo_stack.push(command)
            self.select_path([*path[:-1], command.key])

    def delete(self, path: list[Any]) -> None:
        if path:
            self.undo_stack.push(RemoveCommand(self.tree_model, path[:-1], self._row(path)))

    def move(self, path: list[Any], step: int) -> None:
        if not path:
            return
        row = self._row(path)
        size = len(self.doc.get(path[:-1]))
        if 0 <= row + step < size:
            self.undo_stack.push(MoveCommand(self.tree_model, path[:-1], row, row + step))
            key = path[-1] if isinstance(path[-1], str) else row + step
            self.select_path([*path[:-1], key])

    def move_node(self, source: list[Any], parent_path: list[Any], row: int) -> bool:
        """Move the node at ``source`` to ``row`` of the container at ``parent_path`` (a drop).

        Within one container it is one :class:`MoveCommand`; between containers a macro of a
        remove and an insert (an object member keeps its key unless the target has it).
        """
        target = self.doc.get(parent_path)
        if not source or parent_path[:len(source)] == source or not isinstance(target, dict | list):
            return False
        source_parent, source_row = source[:-1], self._row(source)
        if source_parent == parent_path:
            new_row = min(row - 1 if row > source_row else row, len(target) - 1)
            if new_row != source_row:
                self.undo_stack.push(MoveCommand(self.tree_model, parent_path, source_row, new_row))
                self.select_path([*parent_path, source[-1] if isinstance(target, dict) else new_row])
            return new_row != source_row
        depth = len(source_parent)
        if (isinstance(self.doc.get(source_parent), list) and parent_path[:depth] == source_parent
                and parent_path[depth] > source_row):
            parent_path = [*parent_path[:depth], parent_path[depth] - 1, *parent_path[depth + 1:]]
        key: Any = min(row, len(target))
        if isinstance(target, dict):
            key = base = str(source[-1])
            n = 1
            while key in target:
                n += 1
                key = f"{base} ({n})"
        self.undo_stack.beginMacro(f"Move {to_pointer(source)} to {pointer_text(parent_path)}")
        remove = RemoveCommand(self.tree_model, source_parent, source_row)
        self.undo_stack.push(remove)
        self.undo_stack.push(InsertCommand(self.tree_model, parent_path, min(row, len(target)), key,
                                           remove.value, "Move"))
        self.undo_stack.endMacro()
        self.select_path([*parent_path, key])
        return True

    def sort_keys(self, path: list[Any]) -> None:
        if isinstance(self.doc.get(path), dict):
            self.undo_stack.push(SortKeysCommand(self.tree_model, path))

    def change_type(self, path: list[Any], kind: str) -> None:
        value = self.doc.get(path)
        if json_type(value) != kind:
            self.undo_stack.push(SetValueCommand(self.tree_model, path, convert(value, kind),
                                                 f"Change type to {kind}"))


def new_value_like(container: dict | list) -> Any:
    """The value "Add child" and "Insert after" put in ``container``: an empty value of the type
    its last item has (0 among numbers, false among booleans; in an array of objects, {}), else
    an empty string; the scalars are edited in place at once, unlike null."""
    items = list(container.values()) if isinstance(container, dict) else container
    for item in reversed(items[-50:]):
        if isinstance(item, bool):
            return False
        if isinstance(item, int | float):
            return 0
        if isinstance(item, str):
            return ""
        if isinstance(item, dict | list) and isinstance(container, list):
            return type(item)()  # an array of records gets a record
    return ""


def _fresh_key(container: dict) -> str:
    key, n = "new key", 1
    while key in container:
        n += 1
        key = f"new key {n}"
    return key

