"""Shared pieces of the connection tests: a keyring in memory, driving the dialog."""

from __future__ import annotations

from keyring.backend import KeyringBackend
from PySide6.QtCore import QEvent, QObject, Qt


class MemoryKeyring(KeyringBackend):
    """A working keyring that keeps everything in a dict (what a desktop keyring does)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.items.get((service, username))

    def set_password(self, service, username, password):
        self.items[(service, username)] = password

    def delete_password(self, service, username):
        from keyring.errors import PasswordDeleteError

        if self.items.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


def open_dialog(qtbot, window):
    window.actions.connect.trigger()
    dialog = window.connector.dialog
    qtbot.waitExposed(dialog)
    dialog.activateWindow()
    return dialog


def type_url(qtbot, dialog, url: str) -> None:
    """Type a URL into the URL field and leave it with Tab, as a user would."""
    form = dialog.form
    form.url.setFocus()
    qtbot.waitUntil(form.url.hasFocus)
    form.url.selectAll()
    qtbot.keyClicks(form.url, url)
    qtbot.keyClick(form.url, Qt.Key.Key_Tab)  # leaving the field: editingFinished
    qtbot.waitUntil(lambda: not form.url.hasFocus())


def wait_status(qtbot, dialog, text: str, timeout: int = 20_000) -> str:
    qtbot.waitUntil(lambda: not dialog.is_busy(), timeout=timeout)
    assert text in dialog.status.text()
    return dialog.status.text()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ShowCounter(QObject):
    """Counts how often a widget was shown (a busy indicator that may come and go quickly)."""

    def __init__(self, widget) -> None:
        super().__init__(widget)
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Show:
            self.count += 1
        return False
