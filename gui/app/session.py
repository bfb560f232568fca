"""Session state between the main window and the settings service: capture and restore.

What comes back at launch: window geometry and state (default geometry when the saved screen
is gone), the active tab, the documents that were open (missing ones skipped with a note), the
front document of each tab, and each document's view state.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from PySide6.QtCore import QRect
from PySide6.QtGui import QGuiApplication

from storage.settings.store import decode_bytes, encode_bytes

if TYPE_CHECKING:
    from gui.app.mainwindow import MainWindow

MAX_VIEW_STATES = 100
DEFAULT_SIZE = (1200, 780)


def capture_geometry(window: MainWindow) -> None:
    window.settings["window.geometry"] = encode_bytes(window.saveGeometry().data())
    window.settings["window.state"] = encode_bytes(window.saveState().data())


def capture_documents(window: MainWindow) -> None:
    """Record the open documents, each tab's front document and every view state."""
    settings = window.settings
    # "order" is each document's place among all tabs: files and connections come back mixed
    # in the order they were shown.
    order = {d: i for i, d in enumerate(window.all_documents())}
    documents = [{"path": d.path, "format": d.format, "tab": page.tab_id, "order": order[d]}
                 for page in window.pages for d in page.all_documents() if d.path]
    # Files still being sniffed belong to the session too (a quick exit must not drop them).
    known = {d["path"] for d in documents}
    documents += [{"path": p, "format": "", "tab": ""} for p in window.opener.pending_paths()
                  if p not in known]
    settings["session.documents"] = documents
    connections = window.connector.capture()
    for document, info in window.connector.open_documents():
        entry = next((e for e in connections if e["url"] == info["url"]), None)
        if entry is not None and document in order:
            entry["order"] = order[document]
    settings["session.connections"] = connections
    settings["session.active_documents"] = {
        page.tab_id: session_key(page.current_document())
        for page in window.pages if page.current_document() is not None}
    states = dict(settings["session.view_state"])
    for document in window.all_documents():
        if document.path:
            states.pop(document.path, None)
            states[document.path] = document.view_state()  # newest last
    settings["session.view_state"] = dict(list(states.items())[-MAX_VIEW_STATES:])


def capture(window: MainWindow) -> None:
    capture_geometry(window)
    capture_documents(window)


def restore_geometry(window: MainWindow) -> None:
    """Saved geometry if it restores onto a screen that still exists, else a default."""
    data = decode_bytes(window.settings["window.geometry"])
    restored = bool(data) and window.restoreGeometry(data)
    if not restored or not _visible_on_a_screen(window.frameGeometry()):
        _default_geometry(window)
    state = decode_bytes(window.settings["window.state"])
    if state:
        window.restoreState(state)


def _visible_on_a_screen(frame: QRect) -> bool:
    """True when a good part of the title bar area is on some screen."""
    title_bar = QRect(frame.x(), frame.y(), frame.width(), 40)
    for screen in QGuiApplication.screens():
        overlap = screen.availableGeometry().intersected(title_bar)
        if overlap.width() >= min(200, frame.width()) and overlap.height() >= 20:
            return True
    return False


def _default_geometry(window: MainWindow) -> None:
    screen = QGuiApplication.primaryScreen()
    available = screen.availableGeometry() if screen else QRect(0, 0, *DEFAULT_SIZE)
    width = min(DEFAULT_SIZE[0], available.width())
    height = min(DEFAULT_SIZE[1], available.height())
    window.setGeometry(available.x() + (available.width() - width) // 2,
                       available.y() + (available.height() - height) // 2, width, height)


def restore(window: MainWindow, extra_paths: list[str]) -> None:
    """Bring back the last session, then open ``extra_paths`` (from the command line)."""
    settings = window.settings
    restore_geometry(window)
    active_tab = settings["window.active_tab"]
    for page in window.pages:
        if page.tab_id == active_tab:
            window.tabs.setCurrentWidget(page)
    paths: list[str] = []
    missing: list[str] = []
    if settings["general.restore_session"]:
        for entry in settings["session.documents"]:
            path = entry.get("path") if isinstance(entry, dict) else None
            if not isinstance(path, str):
                continue
            (paths if _exists(path) else missing).append(path)
    fronts = set(settings["session.active_documents"].values())
    states = settings["session.view_state"]
    placer = TabOrder(window)
    if settings["general.restore_session"]:
        for number, entry in enumerate(settings["session.documents"]):
            if isinstance(entry, dict) and isinstance(entry.get("path"), str):
                order = entry.get("order")  # older sessions: the list's own order
                rank = order if isinstance(order, int) and not isinstance(order, bool) else number
                placer.ranks.setdefault(os.path.abspath(entry["path"]), rank)
    if paths:
        window.open_paths(paths, activate=False, view_states=states, remember=False)
        window.documentOpened.connect(lambda doc: _bring_front(window, doc, fronts, placer))
        window.documentOpened.connect(lambda doc: placer.place(doc, placer.ranks.get(doc.path or "")))
    if extra_paths:
        window.open_paths(extra_paths, activate=True, view_states=states)
        window.opener.show_in_files(extra_paths)
    if settings["general.restore_session"]:
        def placed(document, entry: dict) -> None:
            # Entries of older sessions have no order: after the files, as they used to come.
            _bring_front(window, document, fronts, placer)
            placer.place(document, entry.get("order", 10_000 + len(placer.rank)))

        window.connector.restore(settings["session.connections"], placed)
    if missing:  # after open_paths, whose own message would hide this one
        names = ", ".join(os.path.basename(p) for p in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        window.statusBar().showMessage(
            f"{len(missing)} document(s) from the last session no longer exist: {names}{more}")


def session_key(document) -> str | None:
    """How the session names a document: its path, or ``connection:URL`` (no password)."""
    if document.path:
        return document.path
    from gui.common.document import ServerDocument

    url = document.server_url if isinstance(document, ServerDocument) else None
    if not url:
        return None
    from storage.core.url_redact import redact

    return f"connection:{redact(url, mask=None)}"


class TabOrder:
    """Puts restored documents back in their saved order, whenever each one arrives."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.ranks: dict[str, int] = {}  # path -> saved order
        self.rank: dict[object, int] = {}  # document -> saved order, once it arrived
        self.fronts: dict[object, object] = {}  # page -> its restored front document

    def place(self, document, rank: int | None) -> None:
        if rank is None:
            return
        page = next((p for p in self.window.pages if document in p.all_documents()), None)
        if page is None:
            return
        self.rank[document] = rank
        others = [d for d in page.all_documents() if d is not document]
        target = sum(1 for d in others if self.rank.get(d, rank + 1) < rank)
        index = page.documents.indexOf(document)
        if index != target:
            page.documents.tabBar().moveTab(index, target)
        front = self.fronts.get(page)  # each arrival comes to the front: put the saved one back
        if front is not None and front in page.all_documents():
            page.set_current_document(front)


def _bring_front(window: MainWindow, document, fronts: set[str], placer: TabOrder) -> None:
    key = session_key(document)
    if key in fronts:
        fronts.discard(key)
        page = next(p for p in window.pages if document in p.all_documents())
        page.set_current_document(document)
        placer.fronts[page] = document


def _exists(path: str) -> bool:
    if os.path.exists(path):
        return True
    # A shelf is stored as its base name; its files carry the suffixes.
    return any(os.path.exists(path + ext) for ext in (".db", ".dat", ".dir", ".pag"))
