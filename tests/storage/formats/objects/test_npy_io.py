""".npy/.npz without unpickling: memory maps, raw object pickles, bounded members, stats."""

from __future__ import annotations

import resource
import zipfile
from pathlib import Path

import pytest

from storage.core import array_stats as stats_module
from storage.core.array_stats import array_stats
from storage.core.errors import ParseError
from storage.formats.objects.npy_io import PickledArray, read_npy, read_npy_info, read_npz
from tests.support.audit_helpers import Canary, no_code_runs

np = pytest.importorskip("numpy")


def test_numeric_npy_is_memory_mapped_read_only(tmp_path: Path) -> None:
    array = np.arange(24, dtype=">i4").reshape(2, 3, 4)
    fortran = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    np.save(tmp_path / "a.npy", array)
    np.save(tmp_path / "f.npy", fortran)
    got = read_npy(tmp_path / "a.npy")
    assert isinstance(got, np.memmap) and got.dtype == np.dtype(">i4") and np.array_equal(got, array)
    assert not got.flags.writeable
    assert np.array_equal(read_npy(tmp_path / "f.npy"), fortran)
    info = read_npy_info(tmp_path / "f.npy")
    assert (info.shape, info.fortran_order, info.object_dtype) == ((2, 3), True, False)
    np.save(tmp_path / "e.npy", np.zeros((0, 3)))
    assert read_npy(tmp_path / "e.npy").shape == (0, 3)


def test_object_npy_returns_raw_pickle_bytes(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    np.save(tmp_path / "o.npy", np.array([Canary(canary), {"a": 1}], dtype=object), allow_pickle=True)
    with no_code_runs():
        got = read_npy(tmp_path / "o.npy")
    assert isinstance(got, PickledArray) and got.info is not None and got.info.shape == (2,)
    data = (tmp_path / "o.npy").read_bytes()
    assert got.data == data[got.info.data_offset:] and b"exec" in got.data
    assert got.load(len) == len(got.data)  # the caller's loader gets the bytes, nothing else runs
    assert not canary.exists()
    with pytest.raises(ParseError, match="more than"):
        read_npy(tmp_path / "o.npy", max_pickle_bytes=10)


def test_bad_npy_files(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.zeros(100))
    data = (tmp_path / "a.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[:-8])
    with pytest.raises(ParseError, match="cut short"):
        read_npy(tmp_path / "cut.npy")
    (tmp_path / "junk.npy").write_bytes(b"\x93NUMPY\x01\x00\x20\x00{'descr': oops" + b" " * 20)
    with pytest.raises(ParseError, match=r"\.npy header"):
        read_npy(tmp_path / "junk.npy")
    (tmp_path / "evil.npy").write_bytes(b"\x93NUMPY\x01\x00\x40\x00{'descr': __import__('os').system('x')}" +
                                        b" " * 30)
    with no_code_runs(), pytest.raises(ParseError):
        read_npy(tmp_path / "evil.npy")


# -- stats --------------------------------------------------------------------------------------

def test_stats_nan_aware_and_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stats_module, "CHUNK", 7)  # many chunks, with NaN runs across their edges
    values = np.arange(100, dtype="f8") - 20
    values[[3, 4, 5, 50, 99]] = np.nan
    stats = array_stats(values)
    assert (stats["min"], stats["max"], stats["nan_count"], stats["count"]) == (-20.0, 78.0, 5, 95)
    assert stats["mean"] == pytest.approx(float(np.nanmean(values))) and stats["sampled"] is False
    assert array_stats(np.full(10, np.nan))["min"] is None
    assert array_stats(np.array([True, False]))["mean"] == 0.5
    assert array_stats(np.array([2**62, -(2**62)], dtype="i8"))["min"] == -(2**62)
    assert array_stats(np.array([1.0, np.inf]))["max"] == "inf"
    assert array_stats(np.zeros((0, 4)))["count"] == 0
    for skipped in (np.array(["a"]), np.zeros(2, dtype=[("x", "f4")]), np.array([1j]), np.array([None])):
        assert array_stats(skipped) is None


def test_stats_of_views_and_orders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stats_module, "CHUNK", 5)
    base = np.arange(600, dtype="i2").reshape(20, 30)
    for array in (base, base.T, base[::3, 1::4], np.asfortranarray(base)):
        stats = array_stats(array)
        assert (stats["min"], stats["max"]) == (array.min(), array.max())
        assert stats["mean"] == pytest.approx(array.mean()) and stats["count"] == array.size
    sampled = array_stats(base[:, ::2], max_elements=40)
    assert sampled["sampled"] and sampled["count"] <= 300 and sampled["elements"] == 300


