"""The HDF5 tab's first window of a 20M × 8 gzip-chunked dataset against h5py reading that window.

The file is built once into ``$DATASHELF_BENCH_DIR`` (default /tmp/datashelf-bench) and reused.
"Ours" is what the tab does before the first cells show: open read-only, describe the root,
list its members, read the dataset's information and read the first tile of cells as text.
The baseline opens the file with h5py and slices the same rows. The note reports how many rows
and bytes each scroll step reads against the visible window (the table reads tiles of
``gui.arrays.table.TILE_ROWS`` rows).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .harness import NotAvailable, Result, benchmark, interleave

CACHE = Path(os.environ.get("DATASHELF_BENCH_DIR", "/tmp/datashelf-bench"))
ROWS, COLS = 20_000_000, 8
CHUNK_ROWS = 16_384
VISIBLE_ROWS = 30
BLOCK = 1_000_000


def dataset_file() -> Path:
    """``rows_20M_x8.h5`` with ``/data``: float64, chunks of 16,384 × 8, gzip level 4; built once."""
    try:
        import h5py
        import numpy as np
    except ImportError as exc:
        raise NotAvailable(f"h5py is not installed: {exc}") from None
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / "rows_20M_x8.h5"
    if path.exists():
        return path
    scratch = path.with_suffix(".tmp")
    scratch.unlink(missing_ok=True)
    rng = np.random.default_rng(7)
    with h5py.File(scratch, "w") as f:
        data = f.create_dataset("data", shape=(ROWS, COLS), dtype="f8", chunks=(CHUNK_ROWS, COLS),
                                compression="gzip", compression_opts=4)
        data.attrs["units"] = "volts"
        for start in range(0, ROWS, BLOCK):
            rows = np.arange(start, start + BLOCK, dtype="f8")[:, None]
            noise = np.round(rng.normal(size=(BLOCK, COLS)), 3)  # rounded: compresses somewhat
            data[start:start + BLOCK] = rows + noise
    scratch.rename(path)
    return path


def first_window(path: Path, tile_rows: int, tile_cols: int) -> float:
    from storage.formats.hdf5.io import H5File

    start = time.perf_counter()
    h5 = H5File(str(path))
    h5.root()
    h5.children("/")
    info = h5.dataset_info("/data")
    cells = h5.read_window("/data", (0, 1), (0, 0), (0, tile_rows), (0, min(tile_cols, info.shape[1]))).cells
    elapsed = time.perf_counter() - start
    assert len(cells) == tile_rows
    h5.close()
    return elapsed


def h5py_window(path: Path, rows: int) -> float:
    import h5py

    start = time.perf_counter()
    with h5py.File(path, "r") as f:
        block = f["data"][0:rows, 0:COLS]
    elapsed = time.perf_counter() - start
    assert block.shape == (rows, COLS)
    return elapsed


def scroll_note(path: Path, tile_rows: int, tile_cols: int) -> str:
    """Page down ten times through the tile cache the table uses; report what each step read."""
    from storage.formats.hdf5.io import H5File

    cached: set[int] = set()
    steps = []
    with H5File(str(path)) as h5:
        for step in range(11):
            top = step * VISIBLE_ROWS + 5_000_000 * (step > 0)  # one jump, then page downs
            before = h5.cells_read
            for tile in range(top // tile_rows, (top + VISIBLE_ROWS - 1) // tile_rows + 1):
                if tile not in cached:
                    cached.add(tile)
                    h5.read_window("/data", (0, 1), (0, 0), (tile * tile_rows, (tile + 1) * tile_rows),
                                   (0, tile_cols))
            steps.append((h5.cells_read - before) // COLS)
    worst = max(steps[2:])
    return (f"visible window {VISIBLE_ROWS} rows × {COLS} cols ({VISIBLE_ROWS * COLS * 8:,} bytes); "
            f"page-down steps read {steps[2:]} rows, at most {worst} rows = {worst * COLS * 8:,} bytes "
            f"(≤ visible + one tile of {tile_rows} rows); underneath, HDF5 inflates the chunk a read "
            f"touches ({CHUNK_ROWS:,} rows, {CHUNK_ROWS * COLS * 8:,} bytes)")


@benchmark("hdf5 first window: tab vs h5py slice (20M × 8 gzip)", target="≤ 2×")
def hdf5_first_window(repeats: int) -> Result:
    from gui.arrays.table import TILE_COLS, TILE_ROWS

    path = dataset_file()
    ours, baseline = interleave(lambda: first_window(path, TILE_ROWS, TILE_COLS),
                                lambda: h5py_window(path, TILE_ROWS), repeats)
    return Result(ours, baseline, note=scroll_note(path, TILE_ROWS, TILE_COLS))
