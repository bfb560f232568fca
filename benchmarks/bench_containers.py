"""Containers: the bounded joblib decompressing stream, and chunked array stats on a memory map.

Baselines are the plain library paths on the same bytes: ``gzip.open(...).read`` for the stream
(our reader adds the size cap and clean errors), and NumPy's ``nanmin``/``nanmax``/``nanmean``
over the same memory-mapped array for the stats (ours works in bounded chunks instead).
"""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path
from statistics import median

from .harness import Result, benchmark, interleave, timed

PIECE = 1 << 20


@benchmark("joblib gzip stream, 64 MB", target="≤ 1.3×")
def joblib_stream(repeats: int) -> Result:
    import pickle

    from storage.formats.objects.joblib_io import open_joblib, save_joblib_stream

    rows = [{"id": i, "name": f"row {i}", "score": i / 7} for i in range(600_000)]
    payload = pickle.dumps(rows, protocol=4)
    payload = payload * max(1, (64 << 20) // len(payload))
    with tempfile.TemporaryDirectory(prefix="datashelf-containers-") as folder:
        path = Path(folder) / "m.joblib"
        save_joblib_stream(path, payload, "gzip", level=3)

        def ours() -> None:
            stream, _ = open_joblib(path)
            with stream:
                while stream.read(PIECE):
                    pass

        def baseline() -> None:
            with gzip.open(path, "rb") as stream:
                while stream.read(PIECE):
                    pass

        ours_runs, base_runs = interleave(timed(ours), timed(baseline), repeats)
    note = f"{len(payload) / 1e6:.0f} MB out; ours {len(payload) / median(ours_runs) / 1e6:,.0f} MB/s"
    return Result(ours_runs, base_runs, note)


@benchmark("array stats, 10M float64 memmap", target="≤ 1.5×")
def stats_memmap(repeats: int) -> Result:
    import numpy as np

    from storage.core.array_stats import array_stats
    from storage.formats.objects.npy_io import read_npy

    values = np.random.default_rng(1).standard_normal(10_000_000)
    values[::1000] = np.nan
    with tempfile.TemporaryDirectory(prefix="datashelf-containers-") as folder:
        path = Path(folder) / "a.npy"
        np.save(path, values)

        def ours() -> None:
            array_stats(read_npy(path))

        def baseline() -> None:
            array = np.load(path, mmap_mode="r")
            np.nanmin(array), np.nanmax(array), np.nanmean(array)

        ours_runs, base_runs = interleave(timed(ours), timed(baseline), repeats)
    return Result(ours_runs, base_runs, "80 MB, a NaN every 1000 values; both NaN-aware")
