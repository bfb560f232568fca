"""The verdict covers every stream a real loader would read (issue 14 §1), headless part.

Each hostile file is built here. Its payload would create a marker file: ``inspect`` must say
DANGEROUS (exit 1), and the marker must not exist afterwards (nothing ran). Where the attack
depends on a real loader's reading rules (joblib's frame handling), a child process shows that
the real loader does run it, so the test proves a real hole is closed, not a made-up one.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from storage.formats.objects.file import open_objects, pickle_start_verdict
from storage.formats.objects.pickle import scan as pickle_scan
from storage.inspect.report import exit_code, inspect_path, run
from tests.conftest import corpus_dir

_SYSTEM = os.system  # taken before ``nothing_runs`` replaces it


class Evil:
    """Pickles to ``os.system('touch MARKER')``; only ever dumped here, never loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (_SYSTEM, (f"touch {self.marker}",))


def _boom(*_args, **_kwargs):
    raise AssertionError("something tried to unpickle or run a command")


@pytest.fixture
def nothing_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """No unpickling and no shell command in this process (dumping for the fixtures still works)."""
    for name in ("load", "loads", "_load", "_loads"):
        monkeypatch.setattr(pickle, name, _boom, raising=False)
    for name in ("system", "popen", "execv", "execve"):
        monkeypatch.setattr(os, name, _boom, raising=False)


def inspect_json(path: Path) -> tuple[int, dict]:
    out = io.StringIO()
    code = run(str(path), as_json=True, out=out)
    return code, json.loads(out.getvalue())


def messages(report: dict, severity: str | None = None) -> str:
    return "\n".join(f["message"] for f in report["findings"] if severity in (None, f["severity"]))


def dangerous_file(path: Path, marker: Path, *, expect_format: str | None = None) -> dict:
    """inspect says DANGEROUS, names os.system, and nothing ran."""
    before = (path.read_bytes(), os.stat(path).st_mtime_ns, sorted(os.listdir(path.parent)))
    code, report = inspect_json(path)
    assert code == 1, report
    assert "posix.system" in json.dumps(report["findings"]) or "nt.system" in json.dumps(report["findings"])
    if expect_format:
        assert report["format"] == expect_format
    assert not marker.exists()
    assert before == (path.read_bytes(), os.stat(path).st_mtime_ns, sorted(os.listdir(path.parent)))
    return report


# -- the format label does not hide a pickle ----------------------------------------------------

def test_protocol_0_pickle_followed_by_prose_is_text_and_dangerous(tmp_path: Path, nothing_runs) -> None:
    marker = tmp_path / "MARKER"
    path = tmp_path / "letter.txt"
    path.write_bytes(pickle.dumps(Evil(marker), 0) + b"\nDear reader,\nthis letter is plain prose.\n" * 40)
    report = dangerous_file(path, marker, expect_format="text")
    assert "parses as a pickle from byte 0" in messages(report)


def test_hdf5_user_block_holding_a_pickle(tmp_path: Path, nothing_runs) -> None:
    h5py = pytest.importorskip("h5py")
    marker = tmp_path / "MARKER"
    path = tmp_path / "data.h5"
    with h5py.File(path, "w", userblock_size=512) as h5:
        h5["x"] = np.arange(4)
    payload = pickle.dumps(Evil(marker), 2)
    data = bytearray(path.read_bytes())
    data[:len(payload)] = payload  # HDF5 ignores its user block: the file stays valid HDF5
    path.write_bytes(bytes(data))
    with h5py.File(path, "r") as h5:
        assert list(h5["x"][:]) == [0, 1, 2, 3]
    report = dangerous_file(path, marker, expect_format="hdf5")
    assert report["summary"]["pickle_from_start"]["pickles"] == 1


def test_bytes_that_start_like_bz2_but_parse_as_a_pickle(tmp_path: Path, nothing_runs) -> None:
    marker = tmp_path / "MARKER"
    # "B" is BINBYTES: "Zh9\0" is its little-endian length; then POP, then the payload.
    length = int.from_bytes(b"Zh9\x00", "little")
    path = tmp_path / "archive.bz2"
    path.write_bytes(b"BZh9\x00" + bytes(length) + b"0" + pickle.dumps(Evil(marker), 2))
    dangerous_file(path, marker, expect_format="binary")


