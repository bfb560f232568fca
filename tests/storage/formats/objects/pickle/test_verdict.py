"""The pickle verdict judges each global exactly as ``pickle.Unpickler.find_class`` resolves it.

Issue 14 §1 and §4: dotted protocol-4 walks, Python 2 names of protocols 0-2, attributes that are
modules, the protocol set by the last PROTO, an allowlist of exact pairs (``getattr`` only in
zoneinfo's idiom), and no false DANGEROUS on tz-aware datetimes, paths and protocol-5 arrays.
Every hostile file is hand-assembled here; each is checked three ways (``inspect`` exits 1, the
Objects tab says DANGEROUS, nothing ran) and a child process proves the payload is live.
"""

from __future__ import annotations

import collections
import datetime
import decimal
import fractions
import io
import ipaddress
import json
import os
import pathlib
import pickle
import struct
import subprocess
import sys
import uuid
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from storage.formats.objects.pickle.danger import classify
from storage.formats.objects.pickle.safe import load_safe
from storage.formats.objects.pickle.scan import scan_bytes
from storage.inspect import report as inspect_cli
from tests.support.pickle_attacks import no_side_effects

ROOT = Path(__file__).resolve().parents[5]


# -- a tiny opcode assembler: the same payload in any protocol ---------------------------------

class Asm:
    """Opcodes for one protocol: GLOBAL below 4, STACK_GLOBAL from 4; MARK/TUPLE/REDUCE always."""

    def __init__(self, protocol: int) -> None:
        self.protocol = protocol

    def head(self) -> bytes:
        return b"\x80" + bytes([self.protocol]) if self.protocol >= 2 else b""

    def glob(self, module: str, name: str) -> bytes:
        if self.protocol >= 4:
            return self.text(module) + self.text(name) + b"\x93"
        return b"c" + module.encode() + b"\n" + name.encode() + b"\n"

    def text(self, value: str) -> bytes:
        raw = value.encode()
        if self.protocol == 0:
            assert "\\" not in value and "\n" not in value
            return b"V" + raw + b"\n"
        if self.protocol >= 4 and len(raw) < 256:
            return b"\x8c" + bytes([len(raw)]) + raw
        return b"X" + struct.pack("<I", len(raw)) + raw

    @staticmethod
    def tup(*items: bytes) -> bytes:
        return b"(" + b"".join(items) + b"t"

    def call(self, func: bytes, *args: bytes) -> bytes:
        return func + self.tup(*args) + b"R"

    def put(self, index: int) -> bytes:
        return f"p{index}\n".encode() if self.protocol == 0 else b"q" + bytes([index])

    def get(self, index: int) -> bytes:
        return f"g{index}\n".encode() if self.protocol == 0 else b"h" + bytes([index])

    def empty_dict(self) -> bytes:
        return b"(d" if self.protocol == 0 else b"}"

    def path(self, target: Path) -> bytes:
        return self.call(self.glob("pathlib", "PosixPath"), self.text(str(target)))


