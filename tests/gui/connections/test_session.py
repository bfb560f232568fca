"""Connections, second pass: one connection per open, the keyring off the GUI thread, documents
that fail at launch stay (with Reconnect), tab order, recent connections, passwords typed later."""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from pathlib import Path

import keyring
import pytest
from keyring.errors import KeyringError
from PySide6.QtCore import Qt
from sqlalchemy.engine import make_url

from storage.settings.connections import Connection, from_url
from storage.settings.passwords import SERVICE
from tests.gui.connections.test_opening import server_documents, wait_server_documents
from tests.gui.sql.test_pg import run
from tests.storage.formats.sql.test_pg_failures import own_server  # noqa: F401  (a fixture)
from tests.support import pg_server
from tests.support.connect_helpers import MemoryKeyring, open_dialog, type_url
from tests.support.gui_helpers import close_window, launch, wait_documents


@pytest.fixture(autouse=True)
def _no_system_keyring():
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


def _save(window, url: str, name: str, *, save_password: bool = False) -> Connection:
    connection, password = from_url(url, name=name)
    connection.save_password = save_password
    saved = window.connector.store.save(connection)
    window.connector.vault.remember(saved.password_key(), password, persist=save_password)
    return saved


def _wait_open(qtbot, document) -> None:
    qtbot.waitUntil(lambda: document.stack.currentIndex() == 1 and document.schema is not None,
                    timeout=20_000)


# -- 1. one connection per open ---------------------------------------------------------------
def test_connect_checks_once_and_the_document_takes_the_database(qtbot, tmp_path: Path,
                                                                 pg_url: str, monkeypatch) -> None:
    import storage.formats.sql.url

    opened = []
    real = storage.formats.sql.url.open_database_url

    def counting(url, password=None):
        database = real(url, password)
        opened.append(database)
        return database

    monkeypatch.setattr(storage.formats.sql.url, "open_database_url", counting)
    run(pg_url, "CREATE TABLE t (id int PRIMARY KEY)")
    window = launch(qtbot, tmp_path / "settings")
    dialog = open_dialog(qtbot, window)
    type_url(qtbot, dialog, pg_url)
    qtbot.mouseClick(dialog.connect_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=20_000)
    [document] = wait_server_documents(qtbot, window, 1)
    _wait_open(qtbot, document)
    assert len(opened) == 1  # the dialog's check is the document's connection
    assert document.database is opened[0]
    assert document.table is not None and document.table.name == "t"


