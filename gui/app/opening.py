"""Opening documents in the main window: files by path, the Open dialog, recent files, New File,
database URLs and drag and drop.

The :class:`DocumentOpener` belongs to the main window. It owns the paths being sniffed, sniffs
them in a worker and hands each document to the window (``page_for_format`` routes a format to
its tab, ``adopt_document`` wires it in). It reads the window's public API only.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QFileDialog, QMessageBox

from gui.app.early_sniff import EarlySniff, sniff_and_preview
from gui.common.document import Document, ShowsFirstLines
from gui.common.file_dialogs import open_filters, start_folder
from gui.common.first_paint import after_first_paint
from gui.common.tab_page import TabPage
from gui.common.workers import run_in_worker
from gui.files.tab import FilesTab
from storage.core.errors import KnownError, classify
from storage.formats import registry as format_registry

if TYPE_CHECKING:
    from gui.app.mainwindow import MainWindow


class DocumentOpener(QObject):
    """Opens documents for the window: sniffed in a worker, routed to their tab."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self._opening: set[str] = set()  # paths sniffed now: not opened twice, kept in the session
        self._stopped = False
        self.early: EarlySniff | None = None  # the command line's files, sniffed during launch

    def stop(self) -> None:
        """The window closed: sniffs still under way (a restore's copy, a hand-off) open nothing."""
        self._stopped = True
        self._opening.clear()

    def pending_paths(self) -> list[str]:
        """The paths being sniffed now (a quick exit must not drop them from the session)."""
        return sorted(self._opening)

    # -- opening -------------------------------------------------------------------------------
    def open_paths(self, paths: list[str], *, activate: bool = True,
                   view_states: dict[str, dict] | None = None, remember: bool = True) -> None:
        """Sniff the paths in one worker and open each in the tab its content belongs to.

        One worker per batch keeps the documents in the order given (a restored session
        comes back in its old tab order). ``remember`` adds them to the recent files.
        """
        if self._stopped:
            return
        batch = []
        for raw in paths:
            path = os.path.abspath(os.fspath(raw))
            existing = self.window.find_document(path)
            if existing is not None:
                if activate:
                    self.window.activate_document(existing)
            elif path not in self._opening and path not in batch:
                batch.append(path)
        if not batch:
            return
        self._opening.update(batch)
        states = view_states or {}
        self.window.statusBar().showMessage(f"Opening {len(batch)} file(s)…", 3000)
        # One file to show (a double-click, the command line): its first lines come with the sniff.
        preview = activate and len(batch) == 1
        early, self.early = self.early, None
        sniffed = early.take(batch, preview) if early is not None else None
        if sniffed is not None:  # sniffed while the window was built: shown from its first paint
            try:
                self._on_sniffed(sniffed[0], activate, states, remember, sniffed[1])
            except Exception as exc:  # a bug making a document: said in the window, launch goes on
                for path in batch:
                    if self.window.find_document(path) is None:
                        self._on_open_failed(path, exc)
            return
        run_in_worker(sniff_and_preview, batch, preview,
                      on_result=lambda out: self._on_sniffed(out[0], activate, states, remember, out[1]))

    def _on_sniffed(self, results: list, activate: bool, states: dict[str, dict],
                    remember: bool, preview: str | None = None) -> None:
        if self._stopped:
            return
        if preview:
            path, result = results[0]
            page = self.window.page_for_format(result.format)
            if not page.document_imported(result.format):
                # The first lines are painted before the tab's modules are imported and the
                # document is made (that takes a moment at launch); the document replaces them.
                page.show_opening(os.path.basename(path), preview)
                self.window.tabs.setCurrentWidget(page)
                after_first_paint(page.opening, lambda: self._open_sniffed(results, activate, states,
                                                                           remember, preview, page),
                                  owner=self)
                return
        self._open_sniffed(results, activate, states, remember, preview)

    def _open_sniffed(self, results: list, activate: bool, states: dict[str, dict], remember: bool,
                      preview: str | None = None, page: TabPage | None = None) -> None:
        try:
            if not self._stopped:
                self._adopt_sniffed(results, activate, states, remember, preview)
        finally:
            if page is not None:
                page.end_opening()  # shown by now, or the open failed

    def _adopt_sniffed(self, results: list, activate: bool, states: dict[str, dict],
                       remember: bool, preview: str | None) -> None:
        opened = None
        if self.window.statusBar().currentMessage().startswith("Opening "):
            self.window.statusBar().clearMessage()
        for path, result in results:
            self._opening.discard(path)
            if isinstance(result, BaseException):
                self._on_open_failed(path, result)
                continue
            opened = self._add_document(path, result, states.get(path), remember, preview) or opened
        if activate and opened is not None:
            self.window.activate_document(opened)

    def _add_document(self, path: str, result, state: dict | None, remember: bool,
                      preview: str | None = None) -> Document | None:
        target = os.path.abspath(result.path) if getattr(result, "path", None) else path
        existing = self.window.find_document(target)
        if existing is not None:  # another file of a shelf that is open already
            return existing
        page = self.window.page_for_format(result.format)
        document = page.create_document(target, result.format)
        if preview and isinstance(document, ShowsFirstLines):
            document.show_first_lines(preview)
        entry = format_registry.get(result.format)
        if entry is None or entry.checks_pickle_start:  # the Objects tab judges its files itself
            document.check_pickle_verdict()
        if state:
            document.apply_view_state(state)
        self.window.adopt_document(page, document)
        if remember:
            self.window.settings.add_recent(target, result.format)
        return document

    def _on_open_failed(self, path: str, exc: BaseException) -> None:
        self._opening.discard(path)
        failure = classify(exc)
        self.window.notices.show_failure(f"Could not open {path}", failure)
        self.window.openFailed.emit(path, failure.message)

    def open_database_url(self, url: str, password: str | None = None,
                          name: str | None = None) -> Document:
        """Open a database server (a SQLAlchemy URL) as a document in the SQLite tab.

        Connecting happens in the document's worker: the window never waits for a server. The
        same URL open already is brought forward; several servers may be open at once.
        """
        from gui.connections.open_url import open_url_document

        return open_url_document(self.window, url, password, name)

    def show_in_files(self, paths: list[str]) -> None:
        """The Files tab's browser shows the folder of the first of ``paths`` that is a file
        (files named on the command line: their folder is where the user works)."""
        first = next((p for p in paths if os.path.isfile(p)), None)
        files = next((p for p in self.window.pages if isinstance(p, FilesTab)), None)
        if first is not None and files is not None:
            files.show_folder_of(first)

    @Slot()
    def open_dialog(self, page: TabPage | None = None) -> None:
        """Open files: in the current document's folder (else the last one), every format at once."""
        page = page or self.window.tabs.currentWidget()
        filters = open_filters([page.name_filter] + [p.name_filter for p in self.window.pages
                                                     if p is not page])
        settings = self.window.settings
        current = self.window.current_document()
        start = start_folder(current.path if current is not None else None, settings.last_dir("open"))
        paths, _ = QFileDialog.getOpenFileNames(self.window, "Open", start, filters, filters.split(";;")[0])
        if paths:
            self.window.settings.set_last_dir("open", os.path.dirname(paths[0]))
            self.open_paths(paths)

    @Slot()
    def fill_recent_menu(self) -> None:
        menu = self.window.actions.recent_menu
        menu.clear()
        recent = self.window.settings.recent_files()
        for number, path in enumerate(recent, start=1):
            action = menu.addAction(f"&{number % 10} {os.path.basename(path)}")
            action.setToolTip(path)
            action.setStatusTip(path)
            action.triggered.connect(lambda _=False, p=path: self.open_paths([p]))
        if not recent:
            menu.addAction("No recent files").setEnabled(False)
        menu.addSeparator()
        menu.addAction("Clear Recent Files", lambda: self.window.settings.reset("recent_files"))

    def _confirm_replace(self, path: str) -> bool:
        """The name typed had no extension, so the dialog did not ask about the file it names now."""
        answer = QMessageBox.question(self.window, "New File",
                                      f"{os.path.basename(path)} already exists. Replace it?")
        return answer == QMessageBox.StandardButton.Yes

    @Slot()
    def new_file(self) -> None:
        from storage.formats.newfile import create_empty, new_formats  # on first use

        choices = new_formats()
        filters = ";;".join(f"{label} (*{ext})" for _fmt, label, ext in choices)
        settings = self.window.settings
        path, chosen = QFileDialog.getSaveFileName(self.window, "New File", settings.last_dir("new"), filters)
        if not path:
            return
        fmt, ext = next(((f, ext) for f, label, ext in choices if chosen.startswith(label)),
                        choices[0][::2])
        if ext and not os.path.splitext(os.path.basename(path))[1]:
            path += ext  # "people" typed under "SQLite database (*.db)": people.db
            if os.path.exists(path) and not self._confirm_replace(path):
                return
        settings.set_last_dir("new", os.path.dirname(path))
        try:
            create_empty(path, fmt)
        except KnownError as exc:
            self.window.notices.show_message(str(exc), "error")
            return
        self.open_paths([path])