def _code(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').close()"


def _touch_unbound(a: Asm, marker: Path, getter: bytes) -> bytes:
    """``getter(PosixPath(marker), 'touch')(PosixPath(marker))``: an unbound method, called."""
    return a.call(a.call(getter, a.path(marker) + a.put(0), a.text("touch")), a.get(0))


def _touch_bound(a: Asm, marker: Path, getter: bytes) -> bytes:
    """``getter(PosixPath(marker), 'touch')()``: a bound method, called."""
    return a.call(a.call(getter, a.path(marker), a.text("touch")))


# name -> (protocol, build(asm, marker) -> body, live: really loading it creates the marker)
Build = Callable[[Asm, Path], bytes]
BYPASSES: dict[str, tuple[int, Build, bool]] = {
    # protocol 4+: the dotted name is walked; the object at its end is what is called
    "dunder walk copyreg _reconstructor.__builtins__.get": (4, lambda a, m: a.call(
        a.call(a.glob("copyreg", "_reconstructor.__builtins__.get"), a.text("exec")), a.text(_code(m))),
        True),
    "walk from an allowlisted class pathlib Path.write_text": (5, lambda a, m: a.call(
        a.glob("pathlib", "Path.write_text"), a.path(m), a.text("x")), True),
    "module attribute walk inspect os.system": (5, lambda a, m: a.call(
        a.glob("inspect", "os.system"), a.text(f"touch {m}")), True),
    "module attribute walk gettext os.system": (4, lambda a, m: a.call(
        a.glob("gettext", "os.system"), a.text(f"touch {m}")), True),
    "x.sys walk gettext sys.call_tracing": (4, lambda a, m: a.call(
        a.glob("gettext", "sys.call_tracing"), a.glob("gettext", "os.system"), a.tup(a.text(f"touch {m}"))),
        True),
    "numpy testing.runstring walk": (4, lambda a, m: a.call(
        a.glob("numpy", "testing.runstring"), a.text(_code(m)), a.empty_dict()), True),
    "object.__subclasses__ walk": (5, lambda a, m: a.call(a.glob("builtins", "object.__subclasses__")),
                                   False),
    # the protocol is the last PROTO's: a stream that starts as 2 and switches to 4 walks names
    "PROTO 2 then PROTO 4 gettext os.system": (2, lambda a, m: b"\x80\x04" + Asm(4).call(
        Asm(4).glob("gettext", "os.system"), Asm(4).text(f"touch {m}")), True),
    # protocols 0-2: Python 2 names are mapped through _compat_pickle first
    "py2 cStringIO open": (0, lambda a, m: a.call(a.glob("cStringIO", "open"), a.text(str(m)), a.text("w")),
                           True),
    "py2 StringIO open": (2, lambda a, m: a.call(a.glob("StringIO", "open"), a.text(str(m)), a.text("w")),
                          True),
    "py2 SimpleXMLRPCServer resolve_dotted_attribute": (0, lambda a, m: _touch_bound(
        a, m, a.glob("SimpleXMLRPCServer", "resolve_dotted_attribute")), True),
    "py2 DocXMLRPCServer resolve_dotted_attribute": (2, lambda a, m: _touch_bound(
        a, m, a.glob("DocXMLRPCServer", "resolve_dotted_attribute")), True),
    "py2 __builtin__ getattr": (0, lambda a, m: _touch_bound(a, m, a.glob("__builtin__", "getattr")), True),
    # public gadgets scanners miss
    "numpy.testing runstring": (2, lambda a, m: a.call(
        a.glob("numpy.testing", "runstring"), a.text(_code(m)), a.empty_dict()), True),
    "inspect getattr_static": (2, lambda a, m: _touch_unbound(a, m, a.glob("inspect", "getattr_static")),
                               True),
    "codecs open": (2, lambda a, m: a.call(a.glob("codecs", "open"), a.text(str(m)), a.text("w")), True),
    "py2 __builtin__ open": (0, lambda a, m: a.call(
        a.glob("__builtin__", "open"), a.text(str(m)), a.text("w")), True),
    "io open": (4, lambda a, m: a.call(a.glob("io", "open"), a.text(str(m)), a.text("w")), True),
    "sys.modules walk": (5, lambda a, m: a.call(a.glob("gettext", "sys.modules.get"), a.text("os")), False),
    "_io open": (5, lambda a, m: a.call(a.glob("_io", "open"), a.text(str(m)), a.text("w")), True),
    "xmlrpc.server resolve_dotted_attribute": (4, lambda a, m: _touch_bound(
        a, m, a.glob("xmlrpc.server", "resolve_dotted_attribute")), True),
    "pydoc locate": (0, lambda a, m: a.call(
        a.call(a.glob("pydoc", "locate"), a.text("os.system")), a.text(f"touch {m}")), True),
    "operator getitem on copyreg __builtins__": (0, lambda a, m: a.call(a.call(
        a.glob("operator", "getitem"), a.glob("copyreg", "__builtins__"), a.text("exec")), a.text(_code(m))),
        True),
    "importlib import_module": (2, lambda a, m: a.call(a.glob("importlib", "import_module"), a.text("this")),
                                False),
    "builtins type": (2, lambda a, m: a.call(a.glob("__builtin__", "type"), a.text("X"), a.tup(),
                                             a.empty_dict()), False),
    # getattr outside zoneinfo's exact idiom
    "getattr on a path": (4, lambda a, m: _touch_bound(a, m, a.glob("builtins", "getattr")), True),
    "getattr reused from the memo after the zoneinfo idiom": (2, lambda a, m: a.call(
        a.glob("__builtin__", "getattr") + a.put(9), a.glob("zoneinfo", "ZoneInfo"), a.text("_unpickle"))
        + b"0" + a.call(a.call(a.get(9), a.path(m), a.text("touch"))), True),
    "getattr(Path, 'write_text') then called": (4, lambda a, m: a.call(a.call(
        a.glob("builtins", "getattr"), a.glob("pathlib", "Path"), a.text("write_text")), a.path(m),
        a.text("x")), True),
    "getattr(Path, 'write_text') DUP then called": (4, lambda a, m: a.call(a.call(
        a.glob("builtins", "getattr"), a.glob("pathlib", "Path"), a.text("write_text")) + b"2\x940",
        a.path(m), a.text("x")), True),
    "getattr(Class, 'name') then NEWOBJ on it": (4, lambda a, m: a.call(
        a.glob("builtins", "getattr"), a.glob("colors", "Color"), a.text("RED")) + b")\x81", False),
    "getattr passed as a value": (5, lambda a, m: b"]" + a.glob("builtins", "getattr") + b"a", False),
    "getattr(ZoneInfo, 'no_cache') then called": (4, lambda a, m: a.call(a.call(
        a.glob("builtins", "getattr"), a.glob("zoneinfo", "ZoneInfo"), a.text("no_cache")), a.text("UTC")),
        False),
}


def hostile(name: str, folder: Path) -> tuple[Path, Path]:
    """Write the named hostile pickle into ``folder``; return (file, marker its payload creates)."""
    protocol, build, _live = BYPASSES[name]
    marker = folder / "created-by-attack"
    asm = Asm(protocol)
    path = folder / "hostile.pkl"
    path.write_bytes(asm.head() + build(asm, marker) + b".")
    return path, marker


def _worst(levels: list[str]) -> str:
    for level in ("dangerous", "suspicious"):
        if level in levels:
            return level
    return "info"


# -- every bypass: inspect exits 1, both paths say dangerous, nothing ran --------------------

@pytest.mark.parametrize("name", list(BYPASSES))
def test_inspect_exits_1_and_both_paths_say_dangerous(name: str, tmp_path: Path) -> None:
    path, marker = hostile(name, tmp_path)
    out = io.StringIO()
    assert inspect_cli.run(str(path), True, out) == 1, out.getvalue()
    report = json.loads(out.getvalue())
    assert any(f["severity"] == "dangerous" for f in report["findings"])
    data = path.read_bytes()
    with no_side_effects(tmp_path):
        scan = scan_bytes(data)
        assert scan.dangerous, [(g.qualname, g.severity) for g in scan.globals.values()]
        try:
            loaded = load_safe(data)
        except Exception as exc:  # a stream the safe loader refuses must still name the danger
            assert getattr(exc, "dangerous", False), exc
        else:
            assert loaded.dangerous, [(g.qualname, g.severity) for g in loaded.globals]
    assert not marker.exists()


@pytest.mark.parametrize("name", list(BYPASSES))
def test_the_objects_tab_says_dangerous(qtbot, tmp_path: Path, name: str) -> None:
    from gui.objects.document import ObjectsDocument
    from tests.support.gui_helpers import launch, wait_documents

    path, marker = hostile(name, tmp_path)
    window = launch(qtbot, tmp_path / "settings", path)
    (document,) = wait_documents(qtbot, window, 1)
    assert isinstance(document, ObjectsDocument)
    assert document.safety.level == "dangerous"
    window.close_document(document)
    assert not marker.exists()


def test_the_payloads_are_live(tmp_path: Path) -> None:
    """Each file really runs its payload under ``pickle.load`` (in a child process): the bypasses
    above are real, not only names on a list."""
    live = [name for name, (_p, _b, is_live) in BYPASSES.items() if is_live]
    for number, name in enumerate(live):
        folder = tmp_path / str(number)
        folder.mkdir()
        path, marker = hostile(name, folder)
        subprocess.run([sys.executable, "-c", "import pickle, sys; pickle.load(open(sys.argv[1], 'rb'))",
                        str(path)], capture_output=True, timeout=60, cwd=folder)
        assert marker.exists(), name


@pytest.mark.parametrize("name", ["dunder walk copyreg _reconstructor.__builtins__.get", "py2 cStringIO open",
                                  "PROTO 2 then PROTO 4 gettext os.system"])
def test_main_inspect_json_exits_1(tmp_path: Path, name: str) -> None:
    path, marker = hostile(name, tmp_path)
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "inspect", str(path), "--json"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "dangerous" in json.loads(done.stdout)["findings"][0]["severity"] or any(
        f["severity"] == "dangerous" for f in json.loads(done.stdout)["findings"])
    assert not marker.exists()


def test_the_protocol_in_force_decides_how_a_name_resolves() -> None:
    """Python 2 names map only below protocol 3 and names are walked only from 4, as in
    ``find_class``: the same bytes name different objects under different protocols."""
    assert classify("copy_reg", "_reconstructor", 2)[0] == "info"
    assert classify("copy_reg", "_reconstructor", 3)[0] == "suspicious"  # no such module in Python 3
    assert classify("gettext", "os.system", 2)[0] == "suspicious"  # getattr(gettext, 'os.system') fails
    assert classify("gettext", "os.system", 4)[0] == "dangerous"
    assert classify("gettext", "os.system")[0] == "dangerous"  # protocol unknown: the worst reading
    assert "Python 2 name of io.open" in classify("cStringIO", "open", 0)[1]


def test_a_walk_that_only_starts_at_an_allowlisted_name_is_not_safe() -> None:
    assert classify("pathlib", "PosixPath", 4)[0] == "info"
    assert classify("pathlib", "PosixPath.write_text", 4)[0] == "dangerous"
    assert classify("datetime", "datetime.now", 4)[0] == "suspicious"
    assert classify("numpy", "ndarray.tofile", 4)[0] == "dangerous"


# -- no false DANGEROUS on benign data --------------------------------------------------------

def _benign_values() -> list[Any]:
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    return [datetime.datetime(2024, 3, 31, 2, 30, tzinfo=paris),
            [datetime.datetime(2024, 1, 1, tzinfo=zoneinfo.ZoneInfo(k))
             for k in ("UTC", "Asia/Tokyo", "UTC")],
            datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=-3), "BRT")),
            datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
            [pathlib.PurePosixPath("/etc/x"), pathlib.PosixPath("rel/p"), pathlib.PureWindowsPath("C:/x")]]


