"""joblib files as bytes: compressions by magic, bounded decompression, old-format companions, writing."""

from __future__ import annotations

import os
import pickle
import zlib
from pathlib import Path

import pytest

from storage.core.errors import ParseError, UnreadableError, UnsupportedError
from storage.formats.objects import joblib_io
from storage.formats.objects.joblib_io import (
    COMPRESSIONS,
    companion_names,
    open_joblib,
    read_companion,
    save_joblib_stream,
)
from storage.formats.objects.npy_io import PickledArray
from tests.support.audit_helpers import Canary, no_code_runs

np = pytest.importorskip("numpy")
joblib = pytest.importorskip("joblib")

def read_all(path: Path, **kwargs) -> tuple[bytes, str | None]:
    stream, compression = open_joblib(path, **kwargs)
    with stream:
        return stream.read(), compression


@pytest.mark.parametrize("compression", [*COMPRESSIONS, None])
def test_round_trip_every_compression(tmp_path: Path, compression: str | None) -> None:
    value = {"w": np.arange(2000.0), "m": np.ones((3, 4), dtype="i4"), "s": "text", "n": [1, 2, None]}
    path = tmp_path / "model.bin"  # no telling extension: the magic bytes decide
    joblib.dump(value, path, compress=(compression, 3) if compression else 0)
    payload, found = read_all(path)
    assert found == compression
    assert payload[:1] == b"\x80" and payload.endswith(b".")
    assert payload == read_all(path)[0]  # the same bytes every time

    again = tmp_path / "again.joblib"
    save_joblib_stream(again, payload, found)
    assert read_all(again) == (payload, compression)
    loaded = joblib.load(again)  # joblib itself reads what we wrote (test-made, benign data)
    assert np.array_equal(loaded["w"], value["w"]) and loaded["n"] == value["n"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files left


def test_writer_takes_a_stream_or_chunks(tmp_path: Path) -> None:
    payload = pickle.dumps(list(range(50_000)), protocol=4)
    save_joblib_stream(tmp_path / "a", iter([payload[:100], payload[100:]]), "xz")
    with open(tmp_path / "b.pkl", "wb") as handle:
        handle.write(payload)
    with open(tmp_path / "b.pkl", "rb") as handle:
        save_joblib_stream(tmp_path / "b", handle, "lz4")
    assert read_all(tmp_path / "a") == (payload, "xz")
    assert read_all(tmp_path / "b") == (payload, "lz4")
    with pytest.raises(ValueError, match="unknown compression"):
        save_joblib_stream(tmp_path / "c", payload, "brotli")


def test_extension_does_not_decide(tmp_path: Path) -> None:
    payload = pickle.dumps({"a": 1}, protocol=2)
    (tmp_path / "plain.gz").write_bytes(payload)
    assert read_all(tmp_path / "plain.gz") == (payload, None)
    save_joblib_stream(tmp_path / "packed.pkl", payload, "bz2")
    assert read_all(tmp_path / "packed.pkl") == (payload, "bz2")


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_decompression_bomb_fails_cleanly(tmp_path: Path, compression: str) -> None:
    path = tmp_path / "bomb.joblib"
    save_joblib_stream(path, (b"\0" * 2**20 for _ in range(8)), compression, level=1)
    assert path.stat().st_size < 2**20 // 4  # really a bomb: 8 MB from a small file
    stream, _ = open_joblib(path, max_bytes=2**20)
    with stream, pytest.raises(ParseError, match="decompression bomb") as caught:
        while stream.read(64 * 1024):
            pass
    assert "more than 1 MB" in str(caught.value)  # the budget, said in a size people read


def test_damaged_and_truncated_streams(tmp_path: Path) -> None:
    payload = pickle.dumps(list(range(20_000)), protocol=4)
    save_joblib_stream(tmp_path / "ok.joblib", payload, "gzip")
    data = (tmp_path / "ok.joblib").read_bytes()
    (tmp_path / "cut.joblib").write_bytes(data[: len(data) // 2])
    with pytest.raises(ParseError, match="cut short"):
        read_all(tmp_path / "cut.joblib")
    (tmp_path / "junk.joblib").write_bytes(b"\xfd7zXZ\x00" + b"\xa5" * 200)
    with pytest.raises(ParseError, match="does not decompress"):
        open_joblib(tmp_path / "junk.joblib")
    save_joblib_stream(tmp_path / "bz.joblib", payload, "bz2")
    flipped = bytearray((tmp_path / "bz.joblib").read_bytes())
    flipped[len(flipped) // 2] ^= 0xFF
    (tmp_path / "flip.joblib").write_bytes(bytes(flipped))
    with pytest.raises(ParseError, match="bz2 data"):
        read_all(tmp_path / "flip.joblib")
    with pytest.raises(UnreadableError):
        open_joblib(tmp_path / "absent.joblib")


def test_concatenated_gzip_members(tmp_path: Path) -> None:
    import gzip

    (tmp_path / "two.gz").write_bytes(gzip.compress(b"\x80\x04K\x01") + gzip.compress(b"."))
    assert read_all(tmp_path / "two.gz") == (b"\x80\x04K\x01.", "gzip")
    packed = gzip.compress(b"\x80\x04N.")
    (tmp_path / "junk_after.gz").write_bytes(packed + b"JUNK AFTER")
    stream, _ = open_joblib(tmp_path / "junk_after.gz")
    with stream:
        assert stream.read() == b"\x80\x04N." and stream.trailing_offset == len(packed)


def test_missing_lz4_is_unsupported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    save_joblib_stream(tmp_path / "m.joblib", b"\x80\x04K\x01.", "lz4")
    monkeypatch.setattr("storage.sniff.compressed.lz4_frame", lambda: None)
    monkeypatch.setattr(joblib_io, "lz4_frame", lambda: None)
    with pytest.raises(UnsupportedError, match="pip install lz4"):
        open_joblib(tmp_path / "m.joblib")
    with pytest.raises(UnsupportedError, match="lz4"):
        save_joblib_stream(tmp_path / "n.joblib", b"x", "lz4")
    assert not (tmp_path / "n.joblib").exists()


def test_legacy_zfile_round_trip(tmp_path: Path) -> None:
    from joblib.numpy_pickle_compat import write_zfile

    payload = pickle.dumps({"old": [1, 2, 3]}, protocol=2)
    with open(tmp_path / "old.pkl", "wb") as handle:
        write_zfile(handle, payload, 3)
    stream, compression = open_joblib(tmp_path / "old.pkl")
    with stream:
        assert (stream.read(), compression, stream.zfile) == (payload, "zlib", True)
    save_joblib_stream(tmp_path / "new.pkl", payload, "zlib", zfile=True)
    assert (tmp_path / "new.pkl").read_bytes() == (tmp_path / "old.pkl").read_bytes()
    # joblib <= 0.8.4 on Python 2 wrote one more space before the zlib data
    (tmp_path / "py2.pkl").write_bytes(b"ZF" + hex(len(payload)).encode().ljust(20) + zlib.compress(payload))
    assert read_all(tmp_path / "py2.pkl") == (payload, "zlib")


# -- joblib < 0.10: arrays in companion files ---------------------------------------------------

def _old_format(folder: Path, array: np.ndarray) -> Path:
    """What joblib 0.9 wrote: a pickle of NDArrayWrapper(filename, subclass) and the .npy beside it."""
    from joblib.numpy_pickle_compat import NDArrayWrapper

    wrapper = NDArrayWrapper("old.pkl_01.npy", np.ndarray)
    data = pickle.dumps({"weights": wrapper}, protocol=2)
    data = data.replace(b"joblib.numpy_pickle_compat\n", b"joblib.numpy_pickle\n")  # the old module name
    (folder / "old.pkl").write_bytes(data)
    np.save(folder / "old.pkl_01.npy", array)
    return folder / "old.pkl"


def test_old_format_companion_npy(tmp_path: Path) -> None:
    array = np.arange(12, dtype="<i8").reshape(3, 4)
    pkl = _old_format(tmp_path, array)
    with no_code_runs():
        names = companion_names(pkl.read_bytes())
        got = read_companion(pkl, names[0])
    assert names == ["old.pkl_01.npy"]
    assert isinstance(got, np.memmap) and np.array_equal(got, array)
    assert b"joblib.numpy_pickle\nNDArrayWrapper" in pkl.read_bytes()


def test_old_format_file_is_what_joblib_reads(tmp_path: Path) -> None:
    """The hand-made old file is realistic: joblib itself loads it through the companion."""
    array = np.linspace(0, 1, 5)
    with pytest.warns(DeprecationWarning, match="less than 0.10"):
        loaded = joblib.load(_old_format(tmp_path, array))
    assert np.array_equal(loaded["weights"], array)


def test_old_format_zfile_companion(tmp_path: Path) -> None:
    from joblib.numpy_pickle_compat import write_zfile

    array = np.arange(6, dtype="<f4").reshape(2, 3)
    with open(tmp_path / "old.pkl_01.npy.z", "wb") as handle:
        write_zfile(handle, array.tobytes(), 3)
    (tmp_path / "old.pkl").write_bytes(b"\x80\x02N.")
    got = read_companion(tmp_path / "old.pkl", "old.pkl_01.npy.z", dtype="<f4", shape=(2, 3))
    assert np.array_equal(got, array)
    raw = read_companion(tmp_path / "old.pkl", "old.pkl_01.npy.z")
    assert raw.dtype == np.uint8 and raw.tobytes() == array.tobytes()
    with pytest.raises(ParseError, match="do not fit"):
        read_companion(tmp_path / "old.pkl", "old.pkl_01.npy.z", dtype="<f8", shape=(5, 5))
    with pytest.raises(ParseError, match="more than"):
        read_companion(tmp_path / "old.pkl", "old.pkl_01.npy.z", max_bytes=8)


def test_companion_missing_or_escaping(tmp_path: Path) -> None:
    inner = tmp_path / "inner"
    inner.mkdir()
    pkl = _old_format(inner, np.zeros(3))
    (inner / "old.pkl_01.npy").unlink()
    with pytest.raises(UnreadableError, match=r"old\.pkl_01\.npy .*missing"):
        read_companion(pkl, "old.pkl_01.npy")
    np.save(tmp_path / "secret.npy", np.ones(2))
    for bad in ("../secret.npy", str(tmp_path / "secret.npy"), "sub/../../secret.npy", ""):
        with pytest.raises(ParseError, match="refused"):
            read_companion(pkl, bad)
    os.symlink(tmp_path / "secret.npy", inner / "link.npy")
    with pytest.raises(ParseError, match="outside"):
        read_companion(pkl, "link.npy")
    (inner / "garbage.npy.z").write_bytes(b"not a z file at all")
    with pytest.raises(ParseError, match="Z-file"):
        read_companion(pkl, "garbage.npy.z")


def test_object_companion_is_not_unpickled(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    np.save(tmp_path / "old.pkl_02.npy", np.array([Canary(canary), 1], dtype=object), allow_pickle=True)
    (tmp_path / "old.pkl").write_bytes(b"\x80\x02N.")
    with no_code_runs():
        got = read_companion(tmp_path / "old.pkl", "old.pkl_02.npy")
    assert isinstance(got, PickledArray) and b"exec" in got.data
    assert not canary.exists()


def test_inspect_reports_compression(tmp_path: Path) -> None:
    from storage.inspect.report import inspect_path

    joblib.dump({"a": np.arange(5)}, tmp_path / "m.joblib", compress=("lz4", 3))
    report = inspect_path(tmp_path / "m.joblib")
    assert report["format"] == "joblib" and report["summary"]["compression"] == "lz4"
    assert report["summary"]["complete"] and report["summary"]["arrays"] == 1


def test_companion_names_follow_memo_and_protocols() -> None:
    from joblib.numpy_pickle_compat import NDArrayWrapper

    wrappers = [NDArrayWrapper(f"x.pkl_{i:02d}.npy", np.ndarray) for i in range(3)]
    for protocol in range(5):
        assert companion_names(pickle.dumps(wrappers, protocol=protocol)) == [w.filename for w in wrappers]
    assert companion_names(pickle.dumps(wrappers, protocol=2)[:60]) == []  # damaged: what came before
    assert companion_names(b"not a pickle") == []


def test_inspect_lists_companions(tmp_path: Path) -> None:
    from storage.inspect.report import inspect_path

    pkl = _old_format(tmp_path, np.zeros((2, 5), dtype="<f4"))
    report = inspect_path(pkl)
    (entry,) = report["summary"]["companions"]
    assert entry["file"] == "old.pkl_01.npy" and entry["present"] and entry["shape"] == [2, 5]
    (tmp_path / "old.pkl_01.npy").unlink()
    report = inspect_path(pkl)
    assert report["summary"]["companions"][0]["present"] is False
    assert any("missing" in f["message"] and "old.pkl_01.npy" in f["message"] for f in report["findings"])


def test_picklescan_corpus_streams_open_or_fail_cleanly() -> None:
    from storage.core.errors import KnownError
    from tests.conftest import corpus_dir

    files = sorted(p for p in corpus_dir("picklescan").rglob("*") if p.is_file())
    with no_code_runs():
        for path in files:
            try:
                stream, _ = open_joblib(path, max_bytes=64 * 2**20)
                with stream:
                    while stream.read(2**20):
                        pass
            except KnownError as exc:
                assert str(exc), path
