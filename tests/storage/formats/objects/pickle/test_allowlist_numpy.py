"""Issue 14: real NumPy matrices, pytz time zones and Python 2 ``xrange`` are judged safe, exactly.

``np.matrix`` pickles as ``_reconstruct(matrix, (0,), b'b')`` then BUILD with the array's state;
pytz as ``pytz._p(zone[, utcoffset, dst, tzname])`` or ``pytz._UTC()``. Each is safe only in the
call its library writes: the files here are made by the real libraries (benign) or assembled by
hand (hostile), and every verdict is checked on both paths (the scanner and the safe loader).
"""

from __future__ import annotations

import datetime
import pickle
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.formats.objects.file import open_objects
from storage.formats.objects.pickle.nodes import CallNode
from storage.formats.objects.pickle.safe import PickleLoadError, load_safe
from storage.formats.objects.pickle.scan import scan_bytes
from tests.storage.formats.objects.pickle.test_verdict import Asm
from tests.support.pickle_attacks import no_side_effects

pytz = pytest.importorskip("pytz")  # in the `test` extra

PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)
pytestmark = pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")


def _verdicts(data: bytes) -> tuple[dict, dict]:
    """{(module, name): severity} from the safe loader and from the scanner."""
    loaded = load_safe(data)
    scanned = scan_bytes(data)
    assert scanned.error is None, scanned.error
    return ({(g.module, g.name): g.severity for g in loaded.globals},
            {(g.module, g.name): g.severity for g in scanned.globals.values()})


def _both(data: bytes) -> dict:
    loaded, scanned = _verdicts(data)
    assert loaded == scanned
    return loaded


def _worst(verdicts: dict) -> str:
    levels = set(verdicts.values())
    return next((level for level in ("dangerous", "suspicious") if level in levels), "info")


# -- NumPy matrices ----------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_real_matrix_is_safe_and_comes_back_a_matrix(protocol: int) -> None:
    value = np.matrix([[1.5, 2.0, -3.0], [4.0, 5.0, 6.25]])
    data = pickle.dumps([value, value.T, np.matrix([[1, 2]], dtype=">i4")], protocol)
    assert _worst(_both(data)) == "info"
    loaded = load_safe(data).value
    for got, real in zip(loaded, pickle.loads(data), strict=True):
        assert type(got) is np.matrix and got.shape == real.shape and got.dtype == real.dtype
        assert np.array_equal(got, real)


@pytest.mark.parametrize("module", ["numpy.matrixlib.defmatrix", "numpy"])
@pytest.mark.parametrize("reconstruct", ["numpy.core.multiarray", "numpy._core.multiarray",
                                         "numpy.core._internal", "numpy._core._internal"])
def test_numpy_1_names_of_matrix_and_reconstruct_are_safe(module: str, reconstruct: str) -> None:
    """NumPy 1.x wrote ``numpy.matrixlib.defmatrix.matrix`` and ``numpy.core.multiarray``;
    NumPy before 1.0 ``numpy.core._internal._reconstruct`` (still importable)."""
    value = np.matrix([[1, 2], [3, 4]])
    data = pickle.dumps(value, 2).replace(b"cnumpy\nmatrix\n", f"c{module}\nmatrix\n".encode())
    data = data.replace(b"cnumpy._core.multiarray\n_reconstruct\n",
                        f"c{reconstruct}\n_reconstruct\n".encode())
    assert _worst(_both(data)) == "info"
    loaded = load_safe(data).value
    assert type(loaded) is np.matrix and np.array_equal(loaded, value)


def test_a_joblib_dump_of_a_matrix_is_safe(tmp_path: Path) -> None:
    joblib = pytest.importorskip("joblib")
    path = tmp_path / "m.joblib"
    joblib.dump({"m": np.matrix([[1.0, 2.0], [3.0, 4.0]])}, path)
    result = open_objects(str(path), "joblib")
    assert result.worst == "info", [(g.qualname, g.severity) for g in result.globals.values()]


def _reconstruct(a: Asm, subtype: bytes, shape: bytes = b"K\x00\x85", dtype: bytes = b"C\x01b") -> bytes:
    """``_reconstruct(subtype, shape, dtype)`` then BUILD with a 2x2 int8 array's state."""
    state = a.tup(b"K\x01", b"K\x02K\x02\x86", a.call(a.glob("numpy", "dtype"), a.text("i1"), b"\x89\x88"),
                  b"\x89", b"C\x04\x01\x02\x03\x04")
    return a.call(a.glob("numpy._core.multiarray", "_reconstruct"), subtype, shape, dtype) + state + b"b"


