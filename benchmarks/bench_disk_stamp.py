"""The changed-on-disk check: what it adds to a save, and what its bound saves on a huge file.

Before every save the file is stamped again (stats and SHA-256, ``storage.core.disk_stamp``) and
compared with the stamp taken when it was opened. The first case times stamp + atomic save
against the atomic save alone; the second times the bounded stamp of a 1 GB file (its first
and last 4 MB) against hashing all of it, as an unbounded check would.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from .harness import Result, benchmark, interleave, timed

LINE = b"The quick brown fox jumps over the lazy dog; 0123456789.\n"


@benchmark("save with the changed-on-disk check, 32 MB", target="≤ 1.3×")
def save_with_check(repeats: int) -> Result:
    from storage.core.atomic import atomic_write
    from storage.core.disk_stamp import take_stamp

    data = LINE * ((32 << 20) // len(LINE))
    with tempfile.TemporaryDirectory(prefix="datashelf-stamp-") as folder:
        path = Path(folder) / "big.txt"
        path.write_bytes(data)

        def ours() -> None:
            take_stamp([str(path)])
            atomic_write(path, data)

        ours_runs, base_runs = interleave(timed(ours), timed(lambda: atomic_write(path, data)), repeats)
    return Result(ours_runs, base_runs, f"{len(data) / 1e6:.0f} MB, fsync included")


@benchmark("changed-on-disk check, 1 GB file", target="≤ 0.1×")
def bounded_check(repeats: int) -> Result:
    from storage.core.disk_stamp import sha256_file, take_stamp

    with tempfile.TemporaryDirectory(prefix="datashelf-stamp-") as folder:
        path = Path(folder) / "huge.bin"
        with open(path, "wb") as handle:  # sparse: no disk space, still read in full by sha256
            handle.truncate(1 << 30)
        ours_runs, base_runs = interleave(timed(lambda: take_stamp([str(path)])),
                                          timed(lambda: sha256_file(str(path))), repeats)
    return Result(ours_runs, base_runs, "ours: first and last 4 MB + size; baseline: all of it")