@pytest.mark.parametrize("protocol", range(6))
def test_tz_aware_datetimes_and_paths_are_safe_in_both_paths(protocol: int, tmp_path: Path) -> None:
    for value in _benign_values():
        data = pickle.dumps(value, protocol)
        scan = scan_bytes(data)
        assert {g.severity for g in scan.globals.values()} == {"info"}, scan.globals
        loaded = load_safe(data)
        assert {g.severity for g in loaded.globals} == {"info"} and not loaded.findings
        assert loaded.value == value
        path = tmp_path / f"benign{protocol}.pkl"
        path.write_bytes(data)
        out = io.StringIO()
        assert inspect_cli.run(str(path), True, out) == 0
        assert not [f for f in json.loads(out.getvalue())["findings"] if f["severity"] != "info"]


def test_a_tz_aware_pandas_frame_is_not_dangerous(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"t": pd.date_range("2024-01-01", periods=3, tz="Europe/Paris"), "v": [1, 2, 3]})
    path = tmp_path / "frame.pkl"
    frame.to_pickle(path)
    out = io.StringIO()
    assert inspect_cli.run(str(path), True, out) == 0
    report = json.loads(out.getvalue())
    assert not [f for f in report["findings"] if f["severity"] == "dangerous"]
    getattr_uses = [g for g in scan_bytes(path.read_bytes()).globals.values() if g.name == "getattr"]
    assert getattr_uses and all(g.severity == "info" for g in getattr_uses)


