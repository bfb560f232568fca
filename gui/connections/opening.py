"""Opening database connections for the window: passwords, one document per connection, session.

The :class:`Connector` belongs to the main window. It asks for a missing password once per run
(:func:`ask_password`), connects in a worker before a document is made (a wrong password is
then said where the user is, not in a half-open document) and hands that open database to the
document, focuses the document of a connection that is open already, remembers recent
connections, and writes and restores the open connections of the session (the saved
connection's name and the URL, never the password). Keyring reads and writes run in workers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QInputDialog, QLabel, QLineEdit, QWidget

from gui.common.document import ServerDocument
from gui.common.workers import run_in_worker

if TYPE_CHECKING:
    from gui.app.mainwindow import MainWindow
    from gui.common.document import Document
    from gui.connections.session import SessionRestorer
    from storage.settings.connections import Connection, ConnectionStore
    from storage.settings.passwords import PasswordVault

PROMPT_NAME = "connectionPasswordPrompt"


@runtime_checkable
class AsksPassword(Protocol):
    """A document that asks for its server's password itself: it reports what the user typed."""

    password_listener: Callable[[str], None] | None


def ask_password(parent: QWidget, label: str, error: str = "") -> str | None:
    """Ask for the password of ``label``; None when the user cancels."""
    dialog = QInputDialog(parent)
    dialog.setObjectName(PROMPT_NAME)
    dialog.setWindowTitle("Database password")
    lead = f"{error}\n\n" if error else ""
    dialog.setLabelText(f"{lead}Password for {label}:\n(remembered until Datashelf closes)")
    dialog.setTextEchoMode(QLineEdit.EchoMode.Password)
    for text in dialog.findChildren(QLabel):  # a long server message wraps instead of widening
        text.setWordWrap(True)
    dialog.resize(460, dialog.sizeHint().height())
    if dialog.exec() != QInputDialog.DialogCode.Accepted:
        return None
    return dialog.textValue()


def redact(url: str, mask: str | None = None) -> str:
    from storage.core.url_redact import redact as redact_url  # SQLAlchemy only once it is needed

    return redact_url(url, mask)


def fetch_password(vault: PasswordVault, key: str, on_done: Callable[[str | None], None]) -> None:
    from gui.connections.password_jobs import fetch_password as fetch

    fetch(vault, key, on_done)


def keep_password(vault: PasswordVault, key: str, password: str, *, persist: bool) -> None:
    from gui.connections.password_jobs import keep_password as keep

    keep(vault, key, password, persist=persist)


def is_wrong_password(exc: BaseException) -> bool:
    return type(exc).__name__ == "WrongPassword"


def describe_error(exc: BaseException) -> str:
    from storage.core.errors import classify

    return classify(exc).message


