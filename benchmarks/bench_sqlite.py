"""The SQLite tab against raw sqlite3 on generated 5-column tables (100k and 10M rows).

The tables are built once into ``$DATASHELF_BENCH_DIR`` (default /tmp/datashelf-bench) and
reused. With ``--quick`` (2 repeats) the big table has 1M rows instead of 10M.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from .harness import Result, benchmark, interleave

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("DATASHELF_BENCH_DIR", "/tmp/datashelf-bench"))
SMALL = 100_000
PAGE = 256


def big_rows(repeats: int) -> int:
    return 1_000_000 if repeats <= 2 else 10_000_000


def database(rows: int) -> Path:
    """A table t(id INTEGER PRIMARY KEY, k INTEGER, name TEXT, x REAL, tag TEXT), built once."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"rows_{rows}.db"
    if path.exists():
        return path
    scratch = path.with_suffix(".tmp")
    scratch.unlink(missing_ok=True)
    conn = sqlite3.connect(scratch)
    conn.execute("PRAGMA journal_mode=off")
    conn.execute("PRAGMA synchronous=off")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, name TEXT, x REAL, tag TEXT)")
    conn.execute(
        "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?) "
        "INSERT INTO t SELECT i, abs(random()) % 100000, 'name ' || i, random() / 1e12, "
        "hex(randomblob(6)) FROM c", (rows,))
    conn.commit()
    conn.close()
    scratch.rename(path)
    return path


def _spec(path: Path, sort: tuple = ()):
    from storage.formats.sql.query import QuerySpec

    return QuerySpec("t", ("id", "k", "name", "x", "tag"), ("rowid",), sort)


def open_first_page(path: Path) -> float:
    """What the tab does before the first rows show: header, readers, schema, capped count, page 0."""
    from storage.formats.sql.pager import Pager
    from storage.formats.sql.sqlite_db import COUNT_CAP, Reader, check_header, load_schema

    start = time.perf_counter()
    check_header(str(path))
    reader = Reader(str(path))
    counter = Reader(str(path))
    reader.run(lambda conn: load_schema(conn, str(path)))
    pager = Pager(_spec(path))
    counter.run(lambda conn: pager.count(conn, COUNT_CAP))
    reader.run(lambda conn: pager.fetch(conn, 0))
    elapsed = time.perf_counter() - start
    reader.close()
    counter.close()
    return elapsed


@benchmark("sqlite open → first page: big vs 100k rows", target="≤ 1.1×")
def open_cost(repeats: int) -> Result:
    big = database(big_rows(repeats))
    small = database(SMALL)
    ours, baseline = interleave(lambda: open_first_page(big), lambda: open_first_page(small), repeats)
    return Result(ours, baseline, note=f"ours = {big_rows(repeats):,} rows, baseline = {SMALL:,} rows")


@benchmark("sqlite jump to the last row vs raw keyset query", target="≤ 3×")
def jump_to_end(repeats: int) -> Result:
    from storage.formats.sql.pager import Pager

    rows = big_rows(repeats)
    path = database(rows)
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    last_page = (rows - 1) // PAGE
    anchor = last_page * PAGE  # rowids are 1..rows

    def ours() -> float:
        pager = Pager(_spec(path))
        pager.total = rows  # the exact count has arrived
        start = time.perf_counter()
        page = pager.fetch(conn, last_page)
        elapsed = time.perf_counter() - start
        assert page.values[-1][0] == rows
        return elapsed

    def raw() -> float:
        start = time.perf_counter()
        got = conn.execute("SELECT id, k, name, x, tag FROM t WHERE rowid > ? ORDER BY rowid LIMIT ?",
                           (anchor, PAGE)).fetchall()
        elapsed = time.perf_counter() - start
        assert got[-1][0] == rows
        return elapsed

    result = Result(*interleave(ours, raw, max(repeats, 20), warmup=3),
                    note=f"{rows:,} rows; ours reads the reversed ORDER BY, no OFFSET")
    conn.close()
    return result


@benchmark("sqlite sort by an unindexed column, first page vs raw ORDER BY … LIMIT", target="≤ 1.3×")
def sort_unindexed(repeats: int) -> Result:
    from storage.formats.sql.pager import Pager
    from storage.formats.sql.query import SortKey

    rows = big_rows(repeats)
    path = database(rows)
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def ours() -> float:
        pager = Pager(_spec(path, (SortKey("x"),)))
        start = time.perf_counter()
        pager.fetch(conn, 0)
        return time.perf_counter() - start

    def raw() -> float:
        start = time.perf_counter()
        conn.execute("SELECT * FROM t ORDER BY x LIMIT ?", (PAGE,)).fetchall()
        return time.perf_counter() - start

    result = Result(*interleave(ours, raw, repeats), note=f"{rows:,} rows")
    conn.close()
    return result


SCROLL = r"""
import os, sys, resource
os.environ["QT_QPA_PLATFORM"] = "offscreen"
sys.path.insert(0, sys.argv[1])
from PySide6.QtWidgets import QApplication
from PySide6.QtCore import QThreadPool, QEventLoop
app = QApplication([])
import main  # the app's modules, loaded as in the real window
from gui.sql.grid_model import SqlTableModel
from storage.formats.sql.pager import Pager
from storage.formats.sql.query import QuerySpec
from storage.formats.sql.sqlite_db import Reader

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

model = SqlTableModel()
before = rss()
path, rows = sys.argv[2], int(sys.argv[3])
reader = Reader(path)
pager = Pager(QuerySpec("t", ("id", "k", "name", "x", "tag"), ("rowid",)))
model.set_query(reader, pager, ["id", "k", "name", "x", "tag"], [""] * 5)
model.set_exact_total(rows)
from PySide6.QtCore import QEventLoop
loop = QEventLoop()
model.dataChanged.connect(loop.quit)
for start in range(0, rows, pager.page_size):
    model.data(model.index(start, 0))  # a Python call: no PySide6 void-return refcount leak
    while model.cached_row(start) is None:
        loop.exec()
peak = rss()
model.stop()
QThreadPool.globalInstance().waitForDone()
print((peak - before) / 1e6)
"""


@benchmark("sqlite memory after scrolling the whole table (MB above no document; limit 80)",
           target="≤ 1.0×")
def scroll_memory(repeats: int) -> Result:
    rows = big_rows(repeats)
    path = database(rows)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", SCROLL, str(ROOT), str(path), str(rows)],
                          capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        return Result(error=done.stderr.strip().splitlines()[-1] if done.stderr else "failed")
    megabytes = float(done.stdout.strip().splitlines()[-1])
    seconds = time.perf_counter() - start
    # The harness compares numbers: "ours" is the growth in MB, the baseline the 80 MB limit.
    return Result([megabytes], [80.0], unit="MB",
                  note=f"{rows:,} rows scrolled top to bottom in {seconds:.0f} s: RSS grew "
                       f"{megabytes:.1f} MB")
