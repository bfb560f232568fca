"""Min, max and mean of a numeric array in bounded chunks, NaN-aware, sampled when it is huge.

A memory-mapped array of 10^10 elements must not be read whole: arrays larger than
``max_elements`` are summarised from evenly spaced contiguous blocks (so only those pages are
touched) and the result says ``sampled``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

CHUNK = 1 << 20
SAMPLE_BLOCKS = 64


def _json_number(value: Any) -> Any:
    """A Python number for JSON; infinities and NaN as the strings numpy prints."""
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _pieces(array: np.ndarray, max_elements: int) -> tuple[Iterator[np.ndarray], bool]:
    """1-D pieces of at most CHUNK elements covering the array or a sample of it; and if sampled."""
    size = array.size
    if array.flags.c_contiguous or array.flags.f_contiguous:
        flat = array.ravel(order="K")  # a view: no copy for contiguous arrays
        if size <= max_elements:
            spans = [(0, size)]
        else:
            block = max(1, max_elements // SAMPLE_BLOCKS)
            starts = np.linspace(0, size - block, SAMPLE_BLOCKS).astype(np.int64)
            spans = [(int(s), int(s) + block) for s in starts]

        def walk() -> Iterator[np.ndarray]:
            for start, stop in spans:
                for pos in range(start, stop, CHUNK):
                    yield np.asarray(flat[pos:min(pos + CHUNK, stop)])

        return walk(), size > max_elements
    view = array
    if size > max_elements:  # a strided sample along every axis, still a view
        step = math.ceil((size / max_elements) ** (1 / array.ndim))
        view = array[(slice(None, None, step),) * array.ndim]
    iterator = np.nditer(view, flags=["external_loop", "buffered", "zerosize_ok"], buffersize=CHUNK,
                         order="K")
    return (np.array(piece) for piece in iterator), size > max_elements


def numeric(dtype: np.dtype) -> bool:
    """Whether stats apply: booleans, integers and real floats (not complex, records or objects)."""
    return dtype.fields is None and dtype.kind in "biuf"


def array_stats(array: np.ndarray, max_elements: int = 10_000_000) -> dict[str, Any] | None:
    """{count, nan_count, min, max, mean, sampled, elements} of a real numeric array, else None."""
    if not numeric(array.dtype):
        return None
    pieces, sampled = _pieces(array, max_elements)
    return stats_of_pieces(pieces, array.dtype, int(array.size), sampled)


def stats_of_pieces(pieces: Iterable[np.ndarray], dtype: np.dtype, elements: int, sampled: bool
                    ) -> dict[str, Any]:
    """The stats of ``array_stats`` over 1-D pieces of one array (a stream, a sample)."""
    count = nan_count = 0
    low = high = None
    total = 0.0
    for piece in pieces:
        if dtype.kind == "f":
            nan = np.isnan(piece)
            missing = int(nan.sum())
            if missing:
                nan_count += missing
                piece = piece[~nan]
        if not piece.size:
            continue
        count += piece.size
        lo, hi = piece.min(), piece.max()
        low = lo if low is None or lo < low else low
        high = hi if high is None or hi > high else high
        total += float(piece.sum(dtype=np.float64))
    return {"elements": elements, "count": count, "nan_count": nan_count,
            "min": None if low is None else _json_number(low),
            "max": None if high is None else _json_number(high),
            "mean": _json_number(total / count) if count else None, "sampled": sampled}
