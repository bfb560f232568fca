"""Every file storage/ and gui/ write goes through storage/core/atomic.py (issue 9, save safety).

The syntax tree of each module is scanned (``tests/support/write_scan.py``) for anything that may create,
write, copy over or rename a file. Each hit must be listed below with the reason it is safe; a new
bare ``open(path, "w")``, ``Path.write_text``, ``np.save(path)``, ``shutil.copy`` … fails the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.write_scan import scan_source

ROOT = Path(__file__).resolve().parents[1]

_SCRATCH = "a scratch file in the private temporary folder of a trusted load, never a user's file"
_READ_ONLY = "a read-only connection (mode=ro URI, and query_only where it matters); writes nothing"

# (file, enclosing function, kind) -> why this write is not a user save that needs atomic.py.
ALLOWED: dict[tuple[str, str, str], str] = {
    ("storage/core/atomic.py", "atomic_path", "tempfile"): "the atomic writer's own temporary file",
    ("storage/core/atomic.py", "atomic_writer", "open-write"): "the atomic writer opens its temporary file",
    ("storage/core/atomic.py", "_backup", "tempfile"): "the temporary copy that becomes NAME.bak",
    ("storage/core/atomic.py", "_backup", "copy"): "the optional NAME.bak copy of the previous version",
    ("storage/core/atomic.py", "_backup", "rename"): "the finished NAME.bak copy replaces the previous one",
    ("storage/core/atomic.py", "atomic_path", "rename"): "the atomic os.replace of the finished file",
    ("storage/core/atomic.py", "atomic_writer", "os-write-flag"):
        "the atomic writer opens its temporary file (made by atomic_path) for writing",
    ("storage/recovery/journal.py", "Journal.move_to", "rename"):
        "moves a crashed session's journal entries (written atomically) into the recovered folder",
    ("gui/app/single_instance_client.py", "take_startup_lock", "os-write-flag"):
        "an empty lock file beside the instance socket; the OS lock on it orders launches at one instant",
    ("storage/recovery/journal.py", "SessionLock.acquire", "os-write-flag"):
        "an empty lock file in the journal folder; the OS lock on it marks a live session",
    ("storage/formats/hdf5/io.py", "H5File._open", "h5py-write"):
        "HDF5 in-place edits (mode r+) only after make_writable copied the file to .bak",
    ("storage/formats/table/source.py", "TableSource._collect", "tempfile"):
        "a private mkstemp spool of a compressed Arrow file's unpacked batches, deleted on close; the "
        "user's file is only read",
    ("storage/formats/hdf5/edit.py", "Scratch._file", "h5py-write"):
        "the undo scratch file in a private mkdtemp folder, never a user's file",
    ("storage/formats/objects/joblib_io.py", "save_joblib_stream.write", "archive-write"):
        "GzipFile(fileobj=handle): compresses into the atomic writer's handle",
    ("storage/formats/objects/joblib_io.py", "save_zip_member.write", "archive-write"):
        "ZipFile(handle, 'w') on the atomic writer's handle (a pandas .pkl.zip)",
    ("storage/formats/objects/joblib_io.py", "save_zip_member.write", "open-write"):
        "the one member inside that ZipFile, written into the atomic writer's handle",
    ("storage/formats/newfile.py", "empty_sqlite", "sqlite-connect"):
        "builds an empty database in a private TemporaryDirectory; its bytes are saved with atomic_write",
    ("storage/settings/store.py", "Settings._set_aside", "rename"):
        "moves a corrupt settings file aside (one atomic rename, nothing rewritten)",
    ("storage/formats/objects/shelf/sqlite.py", "SqliteStore._connect", "sqlite-connect"): _READ_ONLY,
    ("storage/formats/objects/shelf/sqlite.py", "SqliteStore.commit", "sqlite-connect"):
        "SQLite shelf save: one BEGIN IMMEDIATE transaction, with a busy timeout (SQLite's own atomicity)",
    ("storage/sniff/shelf.py", "is_sqlite_shelf", "sqlite-connect"): _READ_ONLY,
    ("storage/formats/sql/sqlite_db.py", "_open_reader", "sqlite-connect"): _READ_ONLY,
    ("storage/core/sqlite_recover.py", "roll_back_hot_journal", "sqlite-connect"):
        "rolls back a killed program's unfinished transaction: SQLite's own recovery to the last commit",
    ("storage/formats/sql/sqlite_db.py", "connect_writer", "sqlite-connect"):
        "SQLite edits: one short transaction each, with a busy timeout (SQLite's own atomicity)",
    ("storage/inspect/summaries_db.py", "connect_readonly", "sqlite-connect"): _READ_ONLY,
    ("storage/formats/table/query.py", "_sqlite_reader", "sqlite-connect"): _READ_ONLY,
    ("storage/core/convert.py", "sqlite_tables", "sqlite-connect"): _READ_ONLY,
    ("storage/core/convert.py", "_write_sqlite", "sqlite-connect"):
        "Convert to SQLite: a new file is built at atomic_path's temporary path; an existing one gets "
        "its table in one BEGIN IMMEDIATE transaction (SQLite's own atomicity)",
    ("storage/formats/sql/table_edit.py", "simulate", "sqlite-connect"):
        "an in-memory ':memory:' database (schema only, no file) to see what native renames produce",
    ("storage/formats/sql/url.py", "create_engine", "sqlalchemy-engine"):
        "a database server's engine (no file): each edit is one server transaction",
    ("storage/formats/objects/trusted/load.py", "_run", "open-write"):
        _SCRATCH + " (the child's stdout/stderr)",
    ("storage/formats/objects/trusted/_child.py", "_report", "open-write"):
        _SCRATCH + " (error.json)",
    ("storage/formats/objects/trusted/_child.py", "main", "open-write"):
        _SCRATCH + " (result.pickle.part)",
    ("storage/formats/objects/trusted/_child.py", "main", "rename"):
        _SCRATCH + " (result.pickle.part -> result.pickle)",
    ("storage/formats/table/source.py", "TableSource._transcode", "tempfile"):
        "a private (0600, mkstemp) UTF-8 copy of a CSV in another encoding for DuckDB to read; "
        "deleted on close, never a user's file",
    ("storage/formats/table/source.py", "TableSource._transcode", "open-write"):
        "writes that private mkstemp copy (the user's file is only read)",
    ("storage/formats/objects/trusted/_convert.py", "Converter._numpy", "numpy-save"):
        "np.save into an in-memory io.BytesIO",
}


def _modules() -> list[Path]:
    files = sorted([*(ROOT / "storage").rglob("*.py"), *(ROOT / "gui").rglob("*.py")])
    assert len(files) > 50  # the scan really looked at the packages
    return files


def _all_writes() -> list:
    found = []
    for path in _modules():
        found += scan_source(path.read_text(encoding="utf-8"), path.relative_to(ROOT).as_posix())
    return found


def test_storage_and_gui_write_only_through_atomic() -> None:
    bare = [w for w in _all_writes() if w.key not in ALLOWED]
    assert not bare, "files written outside storage/core/atomic.py (route them through atomic_write, " \
        "atomic_writer or atomic_write_with, or allowlist with a reason):\n" + "\n".join(
            f"  {w.path}:{w.line} in {w.where}: {w.kind}" for w in bare)


def test_allowlist_has_no_stale_entries() -> None:
    """An entry whose write is gone is removed, so the list stays a true picture of the code."""
    seen = {w.key for w in _all_writes()}
    stale = [key for key in ALLOWED if key not in seen]
    assert not stale, f"allowlist entries that match nothing any more: {stale}"


def test_every_allowlist_entry_has_a_reason() -> None:
    assert all(len(reason) > 20 for reason in ALLOWED.values())


# The check can fail: each snippet writes a file without the atomic writer.
BARE_WRITES = {
    "open w": ('def save(p):\n    with open(p, "w") as f:\n        f.write("x")\n', "open-write"),
    "open ab": ('def save(p):\n    open(p, mode="ab").write(b"x")\n', "open-write"),
    "open r+": ('def save(p):\n    open(p, "r+b")\n', "open-write"),
    "open mode variable": ("def save(p, m):\n    open(p, m)\n", "open-write"),
    "io.open": ('import io\ndef save(p):\n    io.open(p, "x")\n', "open-write"),
    "Path.open": ('from pathlib import Path\ndef save(p):\n    Path(p).open("w")\n', "open-write"),
    "write_text": ('def save(p):\n    p.write_text("x")\n', "write-text-bytes"),
    "write_bytes": ('def save(p):\n    p.write_bytes(b"x")\n', "write-text-bytes"),
    "os.open O_WRONLY": ("import os\ndef save(p):\n    os.open(p, os.O_WRONLY | os.O_CREAT)\n",
                         "os-write-flag"),
    "os flags imported": ("def save(p):\n    from os import O_RDWR\n    return O_RDWR\n", "os-write-flag"),
    "shutil.copy": ("import shutil\ndef save(a, b):\n    shutil.copy(a, b)\n", "copy"),
    "copy2 imported": ("from shutil import copy2\ndef save(a, b):\n    copy2(a, b)\n", "copy"),
    "os.rename": ("import os\ndef save(a, b):\n    os.rename(a, b)\n", "rename"),
    "np.save": ("import numpy as np\ndef save(p, a):\n    np.save(p, a)\n", "numpy-save"),
    "np.savez": ("import numpy\ndef save(p, a):\n    numpy.savez(p, a=a)\n", "numpy-save"),
    "tofile": ("def save(p, a):\n    a.tofile(p)\n", "numpy-save"),
    "memmap r+": ("import numpy as np\ndef save(p):\n    np.memmap(p)\n", "numpy-memmap"),
    "h5py w": ('import h5py\ndef save(p):\n    h5py.File(p, "w")\n', "h5py-write"),
    "h5py a": ('import h5py\ndef save(p):\n    h5py.File(p, mode="a")\n', "h5py-write"),
    "joblib.dump": ("import joblib\ndef save(v, p):\n    joblib.dump(v, p)\n", "joblib-dump"),
    "shelve.open": ("import shelve\ndef save(p):\n    shelve.open(p)\n", "shelf-open"),
    "zip w": ('import zipfile\ndef save(p):\n    zipfile.ZipFile(p, "w")\n', "archive-write"),
    "sqlite3": ("import sqlite3\ndef save(p):\n    sqlite3.connect(p)\n", "sqlite-connect"),
    "truncate": ("import os\ndef save(p):\n    os.truncate(p, 0)\n", "truncate"),
}


@pytest.mark.parametrize("name", sorted(BARE_WRITES))
def test_the_scan_catches_a_bare_write(name: str) -> None:
    source, kind = BARE_WRITES[name]
    found = scan_source(source, "storage/bad.py")
    assert {(w.where, w.kind) for w in found} == {("save", kind)}
    assert all(w.key not in ALLOWED for w in found)  # so the main test would fail on it


def test_an_unlisted_write_in_an_allowed_file_still_fails() -> None:
    """Allowing atomic.py's own temporary file does not allow a new write elsewhere in atomic.py."""
    found = scan_source('def helper(p):\n    open(p, "w")\n', "storage/core/atomic.py")
    assert found and all(w.key not in ALLOWED for w in found)


READS = [
    'def load(p):\n    with open(p, "rb") as f:\n        return f.read()\n',
    "def load(p):\n    return open(p).read()\n",
    "import os\ndef load(p):\n    return os.open(p, os.O_RDONLY)\n",
    'import h5py\ndef load(p):\n    return h5py.File(p, "r")\n',
    'import numpy as np\ndef load(p):\n    return np.memmap(p, mode="r")\n',
    'import shelve\ndef load(p):\n    return shelve.open(p, flag="r")\n',
    "import zipfile\ndef load(p):\n    return zipfile.ZipFile(p)\n",
    "def load(z, info):\n    return z.open(info)\n",
    "import shutil\ndef load(a, b):\n    shutil.copyfileobj(a, b)\n",
]


@pytest.mark.parametrize("source", READS)
def test_reads_are_not_flagged(source: str) -> None:
    assert scan_source(source) == []
