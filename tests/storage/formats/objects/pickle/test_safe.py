"""The safe pickle loader: hostile files load as labelled nodes (or fail cleanly) and run nothing."""

from __future__ import annotations

import collections
import copyreg
import datetime
import decimal
import io
import pickle
import zoneinfo
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.core.errors import ParseError
from storage.formats.objects.pickle.nodes import (
    NO_STATE,
    BufferNode,
    CallNode,
    ExtensionNode,
    GlobalNode,
    PersistentNode,
)
from storage.formats.objects.pickle.safe import Limits, PickleLoadError, load_all, load_safe
from tests.conftest import corpus_dir
from tests.support.pickle_attacks import (
    attacks,
    evil,
    nested_lists,
    nested_tuple_key,
    no_side_effects,
    with_persistent_ids,
)

_NOT_RAW = (b"PK", b"7z\xbc\xaf", b"\x93NUMPY")


def load_or_error(data: bytes, **kwargs) -> tuple[object, bool]:
    """(SafeLoad or PickleLoadError, dangerous) — never any other exception."""
    try:
        loads, trailing_error = load_all(data, **kwargs)
    except PickleLoadError as exc:
        return exc, exc.dangerous
    dangerous = any(item.dangerous for item in loads) or bool(trailing_error and trailing_error.dangerous)
    return loads, dangerous


# -- every generated attack --------------------------------------------------------------------

def test_every_attack_runs_nothing(tmp_path: Path) -> None:
    canary = tmp_path / "canary.txt"
    cases = attacks(canary)
    results = {}
    with no_side_effects(tmp_path):
        for name, (data, _dangerous) in cases.items():
            results[name] = load_or_error(data)
    for name, (_data, dangerous) in cases.items():
        outcome, flagged = results[name]
        assert isinstance(outcome, list | ParseError), name
        if dangerous:
            assert flagged, name


def test_stand_ins_record_what_would_change_a_class(tmp_path: Path) -> None:
    cases = attacks(tmp_path / "canary.txt")
    built = load_safe(cases["build on a stand-in"][0])
    assert isinstance(built.value, GlobalNode) and built.value.qualname == "os.system"
    assert built.value.mutations == [("build", {"__call__": "x"})]
    assert any("BUILD" in message for _severity, message in built.findings)
    real_type = load_safe(cases["build slot state on a real type"][0])
    assert isinstance(real_type.value, GlobalNode) and real_type.value.name == "list"
    assert not hasattr(list, "append") or list.append is not None  # the real type is untouched
    for name in ("appends on a stand-in", "setitem on a stand-in", "additems on a stand-in",
                 "append on a real type", "setitems on a real type"):
        result = load_safe(cases[name][0])
        assert result.dangerous and result.value.mutations, name


def test_calls_become_nodes_with_labels(tmp_path: Path) -> None:
    cases = attacks(tmp_path / "canary.txt")
    call = load_safe(cases["reduce os.system"][0]).value
    assert isinstance(call, CallNode) and call.kind == "reduce" and call.state is NO_STATE
    assert call.label().startswith("os.system('touch") and call.label().endswith("— call")
    assert [name for name, _ in call.parts()] == ["func", "args"]
    newobj = load_safe(cases["newobj on os.system"][0]).value
    assert newobj.kind == "newobj"
    dotted = load_safe(cases["dotted name"][0])
    assert dotted.value.func.name == "getattr.__call__" and dotted.dangerous
    chained = load_safe(cases["call of a call result"][0]).value
    assert isinstance(chained.func, CallNode) and chained.func.func.name == "getattr"
    py2 = load_safe(cases["py2 __builtin__ eval"][0])
    assert py2.value.func.module == "__builtin__" and py2.dangerous


