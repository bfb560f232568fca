"""Shelves as raw bytes: any file opens them, nothing unpickled or changed by reading, edits read back."""

from __future__ import annotations

import dbm.dumb
import importlib.util
import os
import pickle
import shelve
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.core.errors import ParseError, UnreadableError, UnsupportedError, WriteError
from storage.formats.objects.shelf.io import decode_key, encode_key, open_shelf
from tests.support.audit_helpers import Canary, no_code_runs

VALUES = {"plain": [1, 2, 3], "é": {"nested": (1.5, None)}, "empty": ""}


def dumb_shelf(folder: Path, values: dict = VALUES, protocol: int | None = None) -> Path:
    base = folder / "store"
    with shelve.Shelf(dbm.dumb.open(str(base), "c"), protocol=protocol) as shelf:
        shelf.update(values)
    return base


def sqlite_shelf(folder: Path, rows: dict[bytes, bytes]) -> Path:
    """A shelf as Python 3.13's dbm.sqlite3 writes it."""
    path = folder / "shelf"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE Dict (key BLOB UNIQUE NOT NULL, value BLOB NOT NULL)")
    conn.executemany("INSERT INTO Dict (key, value) VALUES (CAST(? AS BLOB), CAST(? AS BLOB))", rows.items())
    conn.commit()
    conn.close()
    return path


def snapshot(*paths: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in paths if p.exists()}


def read_back(base: Path) -> dict:
    """What Python's own shelve makes of a dbm.dumb shelf (test-made, benign values)."""
    with shelve.Shelf(dbm.dumb.open(str(base), "r")) as shelf:
        return dict(shelf)


# -- dbm.dumb -----------------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["", ".dat", ".dir", ".bak"])
def test_dumb_shelf_from_any_file(tmp_path: Path, which: str) -> None:
    base = dumb_shelf(tmp_path, protocol=2)
    with shelve.Shelf(dbm.dumb.open(str(base), "w"), protocol=2) as shelf:
        shelf["later"] = 1  # a second session writes the .bak
    files = [base.with_name(base.name + ext) for ext in (".dat", ".dir", ".bak")]
    before = snapshot(*files)
    with no_code_runs():
        shelf = open_shelf(str(base) + which)
        assert shelf.backend == "dbm.dumb" and shelf.keys() == [*VALUES, "later"]
        assert shelf.raw_value("é") == pickle.dumps(VALUES["é"], protocol=2)
        assert {shelf.protocol_of(k) for k in shelf} == {2}
        shelf.close()
    assert snapshot(*files) == before  # reading changed neither bytes nor mtime


def test_protocol_of_each_value(tmp_path: Path) -> None:
    base = tmp_path / "p"
    for protocol in range(6):
        with shelve.Shelf(dbm.dumb.open(str(base), "c"), protocol=protocol) as shelf:
            shelf[f"p{protocol}"] = {"v": [protocol, "x"]}
    shelf = open_shelf(base)
    assert [shelf.protocol_of(f"p{p}") for p in range(6)] == list(range(6))
    shelf.set("junk", b"\xff\xfe not a pickle")
    assert shelf.protocol_of("junk") is None


