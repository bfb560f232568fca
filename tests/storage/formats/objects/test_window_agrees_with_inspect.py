"""What the Objects tab shows for a pickle (its protocol, where each global is) is what inspect says."""

from __future__ import annotations

import pickle
from pathlib import Path

from storage.core.errors import KnownError
from storage.formats.objects.file import open_objects, pickle_start_verdict
from storage.inspect.report import inspect_path
from storage.sniff.detect import sniff
from tests.storage.formats.objects.test_file import _modules_imported, corpus_files  # noqa: F401 (autouse)
from tests.support.audit_helpers import no_code_runs


def _inspected(path: Path) -> tuple[int | None, dict[str, int]]:
    """inspect's protocol and each global's first byte offset, by qualified name."""
    summary = inspect_path(path)["summary"]
    return summary.get("protocol"), {entry["global"]: entry["offset"] for entry in summary.get("globals", [])}


def test_every_picklescan_pickle_shows_inspects_protocol_and_offsets() -> None:
    compared = 0
    for path in corpus_files():
        if sniff(str(path)).format != "pickle":
            continue
        with no_code_runs():
            try:
                result = open_objects(str(path), "pickle")
            except KnownError:
                continue
        protocol, offsets = _inspected(path)
        if protocol is None:  # a zipped pickle: inspect reports its member, not a stream protocol
            continue
        assert result.protocol == protocol, path.name
        shown = {f"{module}.{name}": offset for (module, name), offset in result.global_offsets.items()}
        assert shown == {name: offsets[name] for name in shown}, path.name
        assert len(shown) == len(result.globals), path.name  # every global's Where is filled
        compared += 1
    assert compared > 30


def test_a_pickle_inside_a_text_file_gets_inspects_protocol_and_offsets(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"cos\nsystem\n(S'true'\ntR.\nsome notes after the data\n")  # text, and a pickle
    with no_code_runs():
        verdict = pickle_start_verdict(str(path))
    assert verdict is not None
    findings = inspect_path(path)["findings"]
    assert verdict.protocol == 0 and verdict.global_offsets == {("os", "system"): 0}
    assert any("imports os.system at byte 0" in f["message"] for f in findings)


def test_stacked_and_headless_pickles(tmp_path: Path) -> None:
    cases = {"stacked": pickle.dumps([1], 1) + pickle.dumps([2], 4),
             "two_then_four": pickle.dumps([1], 2) + pickle.dumps({"a": "b" * 9}, 4),
             "headless": pickle.dumps({"a": 1}, 4)[2:], "zero": pickle.dumps([1], 0)}
    for name, data in cases.items():
        path = tmp_path / f"{name}.pkl"
        path.write_bytes(data)
        assert open_objects(str(path), "pickle").protocol == _inspected(path)[0], name