def test_persistent_ids_buffers_and_extensions() -> None:
    value = load_safe(with_persistent_ids()).value
    assert value[0] == "a" and isinstance(value[1], PersistentNode)
    assert value[1].pid == ("file", "/etc/passwd")
    oob = pickle.dumps(pickle.PickleBuffer(bytearray(b"abc")), protocol=5, buffer_callback=lambda _b: False)
    buffer = load_safe(oob).value
    assert isinstance(buffer, BufferNode) and buffer.index == 0
    unknown = load_safe(b"\x80\x02\x82\xf1X\x02\x00\x00\x00ls\x85R.")
    assert isinstance(unknown.value.func, ExtensionNode) and unknown.extensions == [241]


def test_registered_extension_is_never_looked_up(tmp_path: Path) -> None:
    copyreg.add_extension("os", "system", 0xF2)
    try:
        data = b"\x80\x02\x82\xf2X\x04\x00\x00\x00true\x85R."
        with no_side_effects(tmp_path):
            result = load_safe(data)
            again = load_safe(data)  # a second load: the code is now in copyreg's cache if anyone looked
        assert isinstance(result.value.func, ExtensionNode) and result.value.func.code == 0xF2
        assert isinstance(again.value.func, ExtensionNode)
        assert 0xF2 not in copyreg._extension_cache  # type: ignore[attr-defined]
    finally:
        copyreg.remove_extension("os", "system", 0xF2)


def test_memo_bombs_load_quickly_and_small() -> None:
    for data in (b"\x80\x04]r\x00\xe1\xf5\x05.", b"(lp100000000\n."):
        result = load_safe(data)
        assert result.value == [] and result.engine == "python"


@pytest.mark.parametrize("make", [nested_tuple_key, nested_lists])
def test_200000_levels_of_nesting(make) -> None:
    result = load_safe(make(200_000))
    depth, value = 0, result.value
    if isinstance(value, dict):
        value = next(iter(value))
    while value:
        value, depth = value[0], depth + 1
    assert depth >= 199_999


def test_nesting_beyond_the_stack_limit_fails_cleanly() -> None:
    small = Limits(stack_per_byte=128, min_stack=1024**2, max_stack=2 * 1024**2)
    with pytest.raises(PickleLoadError, match="nest"):
        load_safe(nested_tuple_key(200_000), limits=small)


def test_truncated_and_junk() -> None:
    data = pickle.dumps({"a": [1, 2.5, "x" * 50], "b": (None, True)}, protocol=4)
    for cut in range(len(data) - 1):
        with pytest.raises(ParseError) as info:
            load_safe(data[:cut])
        assert info.value.location.offset is not None
    junk = load_safe(data + b"junk")
    assert junk.trailing and junk.end == len(data)
    loads, error = load_all(data + b"junk")
    assert len(loads) == 1 and isinstance(error, PickleLoadError)
    assert not load_safe(data + b"\n\n").trailing


@settings(max_examples=300, deadline=None)
@given(flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 7)), min_size=1, max_size=3),
       protocol=st.integers(0, 5))
def test_bit_flips_never_crash(flips: list[tuple[int, int]], protocol: int) -> None:
    data = bytearray(pickle.dumps([{"k": [1, 2, (3, "x")]}, datetime.date(2020, 1, 1), b"by", {1, 2}],
                                  protocol=protocol))
    for at, bit in flips:
        data[at % len(data)] ^= 1 << bit
    try:
        load_all(bytes(data))
    except ParseError:
        pass


def test_second_pickle_and_pickle_inside_bytes(tmp_path: Path) -> None:
    stacked = pickle.dumps([1, 2]) + evil("true")
    with no_side_effects(tmp_path):
        loads, error = load_all(stacked)
        inner = load_safe(pickle.dumps({"payload": evil("true")}))
    assert error is None and [item.dangerous for item in loads] == [False, True]
    assert loads[0].trailing and loads[1].start == loads[0].end
    assert not inner.dangerous and inner.value["payload"] == evil("true")


