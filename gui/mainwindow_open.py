"""Opening documents in the main window: files by path, the Open dialog, recent files, New File,
database URLs and drag and drop.

A mixin of :class:`gui.mainwindow.MainWindow`; it shares the window's state (pages, settings,
notices, undo group).
"""

from __future__ import annotations

import os

from PySide6.QtCore import Slot
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFileDialog

from storage import format_registry
from storage.errors import KnownError
from storage.newfile import create_empty, new_formats

from .document import Document
from .tab_page import TabPage
from .workers import run_in_worker


def sniff_all(paths: list[str]) -> list[tuple[str, object]]:
    """Worker body: each path with its SniffResult, or the KnownError that stopped it."""
    from storage.sniff import sniff  # imported on first use: keeps launch quick

    results: list[tuple[str, object]] = []
    for path in paths:
        try:
            results.append((path, sniff(path)))
        except KnownError as exc:
            results.append((path, exc))
    return results



class OpenDocumentsMixin:
    """Finds open documents and opens new ones (sniffed in a worker, routed to their tab)."""

    # -- pages and documents -----------------------------------------------------------------
    def page(self, tab_id: str) -> TabPage:
        return next(p for p in self.pages if p.tab_id == tab_id)

    def page_for_format(self, fmt: str) -> TabPage:
        return next((p for p in self.pages if fmt in p.formats), self.pages[0])

    def all_documents(self) -> list[Document]:
        return [doc for page in self.pages for doc in page.all_documents()]

    def current_document(self) -> Document | None:
        page = self.tabs.currentWidget()
        return page.current_document() if isinstance(page, TabPage) else None

    def find_document(self, path: str) -> Document | None:
        path = os.path.abspath(path)
        return next((d for d in self.all_documents() if d.path == path), None)

    # -- opening -------------------------------------------------------------------------------
    def open_paths(self, paths: list[str], *, activate: bool = True,
                   view_states: dict[str, dict] | None = None, remember: bool = True) -> None:
        """Sniff the paths in one worker and open each in the tab its content belongs to.

        One worker per batch keeps the documents in the order given (a restored session
        comes back in its old tab order). ``remember`` adds them to the recent files.
        """
        batch = []
        for raw in paths:
            path = os.path.abspath(os.fspath(raw))
            existing = self.find_document(path)
            if existing is not None:
                if activate:
                    self.activate_document(existing)
            elif path not in self._opening and path not in batch:
                batch.append(path)
        if not batch:
            return
        self._opening.update(batch)
        states = view_states or {}
        self.statusBar().showMessage(f"Opening {len(batch)} file(s)…", 3000)
        run_in_worker(sniff_all, batch,
                      on_result=lambda results: self._on_sniffed(results, activate, states, remember))

    def _on_sniffed(self, results: list, activate: bool, states: dict[str, dict],
                    remember: bool) -> None:
        opened = None
        if self.statusBar().currentMessage().startswith("Opening "):
            self.statusBar().clearMessage()
        for path, result in results:
            self._opening.discard(path)
            if isinstance(result, BaseException):
                self._on_open_failed(path, result)
                continue
            opened = self._add_document(path, result, states.get(path), remember) or opened
        if activate and opened is not None:
            self.activate_document(opened)

    def _add_document(self, path: str, result, state: dict | None,
                      remember: bool) -> Document | None:
        target = os.path.abspath(result.path) if getattr(result, "path", None) else path
        existing = self.find_document(target)
        if existing is not None:  # another file of a shelf that is open already
            return existing
        page = self.page_for_format(result.format)
        document = page.create_document(target, result.format)
        entry = format_registry.get(result.format)
        if entry is None or entry.checks_pickle_start:  # the Objects tab judges its files itself
            document.check_pickle_verdict()
        if state:
            document.apply_view_state(state)
        self.adopt_document(page, document)
        if remember:
            self.settings.add_recent(target, result.format)
        return document

    def adopt_document(self, page: TabPage, document: Document) -> None:
        """Put a document in ``page`` and wire it to the undo group, status bar and session."""
        document.statusChanged.connect(self._refresh_document_ui)
        document.modifiedChanged.connect(lambda _m: self._refresh_document_ui())
        document.viewStateChanged.connect(self._view_state_changed)
        self.undo_group.addStack(document.undo_stack)
        page.add_document(document)
        self.documentOpened.emit(document)

    def _on_open_failed(self, path: str, exc: BaseException) -> None:
        self._opening.discard(path)
        message = str(exc) if isinstance(exc, KnownError) else f"Unexpected error: {exc!r}"
        self.notices.show_message(f"Could not open {path}: {message}", "error")
        self.openFailed.emit(path, message)

    def activate_document(self, document: Document) -> None:
        page = next(p for p in self.pages if document in p.all_documents())
        self.tabs.setCurrentWidget(page)
        page.set_current_document(document)

    def open_database_url(self, url: str, password: str | None = None,
                          name: str | None = None) -> Document:
        """Open a database server (a SQLAlchemy URL) as a document in the SQLite tab.

        Connecting happens in the document's worker: the window never waits for a server. The
        same URL open already is brought forward; several servers may be open at once.
        """
        from .sql_open import open_url_document

        return open_url_document(self, url, password, name)

    @Slot()
    def open_dialog(self, page: TabPage | None = None) -> None:
        page = page or self.tabs.currentWidget()
        filters = ";;".join(dict.fromkeys(
            [page.name_filter] + [p.name_filter for p in self.pages if p is not page]))
        paths, _ = QFileDialog.getOpenFileNames(self, "Open", self.settings.last_dir("open"),
                                                filters)
        if paths:
            self.settings.set_last_dir("open", os.path.dirname(paths[0]))
            self.open_paths(paths)

    @Slot()
    def fill_recent_menu(self) -> None:
        menu = self.actions.recent_menu
        menu.clear()
        recent = self.settings.recent_files()
        for number, path in enumerate(recent, start=1):
            action = menu.addAction(f"&{number % 10} {os.path.basename(path)}")
            action.setToolTip(path)
            action.setStatusTip(path)
            action.triggered.connect(lambda _=False, p=path: self.open_paths([p]))
        if not recent:
            menu.addAction("No recent files").setEnabled(False)
        menu.addSeparator()
        menu.addAction("Clear Recent Files", lambda: self.settings.reset("recent_files"))

    @Slot()
    def new_file(self) -> None:
        choices = new_formats()
        filters = ";;".join(f"{label} (*{ext})" for _fmt, label, ext in choices)
        path, chosen = QFileDialog.getSaveFileName(self, "New File", self.settings.last_dir("new"),
                                                   filters)
        if not path:
            return
        fmt = next((f for f, label, ext in choices if chosen.startswith(label)), choices[0][0])
        self.settings.set_last_dir("new", os.path.dirname(path))
        try:
            create_empty(path, fmt)
        except KnownError as exc:
            self.notices.show_message(str(exc), "error")
            return
        self.open_paths([path])

    # -- drag and drop -------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)
