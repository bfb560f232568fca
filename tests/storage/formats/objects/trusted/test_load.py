"""Trust and load: the real loaders run in a child process; only a neutral tree comes back."""

from __future__ import annotations

import contextlib
import dbm.dumb
import os
import pickle
import re
import shelve
import sys
import tempfile
import time
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import joblib
import numpy as np
import pytest

from storage.core.errors import KnownError, UnreadableError
from storage.formats.objects.trusted.load import (
    Repr,
    TrustedLoadCancelled,
    TrustedLoadError,
    TrustedLoadTimeout,
    read_result,
    trusted_load,
)
from tests.support import trust_fixtures
from tests.support.audit_helpers import Canary
from tests.support.trust_fixtures import BadRepr, Color, Pair, Payload, Point, Slotted, Tag

ROOT = str(Path(__file__).resolve().parents[5])

_events: list[tuple[str, tuple]] = []
_recording: list[bool] = []


def _audit(event: str, args: tuple) -> None:
    if _recording:
        _events.append((event, args))


sys.addaudithook(_audit)  # cannot be removed; it only records inside recorded()


@contextlib.contextmanager
def recorded() -> Iterator[list[tuple[str, tuple]]]:
    """Every audit event this process raises inside the block."""
    _events.clear()
    _recording.append(True)
    try:
        yield _events
    finally:
        _recording.clear()


def dump(tmp_path: Path, obj: object, name: str = "f.pkl") -> Path:
    path = tmp_path / name
    path.write_bytes(pickle.dumps(obj, protocol=4))
    return path


def test_custom_class_becomes_repr_with_attributes(tmp_path: Path) -> None:
    point = Point(1, 2, ["a", "b"])
    path = dump(tmp_path, {"p": point, "again": point, "s": Slotted("n"), "bad": BadRepr()})
    result = trusted_load(path, "pickle", extra_path=[ROOT])
    value = result.value
    shown = value["p"]
    assert isinstance(shown, Repr)
    assert shown.type_qualname == "tests.support.trust_fixtures.Point"
    assert shown.repr_text == "Point(1, 2)"
    assert shown.attributes == {"x": 1, "y": 2, "tags": ["a", "b"]}
    assert value["again"] is shown
    assert value["s"].attributes == {"__secret": 42, "name": "n"}
    assert value["bad"].repr_text == "<repr failed: RuntimeError: no repr for you>"
    assert result.repr_count == 3


def test_without_extra_path_the_class_module_is_missing(tmp_path: Path) -> None:
    path = dump(tmp_path, Point(1, 2, []))
    with pytest.raises(TrustedLoadError) as info:
        trusted_load(path, "pickle")
    assert str(info.value) == ("Loading ran the file's code and it failed: "
                               "ModuleNotFoundError: No module named 'tests'")
    assert info.value.exc_type == "ModuleNotFoundError"
    assert isinstance(info.value, KnownError)


