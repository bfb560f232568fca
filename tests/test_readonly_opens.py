"""Read-only means nothing changes (issue 14 §3): SQLite hot journals, super-journals and WAL
files; HDF5 data kept in other files; the permissions of Datashelf's own files.

Every database here is left mid-transaction by a real SQLite program killed with SIGKILL (a
small cache makes it write changed pages into the file before COMMIT, so the file on disk is
half-changed and the ``-journal`` is hot). Each read-only path (inspect, the sniffing and summary
of the Files tab, the SQLite tab, an SQLite shelf) must leave the bytes, mtimes and folder
listings as they were, say "unfinished transaction", and offer both choices. HDF5 files name
files in another folder through external links, external storage and virtual datasets: findings
name them, reading asks, and nothing there is written. Settings and journal files are 0600 in
0700 folders, and the temporary clean-up removes nothing but a dead save's own temporary.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from storage.core.errors import WriteError
from storage.core.sqlite_recover import (
    BUSY_TIMEOUT_MS,
    JOURNAL_MAGIC,
    UnfinishedTransaction,
    find_hot_journal,
    roll_back_hot_journal,
)
from storage.formats.objects.shelf.io import open_shelf
from storage.formats.sql.sqlite_db import connect_reader, connect_writer
from storage.inspect.report import inspect_path
from storage.sniff.detect import sniff

OLD, NEW = b"O" * 300_000, b"N" * 300_000

KILLED = """
import os, signal, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA cache_size = 1")  # spill changed pages into the file before COMMIT
conn.execute("BEGIN IMMEDIATE")
conn.execute("UPDATE {table} SET {column} = ? WHERE rowid = 1", (b"N" * 300_000,))
os.kill(os.getpid(), signal.SIGKILL)
"""

# Two databases changed in one transaction: COMMIT writes a super-journal beside the main one
# and names it in both journals. strace kills the program at its first unlink (the super-journal's
# removal once both files are written), which leaves all three files behind.
ATTACHED = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("ATTACH ? AS other", (sys.argv[2],))
conn.execute("BEGIN IMMEDIATE")
conn.execute("UPDATE t SET doc = ? WHERE id = 1", (b"N" * 300_000,))
conn.execute("UPDATE other.t SET doc = ? WHERE id = 1", (b"N" * 300_000,))
conn.execute("COMMIT")
"""


def _database(path: Path, table: str = "t", column: str = "doc") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    if table == "t":
        conn.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, doc BLOB)")
        conn.execute("INSERT INTO t VALUES (1, ?)", (OLD,))
    else:  # Python 3.13's dbm.sqlite3 layout
        conn.execute("CREATE TABLE Dict (key BLOB UNIQUE NOT NULL, value BLOB NOT NULL)")
        conn.execute("INSERT INTO Dict VALUES (?, ?)", (b"k", OLD))
    conn.commit()
    conn.close()
    return path


def killed_mid_edit(path: Path, table: str = "t", column: str = "doc") -> Path:
    _database(path, table, column)
    done = subprocess.run([sys.executable, "-c", KILLED.format(table=table, column=column), str(path)],
                          timeout=60)
    assert done.returncode == -9
    assert Path(str(path) + "-journal").stat().st_size > 0
    return path