def test_pickle_named_files_say_what_pickle_load_would_do(tmp_path: Path, nothing_runs) -> None:
    marker = tmp_path / "MARKER"
    saved = tmp_path / "model.sav"  # scikit-learn's name for pickles; the content reads as text
    saved.write_bytes(pickle.dumps(Evil(marker), 0) + b"\n# trained on 2024-01-02\n" * 5)
    dangerous_file(saved, marker, expect_format="text")
    named = tmp_path / "weights.pkl"
    named.write_bytes(b'{"not": "a pickle"}')
    code, report = inspect_json(named)
    assert code == 0 and report["format"] == "json"
    assert "named like a pickle (.pkl), but pickle.load stops at byte 0" in messages(report, "info")


def test_folder_listing_sniff_stays_quick_and_does_not_scan(tmp_path: Path, monkeypatch) -> None:
    """The full check runs on open/inspect, never while sniffing a folder (the Files browser)."""
    from storage.sniff.detect import sniff

    path = tmp_path / "letter.txt"
    path.write_bytes(pickle.dumps([1], 0) + b"\nprose\n")
    monkeypatch.setattr(pickle_scan.Scanner, "run", _boom)
    assert sniff(path).format == "text"


# -- joblib and npy/npz as their loaders read them ------------------------------------------------

def _frame_payload_joblib(tmp_path: Path, marker: Path) -> Path:
    """A joblib file whose pickle frame holds opcodes after the array wrapper's BUILD.

    joblib reads the array from the file position, which is past the whole frame, and then runs
    the rest of the frame: the payload. A reader that takes the bytes after BUILD as the array
    shows a harmless uint8 array instead.
    """
    import joblib

    benign = tmp_path / "benign.joblib"
    joblib.dump(np.zeros(40, np.uint8), benign, protocol=4)
    data = benign.read_bytes()
    assert data[2:3] == b"\x95"
    (length,) = struct.unpack_from("<Q", data, 3)
    frame_end = 11 + length
    assert data[frame_end - 1:frame_end] == b"b"  # the frame ends with the wrapper's BUILD
    payload = b"0" + f"cposix\nsystem\n(S'touch {marker}'\ntR".encode()
    ops = data[11:frame_end] + payload
    path = tmp_path / "model.joblib"
    path.write_bytes(data[:2] + b"\x95" + struct.pack("<Q", len(ops)) + ops + data[frame_end:])
    return path


def test_joblib_payload_hidden_in_the_frame_after_an_array(tmp_path: Path, nothing_runs) -> None:
    marker = tmp_path / "MARKER"
    path = _frame_payload_joblib(tmp_path, marker)
    dangerous_file(path, marker, expect_format="joblib")
    result = open_objects(str(path), "joblib")  # the value tree: what joblib.load builds
    assert result.worst == "dangerous" and ("posix", "system") in result.globals
    assert "posix.system" in repr(result.doc.root) and "uint8" not in repr(result.doc.root)
    assert not marker.exists()


def test_the_frame_payload_really_runs_under_joblib_load(tmp_path: Path) -> None:
    """Proof that the file above is a real attack: joblib.load, in a child process, runs it."""
    pytest.importorskip("joblib")
    marker = tmp_path / "MARKER"
    path = _frame_payload_joblib(tmp_path, marker)
    subprocess.run([sys.executable, "-c", f"import joblib; joblib.load({str(path)!r})"], cwd=tmp_path,
                   check=True, capture_output=True, timeout=60)
    assert marker.exists()


def test_joblib_object_array_is_a_nested_pickle_and_is_scanned(tmp_path: Path, nothing_runs) -> None:
    joblib = pytest.importorskip("joblib")
    marker = tmp_path / "MARKER"
    items = np.empty(2, dtype=object)
    items[0], items[1] = "fine", Evil(marker)
    for protocol in (2, 4):
        path = tmp_path / f"objects{protocol}.joblib"
        joblib.dump({"weights": np.arange(3.0), "items": items}, path, protocol=protocol)
        dangerous_file(path, marker, expect_format="joblib")
        result = open_objects(str(path), "joblib")
        assert result.worst == "dangerous" and list(result.doc.value["weights"]) == [0.0, 1.0, 2.0]


def _big_header_npy(marker: Path) -> bytes:
    items = np.empty(1, dtype=object)
    items[0] = Evil(marker)
    text = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }" + " " * 20_000
    text += " " * ((-(12 + len(text) + 1)) % 64) + "\n"
    header = struct.pack("<I", len(text)) + text.encode("latin-1")
    return b"\x93NUMPY\x02\x00" + header + pickle.dumps(items, 3)


