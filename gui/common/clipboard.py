"""Edit ▸ Cut, Copy, Paste and Copy Path, sent to whatever has the keyboard focus.

Text widgets (line edits, plain and rich text editors, and any widget with the
:class:`TextCommands` methods, such as the Files tab's big text view) use their own cut, copy and
paste. An item view takes part by owning a :class:`ClipboardTarget`, a child object made by the
panel that owns the view: :class:`TableClipboard` copies a grid's rectangular selection as TSV
and pastes TSV at the current cell; :class:`TreeClipboard` copies a node's value and its path.
:class:`ClipboardActions` owns the four menu actions and enables each only when it applies, as
the focus, the selection and the clipboard change.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QModelIndex, QObject, Qt, Signal, Slot
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence, QUndoStack
from PySide6.QtWidgets import QAbstractItemView, QApplication, QLineEdit, QPlainTextEdit, QTextEdit, QWidget

from storage.core.errors import KnownError

MAX_COPY_CELLS = 1_000_000  # more than this is an export's job, not the clipboard's


def to_tsv(rows: list[list[str]]) -> str:
    """Rows by newline, cells by tab. A cell holding a tab or a line end, or starting with a
    quote, is quoted as spreadsheets do (its quotes doubled), so pasting it back (here or in a
    spreadsheet) gives the same cells; other quotes stay as they are."""
    def cell(text: str) -> str:
        if "\t" in text or "\n" in text or "\r" in text or text.startswith('"'):
            return '"' + text.replace('"', '""') + '"'
        return text

    return "\n".join("\t".join(cell(text) for text in row) for row in rows)


def parse_tsv(text: str) -> list[list[str]]:
    """The cells of TSV text (as :func:`to_tsv` or a spreadsheet writes it); one trailing
    line end is not a row."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.endswith("\n"):
        text = text[:-1]
    if not text:
        return [[""]]
    return [row or [""] for row in csv.reader(io.StringIO(text, newline=""), delimiter="\t")]


def fit_block(rows: list[list[str | None]], top: int, left: int, row_count: int,
              column_count: int) -> tuple[list[tuple[int, int, str]], int]:
    """The (row, column, text) cells of a paste at (top, left) that fall inside the table, and
    how many were left out beyond its edge (KnownError when none fits). A None in ``rows`` is
    a cell the paste skips (outside a ragged selection that one value fills)."""
    height = min(len(rows), row_count - top)
    width = min(max(len(r) for r in rows), column_count - left)
    if height <= 0 or width <= 0:
        raise KnownError("Nothing pasted: the cell to paste into is outside the table.")
    cells = [(top + r, left + c, text) for r, values in enumerate(rows[:height])
             for c, text in enumerate(values[:width]) if text is not None]
    given = sum(1 for r in rows for text in r if text is not None)
    return cells, given - len(cells)


def one_undo_step(stack: QUndoStack, label: str, edits: Iterable[Callable[[], object]]) -> int:
    """Run ``edits`` (each pushes its own commands) as ONE step of ``stack``: a macro, dropped
    again when no edit pushed anything (every cell refused or unchanged). Returns the number of
    commands the step holds."""
    before = stack.index()
    stack.beginMacro(label)
    try:
        for edit in edits:
            edit()
    finally:
        stack.endMacro()
    macro = stack.command(stack.index() - 1) if stack.index() > before else None
    if macro is None:
        return 0
    count = macro.childCount()
    if count == 0:
        macro.setObsolete(True)
        stack.undo()  # an obsolete step is removed by its undo
    return count


def pasted_text(cells: int, left_out: int) -> str:
    said = f"Pasted {cells:,} cell{'s' if cells != 1 else ''}"
    return said + (f"; {left_out:,} beyond the table's edge left out" if left_out else "")


@runtime_checkable
class TextCommands(Protocol):
    """A text view of our own (not a Qt text widget) with its own clipboard commands."""

    def has_selection(self) -> bool: ...

    def copy(self) -> None: ...

    def cut(self) -> None: ...

    def paste(self) -> None: ...


