"""The main window: tabs of documents, menus, status bar, saving and closing with unsaved changes.

The window owns its tabs and the documents in them. Opening (paths, dialogs, recent files, URLs)
is done by its :class:`gui.app.opening.DocumentOpener`, database connections by its
:class:`gui.connections.opening.Connector`; both hand documents back through
:meth:`MainWindow.adopt_document`.
"""

from __future__ import annotations

import os
import sys

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QUndoGroup
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMessageBox, QTabWidget, QVBoxLayout, QWidget

from gui.app import session
from gui.app.actions import build_menus
from gui.app.opening import DocumentOpener
from gui.common import save_options
from gui.common.document import Convertible, Document, KindLabelled, Located, PendingWrites, Reloadable
from gui.common.formatting import human_size
from gui.common.notice_bar import NoticeBar
from gui.common.resources import app_icon, tab_icon
from gui.common.tab_page import TabPage
from gui.common.workers import run_in_worker
from gui.connections.opening import Connector
from gui.files.tab import FilesTab
from gui.hdf5.tab import Hdf5Tab
from gui.json.tab import JsonTab
from gui.objects.tab import ObjectsTab
from gui.recovery.manager import JournalManager
from gui.sql.tab import SqlTab
from gui.tables.tab import TablesTab
from storage import __version__
from storage.settings.store import Settings

TAB_CLASSES: tuple[type[TabPage], ...] = (FilesTab, ObjectsTab, JsonTab, SqlTab, Hdf5Tab, TablesTab)


