"""Edit ▸ Cut, Copy, Paste and Copy Path (gui/common/clipboard.py): sent to the focus widget,
enabled only when they apply, and TSV that survives tabs, newlines and quotes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QApplication,
    QLineEdit,
    QPlainTextEdit,
    QTableView,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from gui.common.clipboard import ClipboardActions, TableClipboard, TreeClipboard, parse_tsv, to_tsv
from storage.core.errors import KnownError


def press(qtbot, window: QWidget, widget: QWidget, key: Qt.Key,
          modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.ControlModifier) -> None:
    """Press a shortcut as a user does: the window active and ``widget`` focused."""
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    widget.setFocus()
    qtbot.waitUntil(widget.hasFocus)
    qtbot.keyClick(widget, key, modifiers)


def test_tsv_quotes_only_what_needs_it() -> None:
    assert to_tsv([["a", "1"], ["", "b c"]]) == "a\t1\n\tb c"
    assert to_tsv([["tab\there", 'say "hi"', "two\nlines", '"quoted"']]) == (
        '"tab\there"\tsay "hi"\t"two\nlines"\t"""quoted"""')
    assert parse_tsv("a\t1\r\n\tb c\r\n") == [["a", "1"], ["", "b c"]]  # a spreadsheet's line ends
    assert parse_tsv("") == [[""]]
    assert parse_tsv("x\n\ny") == [["x"], [""], ["y"]]


@given(st.lists(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",),
                                                         blacklist_characters="\r\x00")),
                         min_size=2, max_size=4), min_size=1, max_size=4))
def test_tsv_round_trips(rows: list[list[str]]) -> None:
    assert parse_tsv(to_tsv(rows)) == rows


class Grid(QWidget):
    """A line edit, a text editor, a table with a TableClipboard and a tree with a TreeClipboard."""

    def __init__(self) -> None:
        super().__init__()
        self.line = QLineEdit("hello world", self)
        self.text = QPlainTextEdit("some text", self)
        self.text.setReadOnly(True)
        self.model = QStandardItemModel(3, 3, self)
        for row in range(3):
            for column in range(3):
                self.model.setItem(row, column, QStandardItem(f"r{row}c{column}"))
        self.model.item(1, 1).setText("")
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.pasted: list = []
        self.cleared: list = []
        self.table_clip = TableClipboard(self.table, lambda i: i.data() or "", self.paste,
                                         lambda cells: self.cleared.append(cells) or "cleared")
        tree_model = QStandardItemModel(self)
        parent = QStandardItem("users")
        parent.appendRow(QStandardItem("ann"))
        tree_model.appendRow(parent)
        self.tree = QTreeView(self)
        self.tree.setModel(tree_model)
        TreeClipboard(self.tree, lambda i: i.data(), lambda i: f"data[{i.data()!r}]")
        self.plain = QWidget(self)
        self.plain.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        box = QVBoxLayout(self)
        for widget in (self.line, self.text, self.table, self.tree, self.plain):
            box.addWidget(widget)
        self.actions = ClipboardActions(self)
        for action in self.actions.actions():
            self.addAction(action)
        self.refusals: list[str] = []
        self.actions.refused.connect(self.refusals.append)

    def paste(self, top: int, left: int, rows: list[list[str]]) -> str:
        if self.table.property("readOnly"):
            raise KnownError("Read-only: nothing pasted.")
        self.pasted.append((top, left, rows))
        return "pasted"

    def enabled(self) -> dict[str, bool]:
        a = self.actions
        return {"cut": a.cut.isEnabled(), "copy": a.copy.isEnabled(), "paste": a.paste.isEnabled(),
                "path": a.copy_path.isEnabled()}


def shown(qtbot) -> Grid:
    grid = Grid()
    qtbot.addWidget(grid)
    grid.show()
    qtbot.waitExposed(grid)
    grid.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is grid)
    return grid


def focus(qtbot, widget: QWidget) -> None:
    widget.setFocus()
    qtbot.waitUntil(widget.hasFocus)


def test_actions_follow_the_focus_and_the_selection(qtbot) -> None:
    grid = shown(qtbot)
    QApplication.clipboard().setText("pasted text")
    focus(qtbot, grid.plain)
    assert grid.enabled() == {"cut": False, "copy": False, "paste": False, "path": False}
    focus(qtbot, grid.line)
    grid.line.deselect()
    assert grid.enabled() == {"cut": False, "copy": False, "paste": True, "path": False}
    grid.line.setSelection(0, 5)  # a selection enables Cut and Copy at once
    assert grid.enabled() == {"cut": True, "copy": True, "paste": True, "path": False}
    focus(qtbot, grid.text)
    grid.text.selectAll()
    assert grid.enabled() == {"cut": False, "copy": True, "paste": False, "path": False}  # read-only
    focus(qtbot, grid.table)
    grid.table.setCurrentIndex(grid.model.index(0, 0))
    assert grid.enabled() == {"cut": True, "copy": True, "paste": True, "path": False}
    QApplication.clipboard().clear()
    assert not grid.actions.paste.isEnabled()  # nothing to paste
    focus(qtbot, grid.tree)
    grid.tree.setCurrentIndex(grid.tree.model().index(0, 0).parent())
    assert grid.enabled()["path"] is False  # no current node
    grid.tree.setCurrentIndex(grid.tree.model().index(0, 0))
    assert grid.enabled() == {"cut": False, "copy": True, "paste": False, "path": True}


def test_menu_commands_go_to_the_text_widget_with_the_focus(qtbot) -> None:
    grid = shown(qtbot)
    focus(qtbot, grid.line)
    grid.line.setSelection(0, 5)
    grid.actions.cut.trigger()
    assert QApplication.clipboard().text() == "hello" and grid.line.text() == " world"
    grid.line.setCursorPosition(len(grid.line.text()))
    grid.actions.paste.trigger()
    assert grid.line.text() == " worldhello"


def test_table_copy_is_tsv_of_the_selection_and_paste_goes_to_the_current_cell(qtbot) -> None:
    grid = shown(qtbot)
    model, table = grid.model, grid.table
    table.setCurrentIndex(model.index(0, 1))
    table.selectionModel().select(QItemSelection(model.index(0, 1), model.index(1, 2)),
                                  QItemSelectionModel.SelectionFlag.ClearAndSelect)
    press(qtbot, grid, table, Qt.Key.Key_C)
    assert QApplication.clipboard().text() == "r0c1\tr0c2\n\tr1c2"  # the empty cell stays a cell
    table.setCurrentIndex(model.index(2, 0))
    press(qtbot, grid, table, Qt.Key.Key_V)
    assert grid.pasted == [(2, 0, [["r0c1", "r0c2"], ["", "r1c2"]])]
    table.setProperty("readOnly", True)
    press(qtbot, grid, table, Qt.Key.Key_V)
    assert grid.refusals == ["Read-only: nothing pasted."] and len(grid.pasted) == 1
    table.setProperty("readOnly", False)
    QApplication.clipboard().setText("one")  # one value fills the selection, skipping the cells outside it
    table.setCurrentIndex(model.index(0, 0))
    table.selectionModel().select(QItemSelection(model.index(0, 0), model.index(1, 0)),
                                  QItemSelectionModel.SelectionFlag.ClearAndSelect)
    table.selectionModel().select(model.index(1, 1), QItemSelectionModel.SelectionFlag.Select)
    press(qtbot, grid, table, Qt.Key.Key_V)
    assert grid.pasted[-1] == (0, 0, [["one", None], ["one", "one"]])
    press(qtbot, grid, table, Qt.Key.Key_X)  # Cut: copied, then the selected cells emptied
    assert QApplication.clipboard().text() == "r0c0\t\nr1c0\t" and grid.cleared == [[(0, 0), (1, 0), (1, 1)]]


def test_tree_copies_value_and_path(qtbot) -> None:
    grid = shown(qtbot)
    tree = grid.tree
    tree.expandAll()
    tree.setCurrentIndex(tree.model().index(0, 0, tree.model().index(0, 0)))
    press(qtbot, grid, tree, Qt.Key.Key_C)
    assert QApplication.clipboard().text() == "ann"
    copy_path = Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.AltModifier
    press(qtbot, grid, tree, Qt.Key.Key_C, copy_path)
    assert QApplication.clipboard().text() == "data['ann']"


def test_a_view_with_its_own_copy_key_still_gets_it(qtbot) -> None:
    """Copy is disabled where nothing applies, so it does not take Ctrl+C from a view of ours
    that reads the key itself (the JSON tab's paged text)."""
    grid = shown(qtbot)
    keys: list[int] = []
    grid.plain.keyPressEvent = lambda event: keys.append(event.key())
    press(qtbot, grid, grid.plain, Qt.Key.Key_C)
    assert not grid.actions.copy.isEnabled() and Qt.Key.Key_C in keys
