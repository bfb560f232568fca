"""Fuzzing: a short fixed-seed run of tests/fuzz/run.py, and the regression tests of its findings.

The run mutates seed files of every format and opens each through ``inspect`` and every tab's
loader in a child process: only KnownError may escape, nothing crashes or hangs, and the file
and its folder stay as they were. The long run is ``python -m tests.fuzz.run --minutes 30``.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from tests.fuzz.child import Child
from tests.fuzz.run import fuzz
from tests.fuzz.seeds import make_seeds
from tests.fuzz.targets import run_target, targets, targets_for

CI_SEED = 20261121
CI_TRIALS = 3000


def test_fixed_seed_run_finds_nothing(tmp_path: Path) -> None:
    stats = fuzz(CI_SEED, trials=CI_TRIALS, corpus=40, findings_dir=tmp_path / "findings", cli_every=1000)
    print(stats.line())
    details = "\n".join(f"{f.kind} {f.target} trial {f.trial} ({f.seed}: {f.mutation}) {f.saved}\n{f.detail}"
                        for f in stats.findings[:5])
    assert stats.trials == CI_TRIALS
    problems = (stats.crashes, stats.hangs, stats.uncaught, stats.changed, stats.cli_failures)
    assert problems == (0, 0, 0, 0, 0), details
    # Every loader ran, and the oracle saw both outcomes: files opened and files refused.
    assert set(stats.by_target) == set(targets())
    assert stats.cli_runs == 3
    assert 0 < stats.rejected < stats.target_runs


def test_every_seed_opens_cleanly(tmp_path: Path) -> None:
    """The unmutated seeds open in their own tab's loader without any refusal."""
    for seed in make_seeds(tmp_path):
        for name in targets_for(seed.fmt):
            if name == "text" and seed.fmt not in ("text", "json", "jsonl"):
                continue
            status, detail = run_target(name, seed.files[0])
            assert status == "ok", (seed.name, name, detail)


# -- regression tests of the fuzzer's findings -------------------------------------------------

def _lz4_frame(tmp_path: Path, damage: int) -> Path:
    lz4_frame = pytest.importorskip("lz4.frame")
    import pickle

    data = bytearray(lz4_frame.compress(pickle.dumps(list(range(100)), 4)))
    data[damage] ^= 0x40  # the frame descriptor: block size or header checksum
    path = tmp_path / "model.joblib"
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("damage", [4, 5, 6])
def test_damaged_lz4_frame_is_reported_not_raised(tmp_path: Path, damage: int) -> None:
    """lz4 raises RuntimeError for a bad frame header; sniffing called it a bug of ours."""
    from storage.inspect.report import inspect_path

    path = _lz4_frame(tmp_path, damage)
    report = inspect_path(path)
    assert report["format"] in ("binary", "joblib")
    for name in ("inspect", "joblib", "hex"):
        assert run_target(name, str(path))[0] in ("ok", "known"), name


def test_sqlite_header_with_odd_versions_leaves_no_files_beside(tmp_path: Path) -> None:
    """Write version 6, read version 2 (a flipped bit): the reader used to create -wal and -shm."""
    path = tmp_path / "wal.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (a)")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    for extra in tmp_path.glob("wal.sqlite-*"):
        extra.unlink()
    data = bytearray(path.read_bytes())
    data[18] = 6
    path.write_bytes(bytes(data))
    os.utime(path, ns=(10**18, 10**18))
    for name in ("inspect", "sqlite"):
        assert run_target(name, str(path))[0] in ("ok", "known")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wal.sqlite"]
    assert path.read_bytes() == bytes(data) and path.stat().st_mtime_ns == 10**18


def _run_isolated(path: Path, fmt: str) -> list[list]:
    """Every target for ``fmt`` on ``path`` in a child process: a hang or a segfault fails the test."""
    child = Child(timeout=20)
    try:
        result = child.run(str(path), [fmt])
    finally:
        child.close()
    assert not result.hang, f"{result.hang} hung"
    assert not result.crash, result.crash
    assert all(status in ("ok", "known") for _n, status, _d, _s in result.results), result.results
    return result.results


