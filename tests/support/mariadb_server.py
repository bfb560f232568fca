"""A throwaway MariaDB (or MySQL) server for the tests, built from the machine's installed binaries.

``.ci/run`` starts one before the test suite (``python3 tests/support/mariadb_server.py start DIR``) and
exports ``DATASHELF_MARIADB_URL``; a developer's plain ``pytest`` starts its own the first time a
test asks for it. The data directory lives in a temporary folder: ``mariadb-install-db`` there,
``mariadbd`` on a free loopback port with a private socket, and a ``datashelf`` account with a
password over TCP (so a wrong password is a real failure). Durability is off: the data is thrown
away. Debian's ``mariadb-server`` package provides the binaries.

Only the standard library is used, so ``.ci/run`` can call it before the venv exists.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

USER = "datashelf"
PASSWORD = "datashelf-maria-pw"
DATABASE = "datashelf"
ENV_URL = "DATASHELF_MARIADB_URL"
ENV_BIN = "DATASHELF_MARIADB_BIN"

_SERVERS = ("mariadbd", "mysqld")
_INSTALLERS = ("mariadb-install-db", "mysql_install_db")
_CLIENTS = ("mariadb", "mysql")


def _which(names: tuple[str, ...]) -> str | None:
    folders = [os.environ.get(ENV_BIN, ""), "/usr/sbin", "/usr/bin", "/usr/local/bin",
               "/usr/local/mysql/bin", "/opt/homebrew/bin"]
    for name in names:
        for folder in folders:
            if folder and os.path.exists(os.path.join(folder, name)):
                return os.path.join(folder, name)
        found = shutil.which(name)
        if found:
            return found
    return None


def find_bin() -> dict[str, str] | None:
    """The server, installer and client programs, or None when any is missing."""
    found = {"server": _which(_SERVERS), "install": _which(_INSTALLERS), "client": _which(_CLIENTS)}
    return None if None in found.values() else found  # type: ignore[return-value]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def url(port: int, *, database: str = DATABASE, password: str = PASSWORD,
        host: str = "127.0.0.1") -> str:
    return f"mysql+pymysql://{USER}:{password}@{host}:{port}/{database}"


def _root_user() -> list[str]:
    """mariadbd refuses to run as root unless told so explicitly; the data is ours anyway."""
    return ["--user=root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []


def _server_args(folder: str, port: int) -> list[str]:
    data = os.path.join(folder, "data")
    return ["--no-defaults", f"--datadir={data}", f"--socket={os.path.join(folder, 'sock')}",
            f"--port={port}", "--bind-address=127.0.0.1", f"--pid-file={os.path.join(folder, 'pid')}",
            f"--log-error={os.path.join(folder, 'server.log')}", "--skip-log-bin",
            "--innodb-flush-log-at-trx-commit=0", "--innodb-buffer-pool-size=64M",
            "--innodb-log-file-size=16M", "--max-connections=200", "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci", "--skip-name-resolve", *_root_user()]


def _client(folder: str, sql: str, timeout: float = 30.0) -> None:
    programs = find_bin()
    assert programs is not None
    subprocess.run([programs["client"], "--no-defaults", f"--socket={os.path.join(folder, 'sock')}",
                    "-u", "root", "-e", sql], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, timeout=timeout)


def _launch(folder: str, port: int, timeout: float) -> None:
    programs = find_bin()
    assert programs is not None
    log = open(os.path.join(folder, "stdout.log"), "ab")  # noqa: SIM115 - handed to the child
    subprocess.Popen([programs["server"], *_server_args(folder, port)], stdout=log, stderr=log,
                     stdin=subprocess.DEVNULL, start_new_session=True)
    log.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"MariaDB did not listen on port {port} within {timeout:.0f} s; "
                       f"see {os.path.join(folder, 'server.log')}")


def start(folder: str, timeout: float = 60.0) -> str:
    """Create a data directory in ``folder`` and start the server; return its SQLAlchemy URL."""
    programs = find_bin()
    if programs is None:
        raise RuntimeError("no MariaDB server binaries (mariadbd, mariadb-install-db, mariadb) found; "
                           "install the 'mariadb-server' system package or set DATASHELF_MARIADB_BIN")
    data = os.path.join(folder, "data")
    os.makedirs(data, exist_ok=True)
    subprocess.run([programs["install"], "--no-defaults", f"--datadir={data}",
                    "--auth-root-authentication-method=normal", "--skip-test-db", *_root_user()],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout)
    port = _free_port()
    with open(os.path.join(folder, "port"), "w", encoding="utf-8") as handle:
        handle.write(str(port))
    _launch(folder, port, timeout)
    _client(folder, f"CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}'; "
                    f"GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'%' WITH GRANT OPTION; "
                    f"CREATE DATABASE `{DATABASE}`; FLUSH PRIVILEGES;")
    return url(port)


def restart(folder: str, timeout: float = 60.0) -> str:
    """Start again a server that :func:`start` created in ``folder`` and :func:`stop` stopped
    (same data, same port); return its URL."""
    with open(os.path.join(folder, "port"), encoding="utf-8") as handle:
        port = int(handle.read())
    _launch(folder, port, timeout)
    return url(port)


def stop(folder: str, timeout: float = 30.0) -> None:
    """Stop the server of ``folder`` (a no-op when none runs there)."""
    pid_file = os.path.join(folder, "pid")
    try:
        with open(pid_file, encoding="utf-8") as handle:
            pid = int(handle.read().strip())
    except (OSError, ValueError):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "stop", "find"):
        print("usage: mariadb_server.py start|stop DIR   |   mariadb_server.py find -", file=sys.stderr)
        return 2
    if argv[0] == "find":
        found = find_bin()
        print(found["server"] if found else "")
        return 0 if found else 1
    if argv[0] == "stop":
        stop(argv[1])
        return 0
    try:
        print(start(argv[1]))
    except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        print(f"cannot start MariaDB: {exc} {detail.decode(errors='replace')}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
