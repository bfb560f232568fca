"""The first-stage reader (storage.formats.hdf5.peek) against h5py: for random files it describes the
root and its members exactly as H5File does, or answers None; damaged files never make it raise,
hang or read without bound."""

from __future__ import annotations

import io
import itertools
import os
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from storage.formats.hdf5 import peek as peek_module
from storage.formats.hdf5.io import H5File
from storage.formats.hdf5.peek import MAX_BYTES, MAX_READS, checksum, peek

_names = st.text(st.characters(codec="utf-8", exclude_characters="/.\0", exclude_categories=("Cs",)),
                 min_size=1, max_size=12)
_base = st.sampled_from(["i1", "u1", "<i2", ">i2", "<u4", ">i4", "<i8", ">u8", "<f2", "<f4", ">f4", "<f8",
                         ">f8", "?", "c8", "c16"])


def _dtypes() -> st.SearchStrategy:
    plain = _base.map(np.dtype)
    strings = st.one_of(
        st.integers(1, 20).map(lambda n: h5py.string_dtype("ascii", n)),
        st.integers(1, 20).map(lambda n: h5py.string_dtype("utf-8", n)),
        st.just(h5py.string_dtype("utf-8")), st.just(h5py.string_dtype("ascii")))
    enums = st.builds(lambda names, base: h5py.enum_dtype({n: i for i, n in enumerate(names)}, basetype=base),
                      st.lists(st.text("abcdefgh", min_size=1, max_size=4), min_size=1, max_size=9,
                               unique=True),
                      st.sampled_from(["i1", "u2", ">i4"]))
    refs = st.sampled_from([h5py.ref_dtype, h5py.regionref_dtype])
    leaf = st.one_of(plain, strings, enums, refs, st.integers(1, 9).map(lambda n: np.dtype(f"V{n}")))
    compound = st.lists(st.tuples(st.text("xyzrit", min_size=1, max_size=3), st.one_of(plain, strings)),
                        min_size=1, max_size=10, unique_by=lambda f: f[0]).map(np.dtype)
    array = st.tuples(plain, st.lists(st.integers(1, 4), min_size=1, max_size=3)).map(
        lambda t: np.dtype((t[0], tuple(t[1]))))
    vlen = st.one_of(plain, enums).map(lambda d: h5py.vlen_dtype(d))
    return st.one_of(leaf, leaf, compound, array, vlen)


_shapes = st.one_of(st.just(()), st.just(None),
                    st.lists(st.integers(0, 5), min_size=1, max_size=3).map(tuple))


@st.composite
def _members(draw) -> list[tuple]:
    names = draw(st.lists(_names, min_size=0, max_size=25, unique_by=lambda n: n.encode()))
    out = []
    for name in names:
        kind = draw(st.sampled_from(["dataset", "dataset", "group", "soft", "external", "hard", "datatype",
                                     "typed"]))
        out.append((name, kind, draw(_dtypes()), draw(_shapes), draw(st.integers(0, 12)),
                    draw(st.sampled_from(["contiguous", "chunked", "compact"])), draw(st.integers(0, 12)),
                    draw(st.sampled_from(["", "GROUP", "DIMENSION_SCALE", "TABLE"]))))
    return out


def _write(path: Path, members: list[tuple], libver: str, track: bool, userblock: int,
           root_attrs: int, more: int = 0) -> None:
    with h5py.File(path, "w", libver=libver, track_order=track, userblock_size=userblock) as f:
        for number in range(more):  # many links: a dense root, a deeper B-tree
            f.create_dataset(f"m{number * 37 % max(more, 1):03}", shape=(number % 3,), dtype="i2")
        for number in range(root_attrs):
            f.attrs[f"a{number}"] = number
        made: list[str] = []
        for name, kind, dtype, shape, attrs, layout, size, pyclass in members:
            target = None
            if kind == "dataset":
                kwargs = {}
                if shape is None:
                    target = f.create_dataset(name, data=h5py.Empty(dtype))
                else:
                    if layout == "chunked" and shape and 0 not in shape:
                        kwargs["chunks"] = True
                    if layout == "compact" and shape != ():
                        kwargs["compact"] = True
                    try:
                        target = f.create_dataset(name, shape=shape, dtype=dtype, **kwargs)
                    except Exception:
                        target = f.create_dataset(name, shape=shape, dtype=dtype)
            elif kind == "group":
                target = f.create_group(name, track_order=bool(size % 2))
                for number in range(size):
                    target.create_group(f"g{number}")
            elif kind == "datatype":
                f[name] = dtype if dtype.kind != "O" else np.dtype("i4")
                target = f[name]
            elif kind == "soft":
                where = made[size % len(made)] if made and size % 3 else f"/missing{size}"
                if size % 4 == 0:  # below a member: a group's g0, or nothing
                    where += "/g0"
                f[name] = h5py.SoftLink(where if size % 2 else where.lstrip("/"))
            elif kind == "external":
                choice = size % 3
                other = ("missing.h5", str(path.parent.parent / "outside.h5"), path.name)[choice]
                f[name] = h5py.ExternalLink(other, "/")
            elif kind == "typed":  # a dataset of a committed datatype (a shared datatype message)
                f[f"{name}_type"] = dtype if dtype.kind != "O" else np.dtype("i4")
                target = f.create_dataset(name, shape=shape, dtype=f[f"{name}_type"])
            elif kind == "hard" and made:
                f[name] = f[made[size % len(made)]]
                target = None
            if target is not None:
                for number in range(attrs):
                    target.attrs[f"n{number}"] = np.arange(number)
                if pyclass:
                    target.attrs["CLASS"] = np.bytes_(pyclass)
                made.append("/" + name)


