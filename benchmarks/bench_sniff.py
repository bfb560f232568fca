"""Sniffing throughput: ``storage.sniff.detect.sniff`` over a folder of mixed small files.

The baseline opens each file and reads its first 64 KiB in plain Python: the I/O floor any
sniffer pays. The folder is generated once per run, ~3000 files of 15 kinds, a fifth of them
without a suffix so that content, not the name, has to decide.
"""

from __future__ import annotations

import io
import json
import pickle
import random
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path
from statistics import median

from .harness import NotAvailable, Result, benchmark, interleave, timed

FILES = 3000
HEAD = 64 * 1024


def _sqlite_bytes(rows: int) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.sqlite"
        db = sqlite3.connect(path)
        with db:
            db.execute("create table items (id integer primary key, name text, score real)")
            db.executemany("insert into items (name, score) values (?, ?)",
                           [(f"item {i}", i / 7) for i in range(rows)])
        db.close()
        return path.read_bytes()


def _makers(rng: random.Random) -> dict[str, tuple[str, Callable[[int], bytes]]]:
    """kind -> (suffix, make(i) -> file content); contents vary a little with i."""
    import joblib
    import numpy as np

    def record(i: int) -> dict:
        return {"id": i, "name": f"row {i}", "tags": ["a", "b"][: i % 3], "score": i / 3, "ok": i % 2 == 0}

    def np_bytes(save: Callable, *arrays: object) -> bytes:
        buffer = io.BytesIO()
        save(buffer, *arrays)
        return buffer.getvalue()

    def joblib_bytes(i: int) -> bytes:
        buffer = io.BytesIO()
        joblib.dump({"model": [record(j) for j in range(i % 20)], "weights": np.arange(i % 50)}, buffer)
        return buffer.getvalue()

    sqlite_variants = [_sqlite_bytes(rows) for rows in (0, 10, 200)]
    makers: dict[str, tuple[str, Callable[[int], bytes]]] = {
        "json": (".json", lambda i: json.dumps([record(j) for j in range(i % 40)], indent=2).encode()),
        "jsonl": (".jsonl", lambda i: "".join(json.dumps(record(j)) + "\n" for j in range(i % 60)).encode()),
        "text": (".txt", lambda i: ("The quick brown fox jumps over the lazy dog.\n" * (i % 80)).encode()),
        "binary": (".bin", lambda i: rng.randbytes(256 + (i * 37) % 8192)),
        "joblib": (".joblib", joblib_bytes),
        "sqlite": (".sqlite", lambda i: sqlite_variants[i % len(sqlite_variants)]),
        "npy": (".npy", lambda i: np_bytes(np.save, np.arange(i % 500, dtype=np.float64))),
        "npz": (".npz", lambda i: np_bytes(np.savez, np.arange(i % 100), np.ones((3, i % 7 + 1)))),
        "empty": (".json", lambda i: b""),
    }
    for protocol in range(6):
        makers[f"pickle{protocol}"] = (
            ".pkl", lambda i, p=protocol: pickle.dumps([record(j) for j in range(i % 30)], protocol=p))
    return makers


def make_folder(folder: Path, count: int = FILES) -> list[Path]:
    """Write ``count`` mixed files into ``folder``; return their paths (shuffled)."""
    rng = random.Random(1234)
    makers = list(_makers(rng).items())
    paths = []
    for i in range(count):
        kind, (suffix, make) = makers[i % len(makers)]
        path = folder / f"{kind}_{i:05d}{suffix if i % 5 else ''}"
        path.write_bytes(make(i // len(makers)))
        paths.append(path)
    rng.shuffle(paths)
    return paths


def _load_sniff() -> Callable[[Path], object]:
    try:
        from storage.sniff.detect import sniff
    except ModuleNotFoundError as exc:
        if exc.name in ("storage.sniff.detect", "storage"):
            raise NotAvailable("storage/sniff/detect.py does not exist yet") from exc
        raise
    except ImportError as exc:
        raise NotAvailable(f"storage.sniff.detect has no sniff() yet ({exc})") from exc
    return sniff


@benchmark("sniff a mixed folder", target="")
def sniff_folder(repeats: int) -> Result:
    sniff = _load_sniff()
    with tempfile.TemporaryDirectory(prefix="datashelf-sniff-") as folder:
        paths = make_folder(Path(folder))
        total = sum(path.stat().st_size for path in paths)
        errors: list[str] = []

        def sniff_all() -> None:
            errors.clear()
            for path in paths:
                try:
                    sniff(path)
                except Exception as exc:  # counted and reported, not a reason to stop timing
                    errors.append(f"{path.name}: {type(exc).__name__}: {exc}")

        def read_heads() -> None:
            for path in paths:
                with open(path, "rb") as handle:
                    handle.read(HEAD)

        ours, baseline = interleave(timed(sniff_all), timed(read_heads), repeats)
    n = len(paths)
    note = (f"{n} files, {total / 1e6:.1f} MB; ours {n / median(ours):,.0f} files/s, "
            f"plain reads {n / median(baseline):,.0f} files/s")
    if errors:
        note += f"; sniff raised on {len(errors)} files, e.g. {errors[0]}"
    return Result(ours, baseline, note)
