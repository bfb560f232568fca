"""A pickled DataFrame (or a NumPy 2-D or structured array) as rows for Convert….

:func:`frame_rows` hands a :class:`~storage.formats.objects.pickle.frame.FrameTable` to the
converter (:class:`storage.core.convert.ColumnarRows`) the way pandas' ``to_csv``/``to_parquet``
would write it: a default RangeIndex is left out, a named or real index comes first (a MultiIndex
as one column per level). The types are kept: integers (nullable ones with NULLs), floats, bools,
strings, a categorical as its values, naive and time-zone datetimes (the zone kept for Parquet,
ISO text with its offset elsewhere), timedeltas and dates. A column whose dtype could not be
rebuilt (:attr:`FrameColumn.why`) is written as the text the grid shows (:func:`raw_columns`
names them, so the dialog can say so before running).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from storage.core.convert import ColumnarRows, Field
from storage.formats.objects.pickle.frame import FrameColumn, FrameTable, default_text
from storage.formats.objects.pickle.nodes import CallNode, GlobalNode

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_INT64_MAX = 2**63 - 1
_SUB_ARRAY = re.compile(r"\((\d+, ?)+\d*\)$")  # a structured array's field of shape (2,): "float64(2,)"


def exported_columns(table: FrameTable) -> list[FrameColumn]:
    """The columns a conversion writes: every column but the implicit row numbers."""
    return [column for column in table.columns if not column.implicit]


def raw_columns(table: FrameTable) -> list[str]:
    """Names of the columns written as their text because their dtype was not rebuilt."""
    return [column.name for column in exported_columns(table) if column.why]


def frame_rows(table: FrameTable) -> ColumnarRows:
    """The rows of ``table`` with typed columns (see the module's docstring)."""
    columns = exported_columns(table)
    takes: list[Callable[[int, int], list[Any]]] = []
    dtypes: list[str] = []
    fixed: dict[int, Field] = {}
    for i, column in enumerate(columns):
        zone = _zone_name(column.dtype) if not column.why else None
        if column.why or _SUB_ARRAY.search(column.dtype):  # not rebuilt, or a sub-array field (text)
            takes.append(_as_text(column))
            dtypes.append("text")
            fixed[i] = Field(column.name, "text")
        elif zone is not None:
            tzinfo, known = _tzinfo(zone)
            takes.append(_aware(column, tzinfo))
            dtypes.append(column.dtype)
            fixed[i] = Field(column.name, "timestamp", tz=True, zone=zone if known else "UTC")
        else:
            takes.append(_plain(column))
            dtypes.append(column.dtype)
            if column.dtype.lower() == "uint64" and _beyond_int64(column):
                takes[-1] = _as_text(column)  # Parquet's and SQLite's integers stop at 2**63 - 1
                fixed[i] = Field(column.name, "text")
    rows = ColumnarRows([c.name for c in columns], dtypes, takes, table.rows)
    for i, field in fixed.items():
        rows.fields[i] = field
    return rows


def _beyond_int64(column: FrameColumn) -> bool:
    """Whether an unsigned 64-bit column holds a value no signed 64-bit integer can."""
    step = 1_000_000
    for start in range(0, column.length, step):
        if any(v is not None and v > _INT64_MAX for v in column.values(start, start + step)):
            return True
    return False


def _zone_name(dtype: str) -> str | None:
    """``Europe/Paris`` of ``datetime64[ns, Europe/Paris]``; None for other dtypes."""
    if not dtype.startswith("datetime64[") or "," not in dtype:
        return None
    return dtype[dtype.index(",") + 1:].rstrip("]").strip() or "UTC"


def _tzinfo(name: str) -> tuple[_dt.tzinfo, bool]:
    """The zone named ``name`` and whether it was found (else UTC: the values are UTC already)."""
    if name.upper() == "UTC":
        return _dt.UTC, True
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name), True
    except (ValueError, OSError, ImportError, LookupError):
        return _dt.UTC, False


def _aware(column: FrameColumn, zone: _dt.tzinfo) -> Callable[[int, int], list[Any]]:
    """A time-zone column's values (naive UTC ``datetime64``) as datetimes in their zone."""
    def take(a: int, b: int) -> list[Any]:
        out: list[Any] = []
        for value in column.values(a, b):
            if value is None or (isinstance(value, np.datetime64) and np.isnat(value)):
                out.append(None)
                continue
            us = int(np.datetime64(value, "us").astype(np.int64))
            try:
                out.append((_EPOCH + _dt.timedelta(microseconds=us)).astimezone(zone))
            except (OverflowError, ValueError):  # beyond Python's years 1..9999
                out.append(default_text(value))
        return out
    return take


def _plain(column: FrameColumn) -> Callable[[int, int], list[Any]]:
    """Values as they are, but the pickle's own objects (an unknown class) as their text."""
    def take(a: int, b: int) -> list[Any]:
        values = column.values(a, b)
        if column.dtype not in ("object", "category", "category (ordered)") and not column.dtype.startswith(
                "raw"):
            return values
        return [_cell_text(v) if isinstance(v, CallNode | GlobalNode) else v for v in values]
    return take


def _as_text(column: FrameColumn) -> Callable[[int, int], list[Any]]:
    """The text the grid shows for a column that was not rebuilt (whole, not cut at 200)."""
    def take(a: int, b: int) -> list[Any]:
        return [None if v is None else _cell_text(v) for v in column.values(a, b)]
    return take


def _cell_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, CallNode | GlobalNode):
        return value.label()
    if isinstance(value, np.generic):
        return default_text(value) if isinstance(value, np.datetime64 | np.timedelta64) else str(value.item())
    try:
        return str(value)
    except Exception:  # a rebuilt value whose str fails: its type name
        return f"<{type(value).__name__}>"


__all__ = ["exported_columns", "frame_rows", "raw_columns"]