@pytest.mark.parametrize("module", ["numpy._core.numeric", "numpy.core.numeric"])  # NumPy 2 and 1
def test_protocol_5_arrays_carry_no_suspicious_note(tmp_path: Path, module: str) -> None:
    data = pickle.dumps([np.arange(5.0), np.zeros((2, 3), np.int32)], 5)
    old = b"\x8c\x13numpy._core.numeric"
    assert old in data
    new = b"\x8c" + bytes([len(module)]) + module.encode()
    assert data[2] == 0x95 and data.count(old) == 1  # one FRAME: its length changes with the name
    (frame,) = struct.unpack_from("<Q", data, 3)
    data = data[:3] + struct.pack("<Q", frame + len(new) - len(old)) + data[11:].replace(old, new)
    path = tmp_path / "arrays.pkl"
    path.write_bytes(data)
    out = io.StringIO()
    assert inspect_cli.run(str(path), True, out) == 0
    assert not [f for f in json.loads(out.getvalue())["findings"] if f["severity"] != "info"]
    loaded = load_safe(path.read_bytes())
    assert {g.severity for g in loaded.globals} == {"info"}
    assert np.array_equal(loaded.value[1], np.zeros((2, 3), np.int32))


def test_a_python_313_path_is_safe_and_rebuilt() -> None:
    """Python 3.13 pickles paths from ``pathlib._local`` (bytes as its pickle.dumps writes them)."""
    data = (b"\x80\x04\x95-\x00\x00\x00\x00\x00\x00\x00\x8c\x0epathlib._local\x94\x8c\rPurePosixPath\x94"
            b"\x93\x94\x8c\x02/a\x94\x85\x94R\x94.")
    assert {g.severity for g in scan_bytes(data).globals.values()} == {"info"}
    loaded = load_safe(data)
    assert {g.severity for g in loaded.globals} == {"info"} and loaded.value == pathlib.PurePosixPath("/a")


