"""One Datashelf per settings folder: a second launch hands its files to the running window.

The first instance listens on a local socket; ``main.py FILE`` first tries to connect to it
(``gui.app.single_instance_client.hand_off``, which imports no Qt on POSIX), sends the file names
and exits, before any widget module is imported. The server's name comes from the user and the
settings folder, so a test with its own ``--settings-dir`` never meets the user's Datashelf, and
two settings folders are two instances. A socket left by a crashed instance is removed and the new
process listens.

On POSIX the server is a plain Unix socket watched by :class:`QSocketNotifier`s: QtNetwork (about
20 ms of every launch) is not imported. On Windows it is a :class:`QLocalServer` (named pipes),
imported when the server is made.
"""

from __future__ import annotations

import contextlib
import os
import socket

from PySide6.QtCore import QEvent, QObject, QSocketNotifier, Qt, QTimer, Signal

from gui.app.single_instance_client import ACK, CONNECT_MS, decode_request, server_name

MAX_REQUEST = 1_000_000  # bytes: more without a newline is not a Datashelf asking


class InstanceServer(QObject):
    """The running instance's end: listens, reads requests and announces their files."""

    filesReceived = Signal(list)  # the files of one request (possibly empty: raise the window)

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._transport = _PipeTransport(self) if os.name == "nt" else _UnixTransport(self)
        self._buffers: dict[object, bytes] = {}  # connection -> bytes read so far

    @classmethod
    def for_folder(cls, settings_folder: str | os.PathLike[str]) -> InstanceServer:
        """A server for the instance on ``settings_folder``, listening when no other does."""
        server = cls(server_name(settings_folder))
        server.listen()
        return server

    def listen(self) -> bool:
        """Listen; a stale socket (its instance crashed) is removed first. False when another
        live instance listens on this name already (then both run, and their sessions merge).

        The live check comes first: listening replaces any socket file of that name, a live one
        included.
        """
        return self._transport.listen(self.name)

    def accept(self) -> None:
        """Start reading requests (once someone listens to filesReceived); launches that came
        while the window was being built wait in the queue until now."""
        self._transport.accept()
        QTimer.singleShot(0, self._transport.take_connections)

    def close(self) -> None:
        self._transport.close()

    def is_listening(self) -> bool:
        return self._transport.is_listening()

    def full_server_name(self) -> str:
        """The socket file (POSIX) or pipe the server listens on; empty when not listening."""
        return self.name if self.is_listening() else ""

    def wait_for_connection(self, msecs: int) -> bool:
        """True when a launch is waiting to be accepted (within ``msecs``); for tests."""
        return self._transport.wait_for_connection(msecs)

    # -- requests (called by the transport) ---------------------------------------------------
    def connection_opened(self, connection) -> None:
        self._buffers[connection] = b""
        self.data_arrived(connection)

    def data_arrived(self, connection) -> None:
        if connection not in self._buffers:
            return
        chunk = self._transport.read(connection)
        if chunk is None:  # the launch hung up
            self.forget(connection)
            return
        data = self._buffers[connection] = self._buffers[connection] + chunk
        if not data.endswith(b"\n"):
            if len(data) > MAX_REQUEST:
                self.forget(connection)
            return
        files = decode_request(data.strip())
        self._buffers[connection] = b""
        if files is None:
            self.forget(connection)
            return
        self._transport.write(connection, ACK)
        self.filesReceived.emit(files)

    def forget(self, connection) -> None:
        if self._buffers.pop(connection, None) is not None:
            self._transport.drop(connection)


