"""The HDF5 tab's document: lazy tree, attributes, dataset information, table and plot.

The file is opened read-only in a worker (``storage.formats.hdf5.io``); groups list their members when
expanded, the table reads only the tiles the view paints, the plot reads a bounded slice.
Editing (:class:`gui.hdf5.edit_actions.Hdf5Editor`) needs the writable mode, which first copies
the file to ``.bak``; the plot (:class:`gui.hdf5.plot.Hdf5Plotter`) follows the table's scroll.
Both are parts the document owns; they use its public API and the editor reports its writes by
signals that the views here follow.
"""

from __future__ import annotations

import json
from functools import partial
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QTableView,
    QTabWidget,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from gui.common.clipboard import TableClipboard, TreeClipboard
from gui.common.column_fit import ColumnFitter
from gui.common.disk_watch import DiskGuard
from gui.common.document import Document
from gui.common.find_bar import FindBar, PathFinder
from gui.common.first_paint import after_first_paint
from gui.common.workers import Worker, run_in_worker
from gui.hdf5.info import describe_info, describe_node
from gui.hdf5.models import AttributesModel, H5TreeModel, list_along
from gui.hdf5.outside_bar import OutsideBar
from storage.formats.hdf5.node import BATCH, H5Node
from storage.formats.hdf5.peek import Peek, peek

if TYPE_CHECKING:  # these import NumPy (and h5py): the first stage shows without them
    from gui.arrays.plot import ArrayPlot
    from gui.arrays.table import TiledTableModel
    from gui.hdf5.axes import AxisPicker
    from gui.hdf5.edit_actions import Hdf5Editor
    from gui.hdf5.plot import Hdf5Plotter
    from storage.formats.hdf5.find import Hit
    from storage.formats.hdf5.io import DatasetInfo, H5File


def import_data_side() -> None:
    """The modules of the table, plot and editor (NumPy, h5py): imported on the open worker, so the
    window never waits for them (the data side is made from them once the file is open)."""
    import gui.arrays.plot
    import gui.arrays.table
    import gui.hdf5.axes
    import gui.hdf5.edit_actions
    import gui.hdf5.plot  # noqa: F401


def open_file(path: str, allow_outside: bool = False) -> tuple[H5File, H5Node, list[H5Node] | None]:
    """Worker body: open read-only, describe the root group and list its first members (None when
    they cannot be listed: the tree then asks again and says why)."""
    from storage.formats.hdf5.io import H5File

    import_data_side()
    h5 = H5File(path)
    h5.allow_outside = allow_outside
    try:
        root = h5.root()
    except Exception:
        h5.close()
        raise
    try:
        first = h5.children("/", 0, BATCH) if root.kind == "group" and root.members else []
    except Exception:
        first = None
    return h5, root, first