def test_npy_and_npz_object_arrays_behind_a_huge_header(tmp_path: Path, nothing_runs) -> None:
    marker = tmp_path / "MARKER"
    npy = tmp_path / "big.npy"
    npy.write_bytes(_big_header_npy(marker))
    with pytest.raises(ValueError, match="max_header_size"):  # numpy refuses unless allow_pickle=True
        np.load(npy)
    dangerous_file(npy, marker, expect_format="npy")
    npz = tmp_path / "big.npz"
    with zipfile.ZipFile(npz, "w") as archive:
        archive.writestr("items.npy", _big_header_npy(marker))
    dangerous_file(npz, marker, expect_format="npz")
    for path, kind in ((npy, "npy"), (npz, "npz")):
        assert open_objects(str(path), kind).worst == "dangerous"


# -- every stream ---------------------------------------------------------------------------------

def test_stacked_pickles_are_all_scanned(tmp_path: Path, nothing_runs) -> None:
    marker = tmp_path / "MARKER"
    path = tmp_path / "stack.pkl"
    path.write_bytes(pickle.dumps([1, 2]) + pickle.dumps("two", 0) + pickle.dumps(Evil(marker), 2))
    report = dangerous_file(path, marker)
    assert report["summary"]["pickles"] == 3


@pytest.mark.parametrize("junk", [b"\xfe\xfe junk \x00\x01", b"\x00" * 5000, b"garbage line\n" * 3])
def test_a_pickle_after_junk_after_a_stop_is_scanned(tmp_path: Path, nothing_runs, junk: bytes) -> None:
    marker = tmp_path / "MARKER"
    path = tmp_path / "junk.pkl"
    evil = pickle.dumps(Evil(marker), 4)
    path.write_bytes(pickle.dumps({"a": 1}, 4) + junk + evil)
    report = dangerous_file(path, marker)
    hidden = len(pickle.dumps({"a": 1}, 4)) + len(junk)
    assert f"a pickle hidden at byte {hidden}" in messages(report, "suspicious")
    result = open_objects(str(path), "pickle")  # the window's verdict too
    assert result.worst == "dangerous" and result.doc is not None


def test_protocol_0_pickle_after_junk_is_found_by_its_global(tmp_path: Path, nothing_runs) -> None:
    marker = tmp_path / "MARKER"
    path = tmp_path / "junk0.pkl"
    path.write_bytes(pickle.dumps(1, 4) + b"\xff\xfe" + pickle.dumps(Evil(marker), 0))
    dangerous_file(path, marker)


# -- no silent caps -------------------------------------------------------------------------------

def test_millions_of_opcodes_are_all_followed(tmp_path: Path, nothing_runs) -> None:
    """The scan used to stop after 5,000,000 opcodes; a global after them went unseen."""
    marker = tmp_path / "MARKER"
    path = tmp_path / "long.pkl"
    path.write_bytes(b"\x80\x04](" + b"N" * 5_100_000 + b"e" + pickle.dumps(Evil(marker), 0)[:-1] + b"0.")
    report = dangerous_file(path, marker)
    summary = report["summary"]  # inspect takes it from the safe load, which has no cap either
    assert summary["complete"] and max(entry["offset"] for entry in summary["globals"]) > 5_100_000
    assert pickle_scan.scan_file(str(path)).opcodes > 5_100_000  # nor has the opcode walk


def test_a_stream_only_partly_followed_never_exits_0(tmp_path: Path, monkeypatch) -> None:
    joblib = pytest.importorskip("joblib")
    path = tmp_path / "big.joblib"
    joblib.dump(list(range(5000)), path, compress=3)
    assert exit_code(inspect_path(path)) == 0
    monkeypatch.setattr(pickle_scan, "MAX_STREAM", 1000)  # the one bound left: how far a stream is followed
    report = inspect_path(path)
    assert exit_code(report) != 0 and not report["ok"]
    assert "only part of the file was checked" in report["error"]["message"]
    assert "not fully checked" in messages(report, "suspicious")


# -- the window's verdict without a value tree ---------------------------------------------------

def test_truncated_hostile_pickle_still_has_its_verdict(tmp_path: Path, nothing_runs) -> None:
    marker = tmp_path / "MARKER"
    path = tmp_path / "cut.pkl"
    full = pickle.dumps({"x": Evil(marker), "pad": "p" * 300}, 4)
    path.write_bytes(full[:-100])
    dangerous_file(path, marker)
    result = open_objects(str(path), "pickle")
    assert result.doc is None and result.load_error and result.worst == "dangerous"