def forge_super_journal(path: Path, victim: Path) -> None:
    """Append to ``path``'s journal the record that names ``victim`` as its super-journal,
    as SQLite's writeSuperJournal lays it out (page number, name, length, checksum, magic)."""
    name = str(victim).encode()
    record = (struct.pack(">I", 0x40000000 // 4096 + 1) + name
              + struct.pack(">II", len(name), sum(name)) + JOURNAL_MAGIC)
    with open(str(path) + "-journal", "ab") as handle:
        handle.write(record)


def snapshot(*folders: Path) -> dict[str, tuple[int, int, str]]:
    """Every file of the folders with its size, mtime and SHA-256 (the listing is the keys)."""
    seen = {}
    for folder in folders:
        for entry in sorted(folder.iterdir()):
            info = entry.lstat()
            digest = hashlib.sha256(entry.read_bytes()).hexdigest() if entry.is_file() else ""
            seen[str(entry)] = (info.st_size, info.st_mtime_ns, digest)
    return seen


def doc_of(path: Path) -> bytes:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT doc FROM t").fetchone()[0]
    finally:
        conn.close()


# -- storage: every read-only path ----------------------------------------------------------------

def test_every_read_only_path_leaves_a_hot_journal_alone(tmp_path: Path) -> None:
    path = killed_mid_edit(tmp_path / "crashed.db")
    before = snapshot(tmp_path)
    with pytest.raises(UnfinishedTransaction) as info:
        connect_reader(str(path))
    assert "unfinished transaction" in str(info.value) and "crashed.db-journal" in str(info.value)
    assert sniff(str(path)).format == "sqlite"
    report = inspect_path(str(path))
    assert report["ok"] and report["format"] == "sqlite"
    assert report["summary"]["unfinished_transaction"]["journal_size"] > 0
    assert any("unfinished transaction" in f["message"] for f in report["findings"])
    with pytest.raises(UnfinishedTransaction):  # an edit would roll it back unasked
        connect_writer(str(path))
    assert snapshot(tmp_path) == before


def test_both_choices_work_as_on_disk_and_roll_back(tmp_path: Path) -> None:
    path = killed_mid_edit(tmp_path / "crashed.db")
    before = snapshot(tmp_path)
    conn = connect_reader(str(path), immutable=True)  # "Show As on Disk"
    try:
        on_disk = conn.execute("SELECT doc FROM t").fetchone()[0]
    finally:
        conn.close()
    assert len(on_disk) == len(OLD)  # the half-written page is what the disk holds
    assert snapshot(tmp_path) == before
    hot = find_hot_journal(str(path))
    assert hot is not None and not hot.refusal and "removes crashed.db-journal" in hot.rollback_effects()
    roll_back_hot_journal(str(path), BUSY_TIMEOUT_MS / 1000)  # "Roll Back…", confirmed
    assert not Path(str(path) + "-journal").exists()
    assert doc_of(path) == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crashed.db"]


def test_a_live_writer_s_journal_is_no_unfinished_transaction(tmp_path: Path) -> None:
    path = _database(tmp_path / "busy.db")
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("PRAGMA cache_size = 1")
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE t SET doc = ? WHERE id = 1", (NEW,))
        assert Path(str(path) + "-journal").stat().st_size > 0
        # SQLite's own test: another process holds the RESERVED lock, so the journal is not hot.
        probe = subprocess.run([sys.executable, "-c", "import sys; "
                                "from storage.core.sqlite_recover import find_hot_journal as f; "
                                "print(f(sys.argv[1]))", str(path)],
                               capture_output=True, text=True, cwd=Path(__file__).parent.parent)
        assert probe.stdout.strip() == "None", probe.stderr
        assert find_hot_journal(str(path)) is None  # nor for a writer of this very process
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_the_lock_check_without_proc_locks_asks_fcntl(tmp_path: Path) -> None:
    from storage.core import sqlite_recover

    path = _database(tmp_path / "busy.db")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
         "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); sys.stdin.read()", str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert sqlite_recover._reserved_by_fcntl(str(path)) is (sys.platform.startswith("linux")
                                                                or sys.platform == "darwin")
    finally:
        holder.communicate("")
    assert sqlite_recover._reserved_by_fcntl(str(path)) is False


def test_a_forged_super_journal_elsewhere_is_never_deleted(tmp_path: Path) -> None:
    """A journal may name any file as its super-journal; SQLite's recovery deletes that file."""
    victim_folder = tmp_path / "home"
    victim_folder.mkdir()
    victim = victim_folder / "thesis.txt"
    victim.write_text("three years of work\n")
    path = killed_mid_edit(tmp_path / "inbox" / "received.db")
    forge_super_journal(path, victim)
    before = snapshot(path.parent, victim_folder)
    hot = find_hot_journal(str(path))
    assert hot is not None and hot.super_journal == str(victim) and hot.super_exists
    assert "not a name SQLite gives" in hot.refusal
    with pytest.raises(UnfinishedTransaction) as info:
        connect_reader(str(path))
    assert str(victim) in str(info.value)
    report = inspect_path(str(path))
    assert any(f["severity"] == "suspicious" and str(victim) in f["message"] for f in report["findings"])
    with pytest.raises(Exception, match="Roll back refused"):
        roll_back_hot_journal(str(path), BUSY_TIMEOUT_MS / 1000)
    assert snapshot(path.parent, victim_folder) == before
    # What the refusal prevents: SQLite's own recovery (any writable open) deletes the named file.
    bait = victim_folder / "bait.txt"
    bait.write_text("x")
    other = killed_mid_edit(tmp_path / "other" / "received.db")
    forge_super_journal(other, bait)
    sqlite3.connect(other).execute("SELECT count(*) FROM t").fetchone()
    assert not bait.exists() and victim.exists()


def test_a_super_journal_that_does_not_list_the_journal_is_not_deleted(tmp_path: Path) -> None:
    """Named like SQLite's own ("-mj" and hex), so it is only read when a roll back was chosen."""
    victim_folder = tmp_path / "other"
    victim_folder.mkdir()
    victim = victim_folder / "db.sqlite-mjABCDEF901"
    victim.write_bytes(b"/somewhere/else.db-journal\0")
    path = killed_mid_edit(tmp_path / "inbox" / "received.db")
    forge_super_journal(path, victim)
    before = snapshot(path.parent, victim_folder)
    hot = find_hot_journal(str(path))
    assert hot is not None and hot.super_exists and not hot.refusal  # not opened on a read-only open
    with pytest.raises(UnfinishedTransaction):
        connect_reader(str(path))
    with pytest.raises(Exception, match="does not list this database's journal"):
        roll_back_hot_journal(str(path), BUSY_TIMEOUT_MS / 1000)
    assert snapshot(path.parent, victim_folder) == before


def test_a_real_super_journal_of_attached_databases(qtbot, tmp_path: Path) -> None:
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed (it stops the program between the two journals' writes)")
    main, other = _database(tmp_path / "one" / "main.db"), _database(tmp_path / "two" / "other.db")
    done = subprocess.run(["strace", "-f", "-qq", "-o", os.devnull, "-e", "trace=unlink,unlinkat",
                           "-e", "inject=unlink,unlinkat:signal=KILL", sys.executable, "-c", ATTACHED,
                           str(main), str(other)], timeout=60, capture_output=True)
    supers = list(main.parent.glob("main.db-mj*"))
    if done.returncode != -9 or not supers:
        pytest.skip(f"strace could not stop the program ({done.stderr[-200:]!r})")
    before = snapshot(main.parent, other.parent)
    hot = find_hot_journal(str(other))
    assert hot is not None and hot.super_journal == str(supers[0]) and hot.super_exists and not hot.refusal
    for path in (main, other):
        with pytest.raises(UnfinishedTransaction, match="super-journal"):
            connect_reader(str(path))
        report = inspect_path(str(path))
        assert report["summary"]["unfinished_transaction"]["super_journal"] == str(supers[0])
        assert sniff(str(path)).format == "sqlite"
        document = _document(qtbot, path)  # the SQLite tab
        assert document.status_page.unfinished.isVisible() \
            and str(supers[0]) in document.status_page.unfinished.label.text()
        assert document.status_page.unfinished.roll_back_button.isEnabled()
        document.close_document()
    assert snapshot(main.parent, other.parent) == before
    roll_back_hot_journal(str(other), BUSY_TIMEOUT_MS / 1000)
    assert supers[0].exists()  # main.db's journal still needs it
    roll_back_hot_journal(str(main), BUSY_TIMEOUT_MS / 1000)
    assert not supers[0].exists()
    assert doc_of(main) == OLD and doc_of(other) == OLD
    left = sorted(p.name for p in (*main.parent.iterdir(), *other.parent.iterdir()))
    assert left == ["main.db", "other.db"]


def test_an_sqlite_shelf_with_a_hot_journal_reads_as_on_disk_and_refuses_to_save(tmp_path: Path) -> None:
    path = killed_mid_edit(tmp_path / "shelf", table="Dict", column="value")
    before = snapshot(tmp_path)
    shelf = open_shelf(str(path))
    assert len(shelf.raw_value("k")) == len(OLD)
    report = inspect_path(str(path))
    assert report["format"] == "shelve"
    shelf.set("k", b"\x80\x04K\x01.")
    with pytest.raises(WriteError, match="unfinished transaction"):
        shelf.save()
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("case", ["empty-with-wal", "rollback-with-stray-wal", "wal-with-wal"])
def test_wal_files_are_never_created_or_deleted(tmp_path: Path, case: str) -> None:
    path = tmp_path / "w.db"
    if case == "empty-with-wal":
        path.write_bytes(b"")
        Path(str(path) + "-wal").write_bytes(b"\x37\x7f\x06\x82" + b"\0" * 60)
    elif case == "rollback-with-stray-wal":
        _database(path)
        Path(str(path) + "-wal").write_bytes(b"junk" * 20)
    else:
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA journal_mode=wal")
        conn.execute("CREATE TABLE t(x)")
        conn.commit()
        keep = sqlite3.connect(path)
        keep.execute("INSERT INTO t VALUES (1)")
        keep.commit()
        for suffix in ("", "-wal"):  # a copy made while the program was running: -wal, no -shm
            shutil.copy(str(path) + suffix, str(tmp_path / "copy.db") + suffix)
        keep.close()
        conn.close()
        path.unlink()
        os.rename(tmp_path / "copy.db", path)
        os.rename(str(tmp_path / "copy.db") + "-wal", str(path) + "-wal")
    before = snapshot(tmp_path)
    from gui.sql.tasks import open_database

    inspect_path(str(path))
    sniff(str(path))
    opened = open_database(str(path), True)
    opened["reader"].close()
    opened["counter"].close()
    assert opened["immutable"]
    assert snapshot(tmp_path) == before


# -- the window ----------------------------------------------------------------------------------

def _document(qtbot, path: Path):
    from gui.sql.document import SqlDocument

    document = SqlDocument(str(path), "sqlite")
    qtbot.addWidget(document, before_close_func=lambda d: d.close_document())
    document.resize(900, 600)
    document.show()
    qtbot.waitUntil(lambda: document.is_loaded, timeout=10_000)
    return document


def _click_in_box(name: str, label: str) -> None:
    def click() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox) and box.objectName() == name:
            assert box.defaultButton().text() == "Cancel"  # rolling back is never the default
            (button,) = [b for b in box.buttons() if b.text() == label]
            button.click()
        else:
            QTimer.singleShot(20, click)

    QTimer.singleShot(0, click)


def test_sqlite_tab_says_unfinished_transaction_and_shows_it_as_on_disk(qtbot, tmp_path: Path) -> None:
    path = killed_mid_edit(tmp_path / "crashed.db")
    before = snapshot(tmp_path)
    document = _document(qtbot, path)
    panel = document.status_page.unfinished
    assert panel.isVisible() and "unfinished transaction" in panel.label.text()
    assert panel.roll_back_button.isEnabled() and document.stack.currentIndex() == 0
    assert snapshot(tmp_path) == before
    panel.on_disk_button.click()
    qtbot.waitUntil(lambda: document.is_loaded and document.stack.currentIndex() == 1, timeout=10_000)
    assert document.read_only and document.immutable and not document.read_only_box.isEnabled()
    assert "as it is on disk" in document.mode_label.text()
    assert [t.name for t in document.schema.tables] == ["t"]
    assert snapshot(tmp_path) == before
    document.close_document()
    assert snapshot(tmp_path) == before


def test_sqlite_tab_rolls_back_only_after_confirming(qtbot, tmp_path: Path) -> None:
    path = killed_mid_edit(tmp_path / "crashed.db")
    before = snapshot(tmp_path)
    document = _document(qtbot, path)
    _click_in_box("rollBackBox", "Cancel")
    document.status_page.unfinished.roll_back_button.click()
    assert snapshot(tmp_path) == before and document.status_page.unfinished.isVisible()
    _click_in_box("rollBackBox", "Roll Back")
    document.status_page.unfinished.roll_back_button.click()
    qtbot.waitUntil(lambda: document.stack.currentIndex() == 1, timeout=10_000)
    assert not document.immutable and not Path(str(path) + "-journal").exists()
    document.close_document()
    assert doc_of(path) == OLD


def test_sqlite_tab_says_why_a_roll_back_failed_and_keeps_both_choices(qtbot, tmp_path: Path,
                                                                        monkeypatch) -> None:
    from storage.core import sqlite_recover

    path = killed_mid_edit(tmp_path / "crashed.db")
    before = snapshot(tmp_path)
    document = _document(qtbot, path)
    monkeypatch.setattr(sqlite_recover.os, "access", lambda *_args: False)  # root may write anything
    _click_in_box("rollBackBox", "Roll Back")
    document.status_page.unfinished.roll_back_button.click()
    qtbot.waitUntil(lambda: "Could not roll back" in document.status_page.status.text(),
                    timeout=10_000)
    assert "write access" in document.status_page.status.text() \
        and document.status_page.unfinished.isVisible()
    assert snapshot(tmp_path) == before
    document.status_page.unfinished.on_disk_button.click()
    qtbot.waitUntil(lambda: document.stack.currentIndex() == 1, timeout=10_000)
    document.close_document()
    assert snapshot(tmp_path) == before


def test_sqlite_tab_offers_no_roll_back_for_a_forged_super_journal(qtbot, tmp_path: Path) -> None:
    victim = tmp_path / "home" / "notes.txt"
    victim.parent.mkdir()
    victim.write_text("mine\n")
    path = killed_mid_edit(tmp_path / "inbox" / "received.db")
    forge_super_journal(path, victim)
    before = snapshot(path.parent, victim.parent)
    document = _document(qtbot, path)
    assert document.status_page.unfinished.isVisible() \
        and not document.status_page.unfinished.roll_back_button.isEnabled()
    assert "Rolling back is not offered" in document.status_page.unfinished.label.text()
    assert str(victim) in document.status_page.unfinished.label.text()
    document.status_page.unfinished.on_disk_button.click()
    qtbot.waitUntil(lambda: document.stack.currentIndex() == 1, timeout=10_000)
    document.close_document()
    assert snapshot(path.parent, victim.parent) == before


def test_objects_tab_shows_an_sqlite_shelf_as_on_disk_and_says_so(qtbot, tmp_path: Path) -> None:
    from tests.support.gui_helpers import launch, wait_documents

    folder = tmp_path / "data"
    path = killed_mid_edit(folder / "cache", table="Dict", column="value")
    before = snapshot(folder)
    window = launch(qtbot, tmp_path / "settings", path)
    (document,) = wait_documents(qtbot, window, 1)
    assert "unfinished transaction" in document.shelf_panel.title.text()
    assert snapshot(folder) == before


@pytest.mark.parametrize("beside", ["-wal", "-journal"])
def test_sqlite_tab_opens_an_empty_file_with_a_wal_or_journal_read_only(qtbot, tmp_path: Path,
                                                                       beside: str) -> None:
    path = tmp_path / "new.db"
    path.write_bytes(b"")
    Path(str(path) + beside).write_bytes(b"\xd9\xd5\x05\xf9" + b"x" * 60)
    before = snapshot(tmp_path)
    document = _document(qtbot, path)
    assert document.read_only
    document.close_document()
    assert snapshot(tmp_path) == before


def test_files_tab_browser_and_window_open_touch_nothing(qtbot, tmp_path: Path) -> None:
    from gui.files.browser import FORMAT_COLUMN
    from tests.support.gui_helpers import launch, wait_documents

    folder = tmp_path / "data"
    path = killed_mid_edit(folder / "crashed.db")
    before = snapshot(folder)
    window = launch(qtbot, tmp_path / "settings")
    browser = window.page("files").browser
    browser.set_root(str(folder))
    model = browser.model

    def fmt() -> str:
        return model.data(model.index(str(path), FORMAT_COLUMN))

    fmt()
    qtbot.waitUntil(lambda: fmt() == "sqlite", timeout=10_000)
    browser.tree.activated.emit(model.index(str(path)))
    (document,) = wait_documents(qtbot, window, 1)
    assert document.status_page.unfinished.isVisible()
    assert snapshot(folder) == before


# -- permissions of Datashelf's own files --------------------------------------------------------

def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_settings_are_0600_in_a_0700_folder_and_looser_ones_are_fixed(tmp_path: Path) -> None:
    from storage.settings.store import Settings

    fresh = Settings(tmp_path / "fresh" / "Datashelf")
    fresh["sqlite.open_mode"] = "edit"
    assert fresh.save()
    assert _mode(fresh.folder) == 0o700 and _mode(fresh.path) == 0o600
    old = tmp_path / "old"
    old.mkdir(mode=0o755)
    os.chmod(old, 0o755)
    (old / "settings.json").write_text("{}")
    os.chmod(old / "settings.json", 0o644)
    settings = Settings(old)
    settings["sqlite.open_mode"] = "edit"
    assert settings.save()
    assert _mode(old) == 0o700 and _mode(old / "settings.json") == 0o600
    shared = tmp_path / "shared"  # --settings-dir pointing at a folder holding other things
    shared.mkdir()
    os.chmod(shared, 0o755)
    (shared / "notes.txt").write_text("not ours")
    settings = Settings(shared)
    settings["sqlite.open_mode"] = "edit"
    assert settings.save()
    assert _mode(shared) == 0o755 and _mode(shared / "settings.json") == 0o600
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "settings.json").write_text("{not json")
    os.chmod(broken / "settings.json", 0o644)
    Settings(broken)
    (aside,) = broken.glob("settings.json.*.bad")
    assert _mode(aside) == 0o600


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_journal_files_are_0600_in_0700_folders(tmp_path: Path) -> None:
    from storage.recovery.journal import Journal, JournalEntry, SessionLock

    base = tmp_path / "settings" / "journal"
    base.mkdir(parents=True)
    os.chmod(base, 0o755)  # an older Datashelf's folder
    journal = Journal(base / "session-1")
    user_file = tmp_path / "letter.txt"
    user_file.write_text("dear")
    entry = JournalEntry(str(user_file), "text", "text", "letter.txt", 0.0, None)
    assert journal.write(entry, b"dear diary, secret edits")
    assert _mode(base) == 0o700 and _mode(journal.folder) == 0o700
    assert {p.name: _mode(p) for p in journal.folder.iterdir()} == {
        f"{entry.id}.json": 0o600, f"{entry.id}.data": 0o600}
    recovered = Journal(base / "recovered")
    journal.move_to(entry, recovered)
    assert _mode(recovered.folder) == 0o700
    lock = SessionLock(base / "session-2" / "lock")
    assert lock.acquire()
    lock.release()
    assert _mode(base / "session-2") == 0o700 and _mode(base / "session-2" / "lock") == 0o600


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_a_save_keeps_a_user_file_s_mode(tmp_path: Path) -> None:
    from storage.core.atomic import atomic_write

    path = tmp_path / "shared.csv"
    path.write_text("a,b\n")
    os.chmod(path, 0o640)
    atomic_write(path, "a,b\n1,2\n", backup=True)
    assert _mode(path) == 0o640 and _mode(tmp_path / "shared.csv.bak") == 0o640
    atomic_write(path, "x", private=True)  # only Datashelf's own files ask for this
    assert _mode(path) == 0o600


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_clean_up_removes_only_this_app_s_dead_temporaries(tmp_path: Path) -> None:
    from storage.core.atomic import remove_stale_temporaries

    dead = _dead_pid()
    folder = tmp_path / "work"
    folder.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = elsewhere / "precious.txt"
    target.write_text("keep me")
    stale = folder / f".data.json.ds{dead}-k1ll3dab.tmp"  # a save killed midway
    stale.write_text("half")
    lookalikes = {
        f".data.json.ds{dead}-short.tmp": "text",  # not tempfile's 8-letter random part
        f".data.json.ds{dead}-ABCDEFGH.tmp": "text",  # tempfile never uses capitals
        f"data.json.ds{dead}-abcdefgh.tmp": "text",  # not hidden
        f".data.json.ds{dead}-abcdefgh.tmp.txt": "text",
        ".data.json.ds99999999999999999999-abcdefgh.tmp": "text",  # no such process id, ever
        ".data.json.ds0-abcdefgh.tmp": "text",
        f".data.json.ds{os.getpid()}-abcdefgh.tmp": "text",  # a save still running (here)
        f".link.ds{dead}-abcdefgh.tmp": "symlink",  # never followed, never removed
        f".dir.ds{dead}-abcdefgh.tmp": "folder",
    }
    for name, kind in lookalikes.items():
        if kind == "symlink":
            (folder / name).symlink_to(target)
        elif kind == "folder":
            (folder / name).mkdir()
        else:
            (folder / name).write_text("someone's")
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # only root can make another user's file
        foreign = folder / f".other.ds{dead}-abcdefgh.tmp"
        foreign.write_text("another user's")
        os.chown(foreign, 65534, 65534)
        lookalikes[foreign.name] = "foreign"
    assert remove_stale_temporaries(folder) == [stale.name]
    assert sorted(p.name for p in folder.iterdir()) == sorted(lookalikes)
    assert target.read_text() == "keep me"