HOSTILE_ARRAYS = {
    "an int as the subtype": lambda a: _reconstruct(a, b"K*"),
    "a safe non-array class as the subtype": lambda a: _reconstruct(a, a.glob("numpy", "dtype")),
    "a function of NumPy's matrix module as the subtype": lambda a: _reconstruct(
        a, a.glob("numpy.matrixlib.defmatrix", "asmatrix")),
    "a big shape": lambda a: _reconstruct(a, a.glob("numpy", "matrix"), shape=b"J\x00\xca\x9a\x3b\x85"),
    "another dtype": lambda a: _reconstruct(a, a.glob("numpy", "matrix"), dtype=b"C\x01O"),
    "_reconstruct passed as a value": lambda a: (
        b"]" + a.glob("numpy._core.multiarray", "_reconstruct") + b"a"),
}


@pytest.mark.parametrize("name", list(HOSTILE_ARRAYS))
def test_reconstruct_outside_its_call_is_not_safe(name: str, tmp_path: Path) -> None:
    a = Asm(4)
    data = a.head() + HOSTILE_ARRAYS[name](a) + b"."
    with no_side_effects(tmp_path):
        try:
            verdicts = _both(data)
        except PickleLoadError as exc:  # refused: the verdict still comes with the error
            verdicts = {(g.module, g.name): g.severity for g in exc.globals}
    assert _worst(verdicts) in ("suspicious", "dangerous"), verdicts


def test_a_matrix_state_that_is_not_2d_is_refused() -> None:
    a = Asm(4)
    dtype = a.call(a.glob("numpy", "dtype"), a.text("i1"), b"\x89\x88")
    state = a.tup(b"K\x01", b"K\x02K\x01K\x02\x87", dtype, b"\x89", b"C\x04\x01\x02\x03\x04")
    data = a.head() + a.call(a.glob("numpy._core.multiarray", "_reconstruct"), a.glob("numpy", "matrix"),
                             b"K\x00\x85", b"C\x01b") + state + b"b."
    with pytest.raises(PickleLoadError, match="2-D"):
        load_safe(data)


# -- pytz ------------------------------------------------------------------------------------

def _pytz_values() -> list:
    paris, eastern = pytz.timezone("Europe/Paris"), pytz.timezone("US/Eastern")
    return [pytz.utc, paris, pytz.timezone("Etc/GMT+5"), pytz.timezone("America/Argentina/Buenos_Aires"),
            paris.localize(datetime.datetime(2020, 7, 1, 12)), paris.localize(datetime.datetime(2020, 1, 1)),
            eastern.localize(datetime.datetime(1850, 1, 1)), datetime.datetime(2024, 1, 1, tzinfo=pytz.utc),
            pytz.FixedOffset(-330), datetime.datetime(2024, 1, 1, tzinfo=pytz.FixedOffset(60))]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_real_pytz_zones_are_safe_and_the_same_objects(protocol: int) -> None:
    values = _pytz_values()
    data = pickle.dumps(values, protocol)
    assert _worst(_both(data)) == "info"
    loaded = load_safe(data).value
    real = pickle.loads(data)
    assert loaded == real
    for got, want in zip(loaded, real, strict=True):
        zone = want.tzinfo if isinstance(want, datetime.datetime) else want
        assert (got.tzinfo if isinstance(got, datetime.datetime) else got) is zone  # pytz's singletons


def test_without_pytz_the_zone_stays_a_call_but_is_safe(monkeypatch: pytest.MonkeyPatch) -> None:
    data = pickle.dumps([pytz.timezone("Europe/Paris"), pytz.utc], 2)
    monkeypatch.setitem(sys.modules, "pytz", None)  # ``import pytz`` now fails
    loaded = load_safe(data)
    assert all(type(v) is CallNode for v in loaded.value)
    assert {g.severity for g in loaded.globals} == {"info"}


def test_an_unknown_zone_name_of_the_right_shape_stays_a_call() -> None:
    """pytz would raise UnknownTimeZoneError: nothing runs, so the call is not suspicious."""
    a = Asm(2)
    data = a.head() + a.call(a.glob("pytz", "_p"), a.text("Mars/Olympus_Mons")) + b"."
    assert _both(data) == {("pytz", "_p"): "info"}
    assert type(load_safe(data).value) is CallNode


