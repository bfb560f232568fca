"""The headless inspect report: exact schema, exit codes, per-format summaries, nothing ever runs."""

from __future__ import annotations

import dataclasses
import dbm.dumb
import io
import json
import os
import pickle
import shelve
import sqlite3
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.formats import registry as format_registry
from storage.inspect import summaries_db
from storage.inspect.report import REPORT_KEYS, exit_code, inspect_path, render_text, run
from tests.conftest import CORPUS


class Evil:
    """Pickles to a call of os.system; only ever dumped, never loaded."""

    def __reduce__(self):
        return (os.system, ("echo hi",))


def corpus(*parts: str) -> Path:
    folder = CORPUS.joinpath(*parts)
    if not folder.is_dir():
        pytest.skip(f"test corpus {folder} is absent (it lives in ../shared/corpus beside the repo)")
    return folder


def _boom(*_args, **_kwargs):
    raise AssertionError("something tried to unpickle or run a command")


@pytest.fixture
def no_unpickling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to unpickle fails the test loudly (pickling for the fixtures still works)."""
    for name in ("load", "loads", "_load", "_loads"):
        monkeypatch.setattr(pickle, name, _boom, raising=False)


@pytest.fixture
def nothing_runs(no_unpickling: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """For hostile corpora: no unpickling and no shell command either."""
    for name in ("system", "popen", "execv", "execve", "spawnv"):
        monkeypatch.setattr(os, name, _boom, raising=False)


def as_json(path: Path) -> tuple[int, dict]:
    out = io.StringIO()
    code = run(str(path), as_json=True, out=out)
    text = out.getvalue()
    report = json.loads(text)  # exactly one JSON object
    assert text.strip().count("\n") == 0
    return code, report


def write(folder: Path, name: str, data: bytes | str) -> Path:
    path = folder / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


# -- schema and exit codes ----------------------------------------------------------------------

def check_schema(report: dict) -> None:
    assert tuple(report) == REPORT_KEYS
    assert isinstance(report["path"], str) and isinstance(report["format"], str)
    assert isinstance(report["ok"], bool) and isinstance(report["summary"], dict)
    if report["error"] is not None:
        bug = {"kind", "traceback"} if report["error"].get("kind") == "bug" else set()
        assert set(report["error"]) == {"message", "line", "column", "offset"} | bug
    for finding in report["findings"]:
        assert set(finding) <= {"severity", "message", "global"} and {"severity", "message"} <= set(finding)
        assert finding["severity"] in ("dangerous", "suspicious", "info")


def test_schema_and_exit_0(tmp_path: Path) -> None:
    code, report = as_json(write(tmp_path, "a.json", '{"a": [1, 2, {"b": null}]}'))
    check_schema(report)
    assert (code, report["format"], report["ok"], report["error"]) == (0, "json", True, None)
    summary = report["summary"]
    assert {"size", "detected_by", "detail"} <= set(summary)
    assert summary["top_level"] == "object" and summary["max_depth"] == 4
    assert summary["counts"] == {"object": 2, "array": 1, "number": 2, "null": 1}


def test_malicious_pickle_exit_1(tmp_path: Path, no_unpickling: None) -> None:
    for protocol in range(6):
        data = pickle.dumps(Evil(), protocol=protocol)
        code, report = as_json(write(tmp_path, f"evil{protocol}.pkl", data))
        check_schema(report)
        assert code == 1, report
        dangerous = [f for f in report["findings"] if f["severity"] == "dangerous"]
        assert any(f.get("global") in ("os.system", "posix.system", "nt.system") for f in dangerous)


def test_pickle_top_level_type_and_items(tmp_path: Path, no_unpickling: None) -> None:
    data = pickle.dumps({"a": [1, 2], "b": (3,), "c": None}, protocol=2)
    code, report = as_json(write(tmp_path, "three.pkl", data))
    assert code == 0 and report["summary"]["top_level"] == "dict (3)" and report["summary"]["items"] == 3
    code, report = as_json(write(tmp_path, "evil.pkl", pickle.dumps([Evil(), 1], protocol=4)))
    assert code == 1 and report["summary"]["top_level"] == "list (2)"


def test_broken_json_exit_2_with_location(tmp_path: Path) -> None:
    code, report = as_json(write(tmp_path, "b.json", '{\n  "a": 1,\n  "b": \n}\n'))
    check_schema(report)
    assert (code, report["ok"]) == (2, False)
    assert (report["error"]["line"], report["error"]["column"]) == (4, 1)
    assert report["error"]["offset"] == 20


def test_unreadable_exit_2(tmp_path: Path) -> None:
    code, report = as_json(tmp_path / "missing.json")
    check_schema(report)
    assert (code, report["format"]) == (2, "unknown")
    assert "does not exist" in report["error"]["message"]
    assert report["summary"] == {"size": None, "detected_by": None, "detail": {}}
    code, report = as_json(tmp_path)
    assert code == 2 and "directory" in report["error"]["message"]


def test_dangerous_wins_over_broken(tmp_path: Path) -> None:
    data = pickle.dumps(Evil(), protocol=2)[:-3]
    report = inspect_path(write(tmp_path, "cut.pkl", data))
    assert report["error"] is not None and report["error"]["offset"] is not None
    assert exit_code(report) == 1


def test_internal_error_never_prints_a_traceback(tmp_path: Path) -> None:
    def broken(_result, _collector):
        raise RuntimeError("boom")

    with format_registry.registered(dataclasses.replace(format_registry.get("json"), summary=broken)):
        code, report = as_json(write(tmp_path, "a.json", "[1]"))
        check_schema(report)
        assert code == 3 and report["error"]["message"].startswith("internal error: ")
        assert report["error"]["kind"] == "bug" and "RuntimeError: boom" in report["error"]["traceback"]
        assert "not a problem with your file" in report["error"]["message"]
        out = io.StringIO()
        assert run(str(tmp_path / "a.json"), as_json=False, out=out) == 3
    assert "Traceback" not in out.getvalue()


def test_out_of_memory_is_the_file_s_problem_not_a_bug(tmp_path: Path) -> None:
    def too_big(_result, _collector):
        raise MemoryError

    with format_registry.registered(dataclasses.replace(format_registry.get("json"), summary=too_big)):
        code, report = as_json(write(tmp_path, "a.json", "[1]"))
    check_schema(report)
    assert code == 2 and "kind" not in report["error"] and "memory" in report["error"]["message"]


def test_render_text(tmp_path: Path) -> None:
    text = render_text(inspect_path(write(tmp_path, "e.pkl", pickle.dumps(Evil()))))
    assert "pickle" in text and "DANGEROUS" in text and "exit code 1" in text
    out = io.StringIO()
    assert run(str(write(tmp_path, "ok.txt", "hello\n")), as_json=False, out=out) == 0
    assert "text" in out.getvalue() and "exit code 0" in out.getvalue()


# -- JSON, JSON Lines, text, binary -------------------------------------------------------------

@pytest.mark.parametrize(("data", "message"), [
    ("[1, NaN]", "NaN"), ('{"a": Infinity}', "Infinity"), ("[" * 100_000, "nesting too deep"),
    ("[" + "1" * 5000 + "]", "cannot be read"), ("", "Expecting value"),
])
def test_json_errors(tmp_path: Path, data: str, message: str) -> None:
    report = inspect_path(write(tmp_path, "x.json", data))
    assert exit_code(report) == 2 and message in report["error"]["message"]


def test_json_duplicates_and_bom(tmp_path: Path) -> None:
    report = inspect_path(write(tmp_path, "d.json", '{"a": 1, "a": 2}'))
    assert report["ok"] and report["summary"]["duplicate_keys"] == ["a"]
    assert any(f["severity"] == "suspicious" for f in report["findings"])
    report = inspect_path(write(tmp_path, "u.json", '["é"]'.encode("utf-16")))
    assert report["ok"] and report["summary"]["encoding"].startswith("utf-16")


def test_jsonl(tmp_path: Path) -> None:
    report = inspect_path(write(tmp_path, "a.jsonl", '{"a": 1}\n{"a": 2\n\n[3]\nnope\n'))
    assert report["ok"] and report["summary"]["records"] == 2
    assert report["summary"]["malformed_lines"] == [2, 5]
    assert sum(f["severity"] == "suspicious" for f in report["findings"]) == 2
    bad = inspect_path(write(tmp_path, "b.jsonl", "{oops\n{nope\n"))
    assert exit_code(bad) == 2 and bad["error"]["line"] == 1


def test_text_summary(tmp_path: Path) -> None:
    summary = inspect_path(write(tmp_path, "t.txt", b"one\r\ntwo\nthree\rfour"))["summary"]
    assert summary["encoding"] == "utf-8" and summary["lines"] == 4
    assert summary["line_endings"] == {"kind": "mixed", "LF": 1, "CRLF": 1, "CR": 1}
    legacy = inspect_path(write(tmp_path, "l.txt", "naïve café déjà vu, à la carte\n".encode("cp1252") * 20))
    assert legacy["ok"] and legacy["summary"]["encoding"] != "utf-8"
    wide = inspect_path(write(tmp_path, "w.txt", "a\r\nb\r\n".encode("utf-16")))["summary"]
    assert wide["bom"] and wide["lines"] == 2 and wide["line_endings"]["kind"] == "CRLF"


def test_binary_summary(tmp_path: Path) -> None:
    report = inspect_path(write(tmp_path, "b.bin", b"\x00\x01\x02\xff" * 8))
    assert report["format"] == "binary" and report["ok"]
    assert report["summary"]["magic"].startswith("00 01 02 ff")


# -- SQLite -------------------------------------------------------------------------------------

def make_db(path: Path, rows: int = 3) -> Path:
    conn = sqlite3.connect(path)
    conn.execute('CREATE TABLE "we""ird" (id INTEGER PRIMARY KEY, name TEXT)')
    conn.executemany('INSERT INTO "we""ird" (name) VALUES (?)', [(f"n{i}",) for i in range(rows)])
    conn.execute('CREATE VIEW v AS SELECT name FROM "we""ird"')
    conn.commit()
    conn.close()
    return path


def test_sqlite_summary_leaves_the_file_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_db(tmp_path / "a.db")
    before = (path.read_bytes(), os.stat(path).st_mtime_ns, sorted(os.listdir(tmp_path)))
    code, report = as_json(path)
    assert (code, report["format"]) == (0, "sqlite")
    table = report["summary"]["tables"][0]
    assert table["name"] == 'we"ird' and table["rows"] == 3
    assert table["columns"][0] == {"name": "id", "type": "INTEGER", "pk": True}
    assert report["summary"]["views"][0]["name"] == "v"
    assert report["summary"]["quick_check"] == ["ok"]
    monkeypatch.setattr(summaries_db, "COUNT_CAP", 2)
    capped = inspect_path(path)
    assert capped["summary"]["tables"][0]["rows"] == "2+"
    assert (path.read_bytes(), os.stat(path).st_mtime_ns, sorted(os.listdir(tmp_path))) == before


def test_wal_database_untouched(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=wal")
        conn.execute("CREATE TABLE t (a)")
        conn.execute("INSERT INTO t VALUES (1)")
        conn.commit()
        before = {p.name: (p.read_bytes(), os.stat(p).st_mtime_ns) for p in tmp_path.iterdir()}
        report = inspect_path(path)
        after = {p.name: (p.read_bytes(), os.stat(p).st_mtime_ns) for p in tmp_path.iterdir()}
    finally:
        conn.close()
    assert report["ok"]
    assert any("write-ahead" in f["message"] for f in report["findings"])
    assert after == before


def test_corrupt_sqlite_exit_2(tmp_path: Path) -> None:
    code, report = as_json(write(tmp_path, "bad.db", b"SQLite format 3\x00" + b"\xa5" * 4000))
    assert (code, report["format"], report["ok"]) == (2, "sqlite", False)
    assert report["error"]["message"]


# -- pickles, joblib, NumPy ---------------------------------------------------------------------

def test_benign_pickles(tmp_path: Path, no_unpickling: None) -> None:
    data = {"a": [1, 2.5, None, True], "s": {1, 2}, "t": (b"x", "y")}
    for protocol in range(6):
        report = inspect_path(write(tmp_path, f"p{protocol}.pkl", pickle.dumps(data, protocol=protocol)))
        assert exit_code(report) == 0, report
        assert report["summary"]["complete"] and report["summary"]["pickles"] == 1
        if protocol >= 2:
            assert report["summary"]["protocol"] == protocol


def test_stacked_and_trailing(tmp_path: Path) -> None:
    two = inspect_path(write(tmp_path, "two.pkl", pickle.dumps([1]) + pickle.dumps(Evil())))
    assert exit_code(two) == 1 and two["summary"]["pickles"] == 2
    assert any("2 pickles" in f["message"] for f in two["findings"])
    junk = inspect_path(write(tmp_path, "junk.pkl", pickle.dumps([1], protocol=4) + b"\xfe\xfe junk"))
    assert exit_code(junk) == 0
    trailing = [f for f in junk["findings"] if "after the last pickle" in f["message"]]
    assert trailing and trailing[0]["severity"] == "suspicious"


def test_truncated_pickle_exit_2(tmp_path: Path) -> None:
    code, report = as_json(write(tmp_path, "cut.pkl", pickle.dumps(list(range(100)), protocol=4)[:40]))
    assert code == 2 and report["error"]["offset"] is not None


def test_custom_class_is_suspicious_not_dangerous(tmp_path: Path) -> None:
    data = b"\x80\x04\x95\x1a\x00\x00\x00\x00\x00\x00\x00\x8c\x05mymod\x94\x8c\x05Thing\x94\x93\x94)\x81\x94."
    report = inspect_path(write(tmp_path, "c.pkl", data))
    assert exit_code(report) == 0
    assert {"severity": "suspicious", "global": "mymod.Thing"}.items() <= report["findings"][0].items()


@pytest.mark.parametrize("compress", [0, "zlib", "gzip", "bz2", "xz", "lzma"])
def test_joblib(tmp_path: Path, compress: object, no_unpickling: None) -> None:
    joblib = pytest.importorskip("joblib")
    np = pytest.importorskip("numpy")
    path = tmp_path / "m.joblib"
    value = {"w": np.arange(1000.0), "m": np.ones((3, 4), dtype="i4"), "o": np.array([1, "x"], dtype=object),
             "u": np.array(["ab", "cde"]), "rec": np.zeros(2, dtype=[("a", "<f8"), ("b", "<i2")])}
    joblib.dump(value, path, compress=(compress, 3) if compress else 0)
    report = inspect_path(path)
    assert exit_code(report) == 0, report
    scan = report["summary"]
    assert scan["complete"] and scan["arrays"] == 5


def test_legacy_joblib_zfile(tmp_path: Path) -> None:
    """joblib < 0.10 wrote b"ZF" + a hex length padded to 19 characters, then a zlib stream."""
    import zlib

    payload = pickle.dumps({"a": [1, 2]}, protocol=2)
    path = write(tmp_path, "old.pkl", b"ZF" + hex(len(payload)).encode().ljust(19) + zlib.compress(payload))
    report = inspect_path(path)
    assert (report["format"], report["summary"]["detail"]["compression"]) == ("joblib", "zlib")
    assert exit_code(report) == 0 and report["summary"]["complete"]


def test_joblib_with_evil_object(tmp_path: Path) -> None:
    joblib = pytest.importorskip("joblib")
    np = pytest.importorskip("numpy")
    path = tmp_path / "bad.joblib"
    joblib.dump({"w": np.arange(10), "evil": Evil()}, path, compress=3)
    assert exit_code(inspect_path(path)) == 1


def test_npy_and_npz(tmp_path: Path, no_unpickling: None) -> None:
    np = pytest.importorskip("numpy")
    np.save(tmp_path / "a.npy", np.zeros((2, 3), dtype="<f4"))
    summary = inspect_path(tmp_path / "a.npy")["summary"]
    assert (summary["shape"], summary["dtype"], summary["fortran_order"]) == ([2, 3], "float32", False)
    np.save(tmp_path / "o.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    report = inspect_path(tmp_path / "o.npy")
    assert exit_code(report) == 0 and any("pickled objects" in f["message"] for f in report["findings"])
    cut = write(tmp_path, "cut.npy", (tmp_path / "a.npy").read_bytes()[:-5])
    assert exit_code(inspect_path(cut)) == 2
    np.savez_compressed(tmp_path / "z.npz", x=np.arange(4), y=np.array([1, "x"], dtype=object))
    members = {m["name"]: m for m in inspect_path(tmp_path / "z.npz")["summary"]["members"]}
    assert members["x.npy"]["shape"] == [4] and members["y.npy"]["object_dtype"] is True


def test_pytorch_style_zip(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "model.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model/data.pkl", pickle.dumps(Evil(), protocol=2))
        archive.writestr("model/version", b"3\n")
    code, report = as_json(path)
    assert (code, report["format"]) == (1, "pickle")
    assert any("model/data.pkl" in f["message"] for f in report["findings"])


# -- shelves and HDF5 ---------------------------------------------------------------------------

def test_dumb_shelf(tmp_path: Path, no_unpickling: None) -> None:
    base = tmp_path / "store"
    with shelve.Shelf(dbm.dumb.open(str(base), "c")) as shelf:
        shelf["plain"] = [1, 2, 3]
        shelf["évil"] = Evil()
    code, report = as_json(base)
    assert (code, report["format"]) == (1, "shelve")
    summary = report["summary"]
    assert summary["backend"] == "dbm.dumb" and sorted(summary["keys"]) == ["plain", "évil"]
    assert any(f["message"].startswith("key 'évil'") and f["severity"] == "dangerous"
               for f in report["findings"])
    assert as_json(tmp_path / "store.dat")[1]["summary"]["key_count"] == 2


def test_garbage_dumb_index_exit_2(tmp_path: Path) -> None:
    write(tmp_path, "s.dat", b"\x80\x04K\x01." + b"\x00" * 10)
    write(tmp_path, "s.dir", "'a', (0, 5)\n'b', (oops\n")
    for name in ("s", "s.dat", "s.dir"):
        code, report = as_json(tmp_path / name)
        assert (code, report["format"]) == (2, "shelve"), name
        assert report["error"]["line"] == 2
    write(tmp_path, "b.dat", b"")
    write(tmp_path, "b.dir", b"\x00\x01\x02 not an index")
    code, report = as_json(tmp_path / "b.dat")
    assert (code, report["format"]) == (2, "shelve")


def test_sqlite_shelf(tmp_path: Path) -> None:
    path = tmp_path / "shelf"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE Dict (key BLOB UNIQUE NOT NULL, value BLOB NOT NULL)")
    rows = [(b"ok", pickle.dumps(1)), (b"bad", pickle.dumps(Evil()))]
    conn.executemany("INSERT INTO Dict VALUES (?, ?)", rows)
    conn.commit()
    conn.close()
    before = path.read_bytes()
    code, report = as_json(path)
    assert (code, report["summary"]["backend"]) == (1, "dbm.sqlite3")
    assert sorted(report["summary"]["keys"]) == ["bad", "ok"]
    assert path.read_bytes() == before


def test_gnu_shelf_without_gdbm(tmp_path: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("_gdbm") is not None:
        pytest.skip("this Python has dbm.gnu; the unsupported path cannot be shown")
    code, report = as_json(write(tmp_path, "g", (0x13579ACE).to_bytes(4, "little") + b"\x00" * 60))
    assert (code, report["format"]) == (2, "shelve")
    assert "dbm.gnu" in report["error"]["message"] and report["summary"]["available"] is False


def test_hdf5(tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "a.h5"
    with h5py.File(path, "w") as handle:
        handle["data"] = [[1, 2], [3, 4]]
        handle.create_group("grp")["x"] = [1]
    before = (path.read_bytes(), os.stat(path).st_mtime_ns)
    report = inspect_path(path)
    assert report["ok"]
    items = {e["path"]: e for e in report["summary"]["tree"]}
    assert items["/data"]["shape"] == [2, 2] and items["/grp"]["kind"] == "group"
    assert items["/grp/x"]["dtype"] == "int64"
    assert (path.read_bytes(), os.stat(path).st_mtime_ns) == before
    broken = write(tmp_path, "b.h5", b"\x89HDF\r\n\x1a\n" + b"\x00" * 100)
    assert exit_code(inspect_path(broken)) == 2


# -- public corpora -----------------------------------------------------------------------------

def test_picklescan_corpus(nothing_runs: None) -> None:
    folders = [corpus("picklescan", "data"), corpus("picklescan", "data2")]
    files = sorted(p for folder in folders for p in folder.iterdir() if p.is_file())
    started = time.monotonic()
    malicious = [p for p in files if p.name.startswith("malicious")]
    benign = [p for p in files if p.name.startswith("benign0_")]
    assert malicious and benign
    for path in files:
        report = inspect_path(path)
        check_schema(report)
        if path in malicious:
            assert exit_code(report) == 1, (path.name, report)
        if path in benign:
            assert exit_code(report) == 0, (path.name, report)
    assert time.monotonic() - started < 30


def test_json_test_suite() -> None:
    folder = corpus("JSONTestSuite", "test_parsing")
    started = time.monotonic()
    for path in sorted(folder.iterdir()):
        report = inspect_path(path)
        check_schema(report)
        if path.name.startswith("n_"):
            assert exit_code(report) == 2 and report["error"] is not None, (path.name, report["format"])
        elif path.name.startswith("y_"):
            assert report["ok"] and exit_code(report) == 0, (path.name, report["error"])
        else:
            assert exit_code(report) in (0, 2)
    assert time.monotonic() - started < 30


def test_chinook() -> None:
    folder = corpus("chinook")
    database = folder / "Chinook_Sqlite.sqlite"
    before = os.stat(database).st_mtime_ns
    report = inspect_path(database)
    assert report["ok"] and len(report["summary"]["tables"]) == 11
    assert os.stat(database).st_mtime_ns == before
    document = inspect_path(folder / "ChinookData.json")
    assert document["ok"] and document["format"] == "json"


# -- robustness ---------------------------------------------------------------------------------

_SEEDS = [pickle.dumps({"a": [1, (2, 3)], "b": "x" * 10}, protocol=p) for p in range(6)] + [
    b'{"a": [1, 2, {"b": null}]}', b'{"a": 1}\n{"b": 2}\n', b"SQLite format 3\x00" + bytes(100),
    b"\x93NUMPY\x01\x00v\x00{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }" + b" " * 50 + b"\n",
    b"PK\x05\x06" + bytes(18), b"\x1f\x8b\x08" + bytes(20), b"plain text\n",
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(_SEEDS), cuts=st.lists(st.tuples(st.integers(0, 300), st.binary(max_size=6)),
                                                    max_size=4),
       ext=st.sampled_from(["", ".json", ".pkl", ".joblib", ".txt", ".npy", ".db", ".jsonl"]))
def test_damaged_files_never_crash(tmp_path: Path, seed: bytes, cuts: list, ext: str) -> None:
    """Whatever the bytes, inspect returns a well-formed report (and never unpickles)."""
    data = bytearray(seed)
    for at, junk in cuts:
        at = at % (len(data) + 1)
        data[at:at + len(junk)] = junk
    path = write(tmp_path, "fuzz" + ext, bytes(data))
    report = inspect_path(path)
    check_schema(report)
    assert exit_code(report) in (0, 1, 2)
    json.dumps(report)
    render_text(report)