def test_picklescan_corpus_verdicts_agree_with_inspect(nothing_runs) -> None:
    """Every hostile corpus file that inspect calls DANGEROUS is dangerous in the window too."""
    folder = corpus_dir("picklescan")
    from storage.sniff.detect import sniff

    checked = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        report = inspect_path(path)
        if exit_code(report) != 1 or report["format"] not in ("pickle", "joblib", "npy", "npz"):
            continue
        result = open_objects(str(path), sniff(path).format)
        assert result.worst == "dangerous", path
        checked += 1
    assert checked > 50


def test_other_tabs_get_the_pickle_verdict_only_when_it_applies(tmp_path: Path) -> None:
    plain = tmp_path / "notes.txt"
    plain.write_text("just some notes\n")
    assert pickle_start_verdict(str(plain)) is None
    marker = tmp_path / "MARKER"
    letter = tmp_path / "letter.txt"
    letter.write_bytes(pickle.dumps(Evil(marker), 0) + b"\nprose\n")
    verdict = pickle_start_verdict(str(letter))
    assert verdict is not None and verdict.worst == "dangerous" and verdict.kind == "text"


def test_the_search_after_a_stop_reports_its_bound(tmp_path: Path, monkeypatch) -> None:
    """Junk full of pickle-like fragments is searched within a work and time bound, which is a
    finding when reached (exit 2), never a silent "nothing dangerous"."""
    path = tmp_path / "fragments.pkl"
    path.write_bytes(pickle.dumps(1, 4) + b"\xfe" + b"\x80\x02N\xfe" * 1000)
    assert exit_code(inspect_path(path)) == 0  # searched in full: nothing hidden
    monkeypatch.setattr(pickle_scan, "HIDDEN_SEARCH_SECONDS", -1.0)
    report = inspect_path(path)
    assert exit_code(report) == 2 and "search for pickles hidden in it stopped" in messages(report)


@pytest.mark.parametrize("hidden", [
    b"(iposix\nsystem\n(S'touch MARKER'\ntR.",  # INST after its MARK, protocol 0
    b"\x8c\x05posix\x8c\x06system\x93\x8c\x0ctouch MARKER\x85R.",  # STACK_GLOBAL without PROTO
    b"Vposix\nVsystem\n\x93Vtouch MARKER\n\x85R.",  # the same with protocol-0 strings
])
def test_pickles_without_proto_after_junk_are_found(tmp_path: Path, nothing_runs, hidden: bytes) -> None:
    path = tmp_path / "junk.pkl"
    path.write_bytes(pickle.dumps([1], 2) + b"\xfe junk \xfe" + hidden)
    dangerous_file(path, tmp_path / "MARKER")


def test_a_text_opcode_line_past_the_memory_bound_is_reported(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "longline.pkl"
    path.write_bytes(b"(Vpad" + b"x" * 5000 + b"\n" + b"0" + pickle.dumps([1], 0))
    assert exit_code(inspect_path(path)) == 0
    monkeypatch.setattr(pickle_scan, "MAX_LINE", 1000)
    report = inspect_path(path)
    assert exit_code(report) == 2 and "longer than" in messages(report, "suspicious")


def test_sqlite_read_from_byte_0_stops_at_once(tmp_path: Path, monkeypatch) -> None:
    """'S' is STRING: pickle refuses an unquoted argument at its first byte, and so does the scan
    (it never reads an SQLite file's pages looking for a newline)."""
    import sqlite3

    path = tmp_path / "data.db"
    with sqlite3.connect(path) as conn:
        conn.execute("create table t(x)")
    monkeypatch.setattr(pickle_scan, "MAX_LINE", 10)
    report = inspect_path(path)
    assert report["format"] == "sqlite" and exit_code(report) == 0


def test_a_word_list_is_not_called_a_pickle(tmp_path: Path) -> None:
    path = tmp_path / "fruit.txt"
    path.write_text("cherry\napple\nbanana\n")
    report = inspect_path(path)
    assert exit_code(report) == 0 and report["format"] == "text" and not report["findings"]
    assert pickle_start_verdict(str(path)) is None


def test_a_shelf_checked_only_in_part_is_not_called_safe(tmp_path: Path, monkeypatch) -> None:
    import dbm.dumb
    import shelve

    from storage.inspect import summaries_db

    base = tmp_path / "cache"
    with shelve.Shelf(dbm.dumb.open(str(base), "c")) as shelf:
        for key in ("a", "b", "c"):
            shelf[key] = [key]
    assert exit_code(inspect_path(str(base))) == 0
    monkeypatch.setattr(summaries_db, "MAX_SHELF_KEYS", 2)
    report = inspect_path(str(base))
    assert exit_code(report) == 2 and "not fully checked" in messages(report, "suspicious")
