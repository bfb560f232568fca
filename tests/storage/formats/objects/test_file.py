"""The Objects tab's file loader over hostile and benign files: shown, flagged, never run."""

from __future__ import annotations

import importlib
import pickle
from pathlib import Path

import pytest

from storage.core.errors import KnownError
from storage.formats.objects.file import open_objects, save_objects
from storage.sniff.detect import sniff
from tests.conftest import corpus_dir
from tests.support.audit_helpers import Canary, no_code_runs

OBJECT_KINDS = ("pickle", "joblib", "npy", "npz", "shelve")


@pytest.fixture(autouse=True)
def _modules_imported() -> None:
    """Importing a module runs its code (an "exec" audit event): import the readers first."""
    import bz2  # noqa: F401
    import gzip  # noqa: F401
    import lzma  # noqa: F401
    import zipfile  # noqa: F401

    import numpy  # noqa: F401

    for name in ("storage.core.array_stats",
                 "storage.formats.objects.joblib_io",
                 "storage.formats.objects.npy_io",
                 "storage.formats.objects.pickle.write",
                 "storage.formats.objects.shelf.io",
                 "storage.inspect.summaries_objects",
                 "storage.formats.text.file"):
        importlib.import_module(name)


def corpus_files() -> list[Path]:
    folder = corpus_dir("picklescan")
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "LICENSE")


def test_every_picklescan_file_opens_or_fails_cleanly_and_nothing_runs() -> None:
    opened, flagged, refused = 0, [], []
    for path in corpus_files():
        before = (path.read_bytes(), path.stat().st_mtime_ns)
        kind = sniff(str(path)).format
        if kind not in OBJECT_KINDS:
            continue
        with no_code_runs():
            try:
                result = open_objects(str(path), kind)
            except KnownError as exc:
                assert str(exc), path  # a message the user can read
                refused.append(path.name)
                continue
        opened += 1
        if result.worst == "dangerous":
            flagged.append(path.name)
        elif "malicious" in path.name:  # raw pickles and PyTorch zips alike
            pytest.fail(f"{path.name} is malicious but was not flagged: {result.globals}")
        assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert opened > 40 and len(flagged) > 30, (opened, flagged, refused)


def test_benign_corpus_pickles_show_their_values() -> None:
    folder = corpus_dir("picklescan", "data")
    for name in ("benign0_v0.pkl", "benign0_v3.pkl", "benign0_v4.pkl"):
        with no_code_runs():
            result = open_objects(str(folder / name), "pickle")
        assert result.worst != "dangerous" and result.doc is not None


def test_a_canary_among_stacked_pickles_and_junk_is_reported_and_kept(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    data = pickle.dumps({"ok": 1}, 4) + pickle.dumps(Canary(canary), 4) + b"JUNK"
    path = tmp_path / "stacked.pkl"
    path.write_bytes(data)
    with no_code_runs():
        result = open_objects(str(path), "pickle")
    assert result.doc is not None and result.doc.stacked and len(result.doc.root) == 2
    assert result.worst == "dangerous" and result.tail == b"JUNK"
    result.doc.set_value([0, "ok"], 2)
    save_objects(result, str(tmp_path / "out.pkl"))
    out = (tmp_path / "out.pkl").read_bytes()
    assert out.endswith(b"JUNK") and pickle.loads(out) == {"ok": 2}
    assert not canary.exists()