# -- HDF5: data in other files --------------------------------------------------------------------

def make_h5_with_outside_data(root: Path) -> dict[str, Path]:
    """``in/main.h5`` whose datasets and links read files in ``other/`` (outside its folder) and
    one raw file beside it; ``cwd/raw.bin`` is what the library would read by default."""
    import h5py
    import numpy as np

    folders = {name: root / name for name in ("in", "other", "cwd")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    np.arange(10, dtype="<i4").tofile(folders["other"] / "raw.bin")
    np.full(10, 7, dtype="<i4").tofile(folders["in"] / "raw.bin")
    np.full(10, 9, dtype="<i4").tofile(folders["cwd"] / "raw.bin")
    with h5py.File(folders["other"] / "src.h5", "w") as f:
        f["x"] = np.arange(5.0) + 100
        f.create_group("g").attrs["a"] = 1
    with h5py.File(folders["in"] / "hop.h5", "w") as f:  # beside main.h5, linking further out
        f["far"] = h5py.ExternalLink("../other/src.h5", "/g")
        f["near"] = np.arange(2)
    main = folders["in"] / "main.h5"
    with h5py.File(main, "w") as f:
        f["hop"] = h5py.ExternalLink("hop.h5", "/")
        f.create_dataset("ext_abs", shape=(10,), dtype="<i4",
                         external=[(str(folders["other"] / "raw.bin"), 0, 40)])
        f.create_dataset("ext_rel", shape=(10,), dtype="<i4", external=[("raw.bin", 0, 40)])
        f["link_out"] = h5py.ExternalLink(str(folders["other"] / "src.h5"), "/x")
        f["link_group"] = h5py.ExternalLink("../other/src.h5", "/g")
        layout = h5py.VirtualLayout(shape=(5,), dtype="f8")
        layout[:] = h5py.VirtualSource(str(folders["other"] / "src.h5"), "x", shape=(5,))
        f.create_virtual_dataset("vds", layout)
        f["plain"] = np.arange(3)
    return {**folders, "main": main}


def test_hdf5_findings_name_other_files_and_reading_outside_asks(tmp_path: Path, monkeypatch) -> None:
    from storage.formats.hdf5.io import H5File
    from storage.formats.hdf5.outside import OutsideRefused

    files = make_h5_with_outside_data(tmp_path)
    monkeypatch.chdir(files["cwd"])  # the library's default would read cwd/raw.bin
    before = snapshot(files["in"], files["other"], files["cwd"])
    report = inspect_path(str(files["main"]))
    other = str(files["other"])
    suspicious = {f["message"].split(":")[0] for f in report["findings"]
                  if f["severity"] == "suspicious" and other in f["message"]}
    assert suspicious == {"/ext_abs", "/link_out", "/link_group", "/vds"}  # linked files' links: in the tab
    assert any(f["message"].startswith("/ext_rel: external storage " + str(files["in"] / "raw.bin"))
               for f in report["findings"])
    h5 = H5File(str(files["main"]))
    nodes = {n.name: n for n in h5.children("/")}
    assert nodes["link_out"].kind == "external"
    assert str(files["other"] / "src.h5") in nodes["link_out"].message
    assert nodes["ext_abs"].outside[0].target == str(files["other"] / "raw.bin")
    window = h5.read_window("/ext_rel", (0, None), (), (0, 3), (0, 1))
    assert window.cells == [["7"], ["7"], ["7"]]  # beside the file, not the current folder's
    for path in ("/ext_abs", "/vds", "/link_out"):
        with pytest.raises(OutsideRefused, match=re.escape(other)):
            h5.read_window(path, (0, None), (), (0, 3), (0, 1))
    with pytest.raises(OutsideRefused):
        h5.children("/link_group")
    hop = {n.name: n for n in h5.children("/hop")}  # a file beside it: followed
    assert hop["near"].kind == "dataset"
    assert hop["far"].kind == "external" and hop["far"].outside[0].target == str(files["other"] / "src.h5")
    with pytest.raises(OutsideRefused):  # its own link leads out of the folder: asked too
        h5.children("/hop/far")
    h5.allow_outside = True  # the user said yes
    assert h5.read_window("/ext_abs", (0, None), (), (0, 3), (0, 1)).cells == [["0"], ["1"], ["2"]]
    assert h5.read_window("/vds", (0, None), (), (0, 2), (0, 1)).cells == [["100.0"], ["101.0"]]
    assert h5.read_window("/link_out", (0, None), (), (0, 1), (0, 1)).cells == [["100.0"]]
    h5.close()
    assert snapshot(files["in"], files["other"], files["cwd"]) == before


def test_hdf5_a_missing_other_file_is_not_looked_for_elsewhere(tmp_path: Path, monkeypatch) -> None:
    """The library looks for a missing external file under its bare name in the current folder."""
    import h5py
    import numpy as np

    from storage.formats.hdf5.io import H5File

    (tmp_path / "in").mkdir()
    (tmp_path / "cwd").mkdir()
    with h5py.File(tmp_path / "cwd" / "gone.h5", "w") as f:
        f["x"] = np.arange(5.0) + 500
    missing = str(tmp_path / "in" / "sub" / "gone.h5")  # would be in the folder, but is not there
    with h5py.File(tmp_path / "in" / "main.h5", "w") as f:
        layout = h5py.VirtualLayout(shape=(5,), dtype="f8")
        layout[:] = h5py.VirtualSource(missing, "x", shape=(5,))
        f.create_virtual_dataset("vds", layout, fillvalue=-1)
        f["link"] = h5py.ExternalLink(missing, "/x")
    monkeypatch.chdir(tmp_path / "cwd")
    h5 = H5File(str(tmp_path / "in" / "main.h5"))
    h5.allow_outside = True
    for path in ("/vds", "/link"):
        with pytest.raises(Exception, match="does not exist"):
            h5.read_window(path, (0, None), (), (0, 2), (0, 1))
    h5.close()


def test_hdf5_edits_never_write_into_another_file(tmp_path: Path) -> None:
    from storage.core.errors import KnownError
    from storage.formats.hdf5.edit import create_group, make_writable, set_attribute, set_cell
    from storage.formats.hdf5.io import H5File

    files = make_h5_with_outside_data(tmp_path)
    victim = files["other"] / "notes.txt"
    victim.write_text("mine")
    Path(str(files["main"]) + ".bak").symlink_to(victim)  # a planted .bak: replaced, never written
    others = snapshot(files["other"])
    raw_beside = (files["in"] / "raw.bin").read_bytes()
    original = files["main"].read_bytes()
    h5 = H5File(str(files["main"]))
    h5.allow_outside = True
    make_writable(h5)
    bak = Path(str(files["main"]) + ".bak")
    assert not bak.is_symlink() and bak.read_bytes() == original
    for path in ("/ext_abs", "/ext_rel", "/vds"):
        with pytest.raises(WriteError, match="writes only into the opened file"):
            set_cell(h5, path, (0,), 5)
    with pytest.raises(WriteError, match=r"src\.h5"):
        set_attribute(h5, "/link_out", "note", "x")
    with pytest.raises(WriteError, match=r"src\.h5"):
        create_group(h5, "/link_group/new")
    with pytest.raises(KnownError, match="open for writing"):  # not even followed while writable
        h5.read_window("/link_out", (0, None), (), (0, 1), (0, 1))
    assert set_cell(h5, "/plain", (1,), 42) == 1  # the file's own data still edits
    h5.close()
    assert snapshot(files["other"]) == others
    assert (files["in"] / "raw.bin").read_bytes() == raw_beside
    assert sorted(p.name for p in files["in"].iterdir()) == ["hop.h5", "main.h5", "main.h5.bak", "raw.bin"]


def test_hdf5_tab_shows_a_bar_and_reads_outside_only_after_asked(qtbot, tmp_path: Path) -> None:
    from tests.support.hdf5_gui_helpers import cell, open_h5, select

    files = make_h5_with_outside_data(tmp_path)
    before = snapshot(files["other"])
    _window, document = open_h5(qtbot, tmp_path / "settings", files["main"])
    select(qtbot, document, "/ext_abs")
    bar = document.outside_bar
    assert bar.isVisible() and str(files["other"] / "raw.bin") in bar.label.text()
    model = document.table_model
    model.data(model.index(0, 0))
    qtbot.waitUntil(lambda: "outside this file's folder" in document.message.text())
    select(qtbot, document, "/plain")
    assert not bar.isVisible()
    select(qtbot, document, "/ext_abs")
    bar.allow_button.click()
    qtbot.waitUntil(lambda: document.h5 is not None and document.h5.allow_outside
                    and document.current_path == "/ext_abs" and document.table_model.rowCount() == 10,
                    timeout=10_000)
    assert cell(qtbot, document, 2, 0) == "2"
    assert not bar.isVisible()
    link = document.tree_model.node(document.tree_model.index_for_path("/link_out"))
    assert link.kind == "dataset" and str(files["other"] / "src.h5") in link.message  # followed now
    assert snapshot(files["other"]) == before


def test_hdf5_tab_names_an_external_link_it_does_not_follow(qtbot, tmp_path: Path) -> None:
    from tests.support.hdf5_gui_helpers import open_h5, select

    files = make_h5_with_outside_data(tmp_path)
    _window, document = open_h5(qtbot, tmp_path / "settings", files["main"])
    qtbot.waitUntil(lambda: document.tree_model.index_for_path("/link_group").isValid())
    select(qtbot, document, "/link_group")
    node = document.tree_model.node(document.tree_model.index_for_path("/link_group"))
    assert node.kind == "external" and not document.tree_model.hasChildren(
        document.tree_model.index_for_path("/link_group"))
    assert document.outside_bar.isVisible()
    assert str(files["other"] / "src.h5") in document.outside_bar.label.text()
    assert str(files["other"] / "src.h5") in document.info_text.toPlainText()


def test_a_read_only_wal_database_says_its_wal_changes_are_not_shown(qtbot, tmp_path: Path) -> None:
    """Reading the -wal would make SQLite create -shm beside the database: the file is read as it
    is, and the mode line says that the changes still in the -wal are left out (and how to see them)."""
    path = tmp_path / "w.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=wal")
    conn.execute("CREATE TABLE t(x)")
    conn.commit()
    keep = sqlite3.connect(path)
    keep.execute("PRAGMA wal_autocheckpoint=0")
    keep.execute("INSERT INTO t VALUES (1)")
    keep.commit()
    for suffix in ("", "-wal"):  # a copy made while the program was running: -wal, no -shm
        shutil.copy(str(path) + suffix, str(tmp_path / "copy.db") + suffix)
    keep.close()
    conn.close()
    folder = tmp_path / "sent"
    folder.mkdir()
    for suffix in ("", "-wal"):
        os.rename(str(tmp_path / "copy.db") + suffix, str(folder / "w.db") + suffix)
    before = snapshot(folder)
    document = _document(qtbot, folder / "w.db")
    if not document.read_only:
        document.read_only_box.setChecked(True)
    qtbot.waitUntil(lambda: "-wal file are not shown" in document.mode_label.text(), timeout=10_000)
    assert "turn off Read-only" in document.mode_label.text()
    document.close_document()
    assert snapshot(folder) == before