def test_the_window_shows_benign_tz_data_without_a_warning(qtbot, tmp_path: Path) -> None:
    from tests.support.gui_helpers import launch, wait_documents

    path = tmp_path / "zoned.pkl"
    path.write_bytes(pickle.dumps(_benign_values(), 4))
    window = launch(qtbot, tmp_path / "settings", path)
    (document,) = wait_documents(qtbot, window, 1)
    assert document.safety.level == "info"
    window.close_document(document)


# -- the property: random graphs of allowlisted types are safe and come back equal ------------

_ZONES = ("UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe")
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8),
    st.binary(max_size=8), st.complex_numbers(allow_nan=False),
    st.decimals(allow_nan=False, allow_infinity=False), st.fractions(),
    st.uuids(), st.ip_addresses(),
    st.builds(lambda a, p: ipaddress.ip_network(f"{a}/{p}", strict=False),
              st.ip_addresses(v=4), st.integers(0, 32)),
    st.builds(lambda a, p: ipaddress.ip_interface(f"{a}/{p}"), st.ip_addresses(v=6), st.integers(0, 128)),
    st.builds(lambda d, z: d.replace(tzinfo=zoneinfo.ZoneInfo(z)), st.datetimes(), st.sampled_from(_ZONES)),
    st.builds(lambda d, m: d.replace(tzinfo=datetime.timezone(datetime.timedelta(minutes=m))),
              st.datetimes(), st.integers(-1439, 1439)),
    st.dates(), st.times(), st.timedeltas(),
    st.builds(pathlib.PurePosixPath, st.text("ab/.", max_size=6)),
    st.builds(pathlib.PosixPath, st.text("ab/.", max_size=6)),
    st.builds(pathlib.PureWindowsPath, st.text("ab\\:", max_size=6)),
    hnp.arrays(st.sampled_from([np.int8, np.int64, np.float32, np.float64, np.bool_, np.complex128,
                                np.dtype("U3"), np.dtype("M8[s]")]),
               hnp.array_shapes(max_dims=2, max_side=3)),
)


def _containers(children: st.SearchStrategy) -> st.SearchStrategy:
    keys = st.one_of(st.text(max_size=4), st.integers(-5, 5))
    return st.one_of(
        st.lists(children, max_size=4), st.tuples(children, children),
        st.dictionaries(keys, children, max_size=3),
        st.builds(collections.OrderedDict, st.dictionaries(keys, children, max_size=3)),
        st.builds(lambda d: collections.defaultdict(list, d), st.dictionaries(keys, children, max_size=3)),
        st.builds(collections.Counter, st.dictionaries(st.text(max_size=3), st.integers(), max_size=3)),
        st.builds(collections.deque, st.lists(children, max_size=3), st.one_of(st.none(), st.integers(3, 5))),
        st.frozensets(st.integers(), max_size=3), st.sets(st.text(max_size=3), max_size=3),
        # a shared reference: the same container twice
        st.builds(lambda x: [x, x], st.lists(children, max_size=2)),
    )


