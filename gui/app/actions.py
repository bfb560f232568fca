"""The menus and their actions, with the platform's standard shortcuts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from gui.common.clipboard import ClipboardActions
from gui.common.document import Convertible

if TYPE_CHECKING:
    from gui.app.mainwindow import MainWindow


@dataclass
class Actions:
    new: QAction
    open: QAction
    save: QAction
    save_as: QAction
    close: QAction
    quit: QAction
    undo: QAction
    redo: QAction
    reload: QAction
    status_bar: QAction
    next_document: QAction
    previous_document: QAction
    about: QAction
    recent_menu: QMenu
    tab_actions: list[QAction]
    backup: QAction
    connect: QAction | None = None
    recent_connections_menu: QMenu | None = None
    find: tuple[QAction, QAction, QAction] | None = None  # Find, Find Next, Find Previous
    clipboard: ClipboardActions | None = None  # Cut, Copy, Paste, Copy Path (gui/common/clipboard.py)
    convert: QAction | None = None  # File ▸ Convert…: the current document's table (a Convertible)


def _action(window: MainWindow, text: str, slot, shortcut=None, tip: str = "") -> QAction:
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    if tip:
        action.setStatusTip(tip)
    action.triggered.connect(slot)
    return action


def build_menus(window: MainWindow) -> Actions:
    """Create the File, Edit, View and Help menus of ``window`` and return their actions."""
    keys = QKeySequence.StandardKey
    bar = window.menuBar()

    file_menu = bar.addMenu("&File")
    new = _action(window, "&New…", window.new_file, keys.New, "Create an empty file of a format")
    open_ = _action(window, "&Open…", window.open_dialog, keys.Open, "Open files in their tabs")
    recent_menu = QMenu("Open &Recent", window)
    recent_menu.aboutToShow.connect(window.fill_recent_menu)
    connect = _action(window, "Connect to &Database…", window.connector.show_dialog, "Ctrl+Shift+D",
                      "Open a SQLite file or a database server (PostgreSQL, any SQLAlchemy URL)")
    recent_connections = QMenu("Recent Co&nnections", window)
    recent_connections.aboutToShow.connect(
        lambda: window.connector.fill_recent_menu(recent_connections))
    save = _action(window, "&Save", window.save_current, keys.Save)
    save_as = _action(window, "Save &As…", window.save_current_as, keys.SaveAs)
    close = _action(window, "&Close", window.close_current, keys.Close, "Close the document")
    quit_ = _action(window, "&Quit", window.close, keys.Quit)
    backup = _action(window, "Keep a .&bak Copy When Saving", window.set_backup_on_save,
                     tip="Saving over a file keeps its previous version as NAME.bak")
    backup.setCheckable(True)
    convert = _convert_action(window)
    file_menu.aboutToShow.connect(lambda: convert.setEnabled(_can_convert(window)))
    file_menu.addActions([new, open_])
    file_menu.addMenu(recent_menu)
    file_menu.addAction(connect)
    file_menu.addMenu(recent_connections)
    file_menu.addSeparator()
    file_menu.addActions([save, save_as, backup])
    file_menu.addAction(convert)
    file_menu.addSeparator()
    file_menu.addActions([close, quit_])

    edit_menu = bar.addMenu("&Edit")
    undo = window.undo_group.createUndoAction(window, "&Undo")
    undo.setShortcut(QKeySequence(keys.Undo))
    redo = window.undo_group.createRedoAction(window, "&Redo")
    redo.setShortcut(QKeySequence(keys.Redo))
    edit_menu.addActions([undo, redo])
    clipboard = ClipboardActions(window)  # each goes to the focus widget, enabled when it applies
    clipboard.refused.connect(lambda text: window.notices.show_message(text, "warning"))
    clipboard.done.connect(lambda text: window.statusBar().showMessage(text, 4000))
    edit_menu.addSeparator()
    edit_menu.addActions(clipboard.actions())
    edit_menu.aboutToShow.connect(clipboard.update)
    find = _find_actions(window)
    edit_menu.addSeparator()
    edit_menu.addActions(list(find))

    view_menu = bar.addMenu("&View")
    tab_actions = []
    for number, page in enumerate(window.pages, start=1):
        action = _action(window, f"Show {page.title.replace('&', '')}",
                         lambda _=False, p=page: window.tabs.setCurrentWidget(p), f"Ctrl+{number}")
        tab_actions.append(action)
    view_menu.addActions(tab_actions)
    view_menu.addSeparator()
    next_document = _action(window, "&Next Document", lambda: window.cycle_document(1),
                            keys.NextChild)
    previous_document = _action(window, "&Previous Document", lambda: window.cycle_document(-1),
                                keys.PreviousChild)
    reload = _action(window, "Re&load", window.reload_current, keys.Refresh,
                     "Read the document again from disk")
    status_bar = _action(window, "Status &Bar", window.set_status_bar_visible)
    status_bar.setCheckable(True)
    view_menu.addActions([next_document, previous_document, reload])
    view_menu.addSeparator()
    view_menu.addAction(status_bar)

    help_menu = bar.addMenu("&Help")
    about = _action(window, "&About Datashelf", window.show_about)
    about_qt = _action(window, "About &Qt", window.show_about_qt)
    help_menu.addActions([about, about_qt])

    return Actions(new, open_, save, save_as, close, quit_, undo, redo, reload, status_bar,
                   next_document, previous_document, about, recent_menu, tab_actions, backup,
                   connect, recent_connections, find=find, clipboard=clipboard, convert=convert)


def _can_convert(window: MainWindow) -> bool:
    document = window.current_document()
    return isinstance(document, Convertible) and document.can_convert()


def _convert_action(window: MainWindow) -> QAction:
    """Convert…: the current document's table to CSV, Parquet, JSON Lines or an SQLite table."""
    def start() -> None:
        document = window.current_document()
        if not isinstance(document, Convertible) or not document.can_convert():
            window.statusBar().showMessage("No table to convert in here", 3000)
            return
        document.ask_convert()

    return _action(window, "Con&vert…", start, None,
                   "Write the table shown to CSV, Parquet, JSON Lines or a table in an SQLite file")


def _find_actions(window: MainWindow) -> tuple[QAction, QAction, QAction]:
    """Find, Find Next and Find Previous, handed to the current document (Document.start_find)."""
    keys = QKeySequence.StandardKey

    def start() -> None:
        document = window.current_document()
        if document is None or not document.start_find():
            window.statusBar().showMessage("Nothing to find in here", 3000)

    def step(backward: bool) -> None:
        document = window.current_document()
        if document is None or not document.find_next(backward):
            window.statusBar().showMessage("Nothing to find in here", 3000)

    find = _action(window, "&Find…", start, keys.Find, "Find text in the current document")
    find_next = _action(window, "Find &Next", lambda: step(False), keys.FindNext)
    find_previous = _action(window, "Find Pre&vious", lambda: step(True), keys.FindPrevious)
    return find, find_next, find_previous
