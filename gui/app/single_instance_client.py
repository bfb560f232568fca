"""The second launch's end of the single-instance hand-off (see gui/app/single_instance.py).

``main.py FILE`` calls :func:`hand_off` before anything else: when a Datashelf runs on the same
settings folder it takes the files and this process exits. On POSIX this module imports no Qt at
all (a plain Unix socket talks to the running window's QLocalServer), so a second launch costs
about as much as starting Python.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import os
import time
from enum import Enum
from pathlib import Path

CONNECT_MS = 300  # a live server accepts at once; a dead socket file refuses at once
REPLY_MS = 10_000  # the running window answers from its event loop (it may be busy a moment)
ACK = b"ok\n"
STARTUP_WAIT_S = 15.0  # how long a launch waits for another one starting at the same instant
_STARTUP_LOCK: list[tuple[int, str]] = []  # (fd, path) held while this process starts up


def server_name(settings_folder: str | os.PathLike[str]) -> str:
    """The local socket of the instance that keeps its settings in ``settings_folder``: a full
    path on POSIX (in the user's runtime folder), a pipe name on Windows."""
    folder = os.path.realpath(os.path.abspath(os.fspath(settings_folder)))
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container): the uid says the same
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    digest = hashlib.sha256(f"{user}\0{folder}".encode("utf-8", "surrogateescape")).hexdigest()
    name = f"datashelf-{digest[:20]}"
    if os.name == "nt":
        return name
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    folder = runtime if runtime and os.path.isdir(runtime) else os.environ.get("TMPDIR") or "/tmp"
    path = os.path.join(folder, name)
    return path if len(path.encode()) < 100 else os.path.join("/tmp", name)  # sun_path limit


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

    On POSIX a plain Unix socket talks to the QLocalServer, so a second launch imports no Qt.
    """
    request = encode_request(arguments)
    if os.name == "nt":
        return _hand_off_qt(name, request)
    import socket

    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        client.settimeout(CONNECT_MS / 1000)
        try:
            client.connect(name)
        except OSError:  # no socket, or a stale one a crashed instance left
            return HandOff.NOT_RUNNING
        client.settimeout(REPLY_MS / 1000)
        reply = b""
        try:
            client.sendall(request)
            while not reply.endswith(b"\n"):
                chunk = client.recv(64)
                if not chunk:
                    break
                reply += chunk
        except OSError:
            pass
        return HandOff.TAKEN if reply == ACK else HandOff.NO_ANSWER
    finally:
        client.close()


def _hand_off_qt(name: str, request: bytes) -> HandOff:
    """The same through QLocalSocket (Windows pipes); blocking calls, no QCoreApplication."""
    from PySide6.QtNetwork import QLocalSocket

    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(CONNECT_MS):
        return HandOff.NOT_RUNNING
    socket.write(request)
    reply = b""
    if socket.waitForBytesWritten(REPLY_MS):
        while not reply.endswith(b"\n") and socket.waitForReadyRead(REPLY_MS):
            reply += bytes(socket.readAll().data())
    socket.disconnectFromServer()
    return HandOff.TAKEN if reply == ACK else HandOff.NO_ANSWER


def settings_folder(argument: str | None) -> Path:
    """The folder ``--settings-dir`` names, else the default one (as :class:`Settings` picks)."""
    from storage.settings.store import default_settings_dir

    return Path(argument) if argument else default_settings_dir()


def take_startup_lock(name: str) -> None:
    """Hold ``name``'s startup lock until :func:`release_startup_lock` (once listening).

    Two launches at the same instant: the second waits here until the first listens, then hands
    its files over instead of starting a second instance. POSIX only (flock); a lock not got
    within STARTUP_WAIT_S (a starter that hangs) is given up on.
    """
    try:
        import fcntl
    except ImportError:
        return
    path = name + ".lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return
    deadline = time.monotonic() + STARTUP_WAIT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                return
            time.sleep(0.02)
        except OSError:
            os.close(fd)
            return
    _STARTUP_LOCK.append((fd, path))


def release_startup_lock() -> None:
    """Let waiting launches go: they find this process listening, so the file can go first."""
    while _STARTUP_LOCK:
        fd, path = _STARTUP_LOCK.pop()
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)
