"""Connections as documents: Connect opens one, several at once, recent, and the session."""

from __future__ import annotations

import json
from pathlib import Path

import keyring
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QInputDialog
from sqlalchemy.engine import make_url

from gui.connections.opening import PROMPT_NAME
from storage.settings.connections import Connection, from_url
from tests.gui.sql.test_pg import run
from tests.support.connect_helpers import MemoryKeyring, free_port, open_dialog, type_url
from tests.support.gui_helpers import close_window, launch


@pytest.fixture(autouse=True)
def _no_system_keyring():
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


def without_password(url: str) -> str:
    return make_url(url).render_as_string().replace(":***", "")


def server_documents(window) -> list:
    return [d for d in window.page("sqlite").all_documents() if getattr(d, "server_url", None)]


def wait_server_documents(qtbot, window, count: int) -> list:
    def ready() -> None:
        documents = server_documents(window)
        assert len(documents) == count
        assert all(d.is_loaded for d in documents)

    qtbot.waitUntil(ready, timeout=20_000)
    return server_documents(window)


class PasswordPrompts:
    """Answers the password prompt each time it shows; records what it said."""

    def __init__(self, answers: list[str | None]) -> None:
        self.answers = list(answers)
        self.texts: list[str] = []
        QTimer.singleShot(0, self._poll)

    def _poll(self) -> None:
        prompt = QApplication.activeModalWidget()
        if isinstance(prompt, QInputDialog) and prompt.objectName() == PROMPT_NAME:
            self.texts.append(prompt.labelText())
            answer = self.answers.pop(0) if self.answers else None
            if answer is None:
                prompt.reject()
            else:
                prompt.setTextValue(answer)
                prompt.accept()
        if self.answers:
            QTimer.singleShot(20, self._poll)


def test_connect_opens_a_document_and_a_second_connection_beside_it(
        qtbot, tmp_path: Path, pg_url: str, pg_server_url: str) -> None:
    window = launch(qtbot, tmp_path / "settings")
    dialog = open_dialog(qtbot, window)
    type_url(qtbot, dialog, pg_url)
    qtbot.mouseClick(dialog.connect_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=20_000)
    [first] = wait_server_documents(qtbot, window, 1)
    assert window.tabs.currentWidget() is window.page("sqlite")

    second_dialog = open_dialog(qtbot, window)
    type_url(qtbot, second_dialog, pg_server_url)
    qtbot.mouseClick(second_dialog.connect_button, Qt.MouseButton.LeftButton)
    documents = wait_server_documents(qtbot, window, 2)
    assert first in documents

    # The same connection again focuses its document instead of opening another.
    window.page("sqlite").set_current_document(documents[1])
    again = open_dialog(qtbot, window)
    type_url(qtbot, again, pg_url)
    qtbot.mouseClick(again.connect_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not again.isVisible())
    assert window.current_document() is first
    assert len(server_documents(window)) == 2

    # Both are recent connections (without their passwords).
    window.actions.recent_connections_menu.aboutToShow.emit()
    tips = [a.toolTip() for a in window.actions.recent_connections_menu.actions()]
    assert without_password(pg_url) in tips and without_password(pg_server_url) in tips


def test_a_wrong_password_on_connect_stays_in_the_dialog(qtbot, tmp_path: Path,
                                                         pg_url: str) -> None:
    window = launch(qtbot, tmp_path / "settings")
    dialog = open_dialog(qtbot, window)
    type_url(qtbot, dialog, pg_url)
    dialog.form.password.setText("wrong")
    qtbot.mouseClick(dialog.connect_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.is_busy(), timeout=20_000)
    assert "refused the password" in dialog.status.text()
    assert dialog.isVisible() and server_documents(window) == []


def _save(window, url: str, name: str, *, save_password: bool = False) -> Connection:
    connection, password = from_url(url, name=name)
    connection.save_password = save_password
    saved = window.connector.store.save(connection)
    window.connector.vault.remember(saved.password_key(), password, persist=save_password)
    return saved