def test_hdf5_global_heap_object_of_size_zero_is_refused_not_hung(tmp_path: Path) -> None:
    """A free-space object of size 0 in a global heap sent HDF5 into an endless loop when a
    variable-length string attribute was read (the fuzzer deleted 4 bytes before it)."""
    h5py = pytest.importorskip("h5py")
    from storage.formats.hdf5.guard import damaged_global_heap
    from storage.formats.hdf5.io import H5File

    path = tmp_path / "heap.h5"
    with h5py.File(path, "w") as f:
        f.attrs["title"] = "fuzz seed"
        f.create_dataset("numbers", data=[1, 2, 3])
    data = bytearray(path.read_bytes())
    heap = data.index(b"GCOL")
    free = heap + 16 + 16 + 16  # after the header and the 9-byte string object (padded to 16)
    assert data[free:free + 2] == b"\0\0"  # index 0: the free space
    data[free + 8:free + 16] = bytes(8)
    path.write_bytes(bytes(data))
    assert damaged_global_heap(str(path))
    _run_isolated(path, "hdf5")
    with H5File(str(path)) as h5:
        [title] = h5.attributes("/")
        assert "global heap of this file is damaged" in title.value
        assert h5.read_window("/numbers", (0, None), (0,), (0, 3), (0, 1)).cells == [["1"], ["2"], ["3"]]


def test_hdf5_damaged_fill_value_message_does_not_crash(tmp_path: Path) -> None:
    """An invalid fill-value message made h5py's ``fillvalue`` segfault in dataset_info."""
    h5py = pytest.importorskip("h5py")
    from storage.formats.hdf5.io import H5File

    path = tmp_path / "fill.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("scalar", data=7.5)
    data = bytearray(path.read_bytes())
    message = b"\x05\x00\x08\x00\x01\x00\x00\x00\x02\x02\x02\x01\x00\x00\x00\x00"
    at = data.index(message) + 11
    data[at:at + 5] = b"\x81\xc8\xd4\xf9\xf5"  # "fill defined" and the value's size
    path.write_bytes(bytes(data))
    _run_isolated(path, "hdf5")
    with H5File(str(path)) as h5:
        info = h5.dataset_info("/scalar")
        assert info.fillvalue == ""
        assert h5.read_window("/scalar", (0, None), (), (0, 1), (0, 1)).cells == [["7.5"]]


def _assert_clean(path: Path, *targets: str) -> None:
    for name in targets:
        status, detail = run_target(name, str(path))
        assert status in ("ok", "known"), f"{name}: {detail}"


def test_json_bad_utf16_after_a_newline_byte_is_a_parse_error(tmp_path: Path) -> None:
    """Lines were counted in bytes but looked up in the decoded text: IndexError (shrunk finding)."""
    from storage.formats.json.io import JsonParseError, read_json

    path = tmp_path / "bad.json"
    path.write_bytes(b"\xff\xfe\n\x01\x00")
    with pytest.raises(JsonParseError, match="not valid UTF-16"):
        read_json(str(path))
    _assert_clean(path, "inspect", "json", "jsonl", "text")