_graphs = st.recursive(_scalars, _containers, max_leaves=12)


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()  # NaN, NaT too
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a) and (
            not isinstance(a, collections.defaultdict) or a.default_factory is b.default_factory)
    if isinstance(a, list | tuple | collections.deque):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True)) and (
            not isinstance(a, collections.deque) or a.maxlen == b.maxlen)
    if isinstance(a, datetime.datetime):
        return a == b and a.tzinfo == b.tzinfo and a.fold == b.fold
    return a == b


def _shared(value: Any) -> list[bool]:
    """For every [x, x] pair in the graph: whether both items are one object."""
    found: list[bool] = []

    def walk(item: Any) -> None:
        if isinstance(item, list) and len(item) == 2 and isinstance(item[0], list):
            found.append(item[0] is item[1])
        if isinstance(item, dict):
            for child in item.values():
                walk(child)
        elif isinstance(item, list | tuple | collections.deque):
            for child in item:
                walk(child)
    walk(value)
    return found


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=_graphs, protocol=st.integers(0, 5))
def test_random_graphs_of_allowlisted_types_are_safe_and_come_back_equal(value: Any, protocol: int) -> None:
    data = pickle.dumps(value, protocol)
    expected = pickle.loads(data)
    scan = scan_bytes(data)
    assert scan.error is None and not scan.computed_globals
    assert {g.severity for g in scan.globals.values()} <= {"info"}, scan.globals
    loaded = load_safe(data)
    assert {g.severity for g in loaded.globals} <= {"info"}, loaded.globals
    assert not [f for f in loaded.findings if f[0] != "info"]
    assert _same(loaded.value, expected), (loaded.value, expected)
    assert _shared(loaded.value) == _shared(expected)


# -- cross-checks with picklescan and fickling ---------------------------------------------

def _picklescan_dangerous(data: bytes) -> bool:
    from picklescan.scanner import scan_pickle_bytes

    result = scan_pickle_bytes(io.BytesIO(data), "file.pkl")
    return result.issues_count > 0 or result.scan_err


def _fickling_unsafe(data: bytes) -> bool:
    from fickling.analysis import check_safety
    from fickling.fickle import Pickled

    return check_safety(Pickled.load(data)).severity.name != "LIKELY_SAFE"


# What picklescan 1.0.5 misses: it judges the written module and first name against a deny
# list, with no protocol, no _compat_pickle mapping and no walk (all of these payloads are live).
PICKLESCAN_MISSES = set(BYPASSES) - {
    "py2 __builtin__ getattr", "pydoc locate", "getattr on a path",
    "getattr reused from the memo after the zoneinfo idiom", "getattr passed as a value",
    "getattr(ZoneInfo, 'no_cache') then called", "getattr(Path, 'write_text') then called",
    "getattr(Path, 'write_text') DUP then called",
    "getattr(Class, 'name') then NEWOBJ on it"}


def test_picklescan_misses_bypasses_that_we_flag(tmp_path: Path) -> None:
    """picklescan judges a global by its written module and first name, with no protocol: it
    misses dotted walks, Python 2 names mapped by _compat_pickle and several public gadgets.
    We say DANGEROUS for all of them (their payloads are live, see test_the_payloads_are_live)."""
    pytest.importorskip("picklescan")
    missed = set()
    for name in BYPASSES:
        path, _marker = hostile(name, tmp_path)
        data = path.read_bytes()
        assert scan_bytes(data).dangerous
        if not _picklescan_dangerous(data):
            missed.add(name)
    assert missed <= PICKLESCAN_MISSES, missed - PICKLESCAN_MISSES