class MainWindow(QMainWindow):
    """Owns the tabs and the undo group; storage work happens in workers and storage/."""

    documentOpened = Signal(object)
    openFailed = Signal(str, str)  # path, message

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.setObjectName("MainWindow")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.undo_group = QUndoGroup(self)
        self.opener = DocumentOpener(self)  # files: sniffed in a worker, routed to their tab
        self.connector = Connector(self)  # database connections: dialog, passwords, session

        self.notices = NoticeBar(self)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("mainTabs")
        self.pages: list[TabPage] = []
        for cls in TAB_CLASSES:
            page = cls(tab_icon(cls.tab_id), self)
            self.pages.append(page)
            self.tabs.addTab(page, tab_icon(cls.tab_id), cls.title)
            page.openRequested.connect(lambda p=page: self.open_dialog(page=p))
            page.recentRequested.connect(lambda path: self.open_paths([path]))
            page.closeRequested.connect(self.close_document)
            if isinstance(page, FilesTab):  # the folder browser opens files in their tabs
                page.pathsRequested.connect(self.open_paths)
            if isinstance(page, SqlTab):
                page.connectRequested.connect(self.connector.show_dialog)
                self.connector.attach_page(page)  # recent connections on the empty state
            page.currentDocumentChanged.connect(self._on_document_changed)
            page.documentsChanged.connect(self._on_documents_changed)
        self.tabs.currentChanged.connect(self._on_tab_changed)
        central = QWidget(self)
        box = QVBoxLayout(central)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addWidget(self.notices)
        box.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        self.path_label = QLabel(self)
        self.format_label = QLabel(self)
        self.size_label = QLabel(self)
        for label in (self.path_label, self.format_label, self.size_label):
            self.statusBar().addPermanentWidget(label)
        self.path_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.actions = build_menus(self)
        self.actions.status_bar.setChecked(settings["view.status_bar"])
        self.actions.backup.setChecked(settings["files.backup_on_save"])
        save_options.set_backup(settings["files.backup_on_save"])
        self.statusBar().setVisible(settings["view.status_bar"])

        # Settings are written a few seconds after any change, so a crash loses seconds at most.
        self._autosave = QTimer(self)
        self._autosave.setSingleShot(True)
        self._autosave.setInterval(settings["general.autosave_delay_ms"])
        self._autosave.timeout.connect(self._autosave_settings)
        self._settings_write = None
        settings.subscribe(lambda _name: self._autosave.start())
        self._geometry_timer = QTimer(self)
        self._geometry_timer.setSingleShot(True)
        self._geometry_timer.setInterval(500)
        self._geometry_timer.timeout.connect(lambda: session.capture_geometry(self))
        # Crash recovery: unsaved edits are journaled beside the settings (SQLite and HDF5
        # edits are written to their files at once, so only the other tabs journal).
        self.journal = JournalManager(self, settings.folder / "journal")
        self._restore_offer = None  # made when a crashed session left edits (see offer_restore)
        self._refresh_document_ui()

    @property
    def restore_offer(self):
        """The offer of the unsaved edits a crashed session left (gui/recovery/restore.py),
        imported and made on first use: most launches have none."""
        if self._restore_offer is None:
            from gui.recovery.restore import RestoreOffer

            self._restore_offer = RestoreOffer(self, self.journal.recovered)
        return self._restore_offer

    def offer_restore(self) -> bool:
        """Show the notice of a crashed session's unsaved edits, if it left any; True if shown."""
        return bool(self.journal.recovered.entries()) and self.restore_offer.offer()

    # -- pages and documents -----------------------------------------------------------------
    def page(self, tab_id: str) -> TabPage:
        return next(p for p in self.pages if p.tab_id == tab_id)

    def page_for_format(self, fmt: str) -> TabPage:
        """The tab that opens files of the sniffed format ``fmt`` (Files when none claims it)."""
        return next((p for p in self.pages if fmt in p.formats), self.pages[0])

    def all_documents(self) -> list[Document]:
        return [doc for page in self.pages for doc in page.all_documents()]

    def current_document(self) -> Document | None:
        page = self.tabs.currentWidget()
        return page.current_document() if isinstance(page, TabPage) else None

    def find_document(self, path: str) -> Document | None:
        path = os.path.abspath(path)
        return next((d for d in self.all_documents() if d.path == path), None)

    def adopt_document(self, page: TabPage, document: Document) -> None:
        """Put a document in ``page`` and wire it to the undo group, status bar and session."""
        document.statusChanged.connect(self._refresh_document_ui)
        document.modifiedChanged.connect(lambda _m: self._refresh_document_ui())
        document.viewStateChanged.connect(self._view_state_changed)
        document.bugFound.connect(self.notices.show_failure)
        document.statusMessage.connect(lambda text: self.statusBar().showMessage(text, 6000))
        self.undo_group.addStack(document.undo_stack)
        page.add_document(document)
        self.documentOpened.emit(document)

    def activate_document(self, document: Document) -> None:
        page = next(p for p in self.pages if document in p.all_documents())
        self.tabs.setCurrentWidget(page)
        page.set_current_document(document)

    # -- opening (gui/app/opening.py, gui/connections/opening.py) ------------------------------------
    def open_paths(self, paths: list[str], *, activate: bool = True,
                   view_states: dict[str, dict] | None = None, remember: bool = True) -> None:
        """Open each path in the tab its content belongs to (see DocumentOpener.open_paths)."""
        self.opener.open_paths(paths, activate=activate, view_states=view_states, remember=remember)

    def open_database_url(self, url: str, password: str | None = None,
                          name: str | None = None) -> Document:
        """Open a database server (a SQLAlchemy URL) as a document in the SQLite tab."""
        return self.opener.open_database_url(url, password, name)

    @Slot()
    def open_dialog(self, page: TabPage | None = None) -> None:
        self.opener.open_dialog(page)

    @Slot()
    def fill_recent_menu(self) -> None:
        self.opener.fill_recent_menu()

    @Slot()
    def new_file(self) -> None:
        self.opener.new_file()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    # -- saving and closing --------------------------------------------------------------------
    @Slot()
    def save_current(self) -> bool:
        document = self.current_document()
        if document is None or not document.can_save():
            return False
        if document.path is None:
            return self.save_current_as()
        from gui.common.disk_watch import confirm_save  # on first save: keeps launch quick

        answer = confirm_save(self, document)  # asks when the file changed on disk since
        if answer != "save":
            return self.save_current_as() if answer == "save_as" else False
        return self._report_save(document, document.save())

    @Slot()
    def save_current_as(self) -> bool:
        document = self.current_document()
        if document is None or not document.can_save():
            return False
        start = document.path or self.settings.last_dir("save_as")
        path, _ = QFileDialog.getSaveFileName(self, "Save As", start)
        if not path:
            return False
        self.settings.set_last_dir("save_as", os.path.dirname(path))
        return self._report_save(document, document.save_as(path))

    def _report_save(self, document: Document, ok: bool) -> bool:
        if ok:
            self.statusBar().showMessage(f"Saved {document.path}", 4000)
            self.settings.add_recent(document.path, document.format)
        self._refresh_document_ui()
        return ok

    def ask_unsaved(self, documents: list[Document]) -> QMessageBox.StandardButton:
        """Ask Save / Discard / Cancel for documents with unsaved changes."""
        names = "\n".join(f"• {d.title()}" for d in documents)
        box = QMessageBox(QMessageBox.Icon.Warning, "Unsaved changes",
                          f"Save changes before closing?\n\n{names}",
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, self)
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        box.setObjectName("unsavedChangesBox")
        box.exec()
        clicked = box.clickedButton()
        if clicked is None:  # closed with Escape or the title bar
            return QMessageBox.StandardButton.Cancel
        return box.standardButton(clicked)

    def _resolve_unsaved(self, documents: list[Document]) -> bool:
        """True when closing may go on: changes saved or discarded, database edits not written
        yet (the server was down) written by Retry or dropped by Discard, and open transactions
        committed or rolled back."""
        if not self._resolve_pending(documents) or not all(d.ask_to_close(self) for d in documents):
            return False
        modified = [d for d in documents if d.is_modified()]
        if not modified:
            return True
        answer = self.ask_unsaved(modified)
        if answer == QMessageBox.StandardButton.Cancel:
            return False
        if answer == QMessageBox.StandardButton.Save:
            for document in modified:
                self.activate_document(document)
                if not self.save_current():
                    return False
        return True

    def _resolve_pending(self, documents: list[Document]) -> bool:
        """Retry / Discard / Cancel for documents with edits their database has not taken;
        asked again while a Retry leaves some unwritten."""
        pending = [d for d in documents if isinstance(d, PendingWrites) and d.pending_count()]
        while pending:
            from gui.sql.edit_prompts import ask_pending

            self.activate_document(pending[0])
            answer = ask_pending(self, pending)
            if answer == "cancel":
                return False
            for document in pending:
                if answer == "retry":
                    document.retry_pending_edits()
                else:
                    document.discard_pending_edits()
            pending = [d for d in pending if d.pending_count()]
        return True

    @Slot(object)
    def close_document(self, document: Document | None) -> bool:
        if document is None or not self._resolve_unsaved([document]):
            return False
        self.undo_group.removeStack(document.undo_stack)
        page = next((p for p in self.pages if document in p.all_documents()), None)
        if page is not None:
            page.remove_document(document)
        self.journal.document_closed(document)
        return True

    @Slot()
    def close_current(self) -> None:
        self.close_document(self.current_document())

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._resolve_unsaved(self.all_documents()):
            event.ignore()
            return
        session.capture(self)
        self.save_settings()
        self.opener.stop()  # files still being sniffed were kept in the session: none opens now
        for document in self.all_documents():
            document.close_document()
        self.journal.finish()  # everything was saved or discarded: no edits left to recover
        event.accept()

    @Slot()
    def save_settings(self) -> None:
        """Write the settings now, on this thread (used when closing)."""
        self._autosave.stop()
        if self._settings_write is not None:
            self._settings_write.done.wait(5)  # an autosave in flight lands first, not last
        session.capture_documents(self)
        self.settings.save_if_dirty()
        self._show_settings_notices()

    @Slot()
    def _autosave_settings(self) -> None:
        """A few seconds after a change: snapshot here, write (fsync) in a worker."""
        if self._settings_write is not None:  # one write at a time, in order
            self._autosave.start()
            return
        session.capture_documents(self)
        if not self.settings.dirty:
            return
        text = self.settings.snapshot()
        if text is None:
            return
        self._settings_write = run_in_worker(
            self.settings.write, text, on_result=lambda _ok: self._on_settings_written())

    def _on_settings_written(self) -> None:
        self._settings_write = None
        self._show_settings_notices()

    def _show_settings_notices(self) -> None:
        for notice in self.settings.take_notices():
            self.notices.show_message(notice, "warning")

    # -- view ----------------------------------------------------------------------------------
    @Slot()
    def reload_current(self) -> None:
        """View ▸ Reload: read the current file again; with unsaved changes, only if the user
        confirms (reading again drops them, and that cannot be undone)."""
        document = self.current_document()
        if not isinstance(document, Reloadable):
            return
        if document.is_modified() and not self._confirm_reload(document):
            return
        document.reload()

    def _confirm_reload(self, document: Document) -> bool:
        box = QMessageBox(QMessageBox.Icon.Warning, "Reload",
                          f"Reload {document.title()} and discard your unsaved changes?", parent=self)
        box.setInformativeText("Reloading reads the file as it is on disk. Your changes cannot be "
                               "undone afterwards.")
        reload = box.addButton("Discard and Reload", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setObjectName("reloadBox")
        box.exec()
        return box.clickedButton() is reload

    def cycle_document(self, step: int) -> None:
        page = self.tabs.currentWidget()
        count = page.documents.count()
        if count:
            page.documents.setCurrentIndex((page.documents.currentIndex() + step) % count)

    @Slot(bool)
    def set_backup_on_save(self, enabled: bool) -> None:
        """File ▸ Keep a .bak Copy When Saving: remembered, and used by every document's save."""
        save_options.set_backup(enabled)
        self.settings["files.backup_on_save"] = enabled

    def set_status_bar_visible(self, visible: bool) -> None:
        self.statusBar().setVisible(visible)
        self.settings["view.status_bar"] = visible

    @Slot()
    def show_about(self) -> None:
        QMessageBox.about(self, "About Datashelf", (
            f"<h3>Datashelf {__version__}</h3>"
            "<p>A desktop data manager for the files Python programs leave behind: pickle, "
            "joblib, shelve, JSON, SQLite and more. It opens anything without running the "
            "code inside it.</p>"
            f"<p>Python {sys.version.split()[0]} · PySide6 {pyside_version}</p>"))

    @Slot()
    def show_about_qt(self) -> None:
        QMessageBox.aboutQt(self, "About Qt")

    # -- state changes ---------------------------------------------------------------------------
    @Slot(int)
    def _on_tab_changed(self, _index: int) -> None:
        page = self.tabs.currentWidget()
        if isinstance(page, TabPage):
            self.settings["window.active_tab"] = page.tab_id
            self._on_document_changed(page.current_document())

    @Slot(object)
    def _on_document_changed(self, _document: Document | None) -> None:
        document = self.current_document()
        self.undo_group.setActiveStack(document.undo_stack if document else None)
        self._refresh_document_ui()
        self._autosave.start()

    @Slot()
    def _on_documents_changed(self) -> None:
        session.capture_documents(self)
        for page in self.pages:
            page.empty.set_recent(self.settings.recent_files(page.formats))
        self._refresh_document_ui()

    @Slot()
    def _view_state_changed(self) -> None:
        self._autosave.start()

    @Slot()
    def _refresh_document_ui(self) -> None:
        document = self.current_document()
        if document is None:
            self.setWindowTitle("Datashelf")
            self.setWindowModified(False)
            for label in (self.path_label, self.format_label, self.size_label):
                label.setText("")
        else:
            self.setWindowTitle(f"{document.title()}[*] — Datashelf")
            self.setWindowModified(document.is_modified())
            location = document.location if isinstance(document, Located) else ""  # a server: its URL
            self.path_label.setText(document.path or location)
            kind = document.kind_label if isinstance(document, KindLabelled) else ""
            self.format_label.setText(kind or document.format.upper())
            size = document.file_size()
            self.size_label.setText(human_size(size) if size is not None else "")
        savable = document is not None and document.can_save()
        self.actions.save.setEnabled(savable)
        self.actions.save_as.setEnabled(savable)
        self.actions.close.setEnabled(document is not None)
        self.actions.reload.setEnabled(document is not None)
        if self.actions.convert is not None:
            self.actions.convert.setEnabled(isinstance(document, Convertible) and document.can_convert())

    def moveEvent(self, event) -> None:
        super().moveEvent(event)
        self._geometry_timer.start()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._geometry_timer.start()