class Connector(QObject):
    """Opens saved or typed connections as documents of the SQLite tab."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self._store: ConnectionStore | None = None
        self._vault: PasswordVault | None = None
        self._open: dict[Document, dict[str, str]] = {}  # {name, url, id} of what opened here
        self._pending: dict[str, dict[str, str]] = {}  # URL being checked before it opens
        self._restorer: SessionRestorer | None = None  # the last session's connections coming back
        self.dialog = None

    # Imported on first use: SQLAlchemy and keyring stay out of the app's launch.
    @property
    def store(self) -> ConnectionStore:
        if self._store is None:
            from storage.settings.connections import ConnectionStore

            self._store = ConnectionStore(self.window.settings)
        return self._store

    @property
    def vault(self) -> PasswordVault:
        if self._vault is None:
            from storage.settings.passwords import PasswordVault

            self._vault = PasswordVault()
        return self._vault

    # -- documents of connections --------------------------------------------------------------
    def open_documents(self) -> list[tuple[Document, dict[str, str]]]:
        """Each open connection's document and its {name, url, id}, in tab order.

        The URL is without its password. Documents opened here are known with their saved
        connection; others opened from a URL (the command line) by their ``server_url``.
        """
        entries = []
        for document in self.window.all_documents():
            info = self._open.get(document)
            if info is None and isinstance(document, ServerDocument) and document.server_url:
                info = {"name": document.connection_name or "",
                        "url": redact(document.server_url, mask=None), "id": ""}
            if info is not None:
                entries.append((document, info))
        self._open = dict(entries)
        return entries

    def find(self, url: str) -> Document | None:
        key = redact(url, mask=None)
        return next((d for d, info in self.open_documents() if info["url"] == key), None)

    # -- opening -----------------------------------------------------------------------------
    def open(self, connection: Connection, password: str | None = None, *,
             ask: bool = True, on_error: Callable[[BaseException], None] | None = None,
             on_opened: Callable[[Any], None] | None = None) -> bool:
        """Open ``connection``; False when nothing will happen (already open or opening).

        Without ``password`` one is taken from memory or the keyring (in a worker), or asked
        for when the connection had one (``ask``). The connection is checked in a worker and the
        document takes over the database it opened: one connection per open. Failures go to
        ``on_error`` (the dialog), else to the notice bar.
        """
        from storage.settings.connections import ConnectionSpecError

        if connection.kind == "sqlite":
            self.window.open_paths([connection.path])
            return True
        try:
            url = connection.to_url()
        except (ConnectionSpecError, ValueError) as exc:
            self._fail(exc, connection, on_error)
            return False
        existing = self.find(url)
        if existing is not None:
            self.window.activate_document(existing)
            if on_opened is not None:
                on_opened(existing)
            return False
        if url in self._pending:
            return False
        key = self.password_key(connection)
        self._pending[url] = self._entry(connection, url)

        def go(known: str | None) -> None:
            self._connect(connection, url, password if password is not None else known, key,
                          ask, on_error, on_opened)

        if password is not None:
            go(password)
        else:
            fetch_password(self.vault, key, go)
        return True

    def _connect(self, connection: Connection, url: str, password: str | None, key: str,
                 ask: bool, on_error: Callable[[BaseException], None] | None,
                 on_opened: Callable[[Any], None] | None) -> None:
        if password is None and connection.needs_password and ask:
            password = ask_password(self.window, connection.name or url)
            if password is None:
                self._pending.pop(url, None)
                self._not_connected(connection.name or url)
                return
        from storage.formats.sql.url import open_database_url

        run_in_worker(open_database_url, url, password,
                      on_result=lambda database: self._on_checked(
                          connection, url, password, key, database, on_opened),
                      on_error=lambda exc: self._on_check_failed(
                          exc, connection, url, key, ask, on_error))

    def _entry(self, connection: Connection, url: str) -> dict[str, str]:
        saved = self.store.get(connection.id) is not None
        return {"name": connection.name, "url": url, "id": connection.id if saved else ""}

    def password_key(self, connection: Connection) -> str:
        """Saved connections keep their password by id; typed ones by their URL."""
        if self.store.get(connection.id) is not None:
            return connection.password_key()
        return connection.to_url()

    def _on_checked(self, connection: Connection, url: str, password: str | None, key: str,
                    database: Any, on_opened: Callable[[Any], None] | None) -> None:
        self._pending.pop(url, None)
        if password:
            keep_password(self.vault, key, password, persist=connection.save_password)
        from gui.connections.open_url import open_url_document

        name = connection.name
        try:
            document = open_url_document(self.window, url, password, name or None, database)
        except Exception as exc:  # shown to the user, never a traceback
            database.close()
            self._fail(exc, connection, None)
            return
        self.adopt(document, connection, url)
        self.store.add_recent(url, name)
        if on_opened is not None:
            on_opened(document)

    def adopt(self, document: Document, connection: Connection, url: str) -> None:
        """Know ``document`` as ``connection``'s; a password typed into it is remembered."""
        self._open[document] = self._entry(connection, url)
        if isinstance(document, AsksPassword):
            key = self.password_key(connection)
            document.password_listener = lambda password: keep_password(
                self.vault, key, password, persist=connection.save_password)

    def _on_check_failed(self, exc: BaseException, connection: Connection, url: str, key: str,
                         ask: bool, on_error: Callable[[BaseException], None] | None) -> None:
        self._pending.pop(url, None)
        if is_wrong_password(exc):
            self.vault.forget(key)
            if ask and on_error is None:  # no dialog to show it: ask again, once
                password = ask_password(self.window, connection.name or url, describe_error(exc))
                if password is not None:
                    self.open(connection, password)
                else:
                    self._not_connected(connection.name or url)
                return
        self._fail(exc, connection, on_error)

    def _not_connected(self, label: str) -> None:
        self.window.statusBar().showMessage(f"Not connected to {label}: no password given.", 8000)

    def _fail(self, exc: BaseException, connection: Connection,
              on_error: Callable[[BaseException], None] | None) -> None:
        if on_error is not None:
            on_error(exc)
            return
        from storage.core.errors import classify

        label = connection.name or connection.describe()
        self.window.notices.show_failure(f"Could not connect to {label}", classify(exc))

    def connection_for(self, entry: dict[str, Any]) -> Connection | None:
        """The saved connection of a recent or session entry (by id, then name), else its URL's."""
        connection = (self.store.get(entry.get("id") or "")
                      or (self.store.find(entry["name"]) if entry.get("name") else None))
        if connection is not None:
            return connection
        from storage.settings.connections import ConnectionSpecError, from_url

        try:
            return from_url(entry.get("url", ""), name=entry.get("name", ""))[0]
        except ConnectionSpecError as exc:
            self.window.notices.show_message(str(exc), "error")
            return None

    def open_recent(self, entry: dict[str, Any]) -> None:
        """Open a recent connection (a refused or missing password is asked for)."""
        connection = self.connection_for(entry)
        if connection is not None:
            self.open(connection)

    # -- session -----------------------------------------------------------------------------
    def capture(self) -> list[dict[str, Any]]:
        """The session's connections: open ones (connected or not), then those still opening."""
        entries: list[dict[str, Any]] = [
            {**info, "view": document.view_state()} for document, info in self.open_documents()]
        entries += self._pending.values()
        entries += self._restorer.waiting() if self._restorer is not None else []
        unique: dict[str, dict[str, Any]] = {}
        for entry in entries:
            unique.setdefault(entry["url"], entry)
        return list(unique.values())

    def restore(self, entries: list, placed: Callable[[Document, Any], None] | None = None) -> None:
        """Reopen the connections of the last session, each as its document at once.

        A server that does not answer leaves its document open saying so, with Reconnect; a
        missing password is asked for inside the document. ``placed(document, entry)`` puts
        each document back at its tab position.
        """
        from gui.connections.session import SessionRestorer

        self._restorer = SessionRestorer(self)
        self._restorer.restore(entries, placed)

    # -- the dialog and the menu ---------------------------------------------------------------
    def show_dialog(self) -> None:
        """File ▸ Connect to Database…: a window-modal dialog (the app keeps painting)."""
        from gui.connections.dialog import ConnectDialog

        self.dialog = ConnectDialog(self, self.window)
        self.dialog.open()

    def attach_page(self, page) -> None:
        """The SQLite tab's empty state lists the recent connections; a click opens one."""
        page.recentConnectionRequested.connect(self.open_recent)
        page.set_recent_connections(self._recent_entries())
        def changed(name: str) -> None:
            if name == "connections.recent":
                try:
                    page.set_recent_connections(self._recent_entries())
                except RuntimeError:  # the window is gone; the settings outlive it
                    pass

        self.window.settings.subscribe(changed)

    def _recent_entries(self) -> list[dict[str, str]]:
        # Read straight from the settings: no SQLAlchemy import at launch.
        return [e for e in self.window.settings["connections.recent"] if isinstance(e, dict)
                and isinstance(e.get("url"), str) and isinstance(e.get("name", ""), str)]

    def fill_recent_menu(self, menu) -> None:
        menu.clear()
        recent = self.store.recent()
        for number, entry in enumerate(recent, start=1):
            label = entry["name"] or entry["url"]
            action = menu.addAction(f"&{number % 10} {label}")
            action.setToolTip(entry["url"])
            action.setStatusTip(entry["url"])
            action.triggered.connect(lambda _=False, e=entry: self.open_recent(e))
        if not recent:
            menu.addAction("No recent connections").setEnabled(False)
        menu.addSeparator()
        menu.addAction("Clear Recent Connections",
                       lambda: self.window.settings.reset("connections.recent"))