def test_fickling_and_we_agree_on_live_bypasses(tmp_path: Path) -> None:
    """fickling is allowlist-based like us: every live bypass is unsafe for both."""
    pytest.importorskip("fickling")
    disagree = []
    for name, (_p, _b, live) in BYPASSES.items():
        path, _marker = hostile(name, tmp_path)
        data = path.read_bytes()
        try:
            unsafe = _fickling_unsafe(data)
        except Exception:  # fickling cannot parse it: for us still dangerous
            unsafe = True
        if live and not unsafe:
            disagree.append(name)
    assert disagree == []


def test_benign_files_cross_checked() -> None:
    """On benign data we say safe where they do not:
    - tz-aware datetimes: both flag ``builtins.getattr`` whatever its arguments; we accept only the
      exact call ``getattr(zoneinfo.ZoneInfo, '_unpickle')`` (it reaches ZoneInfo's constructor,
      which validates the key), and any other use of getattr stays dangerous (tests above);
    - ``uuid.UUID``: picklescan lists the whole module; the class only stores a 128-bit int (the
      module's command-running helpers stay on our danger list);
    - fickling calls anything outside its tiny builtin allowlist unsafe (dates, paths, Decimal,
      OrderedDict, NumPy arrays): our allowlist holds exact pairs of data types whose reconstruction
      the safe loader rebuilds and checks.
    """
    pytest.importorskip("picklescan")
    pytest.importorskip("fickling")
    values = {"plain": [1, "a", {"b": (2.5, None)}], "date": datetime.date(2024, 1, 1),
              "zoned": datetime.datetime(2024, 1, 1, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
              "utc": datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC), "path": pathlib.PurePosixPath("/x"),
              "counter": collections.Counter("ab"), "decimal": decimal.Decimal("1.5"),
              "uuid": uuid.UUID(int=3),
              "address": ipaddress.ip_address("1.2.3.4"), "array": np.arange(3.0)}
    picklescan_flags, fickling_flags = set(), set()
    for name, value in values.items():
        for protocol in (2, 4):
            data = pickle.dumps(value, protocol)
            assert {g.severity for g in scan_bytes(data).globals.values()} <= {"info"}, name
            assert {g.severity for g in load_safe(data).globals} <= {"info"}, name
            if _picklescan_dangerous(data):
                picklescan_flags.add(name)
            if _fickling_unsafe(data):
                fickling_flags.add(name)
    assert picklescan_flags <= {"zoned", "uuid"}
    assert "plain" not in fickling_flags and "zoned" in fickling_flags | picklescan_flags


# -- the safe loader rebuilds what the allowlist names ------------------------------------

@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_an_enum_member_by_name_is_suspicious_not_dangerous(protocol: int, tmp_path: Path) -> None:
    """Some Python 3.11 releases pickle an enum member as ``getattr(Color, 'RED')``: reading a class
    attribute is not running code, so while the result is never called the file is suspicious (a
    custom class), not dangerous."""
    a = Asm(protocol)
    member = a.call(a.glob("__builtin__" if protocol < 3 else "builtins", "getattr") + a.put(1),
                    a.glob("colors", "Color"), a.text("RED"))
    again = a.call(a.get(1), a.glob("colors", "Color"), a.text("BLUE"))
    data = a.head() + b"(" + member + again + b"l."
    for report in (scan_bytes(data).globals.values(), load_safe(data).globals):
        assert {g.qualname.rsplit(".", 1)[-1]: g.severity for g in report} == {
            "getattr": "suspicious", "Color": "suspicious"}
    path = tmp_path / "enum.pkl"
    path.write_bytes(data)
    assert inspect_cli.run(str(path), True, io.StringIO()) == 0


def test_uuid_fraction_deque_counter_and_addresses_are_rebuilt() -> None:
    value = [uuid.UUID(int=7), fractions.Fraction(2, 3), collections.deque([1, 2], 4),
             collections.Counter("aab"), ipaddress.ip_address("::1"), decimal.Decimal("2.5")]
    for protocol in range(6):
        loaded = load_safe(pickle.dumps(value, protocol)).value
        assert loaded == value and [type(v) for v in loaded] == [type(v) for v in value]
        assert loaded[2].maxlen == 4


