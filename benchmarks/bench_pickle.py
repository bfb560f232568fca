"""The safe pickle loader on a generated ~40 MB pickle of 400k records, and on a memo bomb.

* load: ``storage.pickle_safe.load_safe`` against ``pickle.loads`` of the same bytes (protocol 4,
  records of str, int, float, list, tuple, datetime), both with the garbage collector paused;
* memo bomb: an 11-byte pickle whose LONG_BINPUT index is 100,000,000 (the C unpickler would
  allocate 1.6 GB for it), against loading an 11-byte ordinary pickle.
"""

from __future__ import annotations

import datetime
import gc
import pickle
import random
import time
from collections.abc import Callable

from .harness import Result, benchmark, interleave

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
    from storage.pickle_safe import load_safe

    data = _records_pickle()
    load_safe(data)  # imports (numpy for the pre-check) outside the timing
    ours, baseline = interleave(_paused(lambda: load_safe(data)), _paused(lambda: pickle.loads(data)),
                                repeats)
    engine = load_safe(data).engine
    return Result(ours, baseline, note=f"{len(data) / 1e6:.1f} MB, protocol 4, engine {engine}")


@benchmark("pickle memo bomb (LONG_BINPUT 100,000,000) vs an 11-byte pickle", target="≤ 1000×")
def bench_memo_bomb(repeats: int) -> Result:
    from storage.pickle_safe import load_safe

    bomb = b"\x80\x04]r\x00\xe1\xf5\x05."
    plain = pickle.dumps([1, 2], protocol=4)
    ours, baseline = interleave(_paused(lambda: load_safe(bomb)), _paused(lambda: load_safe(plain)), repeats)
    return Result(ours, baseline, note="baseline: load_safe of an ordinary pickle of the same size")