class Hdf5Document(Document):
    """One HDF5 file: tree | (attributes, info) on the left, table over plot on the right."""

    exportFinished = Signal(str)  # the message shown: written, cancelled or failed

    def __init__(self, path: str | None, fmt: str, parent: QWidget | None = None) -> None:
        super().__init__(path, fmt, parent)
        self.h5: H5File | None = None
        self.info: DatasetInfo | None = None
        self.current_path = ""
        self._generation = 0
        self._select_generation = 0
        self._open_worker: Worker | None = None
        self._allow_outside = False  # the user allowed reading data outside the file's folder
        # a found attribute (node path, name): selected whenever that node's table is read
        self._find_attribute: tuple[str, str] | None = None
        self.preview: Peek | None = None  # the first-stage tree on screen, until h5py has the file
        self.data_side = False  # made by _build_data_side: the editor, table, plot and axes
        self.editor: Hdf5Editor
        self.axes: AxisPicker
        self.table_model: TiledTableModel
        self.plot: ArrayPlot
        self.plotter: Hdf5Plotter
        self._build()
        self._first_look()

    def _writable_note(self) -> str:
        if self.h5 is not None and self.h5.writable:
            return ("It is open for writing here: two programs writing one HDF5 file can damage it. "
                    "Reload reopens it read-only.")
        return ""

    # -- widgets ---------------------------------------------------------------------------------
    def _build(self) -> None:
        """What the first stage shows: the tree, attributes and information, and the bars. The data
        side (table, plot, editor) needs NumPy: :meth:`_build_data_side` makes it once the file is
        open (its modules imported by the open worker)."""
        self.disk = DiskGuard(self, keep_label="Keep showing", keep_marks_modified=False)
        self.disk.note = self._writable_note
        self.message = QLabel(self)
        self.message.setObjectName("h5Message")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()
        self.tree_model = H5TreeModel(self)
        self.tree_model.fetchFailed.connect(lambda text: self.show_message(text, "error"))
        self.tree = QTreeView(self)
        self.tree.setObjectName("h5Tree")
        self.tree.setModel(self.tree_model)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.tree.header().resizeSection(0, 150)
        self.tree.header().resizeSection(1, 100)
        self.tree.selectionModel().currentChanged.connect(self._on_current_changed)
        self.attr_model = AttributesModel(self)
        self.attr_view = QTableView(self)
        self.attr_view.setObjectName("h5Attributes")
        self.attr_view.setModel(self.attr_model)
        self.attr_view.horizontalHeader().setStretchLastSection(True)
        self.attr_view.verticalHeader().hide()
        self.attr_view.verticalHeader().setDefaultSectionSize(22)
        self.info_text = QPlainTextEdit(self)
        self.info_text.setObjectName("h5Info")
        self.info_text.setReadOnly(True)
        self.side_tabs = QTabWidget(self)
        self.side_tabs.addTab(self.attr_view, "Attributes")
        self.side_tabs.addTab(self.info_text, "Information")
        self.left = QSplitter(Qt.Orientation.Vertical, self)
        self.left.addWidget(self.tree)
        self.left.addWidget(self.side_tabs)
        self.left.setSizes([480, 220])
        self.right = QWidget(self)  # the data side goes here
        self.right_box = QVBoxLayout(self.right)
        self.right_box.setContentsMargins(0, 0, 0, 0)
        self.waiting = QLabel("Reading…", self.right)  # until the data side is made
        self.waiting.setObjectName("h5Waiting")
        self.waiting.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.waiting.setEnabled(False)
        self.right_box.addWidget(self.waiting)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(self.left)
        self.splitter.addWidget(self.right)
        self.splitter.setSizes([420, 680])
        self.splitter.setStretchFactor(1, 1)

        self.box = QVBoxLayout(self)
        self.box.setContentsMargins(4, 4, 4, 4)
        self.box.addWidget(self.disk.bar)
        report = partial(self.show_message, kind="error")
        TableClipboard(self.attr_view, lambda i: str(i.data() or ""), report=report)
        # the tree: Copy gives an object's path in the file, Copy Path the h5py code reaching it
        TreeClipboard(self.tree, lambda i: i.internalPointer().node.path,
                      lambda i: f"f[{json.dumps(i.internalPointer().node.path, ensure_ascii=False)}]", report)
        self.box.addWidget(self.message)
        self.outside_bar = OutsideBar(self)
        self.outside_bar.allowed.connect(self._on_allow_outside)
        self.box.addWidget(self.outside_bar)
        self.box.addWidget(self.splitter, 1)
        # Edit ▸ Find: member names and attributes, searched in a worker
        self.find_bar = FindBar(self, "Find in names and attributes")
        self.finder = PathFinder(self.find_bar, self._find_job, self._select_hit, self)
        self.undo_stack.indexChanged.connect(self.finder.forget)
        self.box.addWidget(self.find_bar)
        for signal in (self.splitter.splitterMoved, self.left.splitterMoved,
                       self.tree.selectionModel().currentChanged):
            signal.connect(self.viewStateChanged)

    def _build_data_side(self) -> None:
        """The table over the plot with its axis picker, and the editor: NumPy's part, made once."""
        if self.data_side:
            return
        self.data_side = True
        from gui.arrays.plot import ArrayPlot
        from gui.arrays.table import TiledClipboard, TiledTableModel
        from gui.hdf5.axes import AxisPicker
        from gui.hdf5.edit_actions import Hdf5Editor
        from gui.hdf5.plot import Hdf5Plotter

        self.right_box.removeWidget(self.waiting)
        self.waiting.deleteLater()
        self.axes = AxisPicker(self)
        self.axes.sliceChanged.connect(self._on_slice_changed)
        self.slice_label = QLabel(self)
        self.slice_label.setObjectName("h5SliceLabel")
        self.table_model = TiledTableModel(self)
        self.table_model.fetchFailed.connect(lambda text: self.show_message(text, "error"))
        self.table = QTableView(self)
        self.table.setObjectName("h5Table")
        self.table.setModel(self.table_model)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.horizontalHeader().setDefaultSectionSize(96)
        self.table_fitter = ColumnFitter(self.table, context=lambda: self.current_path)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.plot = ArrayPlot(self)
        self.plotter = Hdf5Plotter(self)
        self.table.verticalScrollBar().valueChanged.connect(self.plotter.follow_later)
        self.right_split = QSplitter(Qt.Orientation.Vertical, self)
        self.right_split.addWidget(self.table)
        self.right_split.addWidget(self.plot)
        self.right_split.setSizes([420, 260])
        self._right_sizes = [420, 260]  # the table over the plot, while the table is hidden
        top = QHBoxLayout()
        top.addWidget(self.axes, 1)
        top.addWidget(self.slice_label)
        self.right_box.addLayout(top)
        self.right_box.addWidget(self.right_split, 1)
        self.right_split.splitterMoved.connect(self.viewStateChanged)

        self.editor = Hdf5Editor(self)
        self.editor.cellWritten.connect(self._on_cell_written)
        self.editor.attributesChanged.connect(self._on_attributes_changed)
        self.editor.structureChanged.connect(self._on_structure_changed)
        self.editor.exportFinished.connect(self.exportFinished)
        self.editor.attributesChanged.connect(self.finder.forget)
        self.editor.structureChanged.connect(self.finder.forget)
        self.box.insertLayout(1, self.editor.bar)
        # Edit ▸ Copy (TSV of the selected cells) and Paste (into a writable dataset)
        TiledClipboard(self.table, self.table_model, self.editor.paste_cells,
                       report=partial(self.show_message, kind="error"))

    def show_standing_message(self) -> None:
        """What stays true for the whole file (locked by a writer, writable), or nothing."""
        if self.h5 is not None and self.h5.lock_note:
            self.show_message(self.h5.lock_note, "warning")
        elif self.h5 is not None and self.h5.writable:
            self.show_message(f"Writable: edits go straight to the file. The original is kept as "
                              f"{self.title()}.bak.", "warning")
        else:
            self.message.hide()

    def show_message(self, text: str, kind: str = "info") -> None:
        colours = {"error": "#fee4e2", "warning": "#fef0c7", "info": "#e0eaff"}
        self.message.setStyleSheet(f"background: {colours.get(kind, '#e0eaff')}; padding: 4px;")
        self.message.setText(text)
        self.message.show()

    # -- loading ---------------------------------------------------------------------------------
    def _first_look(self) -> None:
        """Issue 16: the root's first members read without h5py (a worker, a few milliseconds),
        shown at once; the data side and h5py come once that tree is painted."""
        generation = self._generation
        if not self.path:
            self.reload()
            return
        run_in_worker(peek, self.path, on_result=lambda look: self._on_peeked(generation, look),
                      on_error=lambda _exc: self._on_peeked(generation, None))

    def _on_peeked(self, generation: int, look: Peek | None) -> None:
        if generation != self._generation:
            return
        if look is None:  # outside what the first stage reads: h5py says what there is
            self.reload()
            return
        self.preview = look
        self.tree_model.set_preview(look.root, look.children, self.title())
        top = self.tree_model.index(0, 0)
        self.tree.expand(top)
        self.tree.setCurrentIndex(top)
        shown = "first level" if look.complete else f"first {len(look.children):,} members"
        self.show_message(f"<b>Reading…</b> the file's {shown} is shown; the rest follows.", "info")
        after_first_paint(self.tree.viewport(), self._after_preview, owner=self, timeout_ms=300)

    def _after_preview(self) -> None:
        if self.preview is not None and self.h5 is None and self._open_worker is None:
            self.reload()

    @Slot()
    def reload(self) -> None:
        self.finder.forget()
        self._generation += 1
        generation = self._generation
        self._close_file()
        self.disk.record()  # after closing (a writable file flushes), before the new read
        self._open_worker = run_in_worker(
            open_file, self.path, self._allow_outside,
            on_result=lambda result: self._on_opened(generation, result),
            on_error=lambda exc: self._on_opened(generation, exc))

    def _on_opened(self, generation: int, result: Any) -> None:
        if generation != self._generation:
            if isinstance(result, tuple):
                result[0].close()
            return
        self._open_worker = None
        self._build_data_side()
        self.undo_stack.clear()
        self._keep_preview_selection()
        if isinstance(result, BaseException):
            self.show_message(f"<b>Cannot open {self.title()}:</b> {self.describe_failure(result)}", "error")
            self.tree_model.set_file(None, None)
        else:
            self.h5, root, first = result
            self.h5.allow_outside = self._allow_outside
            self.tree_model.set_file(self.h5, root, self.title())
            top = self.tree_model.index(0, 0)
            if first:  # in the same step as the reset: the first stage's rows never blink
                self.tree_model.add_children(self.tree_model.item(top), first)
            self.tree.expand(top)
            if self.tree_model.canFetchMore(top):  # a hidden view fetches nothing by itself
                self.tree_model.fetchMore(top)
            self.show_standing_message()
            self.editor.refresh_edit_bar()
            self._restore_pending_view_state()
        self.statusChanged.emit()
        if not self.is_loaded:
            self.mark_loaded()

    def _keep_preview_selection(self) -> None:
        """The node the user selected in the first-stage tree is selected again in the real one."""
        if self.preview is None:
            return
        self.preview = None
        node = self.tree_model.node(self.tree.currentIndex())
        if node is not None and node.path != "/":
            self._pending_view_state = {**self._pending_view_state, "selected": node.path}

    def _restore_pending_view_state(self) -> None:
        state = self._pending_view_state
        for splitter, key in ((self.splitter, "splitter"), (self.left, "left"), (self.right_split, "right")):
            sizes = state.get(key)
            if isinstance(sizes, list) and all(isinstance(s, int) for s in sizes):
                splitter.setSizes(sizes)
                if key == "right" and len(sizes) == 2 and all(sizes):
                    self._right_sizes = list(sizes)
        selected = state.get("selected")
        if isinstance(selected, str) and selected and self.h5 is not None:
            generation = self._generation
            run_in_worker(list_along, self.h5, selected,
                          on_result=lambda listing: self._on_listed(generation, selected, listing),
                          on_error=lambda _exc: None)
        else:
            self.tree.setCurrentIndex(self.tree_model.index(0, 0))

    def _on_listed(self, generation: int, path: str, listing: dict) -> None:
        if generation != self._generation:
            return
        self.tree_model.adopt_listing(listing)
        index = self.tree_model.index_for_path(path)
        if not index.isValid():
            index = self.tree_model.index(0, 0)
        self.tree.scrollTo(index)
        self.tree.setCurrentIndex(index)

    # -- selection ---------------------------------------------------------------------------------
    @Slot()
    def _on_current_changed(self, current, _previous=None) -> None:
        node = self.tree_model.node(current)
        self._select_generation += 1
        generation = self._select_generation
        if not self.data_side:  # the first stage: what the tree knows, nothing read
            self.current_path = node.path if node is not None else ""
            self.info_text.setPlainText(describe_node(node) if node is not None else "")
            return
        self.plotter.forget()
        self.current_path = node.path if node is not None else ""
        self.info = None
        self.table_model.set_reader(None, 0, 0)
        self._show_table(False)
        self.axes.hide()
        self.slice_label.setText("")
        self.attr_model.set_attributes([])
        self.editor.refresh_edit_bar()
        if not self.editor.is_exporting():  # the last node's warnings do not apply to this one
            self.show_standing_message()
        self.outside_bar.show_for(node, self._allow_outside)
        if node is None or self.h5 is None:
            self.info_text.setPlainText("")
            self.plot.set_message("Select a dataset")
            return
        self.info_text.setPlainText(describe_node(node))
        if node.kind in ("group", "dataset"):
            self.load_attributes(node.path)
        if node.kind == "dataset":
            self.plot.set_message("Reading…")
            run_in_worker(self.h5.dataset_info, node.path,
                          on_result=lambda info: self._on_info(generation, node, info),
                          on_error=lambda exc: self._on_info(generation, node, exc))
        else:
            self.plot.set_message("Select a dataset to see its values" if node.kind == "group"
                                  else node.message or "Nothing to show")

    def load_attributes(self, path: str) -> None:
        generation = self._select_generation
        run_in_worker(self.h5.attributes, path,
                      on_result=lambda attrs: self._on_attributes(generation, path, attrs),
                      on_error=lambda exc: self._on_attributes(generation, path, exc))

    def _on_attributes(self, generation: int, path: str, attrs: Any) -> None:
        if generation != self._select_generation or path != self.current_path:
            return
        if isinstance(attrs, BaseException):
            self.show_message(str(attrs), "error")
            return
        self.attr_model.set_attributes(attrs)
        self._select_found_attribute()

    def _on_info(self, generation: int, node: H5Node, info: Any) -> None:
        if generation != self._select_generation:
            return
        if isinstance(info, BaseException):
            self.info_text.setPlainText(f"{describe_node(node)}\n\nCannot read: {info}")
            self.plot.set_message(str(info))
            return
        self.info = info
        self.editor.refresh_edit_bar()
        self.info_text.setPlainText(describe_info(node, info))
        state = self._pending_view_state
        axes = tuple(state["axes"]) if state.get("selected") == node.path and state.get("axes") else None
        index = tuple(state["index"]) if axes and state.get("index") else None
        self.axes.set_dataset(info, axes, index)  # type: ignore[arg-type]
        self._on_slice_changed()
        if info.warnings:
            self.show_message("; ".join(info.warnings), "warning")

    @Slot()
    def _on_allow_outside(self) -> None:
        """Reopen with reading outside the folder allowed, keeping the selected node."""
        self._allow_outside = True
        self.outside_bar.hide()
        self._pending_view_state = self.view_state()
        self.reload()

    @Slot()
    def _on_slice_changed(self) -> None:
        info, h5 = self.info, self.h5
        if info is None or h5 is None:
            return
        from gui.hdf5.axes import table_layout

        axes, index, path = self.axes.axes(), self.axes.index(), info.path
        rows, cols, headers = table_layout(info, axes)

        def read(r0: int, r1: int, c0: int, c1: int) -> list[list[str]]:
            return h5.read_window(path, axes, index, (r0, r1), (c0, c1)).cells

        self.table_model.set_reader(read, rows, cols, headers)
        self._show_table(True)
        self.table_model.editable = h5.writable and self.editor.cell_editable()
        note = f"{rows:,} × {cols:,}"
        if rows > self.table_model.rowCount():
            note += f" (first {self.table_model.rowCount():,} rows shown)"
        self.slice_label.setText(note)
        self.plotter.request(0)
        self.viewStateChanged.emit()

    def _show_table(self, shown: bool) -> None:
        """The table only for a dataset: without one, its message has the whole right side."""
        if shown == (not self.table.isHidden()):
            return
        if shown:
            self.table.show()
            self.right_split.setSizes(self._right_sizes)
        else:
            sizes = self.right_split.sizes()
            if len(sizes) == 2 and all(sizes):
                self._right_sizes = sizes
            self.table.hide()

    # -- session -------------------------------------------------------------------------------------
    def view_state(self) -> dict[str, Any]:
        if not self.is_loaded:
            return dict(self._pending_view_state)
        state: dict[str, Any] = {"selected": self.current_path, "splitter": self.splitter.sizes(),
                                 "left": self.left.sizes(),
                                 "right": self.right_split.sizes() if not self.table.isHidden()
                                 else list(self._right_sizes)}
        if self.info is not None:
            state["axes"] = list(self.axes.axes())
            state["index"] = list(self.axes.index())
        return state

    # -- find (Edit ▸ Find, F3, Shift+F3) -----------------------------------------------------------
    def start_find(self) -> bool:
        self.find_bar.open()
        return True

    def find_next(self, backward: bool = False) -> bool:
        self.finder.find(backward)
        return True

    def _find_job(self, text: str) -> Any:
        from storage.formats.hdf5.find import find_in_file

        h5 = self.h5
        if h5 is None:
            return lambda limit: []
        return lambda limit, cancel: find_in_file(h5, text, limit, cancel)

    def _select_hit(self, hit: Hit) -> bool:
        """Select the found node (listing the groups on the way in a worker when they were
        never expanded); a found attribute is selected in the Attributes table once it is read."""
        path, attribute = hit
        if self.h5 is None:
            return False
        self._find_attribute = (path, attribute) if attribute is not None else None
        index = self.tree_model.index_for_path(path)
        if index.isValid():
            self.tree.scrollTo(index)
            if index == self.tree.currentIndex():
                self._select_found_attribute()
            else:
                self.tree.setCurrentIndex(index)
            return True
        generation = self._generation
        run_in_worker(list_along, self.h5, path,
                      on_result=lambda listing: self._on_listed(generation, path, listing),
                      on_error=lambda exc: self.find_bar.say(str(exc), "error"))
        return True

    def _select_found_attribute(self) -> None:
        if self._find_attribute is None or self._find_attribute[0] != self.current_path:
            return
        name = self._find_attribute[1]
        row = next((r for r, a in enumerate(self.attr_model.attributes) if a.name == name), None)
        if row is not None:
            self.side_tabs.setCurrentWidget(self.attr_view)
            self.attr_view.setCurrentIndex(self.attr_model.index(row, 0))
            self.attr_view.scrollTo(self.attr_model.index(row, 0))

    # -- what the editor wrote (its commands run on undo and redo too) ----------------------------------
    @Slot(str, object, object)
    def _on_cell_written(self, path: str, cell: tuple[int, int], value: Any) -> None:
        from storage.formats.hdf5.values import format_value

        if self.info is not None and self.info.path == path:
            self.table_model.set_cached_text(cell[0], cell[1], format_value(value))
            self.plotter.replot_later()

    @Slot(str)
    def _on_attributes_changed(self, path: str) -> None:
        if path == self.current_path:
            self.load_attributes(path)

    @Slot(str)
    def _on_structure_changed(self, parent: str) -> None:
        if self.h5 is not None:
            self.tree_model.refresh_group(parent, self.h5.child_count(parent))

    # -- document API --------------------------------------------------------------------------------
    def is_modified(self) -> bool:
        return False  # every edit is on disk already; undo writes the old value back

    def can_save(self) -> bool:
        return bool(self.h5 and self.h5.writable)

    def save(self) -> bool:
        return self.editor.run_edit(lambda: None)  # run_edit flushes

    def _close_file(self) -> None:
        if not self.data_side:
            return
        self.editor.stop_export()  # its file is going: stop it, forget it
        self.table_model.stop()
        self.table_model.set_reader(None, 0, 0)
        if self.preview is None:  # the first-stage tree stays until the real one replaces it
            self.tree_model.set_file(None, None)
        if self.h5 is not None:
            self.h5.close()
            self.h5 = None

    def close_document(self) -> None:
        self.disk.stop()
        self.finder.forget()
        self._generation += 1
        self._select_generation += 1
        self.preview = None
        if self.data_side:
            self.plotter.stop()
            self._close_file()
            self.editor.close_scratch()