def test_joblib_payload_after_an_array(tmp_path: Path) -> None:
    joblib = pytest.importorskip("joblib")
    path = tmp_path / "model.joblib"
    names = np.array(["a", None], dtype=object)
    joblib.dump({"weights": np.arange(12.0).reshape(3, 4), "names": names}, path)
    with open(path, "ab") as handle:
        handle.write(evil("touch " + str(tmp_path / "created-by-attack")))
    data = path.read_bytes()
    with no_side_effects(tmp_path):
        loads, error = load_all(data, joblib=True)
    assert error is None and len(loads) == 2
    first = loads[0].value
    assert np.array_equal(first["weights"], np.arange(12.0).reshape(3, 4))
    assert list(first["names"]) == ["a", None] and loads[0].arrays == 2
    assert not loads[0].dangerous and loads[1].dangerous
    with pytest.raises(ParseError):
        load_safe(data)  # without joblib=True the raw array bytes are not a pickle


def test_joblib_array_then_hidden_global(tmp_path: Path) -> None:
    joblib = pytest.importorskip("joblib")
    path = tmp_path / "a.joblib"
    # Counter is allowlisted (and rebuilt) since issue 14; ChainMap is still a class the loader keeps
    joblib.dump([np.arange(3), collections.ChainMap({"a": 1})], path)
    result = load_safe(path.read_bytes(), joblib=True)
    assert np.array_equal(result.value[0], np.arange(3))
    assert isinstance(result.value[1], CallNode) and result.value[1].func.qualname == "collections.ChainMap"


# -- allowlisted values are rebuilt ---------------------------------------------------------------

def test_allowlisted_values_are_rebuilt() -> None:
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    value = [datetime.datetime(2020, 1, 2, 3, 4, 5, 6, tzinfo=datetime.UTC), datetime.time(1, 2),
             decimal.Decimal("1.25"), collections.OrderedDict(a=1), collections.defaultdict(list, {"k": [1]}),
             b"bytes", bytearray(b"ba"), {1, 2}, frozenset({3}), 1 + 2j, np.arange(4, dtype=np.int16),
             np.float32(1.5), np.array([1, "x"], dtype=object)]
    for protocol in range(6):
        loaded = load_safe(pickle.dumps(value, protocol)).value
        assert loaded[:10] == value[:10] and type(loaded[4]) is collections.defaultdict
        assert np.array_equal(loaded[10], value[10]) and loaded[11] == value[11]
        assert list(loaded[12]) == [1, "x"]
    # Was a kept call (issue 14: a tz-aware datetime is data): zoneinfo's exact
    # getattr(ZoneInfo, '_unpickle') idiom is rebuilt, ZoneInfo(key) validating the key.
    zoned = load_safe(pickle.dumps(datetime.datetime(2020, 1, 1, tzinfo=paris), 4))
    assert zoned.value == datetime.datetime(2020, 1, 1, tzinfo=paris) and zoned.value.tzinfo is paris
    assert {g.qualname: g.severity for g in zoned.globals}["builtins.getattr"] == "info"


def test_stream_input_and_global_counts() -> None:
    data = pickle.dumps([collections.Counter("a"), collections.Counter("b")], protocol=0)
    result = load_safe(io.BytesIO(data))
    counter = {g.qualname: g for g in result.globals}["collections.Counter"]
    assert counter.count == 1 and counter.severity == "info" and result.protocol == 0


# -- the public corpus ----------------------------------------------------------------------------

def test_picklescan_corpus_runs_nothing(tmp_path: Path) -> None:
    folder = corpus_dir("picklescan")
    files = sorted(p for sub in ("data", "data2") for p in (folder / sub).iterdir() if p.is_file())
    raw = [p for p in files if not p.read_bytes().startswith(_NOT_RAW) and p.suffix not in (".pt", ".npz")]
    outcomes = {}
    with no_side_effects(tmp_path):
        for path in raw:
            outcomes[path.name] = load_or_error(path.read_bytes())
    malicious = [n for n in outcomes if n.startswith(("malicious", "GHSA", "cloudpickle", "io_", "logging_",
                                                      "types_", "urllib_", "keyerror", "type-confusion"))]
    assert len(malicious) > 60
    missed = [name for name in malicious if not outcomes[name][1]]
    assert missed == []
    for name in ("benign0_v0.pkl", "benign0_v3.pkl", "benign0_v4.pkl"):
        loads, dangerous = outcomes[name]
        assert isinstance(loads, list) and not dangerous