def test_malicious_code_runs_only_in_the_child(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    code = "import os; open('relative_canary', 'w').write('ran'); print(os.getcwd())"
    path = dump(tmp_path, [Canary(canary), Payload(code), "after"])
    before = os.getcwd()
    with recorded() as events:
        result = trusted_load(path, "pickle")
    assert result.value == [None, None, "after"]
    assert canary.read_text() == "ran"  # the payload did run, in the child
    names = [name for name, _ in events]
    for forbidden in ("exec", "pickle.find_class", "os.system", "os.exec", "os.posix_spawn", "compile"):
        assert forbidden not in names, forbidden
    spawned = [args for name, args in events if name == "subprocess.Popen"]
    assert len(spawned) == 1 and spawned[0][1][0] == sys.executable
    opened = [str(args[0]) for name, args in events if name == "open"]
    assert str(canary) not in opened and not any(p.endswith("relative_canary") for p in opened)
    child_cwd = result.stdout_tail.strip()
    assert child_cwd != before and child_cwd.startswith(tempfile.gettempdir())
    assert not (Path(before) / "relative_canary").exists()
    assert not os.path.exists(child_cwd)  # the child's scratch folder is gone


def _sleeper(tmp_path: Path) -> tuple[Path, Path]:
    pid_file = tmp_path / "pid"
    code = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    return dump(tmp_path, Payload(code)), pid_file


def _assert_dead(pid_file: Path) -> None:
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_cancel_kills_a_sleeping_load(tmp_path: Path) -> None:
    path, pid_file = _sleeper(tmp_path)
    started = time.monotonic()
    with pytest.raises(TrustedLoadCancelled, match="cancelled"):
        trusted_load(path, "pickle", cancel=lambda: pid_file.exists() and pid_file.stat().st_size > 0)
    _assert_dead(pid_file)
    assert time.monotonic() - started < 30  # not a benchmark: it must not wait out the 60 s sleep


def test_timeout_kills_a_sleeping_load(tmp_path: Path) -> None:
    path, pid_file = _sleeper(tmp_path)
    started = time.monotonic()
    with pytest.raises(TrustedLoadTimeout, match="longer than 1 s"):
        trusted_load(path, "pickle", timeout=1)
    _assert_dead(pid_file)
    assert time.monotonic() - started < 30


class _Raises:
    def __reduce__(self):
        return (int, ("not a number",))


def test_exception_during_load_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TrustedLoadError) as info:
        trusted_load(dump(tmp_path, _Raises()), "pickle")
    assert str(info.value) == ("Loading ran the file's code and it failed: ValueError: "
                               "invalid literal for int() with base 10: 'not a number'")
    assert info.value.phase == "load"


def test_missing_module_named_by_hand_made_pickle(tmp_path: Path) -> None:
    path = tmp_path / "f.pkl"
    path.write_bytes(b"\x80\x02cno_such_module_xyz\nThing\n)\x81.")
    with pytest.raises(TrustedLoadError, match="ModuleNotFoundError: No module named 'no_such_module_xyz'"):
        trusted_load(path, "pickle")


@pytest.mark.parametrize(("code", "expected"), [
    ("import os; os._exit(7)", "exited with status 7 without a result"),
    ("import ctypes; ctypes.string_at(0)", "was killed by SIGSEGV"),
    ("import sys; sys.exit('bye')", "failed: SystemExit: bye"),
])
def test_child_that_dies_is_a_clear_error(tmp_path: Path, code: str, expected: str) -> None:
    with pytest.raises(TrustedLoadError, match=expected):
        trusted_load(dump(tmp_path, Payload(code)), "pickle")


def test_plain_values_cycles_and_shared_references(tmp_path: Path) -> None:
    shared = [1, 2]
    loop: dict = {"list": shared, "same": shared, "pair": (shared, 3)}
    loop["self"] = loop
    recursive = ([],)
    recursive[0].append(recursive)
    when = datetime(2024, 5, 6, 7, 8, tzinfo=timezone(timedelta(hours=2)))
    loop.update(rec=recursive, when=when, dec=Decimal("1.10"), c=1 + 2j, b=b"\x00", ba=bytearray(b"xy"),
                s={1, (2, 3)}, fs=frozenset({"a"}), od=OrderedDict(k=shared), nt=Pair(1, shared),
                arr=np.arange(6).reshape(2, 3), f32=np.float32(2.5), none=None, big=10**40)
    value = trusted_load(dump(tmp_path, loop), "pickle", extra_path=[ROOT]).value
    assert value["self"] is value
    assert value["list"] is value["same"] is value["pair"][0] is value["od"].value["k"]
    assert value["nt"].value == (1, [1, 2]) and value["nt"].value[1] is value["list"]
    assert value["rec"][0][0] is value["rec"]
    assert value["od"].type_qualname == "collections.OrderedDict"
    for name in ("when", "dec", "c", "b", "ba", "s", "fs", "none", "big"):
        assert value[name] == loop[name] and type(value[name]) is type(loop[name]), name
    assert np.array_equal(value["arr"], loop["arr"]) and value["arr"].dtype == loop["arr"].dtype
    assert value["f32"] == np.float32(2.5) and type(value["f32"]) is np.float32


def test_stacked_pickles_become_a_list(tmp_path: Path) -> None:
    path = tmp_path / "f.pkl"
    path.write_bytes(pickle.dumps({"a": 1}) + pickle.dumps([2], protocol=0))
    result = trusted_load(path, "pickle")
    assert result.value == [{"a": 1}, [2]] and result.stacked == 2