def test_session_restore_asks_for_the_password_in_the_document_once(qtbot, tmp_path: Path,
                                                                    pg_url: str) -> None:
    settings_dir = tmp_path / "settings"
    password = make_url(pg_url).password
    window = launch(qtbot, settings_dir)
    saved = _save(window, pg_url, "Team records")
    window.connector.open(saved)
    wait_server_documents(qtbot, window, 1)
    close_window(qtbot, window)
    data = (settings_dir / "settings.json").read_bytes()
    assert password.encode() not in data
    [entry] = json.loads(data)["state"]["session.connections"]
    assert (entry["name"], entry["url"], entry["id"]) == (
        "Team records", without_password(pg_url), saved.id)

    # No modal prompt at launch: the document comes back and asks for the password in place.
    prompts = PasswordPrompts([])
    again = launch(qtbot, settings_dir)
    [document] = wait_server_documents(qtbot, again, 1)
    assert document.title() == "Team records"
    qtbot.waitUntil(lambda: document.status_page.password_form.isVisible(), timeout=20_000)
    document.status_page.password_edit.setText("not it")  # a wrong one first: asked again, said why
    document.status_page.password_button.click()
    qtbot.waitUntil(lambda: document.status_page.password_form.isVisible()
                    and "refused the password" in document.status_page.status.text(), timeout=20_000)
    document.status_page.password_edit.setText(password)
    document.status_page.password_button.click()
    qtbot.waitUntil(lambda: document.stack.currentIndex() == 1, timeout=20_000)
    assert prompts.texts == []
    # Asked once per run: opening it again after closing needs no prompt.
    again.close_document(document)
    assert again.connector.vault.get(saved.password_key()) == password
    again.connector.open_recent({"name": "Team records", "url": without_password(pg_url)})
    wait_server_documents(qtbot, again, 1)
    assert prompts.texts == []


def test_session_restore_takes_the_password_from_the_keyring(qtbot, tmp_path: Path,
                                                             pg_url: str) -> None:
    keyring.set_keyring(MemoryKeyring())
    run(pg_url, "CREATE TABLE first (id int PRIMARY KEY)")
    run(pg_url, "CREATE TABLE second (id int PRIMARY KEY, name text)")
    settings_dir = tmp_path / "settings"
    window = launch(qtbot, settings_dir)
    saved = _save(window, pg_url, "Keyed", save_password=True)
    window.connector.open(saved)
    [document] = wait_server_documents(qtbot, window, 1)
    document.tree.setCurrentItem(document.tree.table_item("second"))
    qtbot.waitUntil(lambda: document.table is not None and document.table.name == "second")
    # Renamed since: the session finds it by its id.
    window.connector.store.rename(saved.id, "Keyed, renamed")
    close_window(qtbot, window)
    prompts = PasswordPrompts([])
    again = launch(qtbot, settings_dir)
    [document] = wait_server_documents(qtbot, again, 1)
    assert prompts.texts == []
    assert document.title() == "Keyed, renamed"  # the saved connection, found by its id
    qtbot.waitUntil(lambda: document.table is not None and document.table.name == "second")


def test_a_connection_that_cannot_come_back_stays_with_reconnect(qtbot, tmp_path: Path) -> None:
    settings_dir = tmp_path / "settings"
    window = launch(qtbot, settings_dir)
    close_window(qtbot, window)
    gone = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/x"
    path = settings_dir / "settings.json"
    data = json.loads(path.read_text())
    data["state"]["session.connections"] = [{"name": "", "url": gone}]
    path.write_text(json.dumps(data))
    again = launch(qtbot, settings_dir)
    [document] = wait_server_documents(qtbot, again, 1)
    assert "Could not connect" in document.status_page.status.text()
    assert "Cannot reach the server" in document.status_page.status.text()
    assert document.status_page.retry_open.text() == "Reconnect" \
        and document.status_page.retry_open.isVisibleTo(document)
    close_window(qtbot, again)
    [entry] = json.loads(path.read_text())["state"]["session.connections"]
    assert entry["url"] == gone  # kept until the user closes it


def test_cancelling_the_password_prompt_leaves_it_closed(qtbot, tmp_path: Path,
                                                         pg_url: str) -> None:
    window = launch(qtbot, tmp_path / "settings")
    saved = _save(window, pg_url, "Asked")
    window.connector.vault.forget(saved.password_key())
    prompts = PasswordPrompts([None])
    window.connector.open(saved)
    qtbot.waitUntil(lambda: len(prompts.texts) == 1)
    qtbot.waitUntil(lambda: "Not connected to Asked" in window.statusBar().currentMessage())
    assert server_documents(window) == []
