"""Crash recovery, the restoring side: offer the unsaved edits a crashed session left behind.

At launch (after the session is restored) a notice lists each file and when its edits were
journaled, with Restore, Choose… (a check box per file: restore some, discard the others) and
Discard. Restore checks each original on a worker (size, mtime and
SHA-256 against the values at open time): an unchanged file is opened and its edits applied as
one undoable step, so the document shows modified and Save writes it. A file that changed or is
gone is never patched blindly: the edits are written to ``name (recovered).ext`` beside it
(atomically) and that copy is opened, the original left untouched.
"""

from __future__ import annotations

import datetime
import html
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
)

from gui.common.document import Document
from gui.common.workers import run_in_worker
from storage.core.errors import KnownError, classify
from storage.formats import registry as format_registry
from storage.recovery.journal import Journal, JournalEntry, recovered_path
from storage.recovery.payload import kind_of, write_copy

if TYPE_CHECKING:
    from gui.app.mainwindow import MainWindow
    from gui.common.notice_bar import Notice

log = logging.getLogger(__name__)


def check_entries(journal: Journal) -> list[tuple[JournalEntry, Any, bool]]:
    """Worker body: each entry with its payload (or the error) and whether its file changed."""
    checked = []
    for entry in journal.entries():
        try:
            payload: Any = journal.load(entry)
        except KnownError as exc:
            payload = exc
        checked.append((entry, payload, entry.original_changed()))
    return checked


def copy_out(entry: JournalEntry, payload: bytes) -> str:
    """Worker body: write the edits to a new file beside the original; return its path."""
    kind = format_registry.payload(kind_of(payload))
    if kind is not None and kind.copy:  # not one file (a shelf's): its format writes the copy
        return format_registry.resolve(kind.copy)(entry.path, payload)
    target = recovered_path(entry.path)
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise KnownError(f"The folder of {entry.title} is gone: {folder}")
    write_copy(target, payload)
    return target


class RestoreOffer(QObject):
    """The notice and what its buttons do."""

    def __init__(self, window: MainWindow, recovered: Journal) -> None:
        super().__init__(window)
        self.window = window
        self.recovered = recovered
        self.notice: Notice | None = None
        self._waiting: dict[str, list[Callable[[Document], None]]] = {}
        window.documentOpened.connect(self._on_document_opened)
        window.openFailed.connect(self._on_open_failed)

    def offer(self) -> bool:
        """Show the notice when entries are waiting; True if shown."""
        entries = self.recovered.entries()
        if not entries:
            return False
        lines = [f"• <b>{html.escape(entry.title)}</b> — edited {_when(entry.saved_at)} — "
                 f"{html.escape(_folder(entry.path))}" for entry in entries]
        text = ("<b>Datashelf did not close properly.</b> Unsaved edits of "
                f"{len(entries)} file(s) were kept:<br>" + "<br>".join(lines) +
                "<br>Restore opens each file with its edits as one undoable change; a file that "
                "changed since is restored as a copy beside it. ✕ asks again next time.")
        notice = self.window.notices.show_message(text, "warning")
        notice.setObjectName("restoreNotice")
        notice.setStyleSheet(notice.styleSheet().replace("#notice-warning", "#restoreNotice"))
        restore = QPushButton("Restore", notice)
        restore.setObjectName("restoreButton")
        choose = QPushButton("Choose…", notice)
        choose.setObjectName("chooseRecoveredButton")
        choose.setToolTip("Pick which files to restore; the others' edits are discarded")
        discard = QPushButton("Discard", notice)
        discard.setObjectName("discardRecoveredButton")
        layout = notice.layout()
        layout.insertWidget(1, restore)
        layout.insertWidget(2, choose)
        layout.insertWidget(3, discard)
        restore.clicked.connect(self.restore_all)
        choose.clicked.connect(self.choose)
        discard.clicked.connect(self.discard_all)
        self.notice = notice
        return True

    def _close_notice(self) -> None:
        if self.notice is not None:
            self.notice.dismissed.emit()
            self.notice = None

    # -- the two answers -------------------------------------------------------------------------
    @Slot()
    def discard_all(self) -> None:
        self._close_notice()
        self.recovered.clear()

    @Slot()
    def restore_all(self) -> None:
        self.restore(None)

    @Slot()
    def choose(self) -> None:
        """A list of the files, each checked: restore the checked ones, discard the others."""
        dialog = ChooseDialog(self.recovered.entries(), self.window)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.restore(dialog.chosen())

    def restore(self, paths: set[str] | None) -> None:
        """Restore the entries of ``paths`` (all when None) and discard the rest."""
        self._close_notice()
        if paths is not None:
            for entry in self.recovered.entries():
                if entry.path not in paths:
                    self.recovered.drop(entry.path)
            if not paths:
                return
        self.window.statusBar().showMessage("Checking the files of the unsaved edits…", 3000)
        run_in_worker(check_entries, self.recovered, on_result=self._on_checked,
                      on_error=lambda exc: self._fail("the unsaved edits", exc))

    def _on_checked(self, checked: list[tuple[JournalEntry, Any, bool]]) -> None:
        for entry, payload, changed in checked:
            if isinstance(payload, BaseException):
                self._fail(entry.title, payload)
                self.recovered.drop(entry.path)
            elif entry.extra.get("server_url"):
                self._restore_server(entry, payload)
            elif changed:
                self._restore_copy(entry, payload, "it changed since the edits were made"
                                   if os.path.exists(entry.path) else "it is gone")
            else:
                self._when_loaded(entry.path, lambda doc, e=entry, p=payload: self._apply(doc, e, p))

    def _restore_server(self, entry: JournalEntry, payload: bytes) -> None:
        """Edits a database server had not taken: open the connection (or find it open; a
        password is asked inside the document, a server still down keeps Reconnect) and give
        them back to it as pending edits."""
        document = self.window.open_database_url(str(entry.extra["server_url"]), None,
                                                 str(entry.extra.get("name") or "") or None)
        _after_load(document, lambda doc: self._apply(doc, entry, payload))

    def _apply(self, document: Document, entry: JournalEntry, payload: bytes) -> None:
        # Edited in this session already: never mix the two (database edits are conditional
        # writes kept pending: they join the document's own).
        if document.is_modified() and not entry.extra.get("conditional"):
            self._restore_copy(entry, payload, "it already has new edits in this session")
            return
        try:
            document.restore_from_journal(payload)
        except KnownError as exc:
            self._restore_copy(entry, payload, str(exc))
            return
        self.recovered.drop(entry.path)
        self.window.activate_document(document)
        self.window.statusBar().showMessage(f"Restored the unsaved edits of {entry.title}", 5000)

    def _restore_copy(self, entry: JournalEntry, payload: bytes, why: str) -> None:
        def done(target: str) -> None:
            self.recovered.drop(entry.path)
            self.window.notices.show_message(
                f"{entry.title}: {why}, so its unsaved edits were restored as a copy: {target}",
                "info")
            self.window.open_paths([target])

        def failed(exc: BaseException) -> None:
            self.recovered.drop(entry.path)
            self._fail(entry.title, exc, f" ({why}); the edits are discarded")

        run_in_worker(copy_out, entry, payload, on_result=done, on_error=failed)

    def _fail(self, title: str, exc: BaseException, more: str = "") -> None:
        failure = classify(exc)
        log.warning("Restore of %s failed: %s", title, failure.message)
        self.window.notices.show_failure(f"Could not restore {title}{more}", failure)

    # -- open a file, then act once it is loaded ------------------------------------------------------
    def _when_loaded(self, path: str, action: Callable[[Document], None]) -> None:
        document = self.window.find_document(path)
        if document is None:
            self._waiting.setdefault(os.path.abspath(path), []).append(action)
            self.window.open_paths([path])
        else:
            _after_load(document, action)

    @Slot(object)
    def _on_document_opened(self, document: Document) -> None:
        for action in self._waiting.pop(document.path or "", []):
            _after_load(document, action)

    @Slot(str, str)
    def _on_open_failed(self, path: str, message: str) -> None:
        if self._waiting.pop(os.path.abspath(path), None):
            self.window.notices.show_message(f"Could not restore the edits of {path}: {message}",
                                             "error")