def test_200000_levels_of_nesting_are_cut_not_crashed(tmp_path: Path) -> None:
    depth = 200_000
    path = tmp_path / "deep.pkl"
    path.write_bytes(b"\x80\x02" + b"]" * depth + b"a" * (depth - 1) + b".")
    result = trusted_load(path, "pickle", max_depth=500)
    node, levels = result.value, 0
    while isinstance(node, list):
        node, levels = node[0], levels + 1
    assert isinstance(node, Repr) and node.cut and node.type_qualname == "list"
    assert levels == 501 and result.truncated


def test_node_limit_truncates_with_a_marker(tmp_path: Path) -> None:
    result = trusted_load(dump(tmp_path, list(range(100))), "pickle", max_nodes=10)
    assert result.truncated
    assert result.value[:9] == list(range(9))
    assert result.value[-1].cut and "91 more not shown" in result.value[-1].repr_text


def test_joblib_compressed(tmp_path: Path) -> None:
    path = tmp_path / "model.joblib"
    joblib.dump({"w": np.linspace(0, 1, 7), "p": Point(3, 4, [])}, path, compress=3)
    value = trusted_load(path, "joblib", extra_path=[ROOT]).value
    assert np.array_equal(value["w"], np.linspace(0, 1, 7))
    assert value["p"].attributes == {"x": 3, "y": 4, "tags": []}


def test_npy_object_array_and_npz(tmp_path: Path) -> None:
    objects = np.array([1, "a", {"k": [1, 2]}, None], dtype=object)
    np.save(tmp_path / "o.npy", objects, allow_pickle=True)
    shown = trusted_load(tmp_path / "o.npy", "npy").value
    assert isinstance(shown, Repr) and shown.type_qualname == "numpy.ndarray"
    assert shown.value == [1, "a", {"k": [1, 2]}, None]
    np.savez(tmp_path / "a.npz", nums=np.arange(3), objs=objects)
    value = trusted_load(tmp_path / "a.npz", "npz").value
    assert np.array_equal(value["nums"], np.arange(3)) and value["objs"].value[1] == "a"


@pytest.fixture
def dumb_shelf(tmp_path: Path) -> Path:
    base = tmp_path / "shelf"
    with shelve.Shelf(dbm.dumb.open(str(base), "c"), protocol=2) as shelf:
        shelf["point"] = Point(5, 6, ["z"])
        shelf["numbers"] = [1, 2, 3]
    return base


def test_dumb_shelf_one_key_and_all_keys(dumb_shelf: Path) -> None:
    files = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in dumb_shelf.parent.iterdir()}
    one = trusted_load(dumb_shelf, "shelve", key="numbers").value
    assert one == [1, 2, 3]
    every = trusted_load(str(dumb_shelf) + ".dat", "shelve", extra_path=[ROOT]).value
    assert set(every) == {"point", "numbers"} and every["point"].attributes["tags"] == ["z"]
    with pytest.raises(TrustedLoadError, match=r"The shelf has no key 'nope'\."):
        trusted_load(dumb_shelf, "shelve", key="nope")
    with pytest.raises(TrustedLoadError, match="Loading key 'point' ran the file's code and it failed: "
                                               "ModuleNotFoundError"):
        trusted_load(dumb_shelf, "shelve")
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in dumb_shelf.parent.iterdir()} == files


def test_missing_file_and_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(UnreadableError):
        trusted_load(tmp_path / "absent.pkl", "pickle")
    with pytest.raises(ValueError):
        trusted_load(dump(tmp_path, 1), "marshal")


def test_result_reader_builds_nothing_else(tmp_path: Path) -> None:
    meta = {"repr_count": 0, "truncated": False, "stacked": 1}
    assert read_result(pickle.dumps((meta, [Decimal(1), {2}]), protocol=5))[1] == [Decimal(1), {2}]
    for forbidden in (os.system, trust_fixtures.Point, Repr, OrderedDict()):
        with recorded() as events, pytest.raises(pickle.UnpicklingError, match="not allowed"):
            read_result(pickle.dumps((meta, forbidden), protocol=2))
        assert "pickle.find_class" not in [name for name, _ in events]


