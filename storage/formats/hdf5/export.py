"""Export the 2-D (or 1-D) slice of a dataset to CSV or ``.npy``, block by block, atomically.

The slice chosen in the table (row and column axes, a position along the others) is read in
blocks of rows, so exporting 20 million rows never holds them all in memory; the file appears
only when complete (``storage.core.atomic``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import IO, Any

import numpy as np

from storage.core.atomic import atomic_writer
from storage.core.errors import UnsupportedError
from storage.formats.hdf5.io import H5File, _h5py
from storage.formats.hdf5.values import decode_bytes, format_value

BLOCK_ROWS = 65_536
BLOCK_CELLS = 2_000_000  # a block is at most this many cells, however wide the slice


class Cancelled(Exception):
    """The user stopped the export; nothing was written."""


def _selection(shape: tuple[int, ...], axes: tuple[int, int | None], index: tuple[int, ...],
               r0: int, r1: int) -> tuple[Any, ...]:
    row_axis, col_axis = axes
    selection: list[Any] = [int(index[d]) if d < len(index) else 0 for d in range(len(shape))]
    selection[row_axis] = slice(r0, r1)
    if col_axis is not None:
        selection[col_axis] = slice(None)
    return tuple(selection)


def _block(item: Any, shape: tuple[int, ...], axes: tuple[int, int | None], index: tuple[int, ...],
           r0: int, r1: int) -> np.ndarray:
    block = np.asarray(item[_selection(shape, axes, index, r0, r1)])
    row_axis, col_axis = axes
    if col_axis is not None and col_axis < row_axis:
        block = block.T
    return block


def _text(value: Any, dtype: np.dtype, file: Any) -> str:
    if isinstance(value, bytes | np.bytes_):
        return decode_bytes(bytes(value))
    if isinstance(value, str):
        return value
    if isinstance(value, np.floating):
        return repr(float(value))
    return format_value(value, dtype, file)


def export_slice(h5: H5File, path: str, axes: tuple[int, int | None], index: tuple[int, ...],
                 dest: str, fmt: str, cancel: Callable[[], bool] | None = None,
                 progress: Callable[[float], None] | None = None) -> int:
    """Write the slice to ``dest`` as ``csv`` or ``npy``; return the number of rows written."""
    h5py = _h5py()
    with h5.lock:
        item = h5.data(path)
        if not isinstance(item, h5py.Dataset):
            raise UnsupportedError(f"{path} is not a dataset")
        shape = tuple(item.shape or ())
        dtype = item.dtype
    if not shape:
        raise UnsupportedError("a scalar dataset has no slice to export; copy its value instead")
    rows = shape[axes[0]]
    width = shape[axes[1]] if axes[1] is not None else 1
    step = max(1, min(BLOCK_ROWS, BLOCK_CELLS // max(width, 1)))
    if fmt == "npy":
        if dtype.kind == "O" or any(dtype[n].kind == "O" for n in dtype.names or ()):
            raise UnsupportedError("variable-length data cannot be stored in .npy; export CSV instead")
        cols = shape[axes[1]] if axes[1] is not None else None
        out_shape = (rows, cols) if cols is not None else (rows,)
        header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
                  "shape": out_shape}

        def write(handle: IO[bytes]) -> None:
            np.lib.format.write_array_header_2_0(handle, header)
            for r0 in range(0, rows, step):
                if cancel is not None and cancel():
                    raise Cancelled
                with h5.lock:
                    block = _block(h5.data(path), shape, axes, index, r0, min(rows, r0 + step))
                handle.write(np.ascontiguousarray(block, dtype=dtype).tobytes())
                if progress is not None:
                    progress(min(1.0, (r0 + step) / rows))

        with atomic_writer(dest, "wb") as handle:
            write(handle)
        return rows
    if fmt != "csv":
        raise UnsupportedError(f"cannot export as {fmt}")
    with atomic_writer(dest, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        names = dtype.names
        if names:
            writer.writerow(names)
        elif axes[1] is not None:
            writer.writerow([str(i) for i in range(shape[axes[1]])])
        for r0 in range(0, rows, step):
            if cancel is not None and cancel():
                raise Cancelled
            with h5.lock:
                block = _block(h5.data(path), shape, axes, index, r0, min(rows, r0 + step))
                file = h5.handle
            buffer = io.StringIO()
            sink = csv.writer(buffer)
            if names:
                sink.writerows([_text(rec[n], dtype[n], file) for n in names] for rec in block)
            elif block.ndim == 1:
                sink.writerows([_text(v, dtype, file)] for v in block)
            else:
                sink.writerows([_text(v, dtype, file) for v in row] for row in block)
            handle.write(buffer.getvalue())
            if progress is not None:
                progress(min(1.0, (r0 + step) / rows))
    return rows