class ChooseDialog(QDialog):
    """Each file with unsaved edits, when they were made and where it is, with a check box."""

    def __init__(self, entries: list[JournalEntry], parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Restore unsaved edits")
        self.setObjectName("chooseRecoveredDialog")
        self.list = QListWidget(self)
        self.list.setObjectName("recoveredList")
        for entry in entries:
            item = QListWidgetItem(f"{entry.title} — edited {_when(entry.saved_at)} — "
                                   f"{_folder(entry.path)}", self.list)
            item.setData(Qt.ItemDataRole.UserRole, entry.path)
            item.setToolTip(entry.path)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
        buttons = QDialogButtonBox(self)
        ok = buttons.addButton("Restore Checked", QDialogButtonBox.ButtonRole.AcceptRole)
        ok.setObjectName("restoreCheckedButton")
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        box = QVBoxLayout(self)
        box.addWidget(QLabel("Restore the unsaved edits of the checked files. The edits of the "
                             "unchecked files are discarded.", self))
        box.addWidget(self.list)
        box.addWidget(buttons)
        self.resize(640, 300)

    def set_checked(self, path: str, checked: bool) -> None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == path:
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def chosen(self) -> set[str]:
        return {self.list.item(row).data(Qt.ItemDataRole.UserRole) for row in range(self.list.count())
                if self.list.item(row).checkState() == Qt.CheckState.Checked}


def _after_load(document: Document, action: Callable[[Document], None]) -> None:
    if document.is_loaded:
        action(document)
        return

    def once() -> None:
        document.loaded.disconnect(once)
        action(document)

    document.loaded.connect(once)


def _when(timestamp: float) -> str:
    moment = datetime.datetime.fromtimestamp(timestamp)
    if moment.date() == datetime.date.today():
        return f"today {moment:%H:%M}"
    return f"{moment:%Y-%m-%d %H:%M}"


def _folder(path: str) -> str:
    folder = os.path.dirname(path)
    home = os.path.expanduser("~")
    return "~" + folder[len(home):] if folder == home or folder.startswith(home + os.sep) else folder