# -- 2. a slow, locked or broken keyring never freezes the window -------------------------------
class GateKeyring(MemoryKeyring):
    """A keyring that answers only once the test opens the gate (a locked keyring waiting for
    its unlock prompt); it notes any call made on the GUI thread."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gui_thread_calls: list[str] = []

    def _wait(self, what: str) -> None:
        if threading.current_thread() is threading.main_thread():
            self.gui_thread_calls.append(what)
        self.gate.wait(30)

    def get_password(self, service, username):
        self._wait("get")
        return super().get_password(service, username)

    def set_password(self, service, username, password):
        self._wait("set")
        super().set_password(service, username, password)

    def delete_password(self, service, username):
        self._wait("delete")
        super().delete_password(service, username)


class BrokenKeyring(MemoryKeyring):
    def get_password(self, service, username):
        raise KeyringError("the keyring is locked")

    def set_password(self, service, username, password):
        raise KeyringError("the keyring is locked")


def test_a_locked_keyring_never_blocks_the_dialog(qtbot, tmp_path: Path, pg_url: str) -> None:
    backend = GateKeyring()
    keyring.set_keyring(backend)
    password = make_url(pg_url).password
    window = launch(qtbot, tmp_path / "settings")
    try:
        saved = _save(window, pg_url, "Locked", save_password=False)
        saved.save_password = True
        window.connector.store.save(saved)
        backend.items[(SERVICE, saved.password_key())] = password
        window.connector.vault.forget(saved.password_key())  # only the keyring knows it
        dialog = open_dialog(qtbot, window)  # shows while the keyring is still locked
        listed = dialog.connections.list
        assert listed.count() == 1 and listed.currentItem().text() == "Locked"
        assert dialog.form.url.text().endswith(make_url(pg_url).database)
        assert dialog.form.password.text() == ""  # not known yet
        # Saving another password while the keyring is locked: the dialog answers at once.
        dialog.form.password.setText("typed")
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
        assert "Saved 'Locked'" in dialog.status.text()
        assert window.connector.vault.cached(saved.password_key()) == "typed"
        backend.gate.set()  # unlocked: the write lands
        qtbot.waitUntil(lambda: backend.items[(SERVICE, saved.password_key())] == "typed")
        # A fresh look fills the saved password when the keyring answers.
        backend.gate.clear()
        window.connector.vault.forget(saved.password_key())
        dialog.reject()
        again = open_dialog(qtbot, window)
        assert again.form.password.text() == ""
        backend.gate.set()
        qtbot.waitUntil(lambda: again.form.password.text() == "typed")
        assert not again._dirty  # filling it is not an edit
        assert backend.gui_thread_calls == []
    finally:
        backend.gate.set()


def test_a_broken_keyring_leaves_passwords_in_memory(qtbot, tmp_path: Path, pg_url: str) -> None:
    keyring.set_keyring(BrokenKeyring())
    window = launch(qtbot, tmp_path / "settings")
    saved = _save(window, pg_url, "Broken")
    window.connector.vault.forget(saved.password_key())
    dialog = open_dialog(qtbot, window)
    qtbot.waitUntil(lambda: dialog.form.save_password.isEnabled())
    assert dialog.form.password.text() == ""
    dialog.form.password.setText(make_url(pg_url).password)
    dialog.form.save_password.setChecked(True)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert "Saved 'Broken'" in dialog.status.text()
    qtbot.mouseClick(dialog.connect_button, Qt.MouseButton.LeftButton)
    [document] = wait_server_documents(qtbot, window, 1)
    _wait_open(qtbot, document)


# -- 3. a server down at launch: the document stays, with Reconnect -----------------------------
def test_a_server_down_at_launch_stays_open_and_reconnects(qtbot, tmp_path: Path,
                                                           own_server) -> None:  # noqa: F811
    url, folder = own_server
    keyring.set_keyring(MemoryKeyring())
    settings_dir = tmp_path / "settings"
    window = launch(qtbot, settings_dir)
    saved = _save(window, url, "Team server", save_password=True)
    window.connector.open(saved)
    [document] = wait_server_documents(qtbot, window, 1)
    _wait_open(qtbot, document)
    close_window(qtbot, window)
    pg_server.stop(folder)

    again = launch(qtbot, settings_dir)
    again.tabs.setCurrentWidget(again.page("sqlite"))
    [document] = wait_server_documents(qtbot, again, 1)
    qtbot.waitUntil(lambda: "Could not connect" in document.status_page.status.text(), timeout=20_000)
    assert "Team server" in document.status_page.status.text()
    assert "Cannot reach the server" in document.status_page.status.text()
    assert document.status_page.retry_open.text() == "Reconnect" \
        and document.status_page.retry_open.isVisible()
    again.grab().save("/tmp/shots/connect_failed_at_launch.png")
    again.save_settings()
    data = json.loads((settings_dir / "settings.json").read_text())
    assert [e["name"] for e in data["state"]["session.connections"]] == ["Team server"]
    pg_server.restart(folder)
    qtbot.mouseClick(document.status_page.retry_open, Qt.MouseButton.LeftButton)
    _wait_open(qtbot, document)
    assert document.table is not None and document.table.name == "t"


# -- 4. tab order ----------------------------------------------------------------------------
def test_files_and_connections_come_back_in_their_tab_order(qtbot, tmp_path: Path, pg_url: str,
                                                           pg_server_url: str) -> None:
    keyring.set_keyring(MemoryKeyring())
    files = []
    for name in ("alpha.sqlite", "beta.sqlite"):
        with sqlite3.connect(tmp_path / name) as conn:
            conn.execute("CREATE TABLE t (x)")
        conn.close()
        files.append(tmp_path / name)
    settings_dir = tmp_path / "settings"
    window = launch(qtbot, settings_dir)
    window.open_paths([files[0]])
    wait_documents(qtbot, window, 1)
    first = _save(window, pg_url, "First server", save_password=True)
    window.connector.open(first)
    wait_server_documents(qtbot, window, 1)
    window.open_paths([files[1]])
    wait_documents(qtbot, window, 3)
    second = _save(window, pg_server_url, "Second server", save_password=True)
    window.connector.open(second)
    wait_server_documents(qtbot, window, 2)
    page = window.page("sqlite")
    page.documents.tabBar().moveTab(3, 0)  # Second server, alpha, First server, beta
    page.set_current_document(server_documents(window)[1])  # First server in front
    order = [d.title() for d in page.all_documents()]
    assert order == ["Second server", "alpha.sqlite", "First server", "beta.sqlite"]
    close_window(qtbot, window)

    again = launch(qtbot, settings_dir)
    wait_documents(qtbot, again, 4)
    page = again.page("sqlite")
    assert [d.title() for d in page.all_documents()] == order
    assert page.current_document().title() == "First server"


# -- 6. the empty SQLite tab lists recent connections -----------------------------------------
def test_the_empty_tab_lists_recent_connections_and_opens_one(qtbot, tmp_path: Path,
                                                             pg_url: str) -> None:
    window = launch(qtbot, tmp_path / "settings")
    page = window.page("sqlite")
    window.tabs.setCurrentWidget(page)
    assert page.connections_label.text() == ""
    connection, password = from_url(pg_url, name="")
    window.connector.open(connection, password)
    [document] = wait_server_documents(qtbot, window, 1)
    window.close_document(document)
    qtbot.waitUntil(lambda: page.stack.currentWidget() is page.empty)
    text = page.connections_label.text()
    assert "Recent connections" in text and make_url(pg_url).database in text
    assert password not in text
    page.grab().save("/tmp/shots/sqlite_empty_recent_connections.png")
    page.connections_label.linkActivated.emit("connection:0")  # what a click on the link sends
    [document] = wait_server_documents(qtbot, window, 1)
    _wait_open(qtbot, document)


# -- 7. a password typed into the document after a drop is remembered -------------------------
def test_a_new_password_typed_in_the_document_is_remembered(qtbot, tmp_path: Path,
                                                            pg_url: str) -> None:
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    role = f"r_{uuid.uuid4().hex[:8]}"
    run(pg_url, f"CREATE ROLE {role} LOGIN PASSWORD 'old-pw'; "
                f"CREATE TABLE t (id int PRIMARY KEY); GRANT SELECT ON t TO {role}")
    url = pg_url.replace(f"{pg_server.USER}:{pg_server.PASSWORD}", f"{role}:old-pw")
    try:
        window = launch(qtbot, tmp_path / "settings")
        saved = _save(window, url, "Rotated", save_password=True)
        key = saved.password_key()
        qtbot.waitUntil(lambda: backend.items.get((SERVICE, key)) == "old-pw")
        window.connector.open(saved)
        [document] = wait_server_documents(qtbot, window, 1)
        _wait_open(qtbot, document)
        # The password changes on the server and the connection drops.
        run(pg_url, f"ALTER ROLE {role} PASSWORD 'new-pw'; SELECT pg_terminate_backend(pid) "
                    f"FROM pg_stat_activity WHERE usename = '{role}'")
        document.reconnect()
        qtbot.waitUntil(lambda: document.status_page.password_form.isVisible(), timeout=20_000)
        document.status_page.password_edit.setText("new-pw")
        document.status_page.password_button.click()
        _wait_open(qtbot, document)
        assert window.connector.vault.cached(key) == "new-pw"
        qtbot.waitUntil(lambda: backend.items.get((SERVICE, key)) == "new-pw")
        window.close_document(document)
    finally:
        run(pg_url, f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'")
        run(pg_url, f"DROP OWNED BY {role}; DROP ROLE {role}")