def _expected(path: Path):
    with H5File(str(path)) as h5:
        return h5.root(), h5.children("/", 0, 500)


@pytest.fixture(scope="module")
def outside(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("peek")
    with h5py.File(folder / "outside.h5", "w"):
        pass
    return folder


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow])
@given(members=_members(), libver=st.sampled_from(["earliest", "latest", "v110"]), track=st.booleans(),
       userblock=st.sampled_from([0, 0, 512, 1024, 4096]), root_attrs=st.integers(0, 10),
       more=st.sampled_from([0, 0, 0, 40, 120]))
def test_the_preview_is_what_h5py_shows_or_nothing(outside: Path, members, libver, track, userblock,
                                                   root_attrs, more) -> None:
    folder = outside / f"case{next(_CASES)}"
    folder.mkdir()
    path = folder / "file.h5"
    try:
        _write(path, members, libver, track, userblock, root_attrs, more)
    except (ValueError, TypeError, OSError, RuntimeError):
        assume(False)
    root, children = _expected(path)
    found = peek(str(path))
    if found is not None:
        assert found.root == root
        if found.complete:
            assert found.children == children
        else:  # the members before the first one only h5py describes
            assert found.children and found.children == children[:len(found.children)]
            assert len(found.children) < len(children)
    PEEKED.append(found is not None)


PEEKED: list[bool] = []
_CASES = itertools.count()


def test_most_random_files_get_a_preview() -> None:
    """Run after the property test: the fallback is the exception, not the rule."""
    if len(PEEKED) < 50:
        pytest.skip("the property test did not run first")
    assert sum(PEEKED) > len(PEEKED) * 0.5


def _h5py_default(path: Path, count: int = 30) -> None:
    with h5py.File(path, "w") as f:
        for number in range(count):
            f.create_dataset(f"d{number:03}", data=np.arange(10.0))
        g = f.create_group("group")
        g.create_dataset("x", data=[1, 2, 3])
        f["soft"] = h5py.SoftLink("/group")


def test_a_default_h5py_file_and_a_big_one_are_previewed(tmp_path: Path) -> None:
    path = tmp_path / "f.h5"
    _h5py_default(path, 800)
    root, children = _expected(path)
    found = peek(str(path))
    assert found is not None
    assert found.root == root and found.root.members == 802
    assert found.children == children and len(children) == 500
    assert found.read_bytes < MAX_BYTES


@pytest.mark.parametrize("track", [False, True])
def test_dense_groups_and_attributes_match_h5py(tmp_path: Path, track: bool) -> None:
    path = tmp_path / "dense.h5"
    with h5py.File(path, "w", libver="latest", track_order=track) as f:
        for number in range(3):  # first by name and by creation
            target = f.create_dataset(f"a_scale{number}", data=[1]) if number else f.create_group("a_tab")
            for k in range(12):  # dense attributes: CLASS is found by its hash
                target.attrs[f"a{k}"] = k
            target.attrs["CLASS"] = np.bytes_("DIMENSION_SCALE" if number else "TABLE")
        for number in range(1500):  # beyond 8 links a new-style group goes dense (a deep name index)
            f.create_dataset(f"n{number * 7919 % 1500:04}" + "x" * (number % 13), data=[number])
    root, children = _expected(path)
    found = peek(str(path))
    assert found is not None and found.root == root and found.children == children
    assert [c.dimension_scale for c in children if c.name.startswith("a_scale")] == [True, True]
    assert next(c for c in children if c.name == "a_tab").pytables_class == "TABLE"


