"""The first look at a pickle (storage/formats/objects/first.py): the preview of its first items,
and a verdict only when it is surely the one the full safe load reports."""

from __future__ import annotations

import os
import pickle
import random
import subprocess
import sys
from pathlib import Path

import pytest

from storage.core.errors import KnownError
from storage.formats.objects.file import open_objects
from storage.formats.objects.first import FIRST_ITEMS, first_look, plain_verdict
from storage.formats.objects.pickle import keys
from storage.formats.objects.pickle.safe import LoadCancelled
from storage.sniff.detect import sniff
from tests.storage.formats.objects.test_file import _modules_imported, corpus_files  # noqa: F401 (autouse)
from tests.support.audit_helpers import no_code_runs

needs_census = pytest.mark.skipif(keys.plain_census is None, reason="the _keywalk extension is not built")
ROOT = Path(__file__).resolve().parents[4]


def _verdict_of(result) -> tuple:
    """What the safety bar shows: the level, every global and every finding."""
    return (result.worst, sorted((k, g.severity, g.count) for k, g in result.globals.items()),
            [(f.severity, f.message, f.where) for f in result.findings], bool(result.load_error))


def _check_same(path: Path, kind: str = "pickle") -> bool:
    """If plain_verdict vouches for ``path``, the full load reports exactly that verdict."""
    with no_code_runs():
        found = plain_verdict(str(path), kind)
        if found is None:
            return False
        try:
            final = open_objects(str(path), kind)
        except KnownError as exc:
            raise AssertionError(f"{path.name}: vouched for, but the load failed: {exc}") from None
    assert _verdict_of(found[0]) == _verdict_of(final), path.name
    return True


def test_the_first_items_of_a_big_dict_come_from_the_head(tmp_path: Path) -> None:
    path = tmp_path / "big.pkl"
    value = {f"key {i}": [i, f"value {i}", (i, 2.5)] for i in range(50_000)}
    path.write_bytes(pickle.dumps(value, 4))
    look = first_look(str(path), "pickle")
    assert look is not None and not look.complete and look.type_name == "dict"
    assert look.shown == FIRST_ITEMS == len(look.preview)
    assert list(look.preview.items()) == list(value.items())[:FIRST_ITEMS]  # finished items only


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_a_list_preview_and_a_small_pickle_read_whole(tmp_path: Path, protocol: int) -> None:
    path = tmp_path / "list.pkl"
    value = [{"n": i, "tags": ["a", "b"]} for i in range(5000)]
    path.write_bytes(pickle.dumps(value, protocol))
    look = first_look(str(path), "pickle")
    assert look is not None and look.type_name == "list" and not look.complete
    assert look.preview == value[:look.shown] and look.shown > 0
    path.write_bytes(pickle.dumps({"a": [1, 2]}, protocol))
    small = first_look(str(path), "pickle")
    assert small is not None and small.complete and small.preview == {"a": [1, 2]}


def test_the_preview_never_takes_an_opcodes_operands_for_items(tmp_path: Path) -> None:
    import datetime

    path = tmp_path / "mixed.pkl"
    path.write_bytes(pickle.dumps({"b": list(range(500)), "when": datetime.date(2020, 1, 1), "c": 1}, 4))
    look = first_look(str(path), "pickle")  # stops at STACK_GLOBAL, whose operands are "datetime", "date"
    assert look is not None and look.preview == {"b": list(range(500))} and not look.complete


