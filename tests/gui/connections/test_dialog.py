"""File ▸ Connect to Database…: fill the dialog, Test against a real server, save, reopen."""

from __future__ import annotations

from pathlib import Path

import keyring
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QLineEdit, QMessageBox
from sqlalchemy.engine import make_url

from storage.settings.passwords import SERVICE
from tests.support.connect_helpers import (
    MemoryKeyring,
    ShowCounter,
    free_port,
    open_dialog,
    type_url,
    wait_status,
)
from tests.support.gui_helpers import launch


@pytest.fixture(autouse=True)
def _no_system_keyring():
    """The fail backend, as on a headless box, unless a test installs a working one."""
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


def test_typed_url_fills_fields_and_the_password_moves_out_of_it(qtbot, tmp_path: Path) -> None:
    window = launch(qtbot, tmp_path / "settings")
    dialog = open_dialog(qtbot, window)
    form = dialog.form
    type_url(qtbot, dialog, "postgresql+psycopg://ann:hunter2@db.example:6543/sales")
    assert form.kind.currentData() == "postgresql"
    assert (form.host.text(), form.port.text(), form.database.text(), form.user.text()) == (
        "db.example", "6543", "sales", "ann")
    assert form.password.text() == "hunter2"
    assert form.url.text() == "postgresql+psycopg://ann@db.example:6543/sales"
    # And the other way: a field edit rewrites the URL.
    form.database.selectAll()
    qtbot.keyClicks(form.database, "archive")
    assert form.url.text() == "postgresql+psycopg://ann@db.example:6543/archive"
    qtbot.waitUntil(form.password_note.isVisible)  # no keyring (once the check answers): asked per run
    assert not form.save_password.isVisible()
    # A SQLite URL switches to the file page.
    type_url(qtbot, dialog, f"sqlite:///{tmp_path / 'x.db'}")
    assert form.kind.currentData() == "sqlite" and form.path.text() == str(tmp_path / "x.db")
    assert not form.password.isVisible()


def test_test_shows_the_server_version_or_why_not(qtbot, tmp_path: Path, pg_url: str) -> None:
    window = launch(qtbot, tmp_path / "settings")
    dialog = open_dialog(qtbot, window)
    type_url(qtbot, dialog, pg_url)
    assert dialog.form.password.text() == make_url(pg_url).password
    shown = ShowCounter(dialog.busy)
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    assert "PostgreSQL 1" in wait_status(qtbot, dialog, "Connected: PostgreSQL")
    assert shown.count == 1  # the busy indicator showed while the worker connected
    assert not dialog.busy.isVisible()

    dialog.form.password.setText("not-the-password")
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    wait_status(qtbot, dialog, "refused the password")

    port = make_url(pg_url).port
    type_url(qtbot, dialog, f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/x")
    assert port
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    wait_status(qtbot, dialog, "Cannot reach the server")


@pytest.mark.parametrize(("url", "module", "package", "kind"), [
    ("mysql+mysqlconnector://me@localhost/shop", "mysql.connector", "mysql-connector-python", "mysql"),
    ("mssql+pyodbc://me@localhost/shop", "pyodbc", "pyodbc", "url"),
])
def test_a_missing_driver_names_its_package(qtbot, tmp_path: Path, url: str, module: str, package: str,
                                            kind: str) -> None:
    try:
        __import__(module)
        pytest.skip(f"{package} is installed here")
    except ImportError:
        pass
    window = launch(qtbot, tmp_path / "settings")
    dialog = open_dialog(qtbot, window)
    type_url(qtbot, dialog, url)
    assert dialog.form.kind.currentData() == kind
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    assert f"pip install '{package}'" in wait_status(qtbot, dialog, "not installed")


def test_saved_connection_comes_back_without_its_password_on_disk(qtbot, tmp_path: Path,
                                                                  pg_url: str) -> None:
    settings_dir = tmp_path / "settings"
    password = make_url(pg_url).password
    window = launch(qtbot, settings_dir)
    dialog = open_dialog(qtbot, window)
    qtbot.mouseClick(dialog.connections.new_button, Qt.MouseButton.LeftButton)
    listed = dialog.connections.list
    assert listed.count() == 1 and listed.currentItem().text() == "New connection"
    form = dialog.form
    form.name.selectAll()
    qtbot.keyClicks(form.name, "Team records")
    type_url(qtbot, dialog, pg_url)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert "Saved 'Team records'" in dialog.status.text()
    assert dialog.connections.list.currentItem().text() == "Team records"
    dialog.reject()
    window.save_settings()
    data = (settings_dir / "settings.json").read_bytes()
    assert b"Team records" in data
    assert password.encode() not in data

    again = open_dialog(qtbot, window)
    assert again is not dialog
    listed = again.connections.list
    assert [listed.item(i).text() for i in range(listed.count())] == ["Team records"]
    assert again.form.url.text() == make_url(pg_url).render_as_string().replace(":***", "")
    assert again.form.password.text() == password  # remembered in memory for this run
    qtbot.mouseClick(again.test_button, Qt.MouseButton.LeftButton)
    wait_status(qtbot, again, "Connected: PostgreSQL")


def test_list_actions_duplicate_rename_delete(qtbot, tmp_path: Path) -> None:
    window = launch(qtbot, tmp_path / "settings")
    dialog = open_dialog(qtbot, window)
    qtbot.mouseClick(dialog.connections.new_button, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(dialog.form.database, "app")
    qtbot.mouseClick(dialog.connections.duplicate_button, Qt.MouseButton.LeftButton)
    names = [dialog.connections.list.item(i).text() for i in range(dialog.connections.list.count())]
    assert names == ["New connection", "New connection (copy)"]
    assert dialog.form.database.text() == "app"  # the edit was kept, then copied
    qtbot.mouseClick(dialog.connections.rename_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: isinstance(QApplication.focusWidget(), QLineEdit)
                    and dialog.connections.list.isAncestorOf(QApplication.focusWidget()))
    editor = QApplication.focusWidget()
    editor.selectAll()
    qtbot.keyClicks(editor, "Staging")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.connections.list.currentItem().text() == "Staging")
    assert window.connector.store.find("Staging").database == "app"
    assert dialog.form.name.text() == "Staging"

    def confirm() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox) and box.objectName() == "deleteConnectionBox":
            box.button(QMessageBox.StandardButton.Yes).click()
        else:
            QTimer.singleShot(20, confirm)

    QTimer.singleShot(0, confirm)
    qtbot.mouseClick(dialog.connections.delete_button, Qt.MouseButton.LeftButton)
    assert [c.name for c in window.connector.store.all()] == ["New connection"]
    assert dialog.connections.list.currentItem().text() == "New connection"


