"""Format sniffing: content decides, the extension only breaks ties, nothing blocks or runs."""

from __future__ import annotations

import bz2
import dbm.dumb
import errno
import gzip
import json
import os
import pickle
import shelve
import sqlite3
import threading
import time
import zipfile
from pathlib import Path

import pytest

from storage.core.errors import KnownError, UnreadableError
from storage.formats import registry as format_registry
from storage.sniff.detect import SniffResult, sniff, sniff_many


def write(folder: Path, name: str, data: bytes | str) -> Path:
    path = folder / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def fmt(path: Path) -> str:
    return sniff(path).format


def test_constants_are_consistent() -> None:
    FORMATS = format_registry.names()
    EXTENSIONS = {ext: f.name for f in format_registry.formats() for ext in f.extensions}
    assert len(set(FORMATS)) == len(FORMATS) == 15
    assert set(EXTENSIONS.values()) <= set(FORMATS)
    assert all(ext.startswith(".") and ext == ext.lower() for ext in EXTENSIONS)


def test_result_is_a_frozen_dataclass(tmp_path: Path) -> None:
    result = sniff(write(tmp_path, "a.txt", "hello\n"))
    assert isinstance(result, SniffResult)
    assert (result.format, result.size, result.path) == ("text", 6, str(tmp_path / "a.txt"))
    with pytest.raises(AttributeError):
        result.format = "json"  # type: ignore[misc]


# -- pickles and joblib -------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", range(6))
def test_pickle_protocols(tmp_path: Path, protocol: int) -> None:
    data = {"numbers": [1, 2.5, None], "text": "héllo", "nested": ({"x": b"\x00\x01"},)}
    result = sniff(write(tmp_path, f"p{protocol}.bin", pickle.dumps(data, protocol=protocol)))
    assert result.format == "pickle", result.reason
    if protocol >= 2:
        assert result.detail["pickle_protocol"] == protocol
        assert result.magic == bytes([0x80, protocol])
    else:
        assert result.detail["pickle_protocol"] <= 1
        assert "STOP" in result.reason


def test_big_protocol0_pickle_beyond_the_head(tmp_path: Path) -> None:
    data = pickle.dumps([f"item {i}" for i in range(20_000)], protocol=0)
    assert len(data) > 64 * 1024
    assert fmt(write(tmp_path, "big.dat", data)) == "pickle"


@pytest.mark.parametrize("compress", ["zlib", "gzip", "bz2", "xz", "lzma"])
def test_joblib_compressed(tmp_path: Path, compress: str) -> None:
    joblib = pytest.importorskip("joblib")
    np = pytest.importorskip("numpy")
    path = tmp_path / f"model.{compress}"
    joblib.dump({"w": np.arange(1000), "name": "m"}, path, compress=(compress, 3))
    result = sniff(path)
    assert result.format == "joblib", result.reason
    assert result.detail["compression"] == compress


def test_joblib_uncompressed_and_plain_pickle_named_joblib(tmp_path: Path) -> None:
    joblib = pytest.importorskip("joblib")
    np = pytest.importorskip("numpy")
    path = tmp_path / "model.bin"
    joblib.dump({"w": np.ones((3, 3))}, path)
    assert fmt(path) == "joblib"
    assert fmt(write(tmp_path, "plain.joblib", pickle.dumps([1, 2], protocol=4))) == "joblib"
    assert fmt(write(tmp_path, "plain.pkl", pickle.dumps([1, 2], protocol=4))) == "pickle"


def test_compressed_non_pickle_is_binary(tmp_path: Path) -> None:
    result = sniff(write(tmp_path, "notes.gz", gzip.compress(b"just text\n" * 50)))
    assert (result.format, result.detail["compression"]) == ("binary", "gzip")
    result = sniff(write(tmp_path, "notes.bz2", bz2.compress(b"just text\n" * 50)))
    assert (result.format, result.detail["compression"]) == ("binary", "bz2")


