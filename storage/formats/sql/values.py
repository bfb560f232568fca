"""Which editor a stored SQLite value gets, and dates kept in the format they were stored in.

SQLite has no date type: applications store ISO text, Unix seconds or milliseconds, or Julian
day numbers in columns declared DATE, DATETIME, TIMESTAMP or TIME. :func:`time_format` detects
which one a value uses, so an editor can show a readable date and write the edited moment back
in exactly the same shape (ISO text stays ISO text with its separator and precision; Unix
integers stay integers). Nothing here imports Qt.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass
from typing import Any

from storage.formats.sql.schema_types import affinity

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_EPOCH = datetime.datetime(1970, 1, 1)
_JULIAN_2000 = 2451545.0  # Julian day of 2000-01-01 12:00
_ISO = re.compile(r"(?P<date>\d{4}-\d{2}-\d{2})"
                  r"(?:(?P<sep>[ T])(?P<time>\d{2}:\d{2}(?::\d{2}(?:\.(?P<frac>\d{1,6}))?)?)"
                  r"(?P<zone>Z|[+-]\d{2}:?\d{2})?)?$")
_ISO_TIME = re.compile(r"(?P<time>\d{2}:\d{2}(?::\d{2}(?:\.(?P<frac>\d{1,6}))?)?)$")


@dataclass(frozen=True)
class TimeFormat:
    """How a moment is stored: ``kind`` is iso, unix_s, unix_ms or julian.

    For ISO text: ``has_date``/``has_time`` say which parts are present, ``sep`` is "T" or " ",
    ``seconds`` whether seconds are written, ``frac`` the digits of the fraction, ``zone`` a
    literal suffix ("Z", "+02:00") kept as it was. ``real`` says a Unix value was a float.
    """

    kind: str
    has_date: bool = True
    has_time: bool = True
    sep: str = " "
    seconds: bool = True
    frac: int = 0
    zone: str = ""
    real: bool = False


def time_kind(decl_type: str) -> str | None:
    """"date", "time" or "datetime" for a column declared with DATE/TIME words, else None."""
    text = (decl_type or "").upper()
    if "DATETIME" in text or "TIMESTAMP" in text or ("DATE" in text and "TIME" in text):
        return "datetime"
    if "DATE" in text:
        return "date"
    if "TIME" in text:
        return "time"
    return None


def default_time_format(decl_type: str) -> TimeFormat:
    """The format for a new value (the cell was NULL): ISO text of the declared kind."""
    kind = time_kind(decl_type) or "datetime"
    return TimeFormat("iso", has_date=kind != "time", has_time=kind != "date")


def time_format(value: Any, decl_type: str) -> TimeFormat | None:
    """How ``value`` stores a moment, or None when it is not one (then it is edited as it is)."""
    if value is None:
        return default_time_format(decl_type)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if 1_000_000 <= value <= 5_373_484:  # as describe_time reads it: a Julian day
            return TimeFormat("julian", real=isinstance(value, float))
        kind = "unix_ms" if abs(value) >= 100_000_000_000 else "unix_s"
        return TimeFormat(kind, real=isinstance(value, float)) if _fits(value, kind) else None
    if not isinstance(value, str):
        return None
    found = _ISO.match(value)
    if found is not None:
        clock = found["time"]
        if clock is None:
            return TimeFormat("iso", has_time=False)
        return TimeFormat("iso", sep=found["sep"], seconds=clock.count(":") == 2,
                          frac=len(found["frac"] or ""), zone=found["zone"] or "")
    found = _ISO_TIME.match(value)
    if found is not None:
        return TimeFormat("iso", has_date=False, seconds=found["time"].count(":") == 2,
                          frac=len(found["frac"] or ""))
    return None


def _fits(value: float, kind: str) -> bool:
    seconds = value / 1000 if kind == "unix_ms" else value
    return -62_135_596_800 <= seconds <= 253_402_300_799  # years 1 to 9999


def to_moment(value: Any, fmt: TimeFormat) -> datetime.datetime | None:
    """The naive datetime (UTC for Unix values) that ``value`` stores, or None if it is NULL."""
    if value is None:
        return None
    if fmt.kind == "unix_s":
        return _EPOCH + datetime.timedelta(seconds=value)
    if fmt.kind == "unix_ms":
        return _EPOCH + datetime.timedelta(milliseconds=value)
    if fmt.kind == "julian":
        return datetime.datetime(2000, 1, 1, 12) + datetime.timedelta(days=value - _JULIAN_2000)
    text = str(value)
    found = _ISO.match(text) if fmt.has_date else _ISO_TIME.match(text)
    if found is None:
        return None
    day = datetime.date.fromisoformat(found["date"]) if fmt.has_date else datetime.date(2000, 1, 1)
    clock = found["time"]
    if not clock:
        return datetime.datetime.combine(day, datetime.time())
    parts = clock.split(".")[0].split(":")
    micro = int((found["frac"] or "0").ljust(6, "0"))
    return datetime.datetime(day.year, day.month, day.day, int(parts[0]), int(parts[1]),
                             int(parts[2]) if len(parts) > 2 else 0, micro)


def from_moment(moment: datetime.datetime, fmt: TimeFormat) -> Any:
    """``moment`` stored in the shape ``fmt`` describes (text, int or float)."""
    if fmt.kind in ("unix_s", "unix_ms"):
        seconds = (moment - _EPOCH).total_seconds()
        number = seconds * 1000 if fmt.kind == "unix_ms" else seconds
        return number if fmt.real else round(number)
    if fmt.kind == "julian":
        days = _JULIAN_2000 + (moment - datetime.datetime(2000, 1, 1, 12)).total_seconds() / 86400
        return days if fmt.real else round(days)
    parts = []
    if fmt.has_date:
        parts.append(moment.strftime("%Y-%m-%d"))
    if fmt.has_time:
        clock = moment.strftime("%H:%M:%S" if fmt.seconds else "%H:%M")
        if fmt.seconds and fmt.frac:
            clock += "." + f"{moment.microsecond:06d}"[:fmt.frac]
        parts.append(clock + fmt.zone)
    return fmt.sep.join(parts) if len(parts) == 2 else parts[0]


def field_kind(decl_type: str, value: Any) -> str:
    """The editor for a value: boolean, integer, real, date, time, datetime, text or blob.

    Chosen by the declared type, but a stored value that does not fit it (text in an INTEGER
    column, a BLOB anywhere) gets the editor of what it is, so editing never mangles it. A
    BOOLEAN column holding 0, 1 or NULL gets a check box; ISO dates in any column a date picker.
    """
    if isinstance(value, bytes):
        return "blob"
    if isinstance(value, bool) or ("BOOL" in (decl_type or "").upper() and (
            value is None or (isinstance(value, int) and value in (0, 1)))):
        return "boolean"
    if time_kind(decl_type) is None and isinstance(value, str):
        fmt = time_format(value, "")  # ISO-looking text in any column: edited with a date picker
        if fmt is not None and fmt.has_date:
            return "datetime" if fmt.has_time else "date"
    if time_kind(decl_type) is not None:
        fmt = time_format(value, decl_type)
        if fmt is not None:  # what the stored shape holds, not only what was declared
            if fmt.kind != "iso" or (fmt.has_date and fmt.has_time):
                return "datetime"
            return "date" if fmt.has_date else "time"
    if isinstance(value, str) and parse_number(value, "real") is None:
        return "text"
    aff = affinity(decl_type)
    if not decl_type:  # no declared type: whatever the value is
        return {int: "integer", float: "real", str: "text"}.get(type(value), "text")
    if aff == "INTEGER":
        return "integer" if not isinstance(value, float) else "real"
    if aff in ("REAL", "NUMERIC"):
        return "real"
    if aff == "BLOB":
        return "blob"
    return "text"


def parse_number(text: str, kind: str) -> int | float | None:
    """``text`` as a 64-bit integer or a float (integers stay ints for "real"); None if invalid."""
    text = text.strip()
    if re.fullmatch(r"[+-]?\d+", text):
        number = int(text)
        return number if INT64_MIN <= number <= INT64_MAX else None
    if kind == "integer":
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value else None  # NaN is stored as NULL by SQLite: refuse it


def constraint_columns(message: str, table: str, columns: list[str]) -> list[str]:
    """The columns a constraint error names (NOT NULL, UNIQUE, CHECK, STRICT type errors).

    NOT NULL and UNIQUE list ``table.column`` names separated by ", "; a STRICT type error ends
    in ``column table.column``; a CHECK gives its expression (or its name), searched for names.
    A FOREIGN KEY error names nothing: the caller shows it by the field that was edited.
    """
    text = re.sub(r" \(table '.*'\)$", "", message)  # the suffix storage.formats.sql.sqlite_db.explain adds
    found = re.search(r"(NOT NULL|UNIQUE|PRIMARY KEY) constraint failed: (.*)$", text)
    if found is not None:
        listed = [part.removeprefix(f"{table}.") for part in found.group(2).split(", ")]
        return [name for name in columns if name in listed]
    found = re.search(r" column (.*)$", text)
    if found is not None and text.startswith("cannot store"):
        return [name for name in columns if found.group(1).removeprefix(f"{table}.") == name]
    found = re.search(r"CHECK constraint failed: (.*)$", text)
    if found is None:
        return []
    expression = found.group(1)
    return [name for name in columns
            if re.search(rf'(?<![\w"]){re.escape(name)}(?![\w"])', expression)
            or f'"{name}"' in expression]


_PLAIN = (str, int, float, bytes, type(None))


def plain_value(value: Any) -> Any:
    """A server's value as the grid and the editors know them: text for dates, decimals, UUIDs,
    JSON and the like (a server reads that text back as the column's type when it is written)."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is bool:
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    return str(value)


def plain_row(row: Any) -> tuple:
    return tuple(v if type(v) in _PLAIN else plain_value(v) for v in row)


def plain_rows(rows: list, width: int, types: tuple[str, ...] = ()) -> list[tuple]:
    """The first ``width`` values of each row, made plain; only columns that need it are visited.

    A PostgreSQL array column (declared ``type[]``) reads as an array literal (``{1,2,NULL}``),
    which the server parses back when the cell is edited; other lists are JSON.
    """
    if not rows:
        return []
    columns = list(zip(*rows, strict=True))[:width]
    odd = [i for i, values in enumerate(columns) if not set(map(type, values)) <= _PLAIN_SET]
    if not odd:
        return [r[:width] for r in rows]
    for i in odd:
        array = i < len(types) and types[i].endswith("]")
        columns[i] = tuple(v if type(v) in _PLAIN else array_literal(v) if array and isinstance(v, list)
                           else plain_value(v) for v in columns[i])
    return list(zip(*columns, strict=True))


def array_literal(value: Any) -> str:
    """PostgreSQL's text form of an array: ``{1,"a b",NULL,{2,3}}``."""
    parts = []
    for item in value:
        if item is None:
            parts.append("NULL")
        elif isinstance(item, list):
            parts.append(array_literal(item))
        else:
            text = plain_value(item)
            text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
            if text == "" or text.upper() == "NULL" or any(c in text for c in ' ,{}"\\\t\n'):
                text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
            parts.append(text)
    return "{" + ",".join(parts) + "}"


_PLAIN_SET = frozenset(_PLAIN)