def test_zip_member_with_an_empty_name_is_summarized(tmp_path: Path) -> None:
    """ZipInfo.is_dir() raises IndexError for an empty member name (a zeroed name length): in
    inspect's zip scan and in the .npz reader."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo(""), b"\x80\x04K\x01.")
        archive.writestr("model.pkl", b"\x80\x04K\x02.")
    path = tmp_path / "models.zip"
    path.write_bytes(buffer.getvalue())
    _assert_clean(path, "inspect", "pickle", "npz")


def _damaged_schema(tmp_path: Path, name: str) -> Path:
    """A database whose schema does not parse and whose table name is not UTF-8: SQLite's
    "malformed database schema (...)" message then quotes bytes Python cannot decode."""
    path = tmp_path / name
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE zzzzzz (a)" if name.endswith(".sqlite") else
                 "CREATE TABLE Dict (key BLOB UNIQUE NOT NULL, value BLOB NOT NULL)")
    conn.commit()
    conn.close()
    data = path.read_bytes().replace(b"CREATE TABLE", b"CREATE TABLX")
    path.write_bytes(data.replace(b"zzzzzz", b"\xc5zzzzz").replace(b"tableDictDict", b"table\xc5ictDict"))
    return path


def test_sqlite_schema_error_that_is_not_utf8_is_a_known_error(tmp_path: Path) -> None:
    from storage.core.errors import ParseError
    from storage.formats.sql.sqlite_db import Reader

    path = _damaged_schema(tmp_path, "bad.sqlite")
    with pytest.raises(ParseError, match="damaged"):
        Reader(str(path))
    _assert_clean(path, "inspect", "sqlite", "shelve")
    shelf = _damaged_schema(tmp_path, "shelf")  # the same in a Python 3.13 SQLite shelf
    _assert_clean(shelf, "inspect", "sqlite", "shelve")


def test_hdf5_float_type_with_a_damaged_bias_is_a_broken_node(tmp_path: Path) -> None:
    """h5py raises ValueError ("Insufficient precision") reading such a dtype; the tree listing
    let it escape."""
    h5py = pytest.importorskip("h5py")
    from storage.core.errors import ParseError
    from storage.formats.hdf5.io import H5File

    path = tmp_path / "float.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=[1.0, 2.0, 3.0])
        f.create_dataset("y", data=[1, 2])
    data = bytearray(path.read_bytes())
    float64 = b"\x11\x20\x3f\x00\x08\x00\x00\x00\x00\x00\x40\x00\x34\x0b\x00\x34\xff\x03\x00\x00"
    data[data.index(float64) + 19] = 0x80  # the exponent bias's high byte
    path.write_bytes(bytes(data))
    with H5File(str(path)) as h5:
        x, y = h5.children("/")
        assert (x.kind, y.kind) == ("broken", "dataset")
        assert "data type cannot be read" in x.message
        with pytest.raises(ParseError):
            h5.dataset_info("/x")
        with pytest.raises(ParseError):
            h5.read_window("/x", (0, None), (0,), (0, 3), (0, 1))
    _assert_clean(path, "inspect", "hdf5")


def test_pickle_global_with_a_very_dotted_module_name_is_quick(tmp_path: Path) -> None:
    """Classifying a GLOBAL tried every parent package of its module: quadratic in the dots, so a
    module name of 100,000 dots hung inspect (a pytorch pickle of the corpus, 100,000 '.' added)."""
    path = tmp_path / "dots.pkl"
    path.write_bytes(b"\x80\x02c_" + b"." * 100_000 + b"\nname\nq\x00.")
    results = _run_isolated(path, "pickle")
    assert {name for name, *_ in results} >= {"inspect", "pickle"}
    from storage.formats.objects.pickle.danger import classify

    assert classify("subprocess.a.b", "run")[0] == "dangerous"  # a parent package's entry still counts


def test_text_with_one_crlf_among_many_lf_splits_in_linear_time(tmp_path: Path) -> None:
    """Mixed endings were split with two finds per line, each to the end of the text for a rare
    "\\r": quadratic (the fuzzer's 1.9 MB JSON with one CRLF took 5 s in load_text)."""
    from storage.formats.text.file import load_text

    path = tmp_path / "mixed.txt"
    body = "first\r\n" + "".join(f"line {i}\n" for i in range(400_000)) + "cr only\rlast"
    path.write_bytes(body.encode())
    _run_isolated(path, "text")  # first, under the child's deadline: the quadratic split took minutes
    content = load_text(str(path))
    assert content.endings == "mixed"
    assert content.counts == {"LF": 400_000, "CRLF": 1, "CR": 1}
    assert content.text == body.replace("\r\n", "\n").replace("\r", "\n")
    assert content.terminators[:2] == ["\r\n", "\n"] and content.terminators[-2:] == ["\r", ""]