def test_a_bad_zone_key_or_uuid_state_stays_a_call() -> None:
    a = Asm(4)
    bad_zone = a.head() + a.call(a.call(a.glob("builtins", "getattr"), a.glob("zoneinfo", "ZoneInfo"),
                                        a.text("_unpickle")), a.text("../../etc/passwd"), b"K\x01") + b"."
    loaded = load_safe(bad_zone)
    assert not isinstance(loaded.value, zoneinfo.ZoneInfo)
    assert {g.severity for g in loaded.globals} == {"info"}  # the idiom itself was exact
    bad_uuid = pickle.dumps(uuid.UUID(int=1), 2).replace(b"X\x03\x00\x00\x00int", b"X\x03\x00\x00\x00inu")
    assert not isinstance(load_safe(bad_uuid).value, uuid.UUID)


def test_no_import_while_loading_benign_values(tmp_path: Path) -> None:
    data = pickle.dumps(_benign_values(), 4)
    load_safe(data)  # first load may import zoneinfo/pathlib for the builders; the next must not
    with no_side_effects(tmp_path):
        load_safe(data)
        scan_bytes(data)
    assert os.listdir(tmp_path) == ["canary.txt"]


# -- the two paths agree: random streams of globals, calls, idioms and PROTO switches ----------

_POOL = [("builtins", "getattr"), ("__builtin__", "getattr"), ("zoneinfo", "ZoneInfo"), ("pathlib", "Path"),
         ("copy_reg", "_reconstructor"), ("cStringIO", "StringIO"), ("gettext", "os.system"),
         ("copyreg", "_reconstructor.__builtins__.get"), ("colors", "Color"), ("datetime", "datetime"),
         ("collections", "OrderedDict"), ("inspect", "getattr_static"), ("__builtin__", "set"),
         ("numpy", "testing.runstring"), ("builtins", "object.__subclasses__")]
_statement = st.one_of(
    st.tuples(st.just("value"), st.sampled_from(_POOL)),
    st.tuples(st.just("getattr"), st.sampled_from(_POOL), st.sampled_from(_POOL),
              st.sampled_from(["_unpickle", "RED", "write_text", "__class__"]), st.booleans()),
    st.tuples(st.just("proto"), st.integers(0, 5)),
)


def _assemble(start: int, statements: list) -> bytes:
    """One list of values, each a global, ``func(target, 'name')`` (maybe called), with PROTO
    opcodes switching the protocol in force between them."""
    a = Asm(start)
    out = [a.head(), b"](" if start >= 1 else b"(l("]
    for statement in statements:
        if statement[0] == "proto":
            out.append(b"\x80" + bytes([statement[1]]))
            a = Asm(max(statement[1], 1))  # binary literals: only GLOBAL vs STACK_GLOBAL follows it
        elif statement[0] == "value":
            out.append(a.glob(*statement[1]))
        else:
            _kind, func, target, name, called = statement
            fetched = a.call(a.glob(*func), a.glob(*target), a.text(name))
            out.append(a.call(fetched, a.text("x")) if called else fetched)
    out.append(b"e.")
    return b"".join(out)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=st.integers(1, 5), statements=st.lists(_statement, max_size=6))
def test_the_scanner_and_the_safe_loader_judge_every_name_alike(start: int, statements: list) -> None:
    data = _assemble(start, statements)
    scan = scan_bytes(data)
    assert scan.error is None, scan.error
    scanned = {(g.module, g.name): g.severity for g in scan.globals.values()}
    try:
        loaded = load_safe(data)
    except Exception as exc:  # a refused load must still carry the verdict
        assert getattr(exc, "dangerous", False) == scan.dangerous or not getattr(exc, "globals", None)
        return
    assert {(g.module, g.name): g.severity for g in loaded.globals} == scanned


def test_the_benign_corpus_is_not_dangerous_for_us_nor_picklescan() -> None:
    """tests/data/benign (pandas, NumPy, scikit-learn and joblib files of an older generation): no
    DANGEROUS from either scanner; fickling is not asked (it calls any non-builtin global unsafe)."""
    pytest.importorskip("picklescan")
    import warnings

    from picklescan.scanner import scan_file_path

    folder = ROOT / "tests" / "data" / "benign"
    files = [p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix not in (".json", ".md")]
    assert len(files) > 100
    for path in files:
        assert inspect_cli.exit_code(inspect_cli.inspect_path(path)) != 1, path.name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert scan_file_path(str(path)).issues_count == 0, path.name