def test_result_reader_cannot_modify_its_own_functions() -> None:
    from storage.formats.objects.trusted import load as module

    # GLOBAL _new_repr, then BUILD with slot state {"__doc__": "owned"} on it, then STOP
    stream = (b"\x80\x02c"
              b"storage.formats.objects.trusted.load\n_new_repr\n"
              b"N}X\x07\x00\x00\x00__doc__X\x05\x00\x00\x00owneds"
              b"\x86b0}(X\n\x00\x00\x00repr_countK\x00X\t\x00\x00\x00truncated\x89X\x07\x00\x00\x00stacked"
              b"K\x01uN\x86.")
    with contextlib.suppress(pickle.UnpicklingError, TypeError, AttributeError):
        read_result(stream)
    assert module._new_repr.__doc__ != "owned"


def test_200000_nested_objects_are_cut_not_crashed(tmp_path: Path) -> None:
    # p0.y = p1, p1.y = p2, ...: built with opcodes, since pickling it here would need deep recursion
    depth = 200_000
    level = b"h\x00)\x81}X\x01\x00\x00\x00xK\x07sX\x01\x00\x00\x00y"
    path = tmp_path / "chain.pkl"
    path.write_bytes(b"\x80\x02c"
                     b"tests.support.trust_fixtures\nPoint\nq\x00"
                     + level * depth + b"h\x00)\x81}b" + b"sb" * depth + b".")
    result = trusted_load(path, "pickle", extra_path=[ROOT])
    node, levels = result.value, 0
    while not node.cut:
        assert node.type_qualname == "tests.support.trust_fixtures.Point" and node.attributes["x"] == 7
        node, levels = node.attributes["y"], levels + 1
    assert levels == 1001 and result.truncated and result.repr_count == levels


def test_subclasses_of_builtins_keep_their_value(tmp_path: Path) -> None:
    tag = Tag("hello")
    tag.note = "n"
    counts = Counter("aab")
    table = defaultdict(list, {"k": [1]})
    value = trusted_load(dump(tmp_path, [Color.RED, tag, counts, table]), "pickle", extra_path=[ROOT]).value
    red, shown_tag, shown_counts, shown_table = value
    assert (red.type_qualname == "tests.support.trust_fixtures.Color" and red.value == 1
            and type(red.value) is int)
    assert red.repr_text == "<Color.RED: 1>"
    assert shown_tag.value == "hello" and type(shown_tag.value) is str
    assert shown_tag.attributes == {"note": "n"}
    assert shown_counts.type_qualname == "collections.Counter" and shown_counts.value == {"a": 2, "b": 1}
    assert shown_table.value == {"k": [1]} and shown_table.type_qualname == "collections.defaultdict"


def test_object_lying_about_its_class(tmp_path: Path) -> None:
    path = tmp_path / "liar.pkl"
    # pickle.dumps refuses to write it
    path.write_bytes(b"\x80\x02c"
                     b"tests.support.trust_fixtures\nLiar\n)\x81.")
    liar = trusted_load(path, "pickle", extra_path=[ROOT]).value
    assert isinstance(liar, Repr) and liar.type_qualname == "tests.support.trust_fixtures.Liar"
    assert liar.value is None and liar.attributes == {}


@pytest.mark.parametrize(("content", "kind", "expected"), [
    (pickle.dumps([1, 2, 3])[:-3], "pickle", "failed: pickle.UnpicklingError: pickle data was truncated"),
    (b"", "pickle", "failed: EOFError: Ran out of input"),
    (b"garbage" * 100, "shelve", "could not be opened for loading: dbm.error"),
    (b"garbage", "npy", "failed: pickle.UnpicklingError: Failed to interpret file"),
])
def test_bad_files_give_clear_errors(tmp_path: Path, content: bytes, kind: str, expected: str) -> None:
    path = tmp_path / "bad"
    path.write_bytes(content)
    with pytest.raises(TrustedLoadError, match=re.escape(expected)):
        trusted_load(path, kind)
    assert path.read_bytes() == content