def test_malicious_value_among_benign_ones(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    base = dumb_shelf(tmp_path, {**VALUES, "evil": Canary(canary)})
    with no_code_runs():
        shelf = open_shelf(base.with_suffix(".dir"))
        assert set(shelf.keys()) == {*VALUES, "evil"}
        assert shelf.raw_value("plain") == pickle.dumps(VALUES["plain"], protocol=pickle.DEFAULT_PROTOCOL)
        evil = shelf.raw_value("evil")
    assert b"exec" in evil and not canary.exists()


def test_garbage_or_truncated_index(tmp_path: Path) -> None:
    (tmp_path / "s.dat").write_bytes(b"\x80\x04K\x01." + b"\x00" * 10)
    (tmp_path / "s.dir").write_text("'a', (0, 5)\n'b', (oops\n")
    for name in ("s", "s.dat", "s.dir"):
        with pytest.raises(ParseError) as caught:
            open_shelf(tmp_path / name)
        assert caught.value.location.line == 2 and "line 2" in str(caught.value)
    base = dumb_shelf(tmp_path)
    index = base.with_suffix(".dir").read_bytes()
    base.with_suffix(".dir").write_bytes(index[: index.index(b"\n") + 6])  # cut inside line 2
    with pytest.raises(ParseError, match="line 2"):
        open_shelf(base)
    base.with_suffix(".dir").write_bytes(b"\x00\x01\x02 not an index\n")
    with pytest.raises(ParseError, match="line 1"):
        open_shelf(base.with_suffix(".dat"))


def test_value_beyond_the_data_file(tmp_path: Path) -> None:
    base = dumb_shelf(tmp_path)
    with open(base.with_suffix(".dir"), "a", encoding="latin-1") as handle:
        handle.write("'ghost', (99999, 10)\n")
    shelf = open_shelf(base)
    assert "ghost" in shelf and shelf.keys()[-1] == "ghost"
    with pytest.raises(ParseError, match="beyond the end"):
        shelf.raw_value("ghost")
    broken = dict(shelf.raw_items())[b"ghost"]
    assert isinstance(broken, ParseError)


def test_missing_index_or_not_a_shelf(tmp_path: Path) -> None:
    (tmp_path / "lone.dat").write_bytes(b"\x80\x04N.")
    with pytest.raises(UnreadableError, match=r"lone\.dir is missing"):
        open_shelf(tmp_path / "lone.dat")
    (tmp_path / "notes.txt").write_text("hello\n")
    with pytest.raises(ParseError, match="not a shelf"):
        open_shelf(tmp_path / "notes.txt")
    with pytest.raises(UnreadableError):
        open_shelf(tmp_path / "absent")


def test_dumb_edits_saved_and_read_by_shelve(tmp_path: Path) -> None:
    base = dumb_shelf(tmp_path)
    old_dat, old_dir = base.with_suffix(".dat").read_bytes(), base.with_suffix(".dir").read_bytes()
    shelf = open_shelf(base)
    shelf.set("new", pickle.dumps({"n": 1}, protocol=2))
    shelf.set("plain", pickle.dumps([9], protocol=0))
    shelf.delete("empty")
    shelf.rename("é", "renamed")
    assert shelf.modified and shelf.keys() == ["plain", "renamed", "new"]
    assert shelf.raw_value("new") == pickle.dumps({"n": 1}, protocol=2)  # pending edits are visible
    with pytest.raises(ValueError, match="already has"):
        shelf.rename("plain", "new")
    with pytest.raises(KeyError):
        shelf.delete("empty")
    shelf.save()
    assert not shelf.modified
    assert read_back(base) == {"plain": [9], "renamed": VALUES["é"], "new": {"n": 1}}
    assert open_shelf(base).protocol_of("plain") == 0
    # Crash safety: the new .dat extends the old one, so the old index still reads it.
    assert base.with_suffix(".dat").read_bytes().startswith(old_dat)
    assert base.with_suffix(".bak").read_bytes() == old_dir
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    shutil.copy(base.with_suffix(".dat"), crashed / "store.dat")
    (crashed / "store.dir").write_bytes(old_dir)
    assert read_back(crashed / "store") == VALUES
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_raw_keys_survive_round_trip(tmp_path: Path) -> None:
    base = tmp_path / "raw"
    with dbm.dumb.open(str(base), "c") as db:
        db[b"\xff\xfe"] = pickle.dumps(1)
    shelf = open_shelf(base)
    (key,) = shelf.keys()
    assert encode_key(key) == b"\xff\xfe" and decode_key(b"\xff\xfe") == key
    shelf.set(key, pickle.dumps(2))
    shelf.save()
    with dbm.dumb.open(str(base), "r") as db:
        assert pickle.loads(db[b"\xff\xfe"]) == 2


# -- SQLite (Python 3.13's dbm.sqlite3) ---------------------------------------------------------

def test_sqlite_shelf_read_only(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    rows = {b"ok": pickle.dumps([1], protocol=5), b"evil": pickle.dumps(Canary(canary)),
            "ключ".encode(): pickle.dumps("v", protocol=1)}
    path = sqlite_shelf(tmp_path, rows)
    before = snapshot(path)
    with no_code_runs():
        shelf = open_shelf(path)
        assert shelf.backend == "dbm.sqlite3" and sorted(shelf.keys()) == ["evil", "ok", "ключ"]
        assert shelf.raw_value("ok") == pickle.dumps([1], protocol=5)
        assert (shelf.protocol_of("ok"), shelf.protocol_of("ключ")) == (5, 1)
        assert b"exec" in shelf.raw_value("evil")
        shelf.close()
    assert snapshot(path) == before and sorted(os.listdir(tmp_path)) == ["shelf"]


def test_sqlite_shelf_by_base_name(tmp_path: Path) -> None:
    path = sqlite_shelf(tmp_path, {b"a": pickle.dumps(1)})
    path.rename(tmp_path / "named.db")
    assert open_shelf(tmp_path / "named").keys() == ["a"]
    assert open_shelf(tmp_path / "named.db").backend == "dbm.sqlite3"


def test_sqlite_wal_shelf_leaves_no_files(tmp_path: Path) -> None:
    path = sqlite_shelf(tmp_path, {b"a": pickle.dumps(1)})
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = wal")
    conn.close()
    before = snapshot(path)
    assert open_shelf(path).raw_value("a") == pickle.dumps(1)
    assert snapshot(path) == before and sorted(os.listdir(tmp_path)) == ["shelf"]


def test_sqlite_edits_in_one_transaction(tmp_path: Path) -> None:
    path = sqlite_shelf(tmp_path, {b"a": pickle.dumps(1), b"b": pickle.dumps(2), b"c": pickle.dumps(3)})
    shelf = open_shelf(path)
    shelf.set("a", pickle.dumps(10, protocol=2))
    shelf.set("new", pickle.dumps("n"))
    shelf.delete("b")
    shelf.rename("c", "see")
    shelf.save()
    conn = sqlite3.connect(path)
    rows = {k: pickle.loads(v) for k, v in conn.execute("SELECT key, value FROM Dict")}  # benign test data
    types = {t for (t,) in conn.execute("SELECT DISTINCT typeof(key) || typeof(value) FROM Dict")}
    conn.close()
    assert rows == {b"a": 10, b"new": "n", b"see": 3} and types == {"blobblob"}

    conn = sqlite3.connect(path)  # a trigger makes the second change fail: nothing may be kept
    conn.execute("CREATE TRIGGER no_bad BEFORE INSERT ON Dict WHEN NEW.key = CAST('bad' AS BLOB) "
                  "BEGIN SELECT RAISE(ABORT, 'refused by trigger'); END")
    conn.commit()
    conn.close()
    before = snapshot(path)
    shelf = open_shelf(path)
    shelf.set("a", pickle.dumps(99))
    shelf.set("bad", pickle.dumps(0))
    with pytest.raises(WriteError, match="refused by trigger"):
        shelf.save()
    assert snapshot(path)[path.name][0] == before[path.name][0]


# -- C dbm backends -----------------------------------------------------------------------------

def test_gnu_ndbm_bsddb_say_what_is_needed(tmp_path: Path) -> None:
    if importlib.util.find_spec("_gdbm") or importlib.util.find_spec("_dbm"):
        pytest.skip("this Python has a C dbm module; the unsupported path cannot be shown")
    (tmp_path / "g").write_bytes((0x13579ACE).to_bytes(4, "little") + b"\x00" * 60)
    with pytest.raises(UnsupportedError, match=r"dbm\.gnu.*gdbm"):
        open_shelf(tmp_path / "g")
    (tmp_path / "n.pag").write_bytes(b"\x00" * 64)
    (tmp_path / "n.dir").write_bytes(b"\x00" * 64)
    for name in ("n", "n.pag", "n.dir"):
        with pytest.raises(UnsupportedError, match=r"dbm\.ndbm.*_dbm"):
            open_shelf(tmp_path / name)
    (tmp_path / "b.db").write_bytes(b"\x00" * 12 + (0x00061561).to_bytes(4, "little") + b"\x00" * 48)
    for name in ("b", "b.db"):
        with pytest.raises(UnsupportedError, match="Berkeley DB") as caught:
            open_shelf(tmp_path / name)
        assert "berkeleydb" in str(caught.value)


def test_inspect_reports_backend_keys_protocols(tmp_path: Path) -> None:
    from storage.inspect.report import inspect_path

    base = dumb_shelf(tmp_path, protocol=3)
    summary = inspect_path(base.with_suffix(".bak") if base.with_suffix(".bak").exists() else base)["summary"]
    assert summary["backend"] == "dbm.dumb" and summary["keys"] == list(VALUES)
    assert summary["protocols"] == dict.fromkeys(VALUES, 3)
    path = sqlite_shelf(tmp_path, {b"k": pickle.dumps(1, protocol=0)})
    summary = inspect_path(path)["summary"]
    assert (summary["backend"], summary["keys"], summary["protocols"]) == ("dbm.sqlite3", ["k"], {"k": 0})


# -- edits against a model ----------------------------------------------------------------------

_KEYS = st.sampled_from(["a", "b", "é", "key with space", "k\u00ff", "z"])
_EDITS = st.lists(st.one_of(
    st.tuples(st.just("set"), _KEYS, st.integers(-5, 5), st.integers(0, 5)),
    st.tuples(st.just("delete"), _KEYS),
    st.tuples(st.just("rename"), _KEYS, _KEYS),
    st.tuples(st.just("save"))), max_size=25)


@settings(max_examples=40, deadline=None)
@given(edits=_EDITS, backend=st.sampled_from(["dbm.dumb", "dbm.sqlite3"]))
def test_edits_match_a_dict_model(edits: list[tuple], backend: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        start = {"a": 1, "b": [2]}
        if backend == "dbm.dumb":
            path = dumb_shelf(Path(folder), start)
        else:
            path = sqlite_shelf(Path(folder), {k.encode(): pickle.dumps(v) for k, v in start.items()})
        model = dict(start)
        shelf = open_shelf(path)
        for edit in edits:
            if edit[0] == "set":
                _, key, value, protocol = edit
                shelf.set(key, pickle.dumps(value, protocol=protocol))
                model[key] = value
            elif edit[0] == "delete" and edit[1] in model:
                shelf.delete(edit[1])
                del model[edit[1]]
            elif edit[0] == "rename" and edit[1] in model and edit[2] not in model:
                shelf.rename(edit[1], edit[2])
                model[edit[2]] = model.pop(edit[1])
            elif edit[0] == "save":
                shelf.save()
            assert sorted(shelf.keys()) == sorted(model)
        shelf.save()
        if backend == "dbm.dumb":
            assert read_back(path) == model
        else:
            conn = sqlite3.connect(path)
            stored = {k.decode(): pickle.loads(v) for k, v in conn.execute("SELECT key, value FROM Dict")}
            conn.close()
            assert stored == model
        again = open_shelf(path)
        assert {k: pickle.loads(again.raw_value(k)) for k in again} == model
