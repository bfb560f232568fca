"""SQLite writes: a busy timeout on every write connection, and recovery after a killed edit.

Edits run in short transactions (storage/formats/sql/edit.py, the SQLite shelf's save); another
program holding the write lock for a moment must make them wait, not fail. A program killed in
the middle of a transaction leaves a hot ``-journal``; Datashelf's read-only open says so and
touches nothing, and the roll back the user confirms brings back the last committed data
(more in tests/test_readonly_opens.py).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from storage.core import sqlite_recover
from storage.core.errors import KnownError
from storage.core.sqlite_recover import BUSY_TIMEOUT_MS
from storage.formats.objects.shelf.io import open_shelf
from storage.formats.sql.edit import update_cell
from storage.formats.sql.sqlite_db import connect_reader, connect_writer

OLD, NEW = b"O" * 300_000, b"N" * 300_000


def _database(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, doc BLOB)")
        conn.execute("INSERT INTO t VALUES (1, ?)", (OLD,))
    conn.close()
    return path


def _doc(path: Path) -> bytes:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT doc FROM t WHERE id = 1").fetchone()[0]
    finally:
        conn.close()


def test_write_connections_have_a_busy_timeout(tmp_path: Path) -> None:
    conn = connect_writer(str(_database(tmp_path / "a.db")))
    try:
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_TIMEOUT_MS
    finally:
        conn.close()


def _while_locked(path: Path, edit: Callable[[], None]) -> None:
    """Run ``edit`` while another connection holds the write lock for a moment."""
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        locked.set()
        release.wait(10)
        other.execute("COMMIT")
        other.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10)
        timer = threading.Timer(0.3, release.set)  # well inside the 2 s busy timeout
        timer.start()
        edit()
        timer.join()
    finally:
        release.set()
        holder.join()


def test_an_edit_waits_for_a_short_lock_instead_of_failing(tmp_path: Path) -> None:
    path = _database(tmp_path / "a.db")
    _while_locked(path, lambda: update_cell(str(path), "t", {"id": 1}, "doc", NEW))
    assert _doc(path) == NEW


def test_an_sqlite_shelf_save_waits_for_a_short_lock(tmp_path: Path) -> None:
    path = tmp_path / "shelf.db"  # Python 3.13's dbm.sqlite3 layout
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE Dict (key BLOB UNIQUE NOT NULL, value BLOB NOT NULL)")
        conn.execute("INSERT INTO Dict VALUES (CAST(? AS BLOB), CAST(? AS BLOB))", (b"k", b"old"))
    conn.close()
    shelf = open_shelf(path)
    shelf.set("k", b"\x80\x04K\x01.")  # pickle of 1
    _while_locked(path, shelf.save)
    assert open_shelf(path).raw_value("k") == b"\x80\x04K\x01."


KILLED_EDIT = """
import os, signal, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA cache_size = 1")  # spill changed pages into the file before COMMIT
conn.execute("BEGIN IMMEDIATE")
conn.execute("UPDATE t SET doc = ? WHERE id = 1", (b"N" * 300_000,))
os.kill(os.getpid(), signal.SIGKILL)
"""


def _killed_mid_edit(tmp_path: Path) -> Path:
    path = _database(tmp_path / "crashed.db")
    done = subprocess.run([sys.executable, "-c", KILLED_EDIT, str(path)], timeout=60)
    assert done.returncode == -9
    assert Path(str(path) + "-journal").stat().st_size > 0  # a hot journal was left behind
    return path


def test_a_database_left_mid_edit_opens_with_its_last_committed_data_after_roll_back(tmp_path: Path) -> None:
    path = _killed_mid_edit(tmp_path)
    with pytest.raises(sqlite_recover.UnfinishedTransaction):
        connect_reader(str(path))
    assert Path(str(path) + "-journal").exists()  # the read-only open rolled nothing back
    sqlite_recover.roll_back_hot_journal(str(path), BUSY_TIMEOUT_MS / 1000)  # the user's choice
    conn = connect_reader(str(path))
    try:
        assert conn.execute("SELECT doc FROM t").fetchall() == [(OLD,)]
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        conn.close()
    assert not Path(str(path) + "-journal").exists()


def test_without_write_access_a_roll_back_is_explained(tmp_path: Path, monkeypatch) -> None:
    path = _killed_mid_edit(tmp_path)
    monkeypatch.setattr(sqlite_recover.os, "access", lambda *_args: False)  # root may write anything
    with pytest.raises(KnownError) as info:
        sqlite_recover.roll_back_hot_journal(str(path), BUSY_TIMEOUT_MS / 1000)
    assert "left in the middle of a change" in str(info.value)
    assert Path(str(path) + "-journal").exists()  # nothing was touched
