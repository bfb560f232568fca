"""One Datashelf per settings folder: a second launch hands its files to the running window.

The usual Qt way: the first instance listens on a :class:`QLocalServer`; ``main.py FILE`` first
tries to connect to it (:func:`hand_off`), sends the file names and exits, before any widget
module is imported. The server's name comes from the user and the settings folder, so a test
with its own ``--settings-dir`` never meets the user's Datashelf, and two settings folders are
two instances. A socket left by a crashed instance is removed and the new process listens.

Only ``QtCore`` and ``QtNetwork`` are imported here: the hand-off runs before ``QApplication``.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from enum import Enum
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtNetwork import QLocalServer, QLocalSocket

CONNECT_MS = 300  # a live server accepts at once; a dead socket file refuses at once
REPLY_MS = 10_000  # the running window answers from its event loop (it may be busy a moment)
ACK = b"ok\n"


def server_name(settings_folder: str | os.PathLike[str]) -> str:
    """The local socket name of the instance that keeps its settings in ``settings_folder``."""
    folder = os.path.realpath(os.path.abspath(os.fspath(settings_folder)))
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container): the uid says the same
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    digest = hashlib.sha256(f"{user}\0{folder}".encode("utf-8", "surrogateescape")).hexdigest()
    return f"datashelf-{digest[:20]}"


def encode_request(arguments: list[str]) -> bytes:
    """One line of JSON: the files (absolute, so the receiver's working folder does not matter)."""
    files = [a if _is_url(a) else os.path.abspath(a) for a in arguments]
    return json.dumps({"files": files}).encode("utf-8", "surrogateescape") + b"\n"


def decode_request(data: bytes) -> list[str] | None:
    """The files of a request, or None when it is not one of ours."""
    try:
        request = json.loads(data.decode("utf-8", "surrogateescape"))
    except (ValueError, UnicodeDecodeError):
        return None
    files = request.get("files") if isinstance(request, dict) else None
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    return files


def _is_url(argument: str) -> bool:
    return "://" in argument and not os.path.exists(argument)


class HandOff(Enum):
    TAKEN = "taken"  # the running window opens the files
    NOT_RUNNING = "not running"  # no instance on this settings folder: start a window here
    NO_ANSWER = "no answer"  # one runs but did not confirm (busy or hung): it may still open them


def hand_off(name: str, arguments: list[str]) -> HandOff:
    """Give ``arguments`` (files, URLs; none: just raise the window) to the running instance.

    Blocking calls only, so it works before any QCoreApplication exists.
    """
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(CONNECT_MS):
        return HandOff.NOT_RUNNING
    socket.write(encode_request(arguments))
    reply = b""
    if socket.waitForBytesWritten(REPLY_MS):
        while not reply.endswith(b"\n") and socket.waitForReadyRead(REPLY_MS):
            reply += bytes(socket.readAll().data())
    socket.disconnectFromServer()
    return HandOff.TAKEN if reply == ACK else HandOff.NO_ANSWER


class InstanceServer(QObject):
    """The running instance's end: listens, reads requests and announces their files."""

    filesReceived = Signal(list)  # the files of one request (possibly empty: raise the window)

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._on_connection)
        self._buffers: dict[QLocalSocket, bytes] = {}

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


def serve(window) -> InstanceServer:
    """Listen for later launches on ``window``'s settings folder; their files open in it."""
    server = InstanceServer(server_name(window.settings.folder), window)
    server.filesReceived.connect(lambda files: present(window, files))
    server.listen()
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
    from .sql_open import looks_like_url

    urls = [f for f in files if "://" in f and looks_like_url(f) and not os.path.exists(f)]
    paths = [f for f in files if f not in urls]
    if paths:
        window.open_paths(paths)
    for url in urls:
        window.open_database_url(url)


def settings_folder(argument: str | None) -> Path:
    """The folder ``--settings-dir`` names, else the default one (as :class:`Settings` picks)."""
    from storage.settings import default_settings_dir

    return Path(argument) if argument else default_settings_dir()
