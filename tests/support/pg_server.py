"""A throwaway PostgreSQL server for the tests, built from the machine's installed binaries.

``.ci/run`` starts one before the test suite (``python3 tests/support/pg_server.py start DIR``) and
exports ``DATASHELF_PG_URL``; a developer's plain ``pytest`` starts its own the first time a
test asks for it. The cluster lives in a temporary folder: ``initdb`` with password
authentication on TCP (so a wrong password is a real failure) and trust on the Unix socket,
``pg_ctl`` on a free loopback port, ``fsync=off`` because the data is thrown away.

Only the standard library is used, so ``.ci/run`` can call it before the venv exists.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import time

USER = "datashelf"
PASSWORD = "datashelf-test-pw"
ENV_URL = "DATASHELF_PG_URL"
ENV_BIN = "DATASHELF_PG_BIN"


def find_bin() -> str | None:
    """The folder holding ``initdb`` and ``pg_ctl``: $DATASHELF_PG_BIN, Debian's versioned
    lib folder (newest first), or PATH."""
    candidates = [os.environ.get(ENV_BIN, "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                         key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0,
                         reverse=True)
    candidates += ["/usr/local/pgsql/bin", "/opt/homebrew/bin", "/usr/local/bin", "/usr/bin"]
    for folder in candidates:
        if folder and os.path.exists(os.path.join(folder, "initdb")) \
                and os.path.exists(os.path.join(folder, "pg_ctl")):
            return folder
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb and shutil.which("pg_ctl") else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_server_user(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: drop to the ``postgres`` account when we are root."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if runuser:
            return [runuser, "-u", "postgres", "--", *argv]
        return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(_shell_quote(a) for a in argv)]
    return argv


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _chown_to_server_user(path: str) -> None:
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        import pwd

        entry = pwd.getpwnam("postgres")
        for root, dirs, files in os.walk(path):
            for name in [*dirs, *files]:
                os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)
        os.chown(path, entry.pw_uid, entry.pw_gid)
        os.chmod(path, 0o700)


def url(port: int, *, database: str = "postgres", password: str = PASSWORD,
        host: str = "127.0.0.1") -> str:
    return f"postgresql+psycopg://{USER}:{password}@{host}:{port}/{database}"


def start(folder: str, timeout: float = 60.0) -> str:
    """initdb into ``folder`` and start the server; return its SQLAlchemy URL."""
    bindir = find_bin()
    if bindir is None:
        raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl) found; install the "
                           "'postgresql' system package or set DATASHELF_PG_BIN")
    os.makedirs(folder, exist_ok=True)
    data = os.path.join(folder, "data")
    sock = os.path.join(folder, "sock")
    os.makedirs(sock, exist_ok=True)
    os.makedirs(data, exist_ok=True)
    _chown_to_server_user(data)
    pwfile = os.path.join(folder, "pw")
    with open(pwfile, "w", encoding="utf-8") as handle:
        handle.write(PASSWORD + "\n")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        os.chmod(folder, 0o755)  # the postgres account must reach its folders
    _chown_to_server_user(sock)
    os.chmod(sock, 0o755)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        import pwd

        entry = pwd.getpwnam("postgres")
        os.chown(pwfile, entry.pw_uid, entry.pw_gid)
    subprocess.run(_as_server_user([
        os.path.join(bindir, "initdb"), "-D", data, "-U", USER, "--pwfile", pwfile,
        "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C",
        "--no-sync"]), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout)
    os.remove(pwfile)
    port = _free_port()
    options = (f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off "
               "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100")
    subprocess.run(_as_server_user([
        os.path.join(bindir, "pg_ctl"), "-D", data, "-o", options, "-l",
        os.path.join(data, "server.log"), "-w", "-t", str(int(timeout)), "start"]),
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout + 10)
    with open(os.path.join(folder, "port"), "w", encoding="utf-8") as handle:
        handle.write(str(port))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # pg_ctl -w waited for the socket; wait for TCP too
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.1)
    return url(port)


def restart(folder: str, timeout: float = 60.0) -> str:
    """Start again a server that :func:`start` created in ``folder`` and :func:`stop` stopped
    (same data, same port); return its URL."""
    bindir = find_bin()
    assert bindir is not None
    data = os.path.join(folder, "data")
    with open(os.path.join(folder, "port"), encoding="utf-8") as handle:
        port = int(handle.read())
    sock = os.path.join(folder, "sock")
    options = (f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off "
               "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100")
    subprocess.run(_as_server_user([
        os.path.join(bindir, "pg_ctl"), "-D", data, "-o", options, "-l",
        os.path.join(data, "server.log"), "-w", "-t", str(int(timeout)), "start"]),
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout + 10)
    return url(port)


def stop(folder: str) -> None:
    bindir = find_bin()
    data = os.path.join(folder, "data")
    if bindir and os.path.isdir(data):
        subprocess.run(_as_server_user([os.path.join(bindir, "pg_ctl"), "-D", data, "-m", "fast",
                                        "-w", "stop"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60, check=False)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "stop", "find"):
        print("usage: pg_server.py start|stop DIR   |   pg_server.py find -", file=sys.stderr)
        return 2
    if argv[0] == "find":
        found = find_bin()
        print(found or "")
        return 0 if found else 1
    if argv[0] == "stop":
        stop(argv[1])
        return 0
    try:
        print(start(argv[1]))
    except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        print(f"cannot start PostgreSQL: {exc} {detail.decode(errors='replace')}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