def test_with_a_keyring_the_password_goes_there(qtbot, tmp_path: Path, pg_url: str) -> None:
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    settings_dir = tmp_path / "settings"
    password = make_url(pg_url).password
    window = launch(qtbot, settings_dir)
    dialog = open_dialog(qtbot, window)
    form = dialog.form
    qtbot.waitUntil(lambda: form.save_password.isVisible() and form.save_password.isEnabled())
    assert not form.password_note.isVisible()
    form.name.setText("Keyed")
    type_url(qtbot, dialog, pg_url)
    form.save_password.setChecked(True)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    saved = window.connector.store.find("Keyed")
    qtbot.waitUntil(lambda: backend.items == {(SERVICE, saved.password_key()): password})
    window.save_settings()
    assert password.encode() not in (settings_dir / "settings.json").read_bytes()
    # Unticking removes it from the keyring.
    form.save_password.setChecked(False)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: backend.items == {})


def test_the_sqlite_tab_offers_to_connect_when_empty(qtbot, tmp_path: Path) -> None:
    window = launch(qtbot, tmp_path / "settings")
    window.tabs.setCurrentWidget(window.page("sqlite"))
    button = window.page("sqlite").connect_button
    assert button.isVisible()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.connector.dialog is not None
                    and window.connector.dialog.isVisible())
    window.connector.dialog.reject()


def test_a_sqlite_file_connection_tests_and_opens_the_file(qtbot, tmp_path: Path) -> None:
    import sqlite3

    from tests.support.gui_helpers import wait_documents

    path = tmp_path / "notes.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    (tmp_path / "plain.txt").write_text("hello, not a database")
    window = launch(qtbot, tmp_path / "settings")
    dialog = open_dialog(qtbot, window)
    form = dialog.form
    form.kind.setCurrentIndex(form.kind.findData("sqlite"))
    assert not form.password.isVisible()
    qtbot.keyClicks(form.path, str(tmp_path / "plain.txt"))
    assert form.url.text() == f"sqlite:///{tmp_path / 'plain.txt'}"
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    wait_status(qtbot, dialog, "plain.txt is not a SQLite database")
    form.path.clear()
    qtbot.keyClicks(form.path, str(path))
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    wait_status(qtbot, dialog, "database file")
    qtbot.mouseClick(dialog.connect_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
    [document] = wait_documents(qtbot, window, 1)
    assert document.path == str(path)
    assert window.tabs.currentWidget() is window.page("sqlite")


def test_the_connection_list_panel_asks_before_leaving_and_says_what_to_show(qtbot, tmp_path) -> None:
    from gui.connections.list_panel import ConnectionListPanel
    from storage.settings.connections import Connection, ConnectionStore
    from storage.settings.passwords import PasswordVault
    from storage.settings.store import Settings

    store = ConnectionStore(Settings(tmp_path))
    first = store.save(Connection(name="First", kind="sqlite", path="/tmp/a.db"))
    store.save(Connection(name="Second", kind="sqlite", path="/tmp/b.db"))
    panel = ConnectionListPanel(store, PasswordVault(MemoryKeyring()))
    qtbot.addWidget(panel)
    asked, shown = [], []
    panel.before_leaving = lambda connection_id: asked.append(connection_id) or False
    panel.chosen.connect(lambda connection: shown.append(connection.name))
    panel.fill(select=first.id)
    panel.list.setCurrentRow(1)  # the dialog refuses to leave: nothing is shown
    assert asked == [first.id] and shown == []
    panel.before_leaving = lambda _connection_id: True
    panel.list.setCurrentRow(0)
    assert shown == ["First"]
    with qtbot.waitSignal(panel.created) as created:
        panel.new_connection()
    assert created.args[0].name == "New connection" and panel.selected().id == created.args[0].id
    panel.set_busy(True)
    assert not panel.delete_button.isEnabled() and not panel.duplicate_button.isEnabled()
