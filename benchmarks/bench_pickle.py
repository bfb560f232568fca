"""The safe pickle loader on a generated ~40 MB pickle of 400k records, and on a memo bomb; the
Objects tab's safe open of an array and of a DataFrame, and ``inspect`` of records (issue 14 §4).

* load: ``storage.formats.objects.pickle.safe.load_safe`` against ``pickle.loads`` of the same bytes (protocol
4,
  records of str, int, float, list, tuple, datetime), both with the garbage collector paused;
* memo bomb: an 11-byte pickle whose LONG_BINPUT index is 100,000,000 (the C unpickler would
  allocate 1.6 GB for it), against loading an 11-byte ordinary pickle.
"""

from __future__ import annotations

import atexit
import datetime
import gc
import pickle
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from .harness import NotAvailable, Result, benchmark, interleave

_DATA: bytes | None = None
RECORDS = 400_000


def _records_pickle() -> bytes:
    """Generate the pickle once per run (the same seed makes the same bytes)."""
    global _DATA
    if _DATA is None:
        rng = random.Random(7)
        base = datetime.datetime(2020, 1, 1)
        records = [{"name": f"user {i}", "email": f"u{i}@example.org", "id": i, "score": rng.random() * 100,
                    "tags": ["a" * (i % 5), "b"], "pos": (i, i * 2.5), "ok": i % 3 == 0,
                    "when": base + datetime.timedelta(seconds=i * 37)} for i in range(RECORDS)]
        _DATA = pickle.dumps(records, protocol=4)
    return _DATA


def _paused(func: Callable[[], object]) -> Callable[[], float]:
    """Time ``func`` with the garbage collector paused; the result is freed outside the timing."""
    def run() -> float:
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            result = func()
            elapsed = time.perf_counter() - start
        finally:
            gc.enable()
        del result
        return elapsed
    return run


@benchmark("pickle safe load (40 MB, 400k records) vs pickle.loads, GC paused", target="≤ 1.25×")
def bench_safe_load(repeats: int) -> Result:
    from storage.formats.objects.pickle.safe import load_safe

    data = _records_pickle()
    load_safe(data)  # imports (numpy for the pre-check) outside the timing
    ours, baseline = interleave(_paused(lambda: load_safe(data)), _paused(lambda: pickle.loads(data)),
                                repeats)
    engine = load_safe(data).engine
    return Result(ours, baseline, note=f"{len(data) / 1e6:.1f} MB, protocol 4, engine {engine}")


@benchmark("pickle memo bomb (LONG_BINPUT 100,000,000) vs an 11-byte pickle", target="≤ 1000×")
def bench_memo_bomb(repeats: int) -> Result:
    from storage.formats.objects.pickle.safe import load_safe

    bomb = b"\x80\x04]r\x00\xe1\xf5\x05."
    plain = pickle.dumps([1, 2], protocol=4)
    ours, baseline = interleave(_paused(lambda: load_safe(bomb)), _paused(lambda: load_safe(plain)), repeats)
    return Result(ours, baseline, note="baseline: load_safe of an ordinary pickle of the same size")


# -- issue 14 §4: the safe open beside the real loader ---------------------------------------------
# "Ours" is what the user waits for: ``open_objects`` (the Objects tab's worker body) from the file
# to the document ready; the baseline reads the same file and runs ``pickle.loads`` on its bytes.

ROOT = Path(__file__).resolve().parent.parent
_FILES: dict[str, Path] = {}


def _scratch(name: str, make: Callable[[Path], None]) -> Path:
    """A file written once per run in a temporary folder removed at exit."""
    if name not in _FILES:
        folder = Path(tempfile.mkdtemp(prefix="datashelf-bench-"))
        atexit.register(shutil.rmtree, folder, True)
        _FILES[name] = folder / name
        make(_FILES[name])
    return _FILES[name]


def _open_beside_loads(path: Path, repeats: int, note: str) -> Result:
    from storage.formats.objects.file import open_objects

    def ours() -> object:
        result = open_objects(str(path), "pickle")
        assert result.doc is not None
        return result

    ours_runs, baseline = interleave(_paused(ours), _paused(lambda: pickle.loads(path.read_bytes())), repeats)
    size = path.stat().st_size
    return Result(ours_runs, baseline, note=f"{size / 1e6:.1f} MB; {note}")