class ClipboardTarget(QObject):
    """What Edit ▸ Cut, Copy, Paste and Copy Path do while ``view`` has the focus.

    A child of its view: :func:`target_of` finds it there, and it lives as long as the view.
    Methods refuse with :class:`storage.core.errors.KnownError`; its message goes to ``report``
    (the document's message line), or to the window's notices when there is none.
    """

    def __init__(self, view: QAbstractItemView, report: Callable[[str], None] | None = None) -> None:
        super().__init__(view)
        self.view = view
        self.report = report

    def can_cut(self) -> bool:
        return False

    def cut(self) -> tuple[str, str]:
        """Copy, then empty what was copied: (the clipboard's new text, what the status bar says)."""
        raise KnownError("Nothing can be cut here.")

    def can_copy(self) -> bool:
        return self.view.currentIndex().isValid()

    def copy(self) -> tuple[str, str]:
        """(the clipboard's new text, what the status bar says)."""
        raise KnownError("Nothing to copy here.")

    def can_paste(self) -> bool:
        return False

    def paste(self, text: str) -> str:
        """Paste ``text``; return what the status bar says."""
        raise KnownError("Nothing can be pasted here.")

    def can_copy_path(self) -> bool:
        return False

    def copy_path(self) -> str:
        raise KnownError("This view has no paths.")


def target_of(widget: QWidget | None) -> ClipboardTarget | None:
    if widget is None:
        return None
    return widget.findChild(ClipboardTarget, "", Qt.FindChildOption.FindDirectChildrenOnly)


Cell = tuple[int, int]


class TableClipboard(ClipboardTarget):
    """A grid: Copy puts the selected rectangle on the clipboard as TSV (a NULL as an empty
    cell); Paste writes TSV from the current cell on through ``paste`` (one undoable change),
    and one copied value fills every selected cell; Cut copies, then ``clear`` empties the
    selected cells (one undoable change).

    ``text_of(index)`` is a cell's text, None when its rows are not loaded yet. ``paste(row,
    column, rows)`` is given the parsed cells, ``clear(cells)`` the selected (row, column)s;
    None: the grid takes no paste, or no cut. ``load(top, left, bottom, right)`` is entered
    around a copy to read cells the view has not loaded (a lazy grid's pages), so ``text_of``
    has them.
    """

    def __init__(self, view: QAbstractItemView, text_of: Callable[[QModelIndex], str | None],
                 paste: Callable[[int, int, list[list[str]]], str] | None = None,
                 clear: Callable[[list[Cell]], str] | None = None,
                 report: Callable[[str], None] | None = None,
                 load: Callable[[int, int, int, int], AbstractContextManager[object]] | None = None,
                 ) -> None:
        super().__init__(view, report)
        self.text_of = text_of
        self._paste = paste
        self._clear = clear
        self._load = load

    def _bounds(self) -> tuple[int, int, int, int] | None:
        """(top, left, bottom, right) of the selection, or of the current cell without one."""
        selection = self.view.selectionModel().selection() if self.view.selectionModel() else None
        if selection is not None and not selection.isEmpty():
            return (min(r.top() for r in selection), min(r.left() for r in selection),
                    max(r.bottom() for r in selection), max(r.right() for r in selection))
        current = self.view.currentIndex()
        if not current.isValid():
            return None
        return current.row(), current.column(), current.row(), current.column()

    def _selected(self) -> list[Cell]:
        """The selected cells in reading order (the current one without a selection)."""
        bounds = self._bounds()
        if bounds is None:
            return []
        top, left, bottom, right = bounds
        if (bottom - top + 1) * (right - left + 1) > MAX_COPY_CELLS:
            raise KnownError(f"{(bottom - top + 1) * (right - left + 1):,} cells are too many at once; "
                             "use Export… or Execute SQL for large parts of a table.")
        selection = self.view.selectionModel().selection()
        if selection.isEmpty():
            return [(top, left)]
        model, root = self.view.model(), self.view.rootIndex()
        return [(row, column) for row in range(top, bottom + 1) for column in range(left, right + 1)
                if selection.contains(model.index(row, column, root))]

    def can_copy(self) -> bool:
        return self._bounds() is not None

    def copy(self) -> tuple[str, str]:
        cells = set(self._selected())
        if not cells:
            raise KnownError("Select the cells to copy first.")
        top, left, bottom, right = self._bounds()  # type: ignore[misc]
        loading = self._load(top, left, bottom, right) if self._load is not None else contextlib.nullcontext()
        with loading:
            rows = self._texts(cells, top, left, bottom, right)
        height, width = bottom - top + 1, right - left + 1
        return to_tsv(rows), f"Copied {height:,} × {width:,} cell{'s' if height * width != 1 else ''}"

    def _texts(self, cells: set[Cell], top: int, left: int, bottom: int, right: int) -> list[list[str]]:
        model, root = self.view.model(), self.view.rootIndex()
        rows = []
        for row in range(top, bottom + 1):
            texts = []
            for column in range(left, right + 1):
                if (row, column) not in cells:
                    texts.append("")  # a cell outside a ragged selection stays empty
                    continue
                text = self.text_of(model.index(row, column, root))
                if text is None:
                    raise KnownError("Some of the selected rows are not loaded yet: scroll through "
                                     "them and copy again, or use Export… for whole tables.")
                texts.append(text)
            rows.append(texts)
        return rows

    def can_cut(self) -> bool:
        return self._clear is not None and self.can_copy()

    def cut(self) -> tuple[str, str]:
        if self._clear is None:
            raise KnownError("Cells of this table cannot be emptied.")
        text, _said = self.copy()
        return text, self._clear(self._selected())

    def can_paste(self) -> bool:
        return self._paste is not None and self.view.currentIndex().isValid()

    def paste(self, text: str) -> str:
        if self._paste is None:
            raise KnownError("This table cannot take a paste.")
        bounds = self._bounds()
        if bounds is None:
            raise KnownError("Click the cell to paste into first.")
        rows = parse_tsv(text)
        top, left, bottom, right = bounds
        if rows == [rows[0][:1]] and (bottom > top or right > left):  # one value fills the selection
            selected = set(self._selected())
            return self._paste(top, left, [[rows[0][0] if (row, column) in selected else None
                                            for column in range(left, right + 1)]
                                           for row in range(top, bottom + 1)])
        current = self.view.currentIndex()
        top, left = (current.row(), current.column()) if current.isValid() else (top, left)
        return self._paste(top, left, rows)


