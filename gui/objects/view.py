"""The value tree of an Objects document with its detail pane and edit actions.

The tree is the shared lazy model (``ObjectTreeModel``); the pane beside it shows the selected
value in full, or, for a NumPy array, its shape, dtype, range, a lazy table and a plot. Every
edit is an undo command from ``gui.values.commands`` on the document's stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, QPoint, Qt, Signal, Slot
from PySide6.QtGui import QAction, QGuiApplication, QUndoStack
from PySide6.QtWidgets import (
    QAbstractItemView,
    QMenu,
    QPlainTextEdit,
    QSplitter,
    QStackedWidget,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from gui.arrays.pane import ArrayPane, is_array
from gui.common.clipboard import TreeClipboard
from gui.objects.model import ObjectTreeModel, value_preview
from gui.values.tree import access_path
from storage.formats.objects.doc import (
    EDIT_TYPES,
    ObjectDoc,
    ObjectEditError,
    children_of,
    edit_text,
    parse_scalar,
    short_repr,
)
from storage.formats.objects.pickle.nodes import CallNode, GlobalNode

if TYPE_CHECKING:
    from gui.arrays.frame import FramePane
    from gui.common.find_bar import FindBar, PathFinder
    from gui.objects.add_item import AddItemDialog
    from storage.formats.objects.pickle.frame import FrameTable

_DETAIL_LIMIT = 200_000  # characters of a value's text shown in the detail pane


class ObjectsView(QWidget):
    """Tree + detail pane for one :class:`ObjectDoc`."""

    selectionMoved = Signal()
    convertRequested = Signal()  # the grid's Convert…: the document converts current_table()

    def __init__(self, undo_stack: QUndoStack, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = undo_stack
        # after any edit, undo or redo the detail pane ("list of 3 items") reads the value again
        undo_stack.indexChanged.connect(self._on_stack_changed)
        self.model = self.new_model(ObjectDoc(None, None))
        self.tree = QTreeView(self)
        self.tree.setObjectName("objectsTree")
        self.tree.setModel(self.model)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                  | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.tree.header().resizeSection(0, 220)
        self.tree.header().resizeSection(1, 320)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._on_context_menu)
        self.tree.selectionModel().currentChanged.connect(self._on_current_changed)
        self.clipboard = TreeClipboard(self.tree, self.value_text, self.path_text)  # Edit ▸ Copy, Copy Path
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.array_pane: ArrayPane | None = None
        self.frame_pane: FramePane | None = None  # a pickled DataFrame or Series as a grid
        self._table_source: FrameTable | Any = None  # the table shown (an array: made when asked)
        self.file_path: str | None = None  # where old joblib files' companion arrays are looked up
        self.in_shelf = False  # the values of a shelf's keys: Copy Path starts at shelf["key"]
        self.detail = QStackedWidget(self)
        self.detail.addWidget(self.text)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(self.tree)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self._finder: PathFinder | None = None  # Edit ▸ Find's bar and finder, made when first used
        self._box = QVBoxLayout(self)
        self._box.setContentsMargins(0, 0, 0, 0)
        self._box.addWidget(self.splitter, 1)

    @property
    def finder(self) -> PathFinder:
        """Edit ▸ Find: keys and values, searched in a worker; an edit makes the matches stale."""
        if self._finder is None:
            from gui.common.find_bar import FindBar, PathFinder

            bar = FindBar(self, "Find in keys and values")
            self._finder = PathFinder(bar, self._find_job, self.select_path, self)
            self.undo_stack.indexChanged.connect(self._finder.forget)
            self._box.addWidget(bar)
        return self._finder

    @property
    def find_bar(self) -> FindBar:
        return self.finder.bar

    def forget_matches(self) -> None:
        """The tree changed: a find searches again (nothing to drop before the first find)."""
        if self._finder is not None:
            self._finder.forget()

    def new_model(self, doc: ObjectDoc) -> ObjectTreeModel:
        """A tree model for ``doc`` whose edits come back here as undo commands."""
        model = ObjectTreeModel(doc, self)
        model.editRequested.connect(
            lambda path, column, value, m=model: self._on_model_edit(path, column, value, m))
        return model

    def show_model(self, model: ObjectTreeModel) -> None:
        """Show another value (a shelf's keys each have their model, so undo finds its own)."""
        if model is self.model:
            return
        self.forget_matches()
        self.model = model
        self.tree.setModel(model)
        self.tree.selectionModel().currentChanged.connect(self._on_current_changed)
        self._start()

    def set_doc(self, doc: ObjectDoc) -> None:
        self.forget_matches()
        self.model.reset_document(doc)
        self._start()

    def _start(self) -> None:
        doc = self.model.doc
        if self.model.canFetchMore(QModelIndex()):
            self.model.fetchMore(QModelIndex())
        self.tree.setRootIsDecorated(True)
        first = self.model.index(0, 0)
        if first.isValid():
            self.tree.setCurrentIndex(first)
            if doc.label is not None:
                self.tree.expand(first)
        else:
            self._show_value(doc.root)

    # -- find -------------------------------------------------------------------------------------
    def _find_job(self, text: str) -> Any:
        """The worker's search of ``text`` in the shown value's keys and values (as the tree
        shows them, a string whole), case-insensitive."""
        doc = self.model.doc
        needle = text.casefold()
        label, stacked = doc.label, doc.stacked

        def key_text(path: list[Any], parent: Any) -> str | None:
            key = path[-1]
            if len(path) == 1 and (stacked or label is not None):
                return f"pickle {key + 1}" if stacked else label
            if isinstance(parent, list | tuple | set | frozenset):
                return None  # an index: every "1" would match
            return key if isinstance(key, str) else short_repr(key)

        def matches(path: list[Any], value: Any, parent: Any) -> bool:
            key = key_text(path, parent)
            if key is not None and needle in key.casefold():
                return True
            return needle in (value if isinstance(value, str) else value_preview(value)).casefold()

        from gui.common.find_bar import walk_paths

        return lambda limit, cancel: walk_paths(doc.root, children_of, matches, limit, cancel)

    # -- the clipboard -----------------------------------------------------------------------------
    def value_text(self, index: QModelIndex) -> str:
        """What Copy gives for a node: text as it is, other values in Python's notation."""
        value = self.model.node(index).value
        return repr(value) if is_array(value) else edit_text(value)

    def path_text(self, index: QModelIndex) -> str:
        """What Copy Path gives: code reaching the node from the loaded object, ``obj["x"][0]``."""
        path = self.model.node(index).path()
        label = self.model.doc.label
        if label is not None:
            path = path[1:]  # the labelled value is the object itself, not an item of it
        root = access_path("shelf", [label]) if self.in_shelf and label is not None else "obj"
        return access_path(root, path, short_repr)

    # -- selection and the detail pane ---------------------------------------------------------
    def current_path(self) -> list[Any] | None:
        index = self.tree.currentIndex()
        return self.model.node(index).path() if index.isValid() else None

    def select_path(self, path: list[Any]) -> bool:
        index = self.model.index_for_path(path)
        if index.isValid():
            self.tree.setCurrentIndex(index)
            self.tree.scrollTo(index)
        return index.isValid()

    @Slot(QModelIndex, QModelIndex)
    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._show_value(self.model.node(current).value if current.isValid() else self.model.root_value())
        self.selectionMoved.emit()

    def shows_table(self) -> bool:
        """Whether the detail pane shows a table (cheap: an array's columns are not made)."""
        return self._table_source is not None

    def current_table(self) -> FrameTable | None:
        """The table the detail pane shows: a pickled DataFrame or Series, or a NumPy 2-D or
        structured array (as its columns); None for any other value."""
        from storage.formats.objects.pickle.frame import FrameTable, array_table  # NumPy: when asked

        source = self._table_source
        if source is None or isinstance(source, FrameTable):
            return source
        try:
            return array_table(source)
        except ValueError:
            return None

    def current_name(self) -> str:
        """The shown value's key, when it has a name ("table" of {"table": frame}), else ""."""
        index = self.tree.currentIndex()
        path = self.model.node(index).path() if index.isValid() else []
        if self.model.doc.label is not None:
            path = path[1:]
        return str(path[-1]) if path and isinstance(path[-1], str) else ""

    def _show_value(self, value: Any) -> None:
        self._table_source = None
        companion = self._companion(value)
        if isinstance(companion, str):
            self.detail.setCurrentWidget(self.text)
            self.text.setPlainText(companion)
            return
        if companion is not None:
            value = companion
        if isinstance(value, CallNode) and self._show_frame(value):
            return
        if is_array(value):
            if self.array_pane is None:
                self.array_pane = ArrayPane(self)
                self.array_pane.convertRequested.connect(self.convertRequested)
                self.detail.addWidget(self.array_pane)
            tabular = value.ndim == 2 or (value.ndim == 1 and bool(getattr(value.dtype, "names", None)))
            self.array_pane.show_array(value, convertible=tabular)
            self.detail.setCurrentWidget(self.array_pane)
            if tabular:
                self._table_source = value  # its columns are made when Convert… asks
            return
        self.detail.setCurrentWidget(self.text)
        if isinstance(value, str):
            text = value
        elif isinstance(value, dict | list | tuple | set | frozenset):
            text = f"{type(value).__name__} of {len(value):,} items"
        else:
            text = value_preview(value) if not isinstance(value, bytes) else repr(value)
        self.text.setPlainText(text[:_DETAIL_LIMIT] + ("…" if len(text) > _DETAIL_LIMIT else ""))

    def _show_frame(self, value: CallNode) -> bool:
        """A pickled DataFrame or Series as a grid (True), else False. Imported here: the grid and
        the frame reader need NumPy, which a plain pickle's first screen never waits for."""
        from gui.arrays.frame import FramePane
        from storage.formats.objects.pickle.frame import FrameError, frame_table, is_frame

        if not is_frame(value):
            return False
        try:
            table = frame_table(value)
        except FrameError as exc:
            self.detail.setCurrentWidget(self.text)
            self.text.setPlainText(f"This {value.func.name} cannot be shown as a table: {exc}\n\n"
                                   "Its pickled parts are in the tree.")
            return True
        if self.frame_pane is None:
            self.frame_pane = FramePane(self)
            self.frame_pane.convertRequested.connect(self.convertRequested)
            self.detail.addWidget(self.frame_pane)
        self.frame_pane.show_table(table, self._raw_page(value))
        self._table_source = table
        if self.detail.currentWidget() is not self.frame_pane:
            self.detail.setCurrentWidget(self.frame_pane)
            sizes = self.splitter.sizes()
            if sizes[1] < sum(sizes) * 0.6 or not sum(sizes):  # a grid wants the room
                self.splitter.setSizes([3000, 7000])  # scaled to the splitter's width
        return True

    def _raw_page(self, value: Any) -> QWidget:
        """The frame's pickled internals, as the tree shows them, read-only (the grid's *Raw*)."""
        doc = ObjectDoc(value, None, label="internals")
        doc.read_only = True
        view = QTreeView()
        view.setObjectName("frameInternals")
        view.setUniformRowHeights(True)
        model = ObjectTreeModel(doc, view)
        view.setModel(model)
        if model.canFetchMore(QModelIndex()):
            model.fetchMore(QModelIndex())
        view.expand(model.index(0, 0))
        view.header().resizeSection(0, 220)
        return view

    def _companion(self, value: Any) -> Any:
        """For an old joblib array wrapper: the array in its companion file, or why it is missing."""
        if not isinstance(value, CallNode) or self.file_path is None:
            return None
        func = value.func
        if not isinstance(func, GlobalNode) or func.name not in ("NDArrayWrapper", "ZNDArrayWrapper"):
            return None
        state = value.state if isinstance(value.state, dict) else {}
        filename = state.get("filename")
        if not isinstance(filename, str):
            return None
        from storage.core.errors import KnownError
        from storage.formats.objects.joblib_io import read_companion

        init = state.get("init_args") if isinstance(state.get("init_args"), tuple) else ()
        try:
            array = read_companion(self.file_path, filename,
                                   dtype=init[1] if len(init) > 1 else None,
                                   shape=init[0] if init and isinstance(init[0], tuple) else None)
        except (KnownError, ValueError, TypeError) as exc:
            return f"Array kept in the companion file {filename}: {exc}"
        return array if is_array(array) else f"Array kept in {filename}: an object array (not shown)"

    @Slot(int)
    def _on_stack_changed(self, _index: int) -> None:
        self.refresh_detail()

    def refresh_detail(self) -> None:
        index = self.tree.currentIndex()
        self._show_value(self.model.node(index).value if index.isValid() else self.model.root_value())

    # -- edits ---------------------------------------------------------------------------------
    def _on_model_edit(self, path: list[Any], column: int, value: Any, model: ObjectTreeModel) -> None:
        from gui.values.commands import RenameCommand, SetValueCommand

        if column == 0:
            node = model.made_node(path)
            if node is not None:
                self.undo_stack.push(RenameCommand(model, path[:-1], node.row, value))
        else:
            self.undo_stack.push(SetValueCommand(model, path, value))
        self.refresh_detail()

    def read_only(self) -> bool:
        return bool(getattr(self.model.doc, "read_only", False))

    def _on_context_menu(self, pos: QPoint) -> None:
        index = self.tree.indexAt(pos)
        menu = self.build_menu(index)
        menu.exec(self.tree.viewport().mapToGlobal(pos))
        menu.deleteLater()

    def build_menu(self, index: QModelIndex) -> QMenu:
        from gui.values.commands import MoveCommand

        menu = QMenu(self)
        node = self.model.node(index)
        path = node.path()
        value = node.value
        shown = self.value_text(index)
        menu.addAction("Copy value").triggered.connect(lambda: QGuiApplication.clipboard().setText(shown))
        if index.isValid():
            code_path = self.path_text(index)
            menu.addAction("Copy Path").triggered.connect(
                lambda: QGuiApplication.clipboard().setText(code_path))
        if self.read_only():
            return menu
        if isinstance(value, dict | list | tuple | set | frozenset):
            menu.addAction("Add item…").triggered.connect(lambda: self.add_item(path))
        parent = node.parent
        containers = dict | list | tuple | set | frozenset
        if index.isValid() and parent is not None and isinstance(parent.value, containers):
            menu.addAction("Delete").triggered.connect(lambda: self.delete(path[:-1], node.row))
            if isinstance(parent.value, list | tuple | dict):
                up = menu.addAction("Move up")
                up.setEnabled(node.row > 0)
                up.triggered.connect(lambda: self.undo_stack.push(
                    MoveCommand(self.model, path[:-1], node.row, node.row - 1)))
                down = menu.addAction("Move down")
                down.setEnabled(node.row < len(parent.value) - 1)
                down.triggered.connect(lambda: self.undo_stack.push(
                    MoveCommand(self.model, path[:-1], node.row, node.row + 1)))
        if index.isValid():
            types = menu.addMenu("Change type to")
            for kind in EDIT_TYPES:
                action: QAction = types.addAction(kind)
                action.triggered.connect(lambda _=False, k=kind: self.change_type(path, k))
        return menu

    def add_item(self, path: list[Any]) -> AddItemDialog:
        """Ask for the new item's key, type and value (the type most items have is proposed)."""
        from gui.objects.add_item import AddItemDialog

        container = self.model.doc.get(path)
        dialog = AddItemDialog(container, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self._on_item_chosen(path, dialog.item()))
        dialog.open()
        return dialog

    def _on_item_chosen(self, path: list[Any], item: tuple[Any, Any] | None) -> None:
        if item is None:
            return
        container = self.model.doc.get(path)
        if self.insert(path, len(container), *item) and not isinstance(container, set | frozenset):
            self.select_path([*path, item[0]])

    def insert(self, path: list[Any], row: int, key: Any, value: Any) -> bool:
        """Push an insert, or say why it cannot be made (the command must not fail half-way)."""
        from gui.values.commands import InsertCommand

        container = self.model.doc.get(path)
        problem = ""
        if isinstance(container, dict):
            try:
                if key in container:
                    problem = f"the key {key!r} already exists"
            except TypeError:
                problem = f"{key!r} cannot be a key: it is not hashable"
        elif isinstance(container, set | frozenset) and value in container:
            problem = f"the set already holds {value!r}"
        if problem:
            self.text.setPlainText(f"Not added: {problem}.")
            return False
        self.undo_stack.push(InsertCommand(self.model, path, row, key, value, "Add item"))
        return True

    def delete(self, parent_path: list[Any], row: int) -> None:
        from gui.values.commands import RemoveCommand

        self.undo_stack.push(RemoveCommand(self.model, parent_path, row))

    def change_type(self, path: list[Any], kind: str) -> bool:
        from gui.values.commands import SetValueCommand

        old = self.model.doc.get(path)
        try:
            new = parse_scalar(kind, edit_text(old) if kind not in ("list", "tuple", "dict", "set") else "")
        except ObjectEditError:
            try:
                new = parse_scalar(kind, "0" if kind in ("int", "float", "complex", "Decimal") else
                                   "false" if kind == "bool" else "")
            except ObjectEditError:
                new = parse_scalar("str", "")
        self.undo_stack.push(SetValueCommand(self.model, path, new, f"Change type to {kind}"))
        self.refresh_detail()
        return True
