"""How the SQL grid shows a value: NULL, BLOB previews, cut text, readable dates for numbers
in DATE/TIME columns, and which server types arrive as text but are numbers.

Plain functions used by :class:`gui.sql.grid_model.SqlTableModel` and the record view.
"""

from __future__ import annotations

import datetime
import functools
from typing import Any

from storage.formats.sql.bounds import LargeValue
from storage.formats.sql.spec import PREVIEW_CHARS


def describe_time(value: Any, decl_type: str) -> str | None:
    """A readable date for a value in a DATE/TIME column (ISO text, Unix s or ms, Julian day)."""
    if "DATE" not in decl_type.upper() and "TIME" not in decl_type.upper():
        return None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if 1_000_000 <= value <= 5_373_484:  # Julian day numbers of years 0..9999
                moment = datetime.datetime(2000, 1, 1, 12) + datetime.timedelta(days=value - 2451545.0)
                return f"{moment:%Y-%m-%d %H:%M:%S} (Julian day)"
            if abs(value) >= 100_000_000_000:
                moment = datetime.datetime.fromtimestamp(value / 1000, datetime.UTC)
                return f"{moment:%Y-%m-%d %H:%M:%S.%f}"[:-3] + " UTC (Unix ms)"
            moment = datetime.datetime.fromtimestamp(value, datetime.UTC)
            return f"{moment:%Y-%m-%d %H:%M:%S} UTC (Unix seconds)"
    except (OverflowError, OSError, ValueError):
        return None
    return None


def format_value(value: Any, size: int | None = None) -> str:
    """What a grid cell shows: NULL, BLOB size and hex preview, cut text marked with an ellipsis."""
    if value is None:
        return "NULL"
    if isinstance(value, LargeValue):  # too large to read for the grid: its size, read on request
        return f"{format_value(value.head, value.size)} — show…" if value.kind == "blob" else value.label()
    if isinstance(value, bytes):
        total = size if size is not None and size >= 0 else len(value)
        hexed = value[:16].hex(" ")
        at_least = "≥ " if size == -1 else ""  # cut, and its full length is not known
        return f"BLOB {at_least}{total:,} bytes: {hexed}{' …' if total > 16 else ''}"
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    if size is not None or len(text) >= PREVIEW_CHARS:
        text = text[:200] + "…"
    return text.replace("\n", "⏎")


def copied_text(value: Any, shown: str) -> str:
    """A cell as Edit ▸ Copy puts it in TSV: NULL as empty, numbers as stored, a BLOB (or a
    value too large for the grid) as the grid ``shown`` it."""
    if value is None:
        return ""
    if isinstance(value, bytes | LargeValue):
        return shown
    return repr(value) if isinstance(value, float) else str(value)


@functools.lru_cache(maxsize=512)
def _numeric_type(decl: str) -> bool:
    """A server's numeric type whose values arrive as text (numeric, decimal, money)."""
    low = decl.lower()
    return low.startswith(("numeric", "decimal", "money"))