@benchmark("objects: safe open of a 10M float64 array to the document vs pickle.loads", target="≤ 2×")
def bench_open_array(repeats: int) -> Result:
    import numpy as np

    array = np.arange(10_000_000, dtype=np.float64)
    path = _scratch("array.pkl", lambda p: p.write_bytes(pickle.dumps(array)))
    return _open_beside_loads(path, repeats, f"pickle.dumps default protocol {pickle.DEFAULT_PROTOCOL}")


@benchmark("objects: safe open of a 300k-row string DataFrame to the document vs pickle.loads",
           target="≤ 3×")
def bench_open_frame(repeats: int) -> Result:
    try:
        import pandas as pd
    except ImportError:
        raise NotAvailable("pandas is not installed (pip install -e '.[test]')") from None

    def make(path: Path) -> None:
        rows = 300_000
        rng = random.Random(3)
        pd.DataFrame({"name": [f"user {i}" for i in range(rows)],
                      "city": [rng.choice(["Paris", "Berlin", "Rome", "Lisbon"]) for _ in range(rows)],
                      "email": [f"u{i}@example.org" for i in range(rows)]}).to_pickle(path)

    path = _scratch("frame.pkl", make)
    return _open_beside_loads(path, repeats, f"DataFrame.to_pickle by pandas {pd.__version__}")


FRAME_ROWS = 1_000_000


@benchmark("objects: a 1M-row pickled DataFrame opened as a grid (safe open, table, first tile) "
           "vs pickle.loads", target="≤ 2×")
def bench_frame_grid(repeats: int) -> Result:
    """Mixed dtypes (int, float, pyarrow strings, category, datetime with a zone, nullable int): the
    safe open to the document, ``pickle_frame``'s table and the first tile the grid paints."""
    try:
        import numpy as np
        import pandas as pd
    except ImportError:
        raise NotAvailable("pandas is not installed (pip install -e '.[test]')") from None
    from storage.formats.objects.file import open_objects
    from storage.formats.objects.pickle.frame import frame_table

    def make(path: Path) -> None:
        n = FRAME_ROWS
        ids = np.arange(n)
        pd.DataFrame({"id": ids, "score": ids * 0.5, "name": [f"user {i}" for i in range(n)],
                      "city": pd.Categorical.from_codes(ids % 4, ["Paris", "Berlin", "Rome", "Lisbon"]),
                      "when": pd.date_range("2024-01-01", periods=n, freq="s", tz="Europe/Paris"),
                      "count": pd.array(np.where(ids % 7 == 0, -1, ids), dtype="Int64")}).to_pickle(path)

    path = _scratch("frame_1m.pkl", make)

    def ours() -> object:
        result = open_objects(str(path), "pickle")
        table = frame_table(result.doc.value)
        return table.tile(0, 64, 0, len(table.columns))

    ours_runs, baseline = interleave(_paused(ours), _paused(lambda: pickle.loads(path.read_bytes())), repeats)
    return Result(ours_runs, baseline, note=f"{path.stat().st_size / 1e6:.1f} MB; pandas {pd.__version__}")


def _records_file(path: Path) -> None:
    """A ~19 MB list of dicts (the records of ``_records_pickle``, fewer of them)."""
    rng = random.Random(7)
    base = datetime.datetime(2020, 1, 1)
    records = [{"name": f"user {i}", "email": f"u{i}@example.org", "id": i, "score": rng.random() * 100,
                "tags": ["a" * (i % 5), "b"], "pos": (i, i * 2.5), "ok": i % 3 == 0,
                "when": base + datetime.timedelta(seconds=i * 37)} for i in range(170_000)]
    path.write_bytes(pickle.dumps(records, protocol=4))


def _process(command: list[str]) -> Callable[[], float]:
    def run() -> float:
        start = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              timeout=600)
        elapsed = time.perf_counter() - start
        if done.returncode not in (0, 1):
            raise RuntimeError(f"{command[1:3]} exited {done.returncode}: {done.stderr[-500:]!r}")
        return elapsed
    return run


@benchmark("inspect --json of a 19 MB list of dicts vs pickle.load, each a process", target="≤ 2×",
           clock="process")
def bench_inspect_records(repeats: int) -> Result:
    path = _scratch("records.pkl", _records_file)
    ours = _process([sys.executable, "main.py", "inspect", str(path), "--json"])
    baseline = _process([sys.executable, "-c", f"import pickle; pickle.load(open({str(path)!r}, 'rb'))"])
    ours_runs, baseline_runs = interleave(ours, baseline, repeats)
    return Result(ours_runs, baseline_runs, note=f"{path.stat().st_size / 1e6:.1f} MB, protocol 4")