class TreeClipboard(ClipboardTarget):
    """A tree of values: Copy gives the current node's value, Copy Path its path."""

    def __init__(self, view: QAbstractItemView, value_text: Callable[[QModelIndex], str],
                 path_text: Callable[[QModelIndex], str],
                 report: Callable[[str], None] | None = None) -> None:
        super().__init__(view, report)
        self.value_text = value_text
        self.path_text = path_text

    def _current(self) -> QModelIndex:
        index = self.view.currentIndex()
        return index.siblingAtColumn(0) if index.isValid() else index

    def copy(self) -> tuple[str, str]:
        index = self._current()
        if not index.isValid():
            raise KnownError("Select a value to copy first.")
        return self.value_text(index), f"Copied the value of {self.path_text(index)}"

    def can_copy_path(self) -> bool:
        return self._current().isValid()

    def copy_path(self) -> str:
        index = self._current()
        if not index.isValid():
            raise KnownError("Select a value first.")
        return self.path_text(index)


class ClipboardActions(QObject):
    """Cut, Copy, Paste and Copy Path for a window: each goes to the focus widget, and is
    enabled only when it applies there (updated on focus, selection and clipboard changes)."""

    refused = Signal(str)  # why a command did nothing (read-only, rows not loaded…)
    done = Signal(str)  # what a command did, for the status bar

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        keys = QKeySequence.StandardKey
        self.cut = self._action(parent, "Cu&t", keys.Cut, self._on_cut)
        self.copy = self._action(parent, "&Copy", keys.Copy, self._on_copy)
        self.paste = self._action(parent, "&Paste", keys.Paste, self._on_paste)
        self.copy_path = self._action(parent, "Copy Pat&h", QKeySequence("Shift+Alt+C"), self._on_copy_path)
        self.copy_path.setStatusTip("Copy the path of the selected value, as code that reaches it")
        self._watched: list[tuple[object, str, Callable]] = []  # (sender, signal, slot) to let go of
        app = QApplication.instance()
        app.focusChanged.connect(self._on_focus_changed)
        self._has_text = False
        QGuiApplication.clipboard().dataChanged.connect(self._on_clipboard_changed)
        self._on_clipboard_changed()
        self._on_focus_changed(None, QApplication.focusWidget())

    def actions(self) -> list[QAction]:
        return [self.cut, self.copy, self.paste, self.copy_path]

    def _action(self, parent: QWidget, text: str, key, slot) -> QAction:
        action = QAction(text, parent)
        action.setShortcut(QKeySequence(key))
        action.triggered.connect(slot)
        return action

    # -- what has the focus ----------------------------------------------------------------------
    @Slot(QWidget, QWidget)
    def _on_focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        self._unwatch()
        if isinstance(new, QLineEdit | QPlainTextEdit | QTextEdit):
            self._watch(new, "selectionChanged")
        elif target_of(new) is not None and isinstance(new, QAbstractItemView):
            selection = new.selectionModel()
            if selection is not None:
                self._watch(selection, "selectionChanged")
                self._watch(selection, "currentChanged")
        self.update()

    def _watch(self, sender: QObject, signal: str) -> None:
        slot = self._on_selection_changed
        getattr(sender, signal).connect(slot)
        self._watched.append((sender, signal, slot))

    def _unwatch(self) -> None:
        for sender, signal, slot in self._watched:
            try:
                getattr(sender, signal).disconnect(slot)
            except (RuntimeError, TypeError):  # the widget is gone already
                pass
        self._watched.clear()

    @Slot()
    def _on_selection_changed(self, *_args) -> None:
        self.update()

    @Slot()
    def _on_clipboard_changed(self) -> None:
        # Asked once per change, not on every focus change: on X11 each question is a round
        # trip to the program that owns the clipboard.
        data = QGuiApplication.clipboard().mimeData()
        self._has_text = data is not None and data.hasText()
        self.update()

    @Slot()
    def update(self) -> None:
        """Enable the actions that apply to the focus widget now."""
        widget = QApplication.focusWidget()
        has_text = self._has_text
        cut = copy = paste = path = False
        if isinstance(widget, QLineEdit):
            copy = widget.hasSelectedText() and widget.echoMode() == QLineEdit.EchoMode.Normal
            cut = copy and not widget.isReadOnly()
            paste = has_text and not widget.isReadOnly()
        elif isinstance(widget, QPlainTextEdit | QTextEdit):
            copy = widget.textCursor().hasSelection()
            cut = copy and not widget.isReadOnly()
            paste = has_text and not widget.isReadOnly()
        elif isinstance(widget, TextCommands):
            copy = cut = widget.has_selection()
            paste = has_text
        else:
            target = target_of(widget)
            if target is not None:
                cut = target.can_cut()
                copy = target.can_copy()
                paste = has_text and target.can_paste()
                path = target.can_copy_path()
        self.cut.setEnabled(cut)
        self.copy.setEnabled(copy)
        self.paste.setEnabled(paste)
        self.copy_path.setEnabled(path)

    # -- the commands ----------------------------------------------------------------------------
    def _text_widget(self) -> QWidget | None:
        widget = QApplication.focusWidget()
        return widget if isinstance(widget, QLineEdit | QPlainTextEdit | QTextEdit | TextCommands) else None

    def _run(self, command: Callable[[ClipboardTarget], None]) -> None:
        target = target_of(QApplication.focusWidget())
        if target is None:
            return
        try:
            command(target)
        except KnownError as exc:
            if target.report is not None:
                target.report(str(exc))
            else:
                self.refused.emit(str(exc))
        self.update()

    @Slot()
    def _on_cut(self) -> None:
        widget = self._text_widget()
        if widget is not None:
            widget.cut()
            self.update()
            return

        def cut(target: ClipboardTarget) -> None:
            text, said = target.cut()
            QGuiApplication.clipboard().setText(text)
            self.done.emit(said)

        self._run(cut)

    @Slot()
    def _on_copy(self) -> None:
        widget = self._text_widget()
        if widget is not None:
            widget.copy()
            self.update()
            return

        def copy(target: ClipboardTarget) -> None:
            text, said = target.copy()
            QGuiApplication.clipboard().setText(text)
            self.done.emit(said)

        self._run(copy)

    @Slot()
    def _on_paste(self) -> None:
        widget = self._text_widget()
        if widget is not None:
            widget.paste()
            self.update()
            return
        text = QGuiApplication.clipboard().text()
        if text:
            self._run(lambda target: self.done.emit(target.paste(text)))

    @Slot()
    def _on_copy_path(self) -> None:
        def copy_path(target: ClipboardTarget) -> None:
            path = target.copy_path()
            QGuiApplication.clipboard().setText(path)
            self.done.emit(f"Copied {path}")

        self._run(copy_path)


def select_block(view: QAbstractItemView, top: int, left: int, bottom: int, right: int) -> None:
    """Select the rectangle of cells a paste wrote, the first one current."""
    model = view.model()
    selection = view.selectionModel()
    flags = QItemSelectionModel.SelectionFlag
    selection.setCurrentIndex(model.index(top, left), flags.NoUpdate)
    selection.select(QItemSelection(model.index(top, left), model.index(bottom, right)), flags.ClearAndSelect)