HOSTILE_ZONES = {
    "a non-string zone": lambda a: a.call(a.glob("pytz", "_p"), b"K*"),
    "a path as the zone": lambda a: a.call(a.glob("pytz", "_p"), a.text("../../../etc/passwd")),
    "an absolute path as the zone": lambda a: a.call(a.glob("pytz", "_p"), a.text("/etc/localtime")),
    "two arguments": lambda a: a.call(a.glob("pytz", "_p"), a.text("UTC"), b"K\x00"),
    "a timedelta offset": lambda a: a.call(a.glob("pytz", "_p"), a.text("Europe/Paris"), a.call(
        a.glob("datetime", "timedelta"), b"K\x00", b"M\x10\x0e"), b"K\x00", a.text("CET")),
    "_UTC with an argument": lambda a: a.call(a.glob("pytz", "_UTC"), a.text("UTC")),
    "FixedOffset with its cache argument": lambda a: a.call(a.glob("pytz", "FixedOffset"), b"K\x3c", b"}"),
    "FixedOffset of a day": lambda a: a.call(a.glob("pytz", "FixedOffset"), b"M\xa0\x05"),
    "_p passed as a value": lambda a: b"]" + a.glob("pytz", "_p") + b"a",
    "_p reused from the memo, then called on a path": lambda a: b"]" + a.call(
        a.glob("pytz", "_p") + b"\x94", a.text("UTC")) + b"a" + a.call(b"h\x00", a.text("../x")) + b"a",
}


@pytest.mark.parametrize("name", list(HOSTILE_ZONES))
def test_pytz_outside_its_calls_is_suspicious(name: str, tmp_path: Path) -> None:
    a = Asm(4)
    data = a.head() + HOSTILE_ZONES[name](a) + b"."
    with no_side_effects(tmp_path):
        verdicts = _both(data)
    assert _worst(verdicts) == "suspicious", verdicts
    assert not isinstance(load_safe(data).value, datetime.tzinfo)


@pytest.mark.parametrize("name", ["_p.__globals__", "_p.__module__", "os.system", "tzinfo.pytz._p",
                                  "timezone"])
def test_a_dotted_walk_from_pytz_is_not_safe(name: str, tmp_path: Path) -> None:
    a = Asm(4)
    data = a.head() + a.call(a.glob("pytz", name), a.text("UTC")) + b"."
    with no_side_effects(tmp_path):
        verdicts = _both(data)
    assert _worst(verdicts) in ("suspicious", "dangerous"), verdicts
    if "__" in name or name.startswith("os."):
        assert _worst(verdicts) == "dangerous"


# -- Python 2 xrange ---------------------------------------------------------------------------

def test_python_2_xrange_maps_to_range_below_protocol_3_only() -> None:
    a = Asm(2)
    data = a.head() + a.call(a.glob("__builtin__", "xrange"), b"K\x00", b"K\x05") + b"."
    assert _both(data) == {("__builtin__", "xrange"): "info"}
    assert load_safe(data).value == pickle.loads(data) == range(5)
    a = Asm(3)  # from protocol 3 the name is looked up as written: there is no __builtin__ module
    data = a.head() + a.call(a.glob("__builtin__", "xrange"), b"K\x00", b"K\x05") + b"."
    assert _both(data) == {("__builtin__", "xrange"): "suspicious"}


# -- the two paths agree on any arguments ------------------------------------------------------

_ARG = st.one_of(
    st.sampled_from(["UTC", "Europe/Paris", "../x", "CET", "b", "latin1", ""]).map(lambda t: ("text", t)),
    st.sampled_from([0, 1, 3600, -18000, 10**6]).map(lambda n: ("int", n)),
    st.sampled_from([b"b", b"O"]).map(lambda b: ("bytes", b)),
    st.sampled_from([("numpy", "matrix"), ("numpy", "ndarray"), ("numpy", "dtype"), ("colors", "Color"),
                     ("pytz", "_UTC")]).map(lambda g: ("global", g)),
    st.just(("shape", None)),
)


def _arg(a: Asm, arg: tuple) -> bytes:
    kind, value = arg
    if kind == "text":
        return a.text(value)
    if kind == "int":
        return b"J" + struct.pack("<i", value)
    if kind == "bytes":
        return b"C\x01" + value
    if kind == "global":
        return a.glob(*value)
    return b"K\x00\x85"  # (0,)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(func=st.sampled_from([("pytz", "_p"), ("pytz", "_UTC"), ("pytz", "FixedOffset"),
                              ("numpy._core.multiarray", "_reconstruct")]),
       args=st.lists(_ARG, max_size=5), protocol=st.integers(0, 5))
def test_the_scanner_and_the_safe_loader_judge_shaped_calls_alike(func: tuple[str, str], args: list,
                                                                  protocol: int) -> None:
    a = Asm(protocol)
    data = a.head() + a.call(a.glob(*func), *(_arg(a, arg) for arg in args)) + b"."
    _both(data)
