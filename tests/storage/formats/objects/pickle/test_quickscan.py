"""inspect takes a plain pickle's verdict from its safe load: the same globals, counts and offsets as
the full opcode walk, and the full walk whenever the load cannot tell."""

from __future__ import annotations

import collections
import datetime
import decimal
import pickle
from pathlib import Path

import pytest

from storage.formats.objects.pickle.quickscan import quick_scan
from storage.formats.objects.pickle.scan import scan_bytes
from storage.inspect.report import exit_code, inspect_path
from storage.inspect.summaries_objects import scan_summary
from tests.support.pickle_attacks import attacks, evil, no_side_effects, s4, stack_global


class Record:
    """A class of this module: pickled by reference, so it is a global the scan lists."""

    def __init__(self, value: object) -> None:
        self.value = value


def _same_as_full_scan(data: bytes) -> dict:
    quick = quick_scan(data)
    assert quick is not None
    summary = scan_summary(quick[0])
    full = scan_summary(scan_bytes(data))
    assert "opcodes" not in summary and "calls" not in summary
    del full["opcodes"], full["calls"]
    assert summary == full
    return summary


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_globals_counts_and_offsets_match_the_full_scan(protocol: int) -> None:
    records = [Record(i) if i % 500 == 0 else {"i": i, "day": datetime.date(2020, 1, 1 + i % 28),
                                                "d": decimal.Decimal(i), "o": collections.OrderedDict(a=i)}
               for i in range(20_000)]
    summary = _same_as_full_scan(pickle.dumps([records, "x" * 100_000, Record("last")], protocol))
    names = {entry["global"] for entry in summary["globals"]}
    assert f"{__name__}.Record" in names and "datetime.date" in names


def test_stacked_pickles_are_each_read() -> None:
    data = pickle.dumps([1, Record(2)], 4) + b"\n" + pickle.dumps({"when": datetime.datetime(2020, 1, 1)}, 5)
    summary = _same_as_full_scan(data)
    assert summary["pickles"] == 2


def test_a_dangerous_pickle_is_dangerous_with_its_offset(tmp_path: Path) -> None:
    data = pickle.dumps({"payload": [1, 2, 3]}, 2)[:-1] + b"0" + evil("true", 4)[2:]
    summary = _same_as_full_scan(data)
    assert [g["global"] for g in summary["globals"] if g["severity"] == "dangerous"] == ["os.system"]
    benign = tmp_path / "benign.pkl"
    benign.write_bytes(pickle.dumps([Record(1)], 4))
    inspect_path(benign)  # the lazy imports of our own modules happen outside the detector
    path = tmp_path / "evil.pkl"
    path.write_bytes(evil("touch " + str(tmp_path / "created-by-attack"), 4))
    with no_side_effects(tmp_path):
        report = inspect_path(path)
    assert exit_code(report) == 1 and report["summary"]["complete"] and "opcodes" not in report["summary"]


def test_names_computed_while_loading_get_the_full_scan(tmp_path: Path) -> None:
    # str('builtins') and str('int') fed to STACK_GLOBAL: harmless names, but hidden from a reader
    data = (b"\x80\x04" + stack_global("builtins", "str") + b"\x94" + s4("builtins") + b"\x85R"
            + b"h\x00" + s4("int") + b"\x85R\x93)R.")
    assert quick_scan(data) is None
    path = tmp_path / "hidden.pkl"
    path.write_bytes(data)
    report = inspect_path(path)
    assert exit_code(report) == 1 and "opcodes" in report["summary"]
    assert any("computed" in finding["message"] for finding in report["findings"])


def test_every_attack_gets_the_verdict_of_the_full_scan(tmp_path: Path) -> None:
    for name, (data, _dangerous) in attacks(tmp_path / "canary.txt").items():
        with no_side_effects(tmp_path):
            quick = quick_scan(data)
        if quick is None:
            continue
        full = scan_bytes(data)
        assert quick[0].dangerous == full.dangerous, name
        assert {k: g.offset for k, g in quick[0].globals.items()} == {
            k: g.offset for k, g in full.globals.items()}, name


def test_numpy_values_keep_the_quick_path() -> None:
    import numpy as np

    values = {"w": np.arange(10.0), "s": [np.float64(2.5), np.int32(3)], "o": np.array([1, "a"], object)}
    data = pickle.dumps(values, 4)
    summary = _same_as_full_scan(data)
    assert "numpy.dtype" in {entry["global"] for entry in summary["globals"]}
