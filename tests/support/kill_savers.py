"""The documents and savers ``test_kill_during_save`` kills, and the checks it runs afterwards.

Each format has two versions of one document ("old" and "new", about 1-2 MB each, different in
every byte range), a ``save(folder, version)`` that writes a version through the real storage
saver, and a ``check(folder)`` that says which version is on disk, or raises AssertionError
when the file is a mix, empty, truncated or unreadable.

``serve(fmt, folder)`` is the child side (run with ``python -c``): it sets the document up,
prints ``ready SECONDS`` (one save's duration), then for each ``go VERSION`` line forks a
process that saves alternately VERSION, the other, VERSION, … until the parent kills it with
SIGKILL, prints ``pid N``, reaps it and prints ``dead STATUS``. Forking from a process that has
already imported the savers makes each kill cost milliseconds instead of a fresh interpreter.
"""

from __future__ import annotations

import os
import pickle
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

VERSIONS = ("old", "new")
TEXT_LINES = 120_000  # ~2 MB of text / JSON
BLOB_SIZE = 1_000_000  # pickle, shelf and SQLite values


def other(version: str) -> str:
    return "new" if version == "old" else "old"


def text_of(version: str) -> str:
    big = version.upper()
    return "".join(f"{version} line {i:07d} of the {big} version\n" for i in range(TEXT_LINES // 2))


def value_of(version: str) -> dict[str, Any]:
    """A pickled/shelved document; the payload differs from the other version in every chunk."""
    chunk = (version.upper() + "-").encode() * 8
    return {"version": version, "payload": chunk * (BLOB_SIZE // len(chunk)), "note": "kept as is"}


def json_of(version: str) -> dict[str, Any]:
    return {"version": version, "rows": [f"{version}-{i:06d}" for i in range(TEXT_LINES // 2)]}


def blob_of(version: str) -> bytes:
    return (version.upper() + ".").encode() * (BLOB_SIZE // 4)


# -- savers (run in the killed process) ------------------------------------------------------------

class _Saver:
    """Holds what each save needs, built once before forking."""

    def __init__(self, fmt: str, folder: Path) -> None:
        self.fmt, self.folder = fmt, folder
        getattr(self, f"_setup_{fmt}")()

    def _setup_text(self) -> None:
        from storage.formats.text.file import load_text

        self.path = self.folder / "doc.txt"
        self.path.write_text("seed\n", encoding="utf-8")  # the saver reuses the file's encoding/endings
        self.content = load_text(str(self.path))
        self.texts = {v: text_of(v) for v in VERSIONS}

    def _setup_json(self) -> None:
        from storage.formats.json.doc import JsonDoc

        self.path = self.folder / "doc.json"
        self.docs = {v: JsonDoc(json_of(v)) for v in VERSIONS}

    def _setup_pickle(self) -> None:
        from storage.formats.objects.file import open_objects

        self.path = self.folder / "doc.pkl"
        self.results = {}
        for v in VERSIONS:
            seed = self.folder / f"seed-{v}.pkl"
            seed.write_bytes(pickle.dumps(value_of(v), protocol=4))
            self.results[v] = open_objects(str(seed), "pickle")

    def _setup_shelf(self) -> None:
        self.path = self.folder / "doc"  # dbm.dumb: doc.dat, doc.dir (and doc.bak)
        reset_shelf(self.path, "old")
        self.raw = {v: pickle.dumps(value_of(v), protocol=4) for v in VERSIONS}

    def _setup_sqlite(self) -> None:
        self.path = self.folder / "doc.db"
        with sqlite3.connect(self.path) as conn:
            conn.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, doc BLOB)")
            conn.execute("CREATE TABLE other(x)")
            conn.executemany("INSERT INTO other VALUES (?)", [(i,) for i in range(1000)])
            conn.execute("INSERT INTO t VALUES (1, ?)", (blob_of("old"),))
        conn.close()

    def save(self, version: str) -> None:
        if self.fmt == "text":
            from storage.formats.text.file import save_text

            save_text(str(self.path), self.texts[version], self.content)
        elif self.fmt == "json":
            self.docs[version].save(str(self.path))
        elif self.fmt == "pickle":
            from storage.formats.objects.file import save_objects

            save_objects(self.results[version], str(self.path))
        elif self.fmt == "shelf":
            from storage.formats.objects.shelf.io import open_shelf

            shelf = open_shelf(str(self.path))
            shelf.set("doc", self.raw[version])
            shelf.save()
        else:
            from storage.formats.sql.edit import update_cell

            update_cell(str(self.path), "t", {"id": 1}, "doc", blob_of(version))


def reset_shelf(base: Path, version: str) -> None:
    """A fresh dbm.dumb shelf holding ``version`` (written by the standard library)."""
    import dbm.dumb
    import shelve

    for ext in (".dat", ".dir", ".bak"):
        Path(str(base) + ext).unlink(missing_ok=True)
    with shelve.Shelf(dbm.dumb.open(str(base), "c"), protocol=4) as db:
        db["doc"] = value_of(version)
        db["other"] = {"untouched": list(range(100))}


def serve(fmt: str, folder: str) -> None:
    """The child process: set up, then fork one saver per ``go`` line (see the module docstring)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    saver = _Saver(fmt, Path(folder))
    saver.save("new")  # warm up: lazy imports and caches are then shared by every forked saver
    saver.save("old")
    durations = []
    for version in ("new", "old", "new", "old"):  # end on "old": every trial starts from it
        started = time.perf_counter()
        saver.save(version)
        durations.append(time.perf_counter() - started)
    print("ready", sorted(durations)[len(durations) // 2], flush=True)
    for line in sys.stdin:
        if not line.strip():
            break
        command, version = line.split()
        assert command == "go"
        pid = os.fork()
        if pid == 0:
            try:
                while True:
                    saver.save(version)
                    version = other(version)
            except BaseException as exc:
                print(f"saver failed: {exc!r}", file=sys.stderr, flush=True)
                os._exit(1)
        print("pid", pid, flush=True)
        _, status = os.waitpid(pid, 0)
        print("dead", status, flush=True)


# -- checks (run in the test) --------------------------------------------------------------------

def expected_bytes(fmt: str, folder: Path) -> dict[bytes, str]:
    """For single-file formats: the exact bytes of each version, as the saver writes them."""
    if fmt == "text":
        return {text_of(v).encode("utf-8"): v for v in VERSIONS}
    if fmt == "json":
        from storage.formats.json.io import JsonFormat, dumps, encode

        return {encode(dumps(json_of(v), JsonFormat()), JsonFormat()): v for v in VERSIONS}
    if fmt == "pickle":
        from storage.formats.objects.file import open_objects

        found = {}
        for v in VERSIONS:
            result = open_objects(str(folder / f"seed-{v}.pkl"), "pickle")
            assert result.doc is not None
            found[result.doc.dumps()] = v
        return found
    return {}


def check(fmt: str, folder: Path, expected: dict[bytes, str]) -> str:
    """Which version is on disk; AssertionError (saying what is wrong) for anything else."""
    if fmt in ("text", "json", "pickle"):
        name = {"text": "doc.txt", "json": "doc.json", "pickle": "doc.pkl"}[fmt]
        data = (folder / name).read_bytes()
        assert data in expected, (f"{name} is neither version: {len(data):,} bytes, "
                                  f"starts {data[:40]!r}, ends {data[-40:]!r}")
        return expected[data]
    if fmt == "shelf":
        return _check_shelf(folder / "doc")
    return _check_sqlite(folder / "doc.db")


def _check_shelf(base: Path) -> str:
    import dbm.dumb
    import shelve

    from storage.formats.objects.shelf.io import open_shelf

    with shelve.Shelf(dbm.dumb.open(str(base), "r")) as db:
        assert sorted(db.keys()) == ["doc", "other"], f"shelf keys {sorted(db.keys())}"
        value = db["doc"]
        assert db["other"] == {"untouched": list(range(100))}, "the untouched key changed"
    version = value.get("version") if isinstance(value, dict) else None
    assert version in VERSIONS and value == value_of(version), "the shelf's value is a mix"
    assert pickle.loads(open_shelf(str(base)).raw_value("doc")) == value  # Datashelf reads the same
    return version


def _check_sqlite(path: Path) -> str:
    from storage.core.sqlite_recover import BUSY_TIMEOUT_MS, UnfinishedTransaction, roll_back_hot_journal
    from storage.formats.sql.sqlite_db import connect_reader

    try:
        reader = connect_reader(str(path))  # how Datashelf opens it next: read-only, a consistent view
    except UnfinishedTransaction:  # killed mid-transaction: the user chooses Roll Back
        roll_back_hot_journal(str(path), BUSY_TIMEOUT_MS / 1000)
        reader = connect_reader(str(path))
    try:
        seen = reader.execute("SELECT doc FROM t").fetchall()
    finally:
        reader.close()
    assert len(seen) == 1 and seen[0][0] in (blob_of("old"), blob_of("new")), "read-only view is a mix"
    conn = sqlite3.connect(path)  # a writable connection rolls back a hot journal, as SQLite should
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        rows = conn.execute("SELECT doc FROM t").fetchall()
        assert conn.execute("SELECT count(*) FROM other").fetchone() == (1000,)
    finally:
        conn.close()
    assert len(rows) == 1, f"table t has {len(rows)} rows"
    for version in VERSIONS:
        if rows[0][0] == blob_of(version):
            return version
    raise AssertionError(f"the row is neither version: {len(rows[0][0] or b''):,} bytes")