def test_lz4_without_module_uses_the_extension(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("storage.sniff.compressed.lz4_frame", lambda: None)  # as if lz4 were missing
    frame = b"\x04\x22\x4d\x18" + b"\x00" * 20
    assert fmt(write(tmp_path, "m.joblib", frame)) == "joblib"
    result = sniff(write(tmp_path, "m.data", frame))
    assert (result.format, result.detail["compression"]) == ("binary", "lz4")


def test_weak_compression_magic_falls_back_to_text(tmp_path: Path) -> None:
    assert fmt(write(tmp_path, "math.txt", "x^2 + y^2 = z^2\n")) == "text"


def test_pytorch_legacy_magic(tmp_path: Path) -> None:
    data = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.\x80\x02K\x03."
    result = sniff(write(tmp_path, "model.pt", data))
    assert (result.format, result.detail["wrapper"]) == ("pickle", "pytorch-legacy")


# -- containers ---------------------------------------------------------------------------------

def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_zip_kinds(tmp_path: Path) -> None:
    torch = sniff(_zip(tmp_path / "model.pt", {"archive/data.pkl": pickle.dumps(1), "archive/version": b"3"}))
    assert (torch.format, torch.detail["wrapper"]) == ("pickle", "pytorch-zip")
    other = sniff(_zip(tmp_path / "docs.zip", {"a.txt": b"hello"}))
    assert (other.format, other.detail["container"]) == ("binary", "zip")
    assert fmt(_zip(tmp_path / "empty.npz", {})) == "npz"
    assert fmt(_zip(tmp_path / "empty.zip", {})) == "binary"


def test_seven_zip_signature(tmp_path: Path) -> None:
    result = sniff(write(tmp_path, "a.7z", b"7z\xbc\xaf\x27\x1c\x00\x04" + b"\x00" * 40))
    assert (result.format, result.detail["container"]) == ("binary", "7z")


def test_numpy_files(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    np.save(tmp_path / "a.npy", np.arange(10))
    np.savez(tmp_path / "b.npz", x=np.arange(3), y=np.zeros(2))
    assert fmt(tmp_path / "a.npy") == "npy"
    assert fmt(tmp_path / "b.npz") == "npz"


# -- databases ----------------------------------------------------------------------------------

def test_sqlite_and_misleading_name(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (a INTEGER)")
    conn.close()
    result = sniff(path)
    assert result.format == "sqlite" and "SQLite format 3" in result.reason
    assert result.magic == b"SQLite format 3\x00"


def test_corrupt_sqlite_is_still_sqlite(tmp_path: Path) -> None:
    assert fmt(write(tmp_path, "bad.db", b"SQLite format 3\x00" + b"\xff" * 200)) == "sqlite"


def test_sqlite_dict_shelf(tmp_path: Path) -> None:
    path = tmp_path / "shelf"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE Dict (key BLOB UNIQUE NOT NULL, value BLOB NOT NULL)")
    conn.execute("INSERT INTO Dict VALUES (?, ?)", (b"k", pickle.dumps(1)))
    conn.commit()
    conn.close()
    result = sniff(path)
    assert (result.format, result.detail["shelf_backend"]) == ("shelve", "dbm.sqlite3")
    assert result.path == str(path)


def test_dumb_shelf_from_any_of_its_files(tmp_path: Path) -> None:
    base = tmp_path / "store"
    with shelve.Shelf(dbm.dumb.open(str(base), "c")) as shelf:
        shelf["a"] = [1, 2]
        shelf["b"] = {"x": 1}
    with shelve.Shelf(dbm.dumb.open(str(base), "w")) as shelf:
        shelf["c"] = "again"  # writes the .bak too
    for name in ("store", "store.dat", "store.dir", "store.bak"):
        if not (tmp_path / name).exists() and name != "store":
            continue
        result = sniff(tmp_path / name)
        assert result.format == "shelve", (name, result.reason)
        assert result.detail["shelf_backend"] == "dbm.dumb"
        assert result.path == str(base)


def test_dat_dir_pair_is_a_dumb_shelf_even_when_damaged(tmp_path: Path) -> None:
    write(tmp_path, "x.dir", b"\x00\x01\x02 binary")
    result = sniff(write(tmp_path, "x.dat", "plain text\n"))
    assert (result.format, result.detail["damaged"]) == ("shelve", True)
    assert fmt(write(tmp_path, "lonely.dat", "plain text\n")) == "text"


def test_native_dbm_magics(tmp_path: Path) -> None:
    gnu = sniff(write(tmp_path, "g", (0x13579ACE).to_bytes(4, "little") + b"\x00" * 60))
    assert (gnu.format, gnu.detail["shelf_backend"]) == ("shelve", "dbm.gnu")
    gnu_be = sniff(write(tmp_path, "g2", (0x13579ACF).to_bytes(4, "big") + b"\x00" * 60))
    assert gnu_be.detail["shelf_backend"] == "dbm.gnu"
    bdb = sniff(write(tmp_path, "b.db", b"\x00" * 12 + (0x00061561).to_bytes(4, "little") + b"\x00" * 60))
    assert (bdb.format, bdb.path) == ("shelve", str(tmp_path / "b"))
    via_base = sniff(tmp_path / "b")
    assert via_base.format == "shelve"
    write(tmp_path, "n.pag", b"\x00" * 10)
    write(tmp_path, "n.dir", b"\x00" * 10)
    assert sniff(tmp_path / "n").detail["shelf_backend"] == "dbm.ndbm"
    assert sniff(tmp_path / "n.pag").detail["shelf_backend"] == "dbm.ndbm"


def test_hdf5_with_and_without_user_block(tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "a.h5", "w") as handle:
        handle["x"] = [1, 2, 3]
    with h5py.File(tmp_path / "b.data", "w", userblock_size=512) as handle:
        handle["x"] = [1]
    assert sniff(tmp_path / "a.h5").detail["signature_offset"] == 0
    result = sniff(tmp_path / "b.data")
    assert (result.format, result.detail["signature_offset"]) == ("hdf5", 512)


# -- text, JSON, JSON Lines, binary -------------------------------------------------------------

@pytest.mark.parametrize(("name", "data", "expected"), [
    ("a.json", '{"a": [1, 2]}', "json"),
    ("a.data", '{"a": [1, 2]}', "json"),
    ("pretty.txt", '{\n  "a": 1,\n  "b": [true, null]\n}\n', "json"),
    ("broken.data", '{"a": 1,, "b": 2}', "json"),
    ("lines.data", '{"a": 1}\n{"a": 2}\n', "jsonl"),
    ("lines.jsonl", '{"a": 1}\n', "jsonl"),
    ("lines.json", '{"a": 1}\n{"a": 2}\n', "json"),
    ("arrays.log", "[1, 2]\n[3, 4]\n[5]\n", "jsonl"),
    ("n.json", "42", "json"),
    ("n.txt", "42", "text"),
    ("s.json", '"just a string"', "json"),
    ("ini.cfg", "[section]\nkey = value\n", "text"),
    ("log.txt", "[2024-01-01 12:00:00] started\n[2024-01-01 12:00:01] done\n", "text"),
    ("intro.txt", "[1] Introduction\n", "text"),
    ("repr.txt", "{'a': 1}\n", "text"),
    ("prose.txt", "It was a bright cold day in April.\nThe clocks were striking thirteen.\n", "text"),
    ("table.csv", "a,b,c\n1,2,3\n", "csv"),
    ("table.txt", "a,b,c\n1,2,3\n", "text"),
    ("rows.txt", "a,b,c\n1,2,3\n4,5,6\n", "csv"),
    ("records.csv", "{\"a\": 1, \"b\": 2}\n{\"a\": 3, \"b\": 4}\n", "jsonl"),
    ("commas.txt", "Hello, world.\nOne line, two commas, here.\nThe end\n", "text"),
    ("notes.pkl", "Just some notes, not a pickle.\n", "text"),
    ("tiny.txt", "N.", "pickle"),
    ("data.pkl", '{"a": 1}', "json"),
    ("blob.bin", b"\x00\x01\x02\x03\xff\xfe" * 100, "binary"),
    ("latin1.txt", "café crème, déjà vu\n".encode("latin-1"), "text"),
    ("random.bin", bytes(range(256)) * 4, "binary"),
])
def test_textual_kinds(tmp_path: Path, name: str, data: str | bytes, expected: str) -> None:
    result = sniff(write(tmp_path, name, data))
    assert result.format == expected, result.reason


def test_protocol0_pickle_named_txt(tmp_path: Path) -> None:
    result = sniff(write(tmp_path, "notes.txt", pickle.dumps({"a": [1, 2]}, protocol=0)))
    assert result.format == "pickle", result.reason


_BOMS = {"utf-8-sig": b"", "utf-16": b"", "utf-32": b"", "utf-16-be": b"\xfe\xff",
         "utf-32-be": b"\x00\x00\xfe\xff"}


@pytest.mark.parametrize("encoding", list(_BOMS))
def test_boms(tmp_path: Path, encoding: str) -> None:
    def encode(text: str) -> bytes:
        return _BOMS[encoding] + text.encode(encoding)

    result = sniff(write(tmp_path, "doc.data", encode('{"name": "Zoë", "n": [1, 2]}')))
    assert result.format == "json", result.reason
    assert result.detail["bom"] is True
    text = sniff(write(tmp_path, "doc.txt", encode("plain words, Zoë\n")))
    assert text.format == "text", text.reason
    assert text.detail["encoding"].startswith(encoding.removesuffix("-sig")[:6])


@pytest.mark.parametrize(("name", "expected"), [
    ("a.json", "json"), ("a.jsonl", "jsonl"), ("a.ndjson", "jsonl"), ("a.pkl", "pickle"),
    ("a.pickle", "pickle"), ("a.db", "sqlite"), ("a.sqlite3", "sqlite"), ("a.h5", "hdf5"),
    ("a.hdf5", "hdf5"), ("a.npy", "npy"), ("a.joblib", "joblib"), ("a.txt", "text"), ("noext", "text"),
    ("a.weird", "text"), ("a.csv", "csv"), ("a.tsv", "csv"), ("a.parquet", "parquet"), ("a.feather", "arrow"),
    ("a.arrows", "arrow"),
])
def test_empty_files_follow_the_extension(tmp_path: Path, name: str, expected: str) -> None:
    result = sniff(write(tmp_path, name, b""))
    assert (result.format, result.size) == (expected, 0)
    assert "empty file" in result.reason


@pytest.mark.parametrize(("data", "expected"), [
    (b"\x80", "binary"), (b"{", "json"), (b"[", "json"), (b"a", "text"), (b"\x00", "binary"),
    (b"N", "text"), (b".", "text"), (b"\n", "text"), (b"\xff", "binary"),
])
def test_one_byte_files(tmp_path: Path, data: bytes, expected: str) -> None:
    result = sniff(write(tmp_path, "one", data))
    assert result.format == expected, result.reason
    assert result.size == 1


# -- things that are not readable files ---------------------------------------------------------

def test_directory(tmp_path: Path) -> None:
    with pytest.raises(UnreadableError, match="is a directory"):
        sniff(tmp_path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UnreadableError, match="does not exist"):
        sniff(tmp_path / "nope.json")


def test_broken_symlink(tmp_path: Path) -> None:
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "gone.json")
    with pytest.raises(UnreadableError, match="broken symbolic link"):
        sniff(link)


def test_symlink_loop(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(UnreadableError, match="symbolic link loop"):
        sniff(tmp_path / "a")


def test_symlink_to_a_file_is_followed(tmp_path: Path) -> None:
    target = write(tmp_path, "real.json", "[1]")
    (tmp_path / "alias").symlink_to(target)
    assert fmt(tmp_path / "alias") == "json"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root reads files whatever their permissions, so chmod 000 proves nothing")
def test_permission_denied(tmp_path: Path) -> None:
    path = write(tmp_path, "secret.json", "[1]")
    path.chmod(0)
    try:
        with pytest.raises(UnreadableError, match="permission denied"):
            sniff(path)
    finally:
        path.chmod(0o644)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this platform")
def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    outcome: list[BaseException | SniffResult] = []

    def target() -> None:
        try:
            outcome.append(sniff(fifo))
        except BaseException as exc:  # handed over to the test thread
            outcome.append(exc)

    worker = threading.Thread(target=target, daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(timeout=5)
    try:
        assert not worker.is_alive(), "sniff blocked on a FIFO"
        assert time.monotonic() - started < 5
        assert isinstance(outcome[0], UnreadableError)
        assert "named pipe (FIFO)" in str(outcome[0])
    finally:
        if worker.is_alive():  # release a reader stuck in open()
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError as exc:
                assert exc.errno in (errno.ENXIO, errno.EAGAIN)


# -- many files ---------------------------------------------------------------------------------

def test_sniff_many_yields_errors_and_stops_on_cancel(tmp_path: Path) -> None:
    paths = [write(tmp_path, f"{i}.json", json.dumps([i])) for i in range(5)]
    paths.insert(2, tmp_path / "missing.json")
    results = list(sniff_many(paths))
    assert [p for p, _ in results] == paths
    assert isinstance(results[2][1], KnownError)
    assert all(r.format == "json" for _, r in results if isinstance(r, SniffResult))
    calls = iter(range(100))
    partial = list(sniff_many(paths, cancel=lambda: next(calls) >= 3))
    assert len(partial) == 3


def test_sniffing_many_files_is_fast(tmp_path: Path) -> None:
    kinds = [b'{"a": 1}', b"hello world\n", pickle.dumps({"a": 1}, protocol=4),
             pickle.dumps([1, 2], protocol=0), b"\x00\x01binary", b"x,y\n1,2\n", b""]
    paths = [write(tmp_path, f"f{i}", kinds[i % len(kinds)]) for i in range(700)]
    started = time.perf_counter()
    results = list(sniff_many(paths))
    elapsed = time.perf_counter() - started
    assert len(results) == 700 and all(isinstance(r, SniffResult) for _, r in results)
    assert elapsed < 10, f"sniffing 700 small files took {elapsed:.2f} s"


def test_the_pickle_start_opcodes_written_out_are_pickletools_own() -> None:
    import pickletools

    from storage.sniff import text

    starters = {op.code.encode("latin-1")[0] for op in pickletools.opcodes if not op.stack_before}
    assert starters == text._STARTERS


def test_sniffing_json_or_text_imports_no_pickle_or_compression_module(tmp_path: Path) -> None:
    """Issue 16: sniffing runs before a launch's first content; pickletools (and pickle), bz2 and
    lzma are imported only for a file that needs them. Checked in a fresh interpreter."""
    import subprocess
    import sys

    (tmp_path / "a.json").write_text('[{"a": 1}]\n')
    (tmp_path / "b.txt").write_text("Hello, world\n")  # "h" would start a pickle: decoded, pickletools loads
    (tmp_path / "c.pkl.bz2").write_bytes(bz2.compress(pickle.dumps({"a": 1})))
    code = ("import sys; from storage.sniff.detect import sniff; "
            "print([sniff(p).format for p in sys.argv[1:3]]); "
            "print(sorted({'pickletools', 'pickle', 'bz2', 'lzma'} & set(sys.modules))); "
            "print(sniff(sys.argv[3]).format, 'bz2' in sys.modules)")
    root = Path(__file__).resolve().parents[3]
    paths = [str(tmp_path / name) for name in ("a.json", "b.txt", "c.pkl.bz2")]
    done = subprocess.run([sys.executable, "-c", code, *paths], cwd=root, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["['json', 'text']", "[]", "pickle True"]