def test_the_detector_sees_a_real_load(tmp_path: Path) -> None:
    """The side-effect detector itself works: a real ``pickle.loads`` of an attack trips it."""
    with pytest.raises(AssertionError, match=r"os\.system"), no_side_effects(tmp_path):
        pickle.loads(evil("true"))


def test_joblib_array_layouts(tmp_path: Path) -> None:
    joblib = pytest.importorskip("joblib")
    structured = np.array([(1, 2.5), (3, 4.5)], dtype=[("a", "<i4"), ("b", "<f8")])
    arrays = [np.asfortranarray(np.arange(6.0).reshape(2, 3)), np.empty((0, 3), np.int8), np.array(7),
              structured, np.array(["x", "yz"]), np.arange(5, dtype=">u2")]
    path = tmp_path / "layouts.joblib"
    joblib.dump(arrays, path)
    loaded = load_safe(path.read_bytes(), joblib=True)
    assert loaded.arrays == len(arrays)
    for got, want in zip(loaded.value, arrays, strict=True):
        assert got.dtype == want.dtype and got.shape == want.shape and np.array_equal(got, want)
    assert loaded.value[0].flags.f_contiguous and loaded.value[0].flags.writeable


def test_old_joblib_wrappers_name_their_companion_files() -> None:
    from storage.formats.objects.pickle.write import dump_tree

    wrapper = CallNode(GlobalNode("joblib.numpy_pickle", "NDArrayWrapper"), (), "newobj")
    wrapper.state = {"filename": "model.pkl_01.npy", "subclass": GlobalNode("numpy", "ndarray"),
                     "allow_mmap": False}
    loaded = load_safe(dump_tree({"w": wrapper}, 2), joblib=True)
    assert loaded.companions == ["model.pkl_01.npy"]
    assert isinstance(loaded.value["w"], CallNode)