def test_a_compressed_pickle_previews_its_decompressed_head(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "frame.pkl.gz"
    value = {f"k{i}": [i, "x"] for i in range(50_000)}
    path.write_bytes(gzip.compress(pickle.dumps(value, 4)))
    look = first_look(str(path), "pickle")
    assert look is not None and list(look.preview.items()) == list(value.items())[:FIRST_ITEMS]
    assert plain_verdict(str(path), "pickle") is None  # the census reads uncompressed pickles only
    joblib = pytest.importorskip("joblib")
    import numpy as np

    joblib.dump({"a": np.arange(10), "b": 2}, tmp_path / "model.joblib", compress=3)
    assert first_look(str(tmp_path / "model.joblib"), "joblib") is None  # an array first: nothing to say


def test_no_preview_where_the_head_is_not_plain_data(tmp_path: Path) -> None:
    import datetime
    import gzip

    cases = {"global_first.pkl": pickle.dumps(datetime.date(2020, 1, 1), 4),
             "gz.pkl": gzip.compress(b"\x80\x04" + b"x" * 100),
             "protocol0.pkl": pickle.dumps([1, 2], 0), "empty.pkl": b""}
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert first_look(str(path), "pickle") is None, name
    assert first_look(str(tmp_path / "gone.pkl"), "pickle") is None


@needs_census
def test_plain_data_is_vouched_for_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "plain.pkl"
    value = {f"k{i}": {"x": [i, -i, 1.5, None, True], "b": b"\x00\xff", "s": {1, 2}, "f": frozenset({3}),
                       "t": (1, ("a", 2)), "u": "\ud800é"} for i in range(3000)}
    for protocol in (2, 3, 4, 5):
        path.write_bytes(pickle.dumps(value, protocol))
        found = plain_verdict(str(path), "pickle")
        if protocol < 4:  # sets are pickled as calls of builtins.set before protocol 4
            assert found is None
            continue
        assert found is not None, protocol
        _verdict, census = found
        assert (census.type_name, census.items) == ("dict", 3000)
        assert _check_same(path)


@needs_census
def test_what_the_census_cannot_vouch_for(tmp_path: Path) -> None:
    import datetime

    good = pickle.dumps({"a": ["b"]}, 4)
    cases = {
        "a global": pickle.dumps({"d": datetime.date(2020, 1, 1)}, 4),
        "data after the pickle": good + b"trailing",
        "two pickles": good + good,
        "bad UTF-8": b"\x80\x04\x8c\x02\xc3\x28\x94.",
        "a list as a key": b"\x80\x04}(]K\x01u.",
        "APPENDS onto a dict": b"\x80\x04}(K\x01e.",
        "a memo index never made": b"\x80\x04h\x05.",
        "no STOP": good[:-1],
        "a hashing bomb": _hash_bomb(),
        "joblib's name in a string": pickle.dumps({"x": "joblib.numpy_pickle"}, 4),
        "Python 2 strings": b"\x80\x02U\x03abcq\x00.",
        "an unknown protocol": b"\x80\x06N.",
        "a string across a frame's end": b"\x80\x04\x95\x03\x00\x00\x00\x00\x00\x00\x00\x8c\x03abc\x94.",
        "a bytearray": pickle.dumps(bytearray(b"x"), 5),
    }
    for name, data in cases.items():
        path = tmp_path / "case.pkl"
        path.write_bytes(data)
        assert plain_verdict(str(path), "pickle") is None, name
    assert plain_verdict(str(path), "joblib") is None


def _hash_bomb(depth: int = 40) -> bytes:
    """A dict key made of ``depth`` levels of t = (t, t), shared through the memo."""
    out = bytearray(b"\x80\x04}\x94)\x94")  # {} and () memoized as 0 and 1
    for level in range(depth):
        out += b"h%c" % (level + 1) + b"h%c" % (level + 1) + b"\x86\x94"
    out += b"h%c" % (depth + 1) + b"K\x01s."
    return bytes(out)


@needs_census
def test_mutated_plain_pickles_are_vouched_for_only_when_the_load_agrees(tmp_path: Path) -> None:
    """Random damage to plain pickles: whenever the census still vouches, the load reports the same."""
    rng = random.Random(16)
    value = {"a": [1, 2, {"b": (3, "c")}], "d": {4.5, b"e"}, "f": "g" * 300}
    seeds = [pickle.dumps(value, protocol) for protocol in (4, 5)]
    seeds.append(pickle.dumps([{"k": i, "v": [i] * 3} for i in range(200)], 4))
    path = tmp_path / "mutant.pkl"
    vouched = 0
    for _ in range(600):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(2, len(data))
            choice = rng.random()
            if choice < 0.5:
                data[at] = rng.randrange(256)
            elif choice < 0.75:
                del data[at]
            else:
                data.insert(at, rng.choice(b"()]}teulsaq\x94\x85\x86\x87h.0"))
        path.write_bytes(bytes(data))
        vouched += _check_same(path)
    assert vouched > 20  # the mutants that stayed plain data


@needs_census
def test_the_verdict_never_changes_between_stages_on_the_hostile_corpus() -> None:
    compared = vouched = 0
    for path in corpus_files():
        kind = sniff(str(path)).format
        if kind not in ("pickle", "joblib"):
            continue
        with no_code_runs():
            first_look(str(path), kind)  # never runs anything, never raises
        vouched += _check_same(path, kind)
        compared += 1
    assert compared > 30
    assert vouched >= 1  # the corpus' few plain pickles


def test_progress_and_cancel_during_the_load(tmp_path: Path) -> None:
    path = tmp_path / "big.pkl"
    path.write_bytes(pickle.dumps({f"key {i}": f"{i:>40}" for i in range(100_000)}, 4))  # 6 MB
    seen: list[float] = []
    result = open_objects(str(path), "pickle", progress=seen.append)
    assert len(result.doc.root[0]) == 100_000
    assert len(seen) >= 3 and seen == sorted(seen) and seen[0] >= 0 and seen[-1] <= 1
    asked: list[float] = []

    def cancel() -> bool:  # the user presses Cancel after the first megabytes
        return len(asked) >= 2

    with pytest.raises(LoadCancelled):
        open_objects(str(path), "pickle", cancel, progress=asked.append)


def test_a_plain_pickle_opens_without_numpy(tmp_path: Path) -> None:
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps({f"k{i}": ["v", i] for i in range(20_000)}, 4))
    code = ("import sys; from storage.formats.objects.file import open_objects; "
            "from storage.formats.objects.first import first_look, plain_verdict; "
            f"first_look({str(path)!r}, 'pickle'); plain_verdict({str(path)!r}, 'pickle'); "
            f"open_objects({str(path)!r}, 'pickle'); print('numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.strip() == "False", out.stderr


def _big_shelf(base: Path) -> None:
    import dbm.dumb
    import shelve

    with shelve.Shelf(dbm.dumb.open(str(base), "n")) as shelf:
        for number in range(3000):
            shelf[f"key {number}"] = {"v": list(range(50)), "name": "x" * 100}


@needs_census
def test_a_big_shelf_shows_its_keys_first_and_its_verdict_when_every_value_is_plain(tmp_path: Path) -> None:
    import dbm.dumb
    import shelve

    base = tmp_path / "big"
    _big_shelf(base)
    look = first_look(str(base), "shelve")
    assert look is not None and look.noun == "keys" and look.total == 3000
    assert look.preview[:2] == ["key 0", "key 1"] and look.shown == FIRST_ITEMS
    found = plain_verdict(str(base), "shelve")
    assert found is not None and found[1].items == 3000
    assert _check_same(base, "shelve")
    with shelve.Shelf(dbm.dumb.open(str(base), "w")) as shelf:
        shelf["zz"] = {"ok": [1], "call": Canary(str(tmp_path / "canary"))}
    assert plain_verdict(str(base), "shelve") is None  # one value names a global: the load decides
    small = tmp_path / "small"
    with shelve.Shelf(dbm.dumb.open(str(small), "n")) as shelf:
        shelf["a"] = 1
    assert first_look(str(small), "shelve") is None  # its values are checked in a moment


class Canary:
    """Unpickling this writes the file named in it: proof that code ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))