def test_an_external_link_h5py_would_follow_ends_the_preview(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.create_dataset("x", data=[1])
    with h5py.File(tmp_path / "main.h5", "w") as f:
        f["link"] = h5py.ExternalLink("other.h5", "/x")
        f["a"] = [1]
        f["z"] = [2]
    found = peek(str(tmp_path / "main.h5"))
    assert found is not None and not found.complete and found.root.members == 3
    assert [c.name for c in found.children] == ["a"]  # "link" and what follows wait for h5py
    with h5py.File(tmp_path / "first.h5", "w") as f:
        f["a"] = h5py.ExternalLink("other.h5", "/x")
        f["z"] = [2]
    assert peek(str(tmp_path / "first.h5")) is None


def test_a_file_with_a_superblock_extension_gives_nothing(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "paged.h5", "w", fs_strategy="page") as f:
        f["a"] = [1]
    assert peek(str(tmp_path / "paged.h5")) is None


def test_checksum_is_lookup3() -> None:
    assert checksum(b"") == 0xDEADBEEF
    assert checksum(b"Four score and seven years ago") == 0x17770551  # Jenkins' own test vector


# -- damaged files --------------------------------------------------------------------------------------
class _Counting(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.total = 0
        self.calls = 0

    def read(self, size: int | None = -1) -> bytes:
        self.calls += 1
        out = super().read(size)
        self.total += len(out)
        return out


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> list[bytes]:
    folder = tmp_path_factory.mktemp("fuzz")
    out = []
    for libver, count in (("earliest", 6), ("latest", 6), ("latest", 60)):
        path = folder / f"{libver}{count}.h5"
        with h5py.File(path, "w", libver=libver, track_order=libver == "latest") as f:
            for number in range(count):  # 60: a dense root (v2 B-tree, fractal heap)
                f.create_dataset(f"d{number}", data=np.arange(4.0))
                for k in range(count // 6):  # and dense attributes
                    f[f"d{number}"].attrs[f"a{k}"] = k
            f.create_group("g").create_dataset("x", data=[1])
            f["s"] = h5py.SoftLink("/g")
            f["e"] = h5py.ExternalLink("nowhere.h5", "/")
            f.attrs["CLASS"] = np.bytes_("GROUP")
        out.append(path.read_bytes())
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.integers(0, 2), cut=st.integers(0, 60_000), flips=st.lists(
    st.tuples(st.integers(0, 60_000), st.integers(0, 7)), max_size=6), loop=st.booleans())
def test_damaged_files_never_raise_hang_or_read_without_bound(samples, which, cut, flips, loop) -> None:
    data = bytearray(samples[which])
    for where, bit in flips:
        data[where % len(data)] ^= 1 << bit
    if cut % 3 == 0:
        data = data[:cut % len(data)]
    if loop and len(data) > 200:  # a continuation or B-tree pointing back at the root header
        data[-8:] = data[100:108]
    handle = _Counting(bytes(data))
    found = peek("fuzzed.h5", opener=lambda _p: handle)
    assert found is None or isinstance(found, peek_module.Peek)
    assert handle.total <= MAX_BYTES and handle.calls <= MAX_READS + 1


def test_a_file_that_is_not_hdf5_gives_nothing(tmp_path: Path) -> None:
    path = tmp_path / "x.h5"
    path.write_bytes(os.urandom(5000))
    assert peek(str(path)) is None
    assert peek(str(tmp_path / "missing.h5")) is None
    if hasattr(os, "mkfifo"):  # nobody writes this pipe: opening it would wait forever
        os.mkfifo(tmp_path / "pipe.h5")
        assert peek(str(tmp_path / "pipe.h5")) is None


def test_a_btree_pointing_at_itself_ends_the_look(tmp_path: Path) -> None:
    path = tmp_path / "loop.h5"
    _h5py_default(path, 5)
    data = bytearray(path.read_bytes())
    tree = data.index(b"TREE")
    data[tree + 5] = 1  # an internal node ...
    data[tree + 24 + 8:tree + 24 + 16] = tree.to_bytes(8, "little")  # ... whose first child is itself
    handle = _Counting(bytes(data))
    assert peek("loop.h5", opener=lambda _p: handle) is None
    assert handle.calls < 20