def test_a_truncated_joblib_array_is_reported() -> None:
    joblib = pytest.importorskip("joblib")
    buffer = io.BytesIO()
    joblib.dump(np.arange(1000), buffer)
    data = buffer.getvalue()
    with pytest.raises(PickleLoadError):
        load_safe(data[:len(data) // 2], joblib=True)


def test_a_refused_stack_falls_back_to_the_nesting_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    from storage.formats.objects.pickle import guards as pickle_guards

    sizes: list[int] = []
    real_start = pickle_guards._start

    def stingy(target, stack: int):
        sizes.append(stack)
        return None if len(sizes) == 1 else real_start(target, stack)

    monkeypatch.setattr(pickle_guards, "_start", stingy)
    data = pickle.dumps([{"k": "v" * 10, "n": i} for i in range(5000)], protocol=4)
    assert load_safe(data, limits=Limits(min_stack=2**20)).value[4999]["n"] == 4999
    assert len(sizes) == 2 and sizes[1] < sizes[0]


_DTYPES = ["f8", ">i4", "S5", "U3", "V16", [("a", "<i4"), ("b", "<f8")],
           np.dtype([("a", "<i4"), ("t", "O")], align=True), "M8[ns]", ">m8[10s]", "O", "?", "c16",
           np.dtype("f8", metadata={"x": 1}),
           np.dtype({"names": ["x"], "formats": ["<i2"], "titles": ["X"], "offsets": [2], "itemsize": 8})]


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_numpy_dtypes_and_arrays_are_rebuilt(protocol: int) -> None:
    for spec in _DTYPES:
        dtype = np.dtype(spec)
        array = np.zeros((2, 3), dtype)
        data = pickle.dumps([dtype, array, np.asfortranarray(array)], protocol)
        loaded = load_safe(data).value
        assert loaded[0] == dtype and loaded[0].metadata == dtype.metadata, spec
        # as NumPy itself: a big-endian array pickled by __reduce__ comes back in native order
        assert loaded[1].dtype == pickle.loads(data)[1].dtype and loaded[1].shape == (2, 3), spec
        assert loaded[2].flags.f_contiguous, spec


def test_crafted_numpy_states_fail_cleanly() -> None:
    """NumPy's own __setstate__ crashes the interpreter on these; the loader refuses them."""
    import subprocess
    import sys

    from tests.support.pickle_attacks import s4, stack_global

    def dtype_with_state(descr: str, state: bytes) -> bytes:
        return b"\x80\x04" + stack_global("numpy", "dtype") + s4(descr) + b"\x89\x88\x87R(" + state + b"tb."

    minus_one = b"J\xff\xff\xff\xff"
    crafted = [
        dtype_with_state("i8", b"K\x03" + s4("<") + b"NN" + minus_one * 2 + b"K\x00"),  # fields is an int
        dtype_with_state("m8", b"K\x03" + s4("<") + b"NNN" + minus_one * 2 + b"K\x00"),  # no time unit
    ]
    code = ("import sys, pickle; sys.path.insert(0, '.')\n"
            "from storage.formats.objects.pickle.safe import load_safe\n"
            "from storage.core.errors import ParseError\n"
            f"for data in {crafted!r}:\n"
            "    try: load_safe(data)\n"
            "    except ParseError: pass\n"
            "print('survived')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[5])
    assert done.returncode == 0 and "survived" in done.stdout, done.stderr[-2000:]


def test_a_first_numpy_import_under_the_memo_cap_does_not_abort_the_process() -> None:
    """An array whose bytes look like a huge LONG_BINPUT makes the load cap the address space; NumPy,
    first imported by the allowlist inside that cap, made OpenBLAS abort the process ("Memory
    allocation still failed") in a fresh interpreter: inspect died, and so would a window that had
    not needed NumPy yet. NumPy is now imported before the cap."""
    import subprocess
    import sys

    data = pickle.dumps({"a": np.frombuffer(b"r\xff\xff\xff\x7f" * 1000, dtype=np.uint8)}, 4)
    code = ("import sys; sys.path.insert(0, '.')\n"
            "from storage.formats.objects.pickle.guards import memo_bomb\n"
            "from storage.formats.objects.pickle.safe import load_safe\n"
            f"data = {data!r}\n"
            "assert memo_bomb(data, 0) and 'numpy' not in sys.modules\n"
            "print(load_safe(data).value['a'].shape)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[5])
    assert done.returncode == 0 and done.stdout.strip() == "(5000,)", done.stderr[-2000:]


def test_joblib_from_a_file_handle_reads_arrays_from_the_stream(tmp_path: Path) -> None:
    joblib = pytest.importorskip("joblib")
    path = tmp_path / "model.joblib"
    joblib.dump({"w": np.arange(100_000.0), "o": np.array([1, None], dtype=object)}, path)
    with open(path, "ab") as handle:
        handle.write(b"\n" + evil("touch " + str(tmp_path / "created-by-attack")))
    with no_side_effects(tmp_path), open(path, "rb") as handle:
        loads, error = load_all(handle, joblib=True)
    assert error is None and len(loads) == 2 and loads[1].dangerous and not loads[0].dangerous
    assert np.array_equal(loads[0].value["w"], np.arange(100_000.0)) and loads[0].trailing
    assert loads[1].start == loads[0].end + 1 and loads[1].end == path.stat().st_size
    with open(path, "rb") as handle:
        first = load_safe(handle, joblib=True)
    assert first.trailing and first.arrays == 2
    cut = tmp_path / "cut.joblib"
    cut.write_bytes(path.read_bytes()[:5000])
    with open(cut, "rb") as handle, pytest.raises(PickleLoadError):
        load_safe(handle, joblib=True)