class _UnixTransport:
    """POSIX: a listening Unix socket; a notifier per socket calls the server back when it can
    read (the GUI thread never blocks on a launch)."""

    def __init__(self, server: InstanceServer) -> None:
        self.server = server
        self.listener: socket.socket | None = None
        self.path = ""
        self.notifier: QSocketNotifier | None = None
        self.notifiers: dict[socket.socket, QSocketNotifier] = {}

    def listen(self, name: str) -> bool:
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.settimeout(CONNECT_MS / 1000)
            probe.connect(name)
            return False  # a live instance answers
        except OSError:
            pass  # none, or a stale socket file a crashed instance left
        finally:
            probe.close()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
            listener.bind(name)
            os.chmod(name, 0o600)  # this user only, as QLocalServer's UserAccessOption
            listener.listen(16)
            listener.setblocking(False)
        except OSError:
            listener.close()
            return False
        self.listener, self.path = listener, name
        return True

    def accept(self) -> None:
        if self.listener is None or self.notifier is not None:
            return
        self.notifier = QSocketNotifier(self.listener.fileno(), QSocketNotifier.Type.Read, self.server)
        self.notifier.activated.connect(self.take_connections)

    def take_connections(self, *_args) -> None:
        while self.listener is not None:
            try:
                connection, _address = self.listener.accept()
            except OSError:  # BlockingIOError: none waiting
                return
            connection.setblocking(False)
            notifier = QSocketNotifier(connection.fileno(), QSocketNotifier.Type.Read, self.server)
            notifier.activated.connect(lambda *_a, c=connection: self.server.data_arrived(c))
            self.notifiers[connection] = notifier
            self.server.connection_opened(connection)

    def wait_for_connection(self, msecs: int) -> bool:
        import select

        return self.listener is not None and bool(select.select([self.listener], [], [], msecs / 1000)[0])

    def read(self, connection: socket.socket) -> bytes | None:
        data = b""
        while True:
            try:
                chunk = connection.recv(65536)
            except BlockingIOError:
                return data
            except OSError:
                return None
            if not chunk:
                return data or None  # with data: the hang-up is read on the next call
            data += chunk

    def write(self, connection: socket.socket, data: bytes) -> None:
        with contextlib.suppress(OSError):  # a launch that gave up waiting: nothing to tell
            connection.sendall(data)

    def drop(self, connection: socket.socket) -> None:
        notifier = self.notifiers.pop(connection, None)
        if notifier is not None:
            notifier.setEnabled(False)
            notifier.deleteLater()
        connection.close()

    def close(self) -> None:
        for connection in list(self.notifiers):
            self.server.forget(connection)
        if self.notifier is not None:
            self.notifier.setEnabled(False)
            self.notifier.deleteLater()
            self.notifier = None
        if self.listener is not None:
            self.listener.close()
            self.listener = None
            with contextlib.suppress(OSError):
                os.unlink(self.path)

    def is_listening(self) -> bool:
        return self.listener is not None


class _PipeTransport:
    """Windows: a QLocalServer (named pipes)."""

    def __init__(self, server: InstanceServer) -> None:
        from PySide6.QtNetwork import QLocalServer

        self.server = server
        self.local = QLocalServer(server)
        self.local.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)

    def listen(self, name: str) -> bool:
        from PySide6.QtNetwork import QLocalServer, QLocalSocket

        probe = QLocalSocket()
        probe.connectToServer(name)
        if probe.waitForConnected(CONNECT_MS):
            probe.abort()
            return False
        QLocalServer.removeServer(name)
        return self.local.listen(name)

    def accept(self) -> None:
        self.local.newConnection.connect(self.take_connections)

    def take_connections(self, *_args) -> None:
        while self.local.hasPendingConnections():
            connection = self.local.nextPendingConnection()
            connection.readyRead.connect(lambda c=connection: self.server.data_arrived(c))
            connection.disconnected.connect(lambda c=connection: self.server.forget(c))
            self.server.connection_opened(connection)

    def wait_for_connection(self, msecs: int) -> bool:
        return self.local.hasPendingConnections() or self.local.waitForNewConnection(msecs)[0]

    def read(self, connection) -> bytes | None:
        return bytes(connection.readAll().data())

    def write(self, connection, data: bytes) -> None:
        connection.write(data)
        connection.flush()

    def drop(self, connection) -> None:
        connection.abort()
        connection.deleteLater()

    def close(self) -> None:
        self.local.close()

    def is_listening(self) -> bool:
        return self.local.isListening()


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
