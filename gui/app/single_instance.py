"""One Datashelf per settings folder: a second launch hands its files to the running window.

The usual Qt way: the first instance listens on a :class:`QLocalServer`; ``main.py FILE`` first
tries to connect to it (``gui.app.single_instance_client.hand_off``, which imports no Qt on POSIX),
sends the file names and exits, before any widget module is imported. The server's name comes
from the user and the settings folder, so a test with its own ``--settings-dir`` never meets the
user's Datashelf, and two settings folders are two instances. A socket left by a crashed
instance is removed and the new process listens.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from gui.app.single_instance_client import ACK, CONNECT_MS, decode_request, server_name


class InstanceServer(QObject):
    """The running instance's end: listens, reads requests and announces their files."""

    filesReceived = Signal(list)  # the files of one request (possibly empty: raise the window)

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._buffers: dict[QLocalSocket, bytes] = {}

    @classmethod
    def for_folder(cls, settings_folder: str | os.PathLike[str]) -> InstanceServer:
        """A server for the instance on ``settings_folder``, listening when no other does."""
        server = cls(server_name(settings_folder))
        server.listen()
        return server

    def listen(self) -> bool:
        """Listen; a stale socket (its instance crashed) is removed first. False when another
        live instance listens on this name already (then both run, and their sessions merge).

        The live check comes first: with UserAccessOption, Qt's listen replaces any socket
        file of that name, a live one included.
        """
        probe = QLocalSocket()
        probe.connectToServer(self.name)
        if probe.waitForConnected(CONNECT_MS):
            probe.abort()
            return False
        QLocalServer.removeServer(self.name)
        return self.server.listen(self.name)

    def accept(self) -> None:
        """Start reading requests (once someone listens to filesReceived); launches that came
        while the window was being built wait in the queue until now."""
        self.server.newConnection.connect(self._on_connection)
        QTimer.singleShot(0, self._on_connection)

    def close(self) -> None:
        self.server.close()

    def is_listening(self) -> bool:
        return self.server.isListening()

    @Slot()
    def _on_connection(self) -> None:
        while self.server.hasPendingConnections():
            socket = self.server.nextPendingConnection()
            self._buffers[socket] = b""
            socket.readyRead.connect(lambda s=socket: self._on_ready_read(s))
            socket.disconnected.connect(lambda s=socket: self._forget(s))
            self._on_ready_read(socket)

    def _on_ready_read(self, socket: QLocalSocket) -> None:
        if socket not in self._buffers:
            return
        self._buffers[socket] += bytes(socket.readAll().data())
        data = self._buffers[socket]
        if not data.endswith(b"\n"):
            if len(data) > 1_000_000:  # not a Datashelf asking
                self._forget(socket)
                socket.abort()
            return
        files = decode_request(data.strip())
        self._buffers[socket] = b""
        if files is None:
            socket.abort()
            return
        socket.write(ACK)
        socket.flush()
        self.filesReceived.emit(files)

    def _forget(self, socket: QLocalSocket) -> None:
        if self._buffers.pop(socket, None) is not None:
            socket.deleteLater()


class _CloseWatch(QObject):
    """Stops listening once the window has closed (a later launch then starts its own)."""

    def __init__(self, window, server: InstanceServer) -> None:
        super().__init__(window)
        self.window = window
        self.server = server

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Close:  # the close may still be refused (unsaved edits)
            QTimer.singleShot(0, self._closed_for_good)
        return False

    def _closed_for_good(self) -> None:
        if not self.window.isVisible():
            self.server.close()


def serve(window, server: InstanceServer | None = None) -> InstanceServer:
    """Open in ``window`` the files later launches on its settings folder hand over (``server``
    when it listens already, else a new one)."""
    server = server or InstanceServer.for_folder(window.settings.folder)
    server.setParent(window)
    server.filesReceived.connect(lambda files: present(window, files))
    server.accept()
    window.installEventFilter(_CloseWatch(window, server))
    return server


def present(window, files: list[str]) -> None:
    """Bring the window to the front and open ``files`` as File ▸ Open would."""
    if window.isMinimized():
        window.setWindowState(window.windowState() & ~Qt.WindowState.WindowMinimized)
    window.show()
    window.raise_()
    window.activateWindow()
    open_in(window, files)


def open_in(window, files: list[str]) -> None:
    """Files open in the tab their content belongs to; database URLs in the SQLite tab."""
    urls = [f for f in files if "://" in f and not os.path.exists(f) and _looks_like_url(f)]
    paths = [f for f in files if f not in urls]
    if paths:
        window.open_paths(paths)
        window.opener.show_in_files(paths)
    for url in urls:
        window.open_database_url(url)


def _looks_like_url(text: str) -> bool:
    from gui.connections.open_url import looks_like_url  # the SQL modules only when a URL comes

    return looks_like_url(text)
