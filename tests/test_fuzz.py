"""Fuzzing: a short fixed-seed run of tests/fuzz.py, and the regression tests of its findings.

The run mutates seed files of every format and opens each through ``inspect`` and every tab's
loader in a child process: only KnownError may escape, nothing crashes or hangs, and the file
and its folder stay as they were. The long run is ``python -m tests.fuzz --minutes 30``.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from tests.fuzz import fuzz
from tests.fuzz_seeds import make_seeds
from tests.fuzz_targets import TARGETS, run_target, targets_for

CI_SEED = 20261121
CI_TRIALS = 2000


def test_fixed_seed_run_finds_nothing(tmp_path: Path) -> None:
    stats = fuzz(CI_SEED, trials=CI_TRIALS, corpus=40, findings_dir=tmp_path / "findings", cli_every=700)
    print(stats.line())
    details = "\n".join(f"{f.kind} {f.target} trial {f.trial} ({f.seed}: {f.mutation}) {f.saved}\n{f.detail}"
                        for f in stats.findings[:5])
    assert stats.trials == CI_TRIALS
    problems = (stats.crashes, stats.hangs, stats.uncaught, stats.changed, stats.cli_failures)
    assert problems == (0, 0, 0, 0, 0), details
    # Every loader ran, and the oracle saw both outcomes: files opened and files refused.
    assert set(stats.by_target) == set(TARGETS)
    assert stats.cli_runs == 3
    assert 0 < stats.rejected < stats.target_runs


def test_every_seed_opens_cleanly(tmp_path: Path) -> None:
    """The unmutated seeds open in their own tab's loader without any refusal."""
    for seed in make_seeds(tmp_path):
        for name in targets_for(seed.fmt):
            if name == "text" and seed.fmt not in ("text", "json", "jsonl"):
                continue
            status, detail = run_target(name, seed.files[0])
            assert status == "ok", (seed.name, name, detail)


# -- regression tests of the fuzzer's findings -------------------------------------------------

def _lz4_frame(tmp_path: Path, damage: int) -> Path:
    lz4_frame = pytest.importorskip("lz4.frame")
    import pickle

    data = bytearray(lz4_frame.compress(pickle.dumps(list(range(100)), 4)))
    data[damage] ^= 0x40  # the frame descriptor: block size or header checksum
    path = tmp_path / "model.joblib"
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("damage", [4, 5, 6])
def test_damaged_lz4_frame_is_reported_not_raised(tmp_path: Path, damage: int) -> None:
    """lz4 raises RuntimeError for a bad frame header; sniffing called it a bug of ours."""
    from storage.inspect import inspect_path

    path = _lz4_frame(tmp_path, damage)
    report = inspect_path(path)
    assert report["format"] in ("binary", "joblib")
    for name in ("inspect", "joblib", "hex"):
        assert run_target(name, str(path))[0] in ("ok", "known"), name


def test_sqlite_header_with_odd_versions_leaves_no_files_beside(tmp_path: Path) -> None:
    """Write version 6, read version 2 (a flipped bit): the reader used to create -wal and -shm."""
    path = tmp_path / "wal.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (a)")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    for extra in tmp_path.glob("wal.sqlite-*"):
        extra.unlink()
    data = bytearray(path.read_bytes())
    data[18] = 6
    path.write_bytes(bytes(data))
    os.utime(path, ns=(10**18, 10**18))
    for name in ("inspect", "sqlite"):
        assert run_target(name, str(path))[0] in ("ok", "known")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wal.sqlite"]
    assert path.read_bytes() == bytes(data) and path.stat().st_mtime_ns == 10**18