def test_huge_sparse_memmap_is_sampled_not_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.npy"
    size = 2 * 10**9  # 16 GB of float64, sparse on disk
    out = np.lib.format.open_memmap(path, mode="w+", dtype="<f8", shape=(size,))
    out[0], out[size // 2], out[-1] = 5.0, np.nan, -3.0
    out.flush()
    del out
    array = read_npy(path)
    before = resource.getrusage(resource.RUSAGE_SELF)
    stats = array_stats(array, max_elements=10**6)
    after = resource.getrusage(resource.RUSAGE_SELF)
    faults = (after.ru_minflt - before.ru_minflt) + (after.ru_majflt - before.ru_majflt)
    assert faults < 100_000, faults  # reading it all would fault in ~4 million pages
    assert stats["sampled"] and stats["elements"] == size
    assert (stats["min"], stats["max"]) == (-3.0, 5.0)  # the first and last blocks are always sampled


# -- .npz ---------------------------------------------------------------------------------------

def test_npz_members_are_lazy(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    np.savez(tmp_path / "s.npz", x=np.arange(10.0), o=np.array([Canary(canary)], dtype=object))
    np.savez_compressed(tmp_path / "c.npz", m=np.eye(3, dtype="f4"))
    with no_code_runs(), read_npz(tmp_path / "s.npz") as archive:
        described = {m.key: m.describe() for m in archive.members}
        x = archive.read("x")
        o = archive.read("o.npy")
    assert described["x"]["shape"] == [10] and described["o"]["object_dtype"] is True
    assert isinstance(x, np.memmap) and np.array_equal(x, np.arange(10.0))
    assert isinstance(o, PickledArray) and b"exec" in o.data and not canary.exists()
    with read_npz(tmp_path / "c.npz") as archive:
        assert archive.members[0].compressed and np.array_equal(archive.read("m"), np.eye(3))
        with pytest.raises(KeyError):
            archive.read("nope")


def test_npz_bomb_and_garbage(tmp_path: Path) -> None:
    np.savez_compressed(tmp_path / "bomb.npz", big=np.zeros(2 * 2**20), small=np.arange(3))
    assert (tmp_path / "bomb.npz").stat().st_size < 100_000
    with read_npz(tmp_path / "bomb.npz", max_member_bytes=2**20) as archive:
        assert [m.key for m in archive.members] == ["big", "small"]
        with pytest.raises(ParseError, match="more than"):
            archive.read("big")
        assert np.array_equal(archive.read("small"), np.arange(3))
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04" + b"\xa5" * 300)
    with pytest.raises(ParseError, match="zip"):
        read_npz(tmp_path / "junk.npz")
    with zipfile.ZipFile(tmp_path / "odd.npz", "w") as archive:
        archive.writestr("text.npy", b"not an array")
        header = b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (1000000,), }"
        archive.writestr("liar.npy", header.ljust(128, b" ")[:127] + b"\n" + b"\0" * 16)
    with read_npz(tmp_path / "odd.npz") as archive:
        members = {m.key: m for m in archive.members}
        assert members["text"].error and "header" in members["text"].error
        with pytest.raises(ParseError, match="header"):
            archive.read("text")
        with pytest.raises(ParseError, match="cut short"):
            archive.read("liar")


def test_npz_stats_stream_compressed_members(tmp_path: Path) -> None:
    values = np.arange(3 * 2**20, dtype="<f8") % 1000
    values[5] = np.nan
    np.savez_compressed(tmp_path / "c.npz", big=values, text=np.array(["a"]))
    with read_npz(tmp_path / "c.npz", max_member_bytes=2**20) as archive:
        with pytest.raises(ParseError, match="more than"):
            archive.read("big")  # too big to hold: but its stats stream through
        whole = archive.stats("big", max_elements=10**8)
        head = archive.stats("big", max_elements=1000)
        assert archive.stats("text") is None
    assert (whole["min"], whole["max"], whole["nan_count"], whole["sampled"]) == (0.0, 999.0, 1, False)
    assert whole["mean"] == pytest.approx(float(np.nanmean(values)))
    assert (head["count"], head["max"], head["sampled"], head["elements"]) == (999, 999.0, True, values.size)


def test_inspect_reports_stats(tmp_path: Path) -> None:
    from storage.inspect.report import inspect_path

    np.save(tmp_path / "a.npy", np.array([1.0, np.nan, 3.0]))
    summary = inspect_path(tmp_path / "a.npy")["summary"]
    assert summary["shape"] == [3] and summary["dtype"] == "float64"
    assert {k: summary["stats"][k] for k in ("min", "max", "mean", "nan_count")} == \
        {"min": 1.0, "max": 3.0, "mean": 2.0, "nan_count": 1}
    np.savez_compressed(tmp_path / "z.npz", x=np.arange(5), o=np.array([None], dtype=object))
    members = {m["name"]: m for m in inspect_path(tmp_path / "z.npz")["summary"]["members"]}
    assert members["x.npy"]["stats"]["max"] == 4 and "stats" not in members["o.npy"]


def test_picklescan_corpus_arrays_read_without_running_anything() -> None:
    from tests.conftest import corpus_dir

    folder = corpus_dir("picklescan")
    files = sorted(p for p in folder.rglob("*") if p.suffix in (".npy", ".npz"))
    assert files
    kinds = set()
    with no_code_runs():
        for path in files:
            if path.suffix == ".npy":
                values = [read_npy(path)]
            else:
                with read_npz(path) as archive:
                    values = [archive.read(m.name) for m in archive.members]
            for value in values:
                kinds.add(type(value).__name__)
                if isinstance(value, PickledArray):
                    assert value.data[:1] == b"\x80", path
                else:
                    assert array_stats(value) is not None or value.dtype.kind not in "biuf"
    assert {"PickledArray", "memmap"} <= kinds


def test_a_small_object_array_never_asks_for_the_whole_limit_at_once() -> None:
    """read(limit + 1) allocates the limit (1 GiB) before reading 200 bytes: a MemoryError under a
    memory cap (the fuzzer's child found it). The pickled part is read in bounded chunks."""
    import io

    from storage.formats.objects import npy_io

    asked: list[int] = []

    class Spy(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            asked.append(-1 if size is None else size)
            return super().read(size)

    got = npy_io._read_pickle(Spy(b"p" * 200), None, 1 << 30, "objects.npy")  # type: ignore[arg-type]
    assert got.data == b"p" * 200
    assert max(asked) <= 1 << 22
