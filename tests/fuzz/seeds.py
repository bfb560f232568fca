"""Small valid files of every format Datashelf reads: the seeds the fuzzer mutates.

Each seed is one file, or the files of one dbm.dumb shelf; ``make_seeds`` writes them into a
folder and ``corpus_seeds`` adds files of ../shared/corpus when it is there.
"""

from __future__ import annotations

import collections
import datetime
import json
import os
import pickle
import shelve
import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from storage.formats import registry as format_registry

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"


@dataclass(frozen=True)
class Seed:
    """One seed: its files (absolute paths; a shelf has several) and the format they were made as."""

    name: str
    fmt: str
    files: tuple[str, ...]


class Custom:
    """A class of ours, so pickles hold a global the safe loader must not import."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.items = [1, 2.5, None]


def _sample() -> dict:
    return {
        "ints": [0, -1, 2**70, 255],
        "floats": (1.5, float("inf"), -0.0),
        "text": "héllo ✓ \x00 end",
        "bytes": b"\x00\xffdata",
        "set": {1, 2, 3},
        "frozen": frozenset({"a"}),
        "when": datetime.datetime(2024, 5, 17, 13, 45, 9, 120),
        "day": datetime.date(2001, 1, 1),
        "counter": collections.Counter("abracadabra"),
        "ordered": collections.OrderedDict([("z", 1), ("a", 2)]),
        "decimal": Decimal("3.14"),
        "custom": Custom("mine"),
        "nested": [[{"k": (1, [2, {3: 4}])}]],
        "bytearray": bytearray(b"xyz"),
        "complex": 1 + 2j,
    }


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def text_seeds(folder: Path) -> list[Seed]:
    body = "first line: café\nsecond ✓ line\n\ttabbed, last without newline"
    return [
        Seed("utf8.txt", "text", (_write(folder / "utf8.txt", body.encode()),)),
        Seed("utf16.txt", "text", (_write(folder / "utf16.txt", body.encode("utf-16")),)),
        Seed("crlf.txt", "text", (_write(folder / "crlf.txt", body.replace("\n", "\r\n").encode()),)),
        Seed("latin1.csv", "text", (_write(folder / "latin1.csv", "a;b\n1;é\n2;ü\n".encode("latin-1")),)),
        Seed("blob.bin", "binary", (_write(folder / "blob.bin", bytes(range(256)) * 3),)),
    ]


def json_seeds(folder: Path) -> list[Seed]:
    doc = {"name": "datashelf", "n": 12345678901234567890, "pi": 3.14159, "ok": True, "none": None,
           "list": [1, "two", [3, {"four": 4}]], "unicode": "ß ✓ \u2028", "empty": {}}
    lines = "\n".join(json.dumps({"id": i, "v": [i, str(i)], "x": i / 3}) for i in range(6)) + "\n"
    return [
        Seed("doc.json", "json", (_write(folder / "doc.json", json.dumps(doc, indent=2).encode()),)),
        Seed("bom.json", "json", (_write(folder / "bom.json", b"\xef\xbb\xbf" + json.dumps([doc]).encode()),
                                      )),
        Seed("rows.jsonl", "jsonl", (_write(folder / "rows.jsonl", lines.encode()),)),
    ]


def pickle_seeds(folder: Path) -> list[Seed]:
    value = _sample()
    seeds = []
    for protocol in range(6):
        name = f"p{protocol}.pkl"
        seeds.append(Seed(name, "pickle", (_write(folder / name, pickle.dumps(value, protocol)),)))
    stacked = pickle.dumps([1, 2], 2) + pickle.dumps({"b": b"x"}, 4)
    seeds.append(Seed("stacked.pkl", "pickle", (_write(folder / "stacked.pkl", stacked),)))
    return seeds


def numpy_seeds(folder: Path) -> list[Seed]:
    import joblib
    import numpy as np

    seeds = []
    numbers = np.arange(24, dtype="<f8").reshape(4, 6)
    np.save(folder / "numbers.npy", numbers)
    np.save(folder / "objects.npy", np.array([{"a": 1}, "x", None], dtype=object), allow_pickle=True)
    np.savez(folder / "arrays.npz", a=numbers, b=np.array(["x", "yz"]), c=np.int8(3))
    seeds += [Seed("numbers.npy", "npy", (str(folder / "numbers.npy"),)),
              Seed("objects.npy", "npy", (str(folder / "objects.npy"),)),
              Seed("arrays.npz", "npz", (str(folder / "arrays.npz"),))]
    model = {"weights": numbers, "labels": ["a", "b"], "when": datetime.date(2020, 2, 2)}
    for name, compress in (("plain.joblib", 0), ("zlib.joblib", ("zlib", 3)), ("lz4.joblib", ("lz4", 3))):
        try:
            joblib.dump(model, folder / name, compress=compress)
        except (ValueError, ImportError):  # lz4 missing: that seed is skipped
            continue
        seeds.append(Seed(name, "joblib", (str(folder / name),)))
    return seeds


def shelf_seeds(folder: Path) -> list[Seed]:
    import dbm.dumb

    base = folder / "shelf"
    with shelve.Shelf(dbm.dumb.open(str(base), "c"), protocol=4) as db:
        db["numbers"] = list(range(10))
        db["text"] = "value ✓"
        db["nested"] = {"a": [1, {"b": Custom("x")}]}
    files = tuple(str(base) + ext for ext in (".dat", ".dir", ".bak") if os.path.exists(str(base) + ext))
    # Python 3.13's dbm.sqlite3 layout, written by hand (3.11 has no dbm.sqlite3), in WAL mode
    sql_shelf = folder / "sqlshelf"
    conn = sqlite3.connect(sql_shelf)
    conn.execute("PRAGMA journal_mode=WAL")
    with conn:
        conn.execute("CREATE TABLE Dict (key BLOB UNIQUE NOT NULL, value BLOB NOT NULL)")
        conn.executemany("INSERT INTO Dict VALUES (?, ?)", [(b"k%d" % i, pickle.dumps([i, "v" * i], 3))
                                                             for i in range(8)])
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    for extra in (folder / "sqlshelf-wal", folder / "sqlshelf-shm"):
        if extra.exists():
            extra.unlink()
    return [Seed("shelf", "shelve", files), Seed("sqlshelf", "shelve", (str(sql_shelf),))]


def sqlite_seeds(folder: Path) -> list[Seed]:
    path = folder / "data.sqlite"
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL, age INT, photo BLOB)")
        conn.execute("CREATE TABLE tags (person INT REFERENCES people(id), tag TEXT, "
                     "PRIMARY KEY (person, tag)) WITHOUT ROWID")
        conn.execute("CREATE INDEX people_name ON people(name)")
        conn.execute("CREATE VIEW adults AS SELECT name FROM people WHERE age >= 18")
        conn.executemany("INSERT INTO people (name, age, photo) VALUES (?, ?, ?)",
                         [(f"person {i} " + "x" * (i * 7), i * 3, bytes([i]) * i) for i in range(40)])
        conn.executemany("INSERT INTO tags VALUES (?, ?)", [(i, f"tag{i % 5}") for i in range(1, 30)])
    conn.close()
    wal = folder / "wal.sqlite"
    conn = sqlite3.connect(wal)
    conn.execute("PRAGMA journal_mode=WAL")
    with conn:
        conn.execute("CREATE TABLE t (a, b)")
        conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, str(i) * 3) for i in range(20)])
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return [Seed("data.sqlite", "sqlite", (str(path),)), Seed("wal.sqlite", "sqlite", (str(wal),))]


def hdf5_seeds(folder: Path) -> list[Seed]:
    import h5py
    import numpy as np

    path = folder / "data.h5"
    with h5py.File(path, "w") as f:
        f.attrs["title"] = "fuzz seed"
        group = f.create_group("group")
        group.attrs["count"] = np.int64(3)
        group.create_dataset("matrix", data=np.arange(60, dtype="f4").reshape(3, 4, 5))
        f.create_dataset("chunked", data=np.arange(100, dtype="i2"), chunks=(10,), compression="gzip")
        f.create_dataset("table", data=np.array([(1, 2.0), (3, 4.0)], dtype=[("a", "i4"), ("b", "f8")]))
        f.create_dataset("strings", data=np.array([b"ab", b"cde"]))
        f.create_dataset("scalar", data=7.5)
        f["link"] = h5py.SoftLink("/group/matrix")
    return [Seed("data.h5", "hdf5", (str(path),))]


def make_seeds(folder: str | os.PathLike) -> list[Seed]:
    """Write small valid files (or shelves) of every registered format into ``folder``."""
    base = Path(folder)
    base.mkdir(parents=True, exist_ok=True)
    seeds: list[Seed] = []
    for fmt in format_registry.with_hook("fuzz_seeds"):  # each format's own seeds, in registry order
        seeds.extend(format_registry.resolve(fmt.fuzz_seeds)(base))
    return seeds


def corpus_seeds(limit: int | None = None) -> list[Seed]:
    """Files of ../shared/corpus as seeds (none when it is absent); every ``n``th file up to ``limit``."""
    if not CORPUS.is_dir():
        return []
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.stat().st_size <= 4 * 1024 * 1024
                   and p.suffix.lower() not in (".md", ".txt") and p.name != "LICENSE")
    if limit is not None and len(files) > limit:
        step = len(files) / limit
        files = [files[int(i * step)] for i in range(limit)]
    return [Seed(f"corpus/{p.relative_to(CORPUS)}", _format_named(p), (str(p),)) for p in files]


def _format_named(path: Path) -> str:
    """The format a corpus file's extension names (the registry's), else binary."""
    fmt = format_registry.by_extension(path.suffix.lower())
    return fmt.name if fmt is not None else "binary"
