"""Reading one 2-D window of an N-D dataset: only that hyperslab ever leaves the file.

Rows and columns are two chosen dimensions (or the fields of a compound dtype); every other
dimension is fixed at a position. Cells come back as text (strings decoded, references named),
and numeric windows also as numbers for plots. Used through :class:`storage.formats.hdf5.io.H5File`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from storage.core.errors import ParseError, UnsupportedError
from storage.formats.hdf5.io import MAX_WINDOW_CELLS, H5File, Window, _h5py, dtype_of
from storage.formats.hdf5.values import decode_array, format_value


def read_window(h5: H5File, path: str, axes: tuple[int, int | None], index: tuple[int, ...],
                rows: tuple[int, int], cols: tuple[int, int]) -> Window:
    """Cells ``rows`` × ``cols`` of the 2-D slice of ``path`` chosen by ``axes`` and ``index``.

    ``axes`` are the dimensions shown as rows and columns (``None`` for a single column, or
    for the fields of a compound dtype); ``index`` gives the position along every other
    dimension. Only that hyperslab is read from the file.
    """
    h5py = _h5py()
    with h5.lock:
        item = h5.data(path)
        if not isinstance(item, h5py.Dataset):
            raise UnsupportedError(f"{path} is not a dataset")
        shape = tuple(item.shape or ())
        dtype = dtype_of(item, path)
        h5.check_vlen(dtype)
        row_axis, col_axis = axes
        if not shape:  # a scalar: one cell
            value = item[()] if item.shape is not None else None
            cells = [[format_value(value, dtype, h5.handle)]]
            h5.reads += 1
            h5.cells_read += 1
            return Window(0, 0, cells)
        r0, r1 = max(0, rows[0]), min(rows[1], shape[row_axis])
        selection: list[Any] = [int(index[d]) if d < len(index) else 0 for d in range(len(shape))]
        selection[row_axis] = slice(r0, r1)
        fields = list(dtype.names or ())
        if fields:
            c0, c1 = max(0, cols[0]), min(cols[1], len(fields))
        elif col_axis is not None:
            c0, c1 = max(0, cols[0]), min(cols[1], shape[col_axis])
            selection[col_axis] = slice(c0, c1)
        else:
            c0, c1 = 0, 1
        if (r1 - r0) * max(c1 - c0, 1) > MAX_WINDOW_CELLS:
            raise UnsupportedError("the requested window is too large to show")
        if r1 <= r0 or c1 <= c0:
            return Window(r0, c0, [])
        try:
            source = item.fields(fields[c0:c1]) if fields else item
            block = np.asarray(source[tuple(selection)])
        except Exception as exc:
            raise ParseError(f"{path} cannot be read: {exc}") from None
        h5.reads += 1
        if fields:
            if not isinstance(block.dtype.names, tuple):  # one field comes back unwrapped
                block = block.reshape(-1, 1)
                cells = decode_array(block, h5.handle)
            else:
                cells = [[format_value(rec[name], dtype[name], h5.handle)
                          for name in fields[c0:c1]] for rec in block.reshape(-1)]
            values = None
        else:
            if col_axis is not None and col_axis < row_axis:
                block = block.T
            block = block.reshape(r1 - r0, c1 - c0)
            cells = decode_array(block, h5.handle)
            values = block if block.dtype.kind in "iufb" and block.dtype.names is None else None
        h5.cells_read += (r1 - r0) * (c1 - c0)
        return Window(r0, c0, cells, values)

def read_numeric(h5: H5File, path: str, axes: tuple[int, int | None], index: tuple[int, ...],
                 rows: tuple[int, int], max_cols: int = 4096) -> np.ndarray:
    """The numbers of rows ``rows`` of the chosen 2-D (or 1-D) slice, for a plot."""
    h5py = _h5py()
    with h5.lock:
        item = h5.data(path)
        if not isinstance(item, h5py.Dataset) or dtype_of(item, path).names \
                or dtype_of(item, path).kind not in "iufb":
            raise UnsupportedError("only numeric data can be plotted")
        shape = tuple(item.shape or ())
        if not shape:
            return np.asarray([item[()]])
        row_axis, col_axis = axes
        selection: list[Any] = [int(index[d]) if d < len(index) else 0 for d in range(len(shape))]
        selection[row_axis] = slice(max(0, rows[0]), min(rows[1], shape[row_axis]))
        if col_axis is not None:
            selection[col_axis] = slice(0, min(shape[col_axis], max_cols))
        try:
            block = np.asarray(item[tuple(selection)])
        except Exception as exc:
            raise ParseError(f"{path} cannot be read: {exc}") from None
        h5.cells_read += block.size
        if col_axis is not None and col_axis < row_axis:
            block = block.T
        return block
