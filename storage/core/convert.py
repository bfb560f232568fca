"""Convert any table to CSV, Parquet, JSON Lines, or a table in an SQLite file.

A source is anything with named, typed columns whose rows arrive in batches: a :class:`RowSource`.
The formats adapt their tables to it (a CSV/Parquet/Arrow file's DuckDB view, an SQLite or server
table, a query result, a JSON array of records, a pickled DataFrame) and :func:`convert` writes
it out. Column kinds (:data:`KINDS`) keep the types across formats: integers stay integers,
dates stay dates (a Parquet ``date32``, an SQLite ``DATE`` column of ISO text, ``2024-01-31`` in
CSV and JSON Lines).

Files are written through the atomic writer, so a cancelled or failed conversion leaves no file
(or the old one). An SQLite target that exists already is written in one transaction: the
other tables stay, and a new table is there whole or not at all.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import decimal
import json
import math
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, runtime_checkable

from storage.core.atomic import atomic_path, atomic_writer
from storage.core.errors import KnownError

BATCH = 5000
KINDS = ("integer", "real", "boolean", "text", "blob", "date", "timestamp", "time", "duration", "decimal",
         "json")
TARGETS: dict[str, tuple[str, str]] = {  # format -> (label, file extension)
    "csv": ("CSV", ".csv"),
    "parquet": ("Parquet", ".parquet"),
    "jsonl": ("JSON Lines", ".jsonl"),
    "sqlite": ("Table in an SQLite file", ".sqlite"),
}
SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db", ".db3")


class Cancelled(KnownError):
    """The user stopped the conversion; nothing was written."""


@dataclass(frozen=True)
class Field:
    """One column: its name and kind (one of :data:`KINDS`); ``tz`` for a timestamp with a time
    zone (``zone`` names it when known: Parquet keeps it, else UTC), ``precision`` and ``scale`` for
    a decimal."""

    name: str
    kind: str = "text"
    tz: bool = False
    precision: int = 38
    scale: int = 0
    zone: str = ""


@runtime_checkable
class RowSource(Protocol):
    """Rows with typed columns: what every table offers the converter.

    ``total`` is the number of rows when known (for the progress bar). ``batches`` yields lists
    of row tuples in column order; ``cancel`` may be polled by a source whose first batch takes
    long (a sort over a big file) to stop early.
    """

    @property
    def fields(self) -> Sequence[Field]: ...

    @property
    def total(self) -> int | None: ...

    def batches(self, size: int, cancel: Callable[[], bool]) -> Iterator[Sequence[Sequence[Any]]]: ...


@runtime_checkable
class CopiesItself(Protocol):
    """A source that writes some targets itself, much faster than row by row (DuckDB's ``COPY``):
    ``copy_to`` writes ``path`` (the atomic writer's temporary file) and returns the row count."""

    copy_formats: tuple[str, ...]

    def copy_to(self, fmt: str, path: str, cancel: Callable[[], bool],
                progress: Callable[[float], None]) -> int: ...


@dataclass
class Rows:
    """A :class:`RowSource` over rows given as batches (or one list), for sources already in memory
    or streamed by a cursor the caller owns."""

    fields: list[Field]
    source: Iterable[Sequence[Sequence[Any]]]
    total: int | None = None

    @classmethod
    def of(cls, fields: list[Field], rows: Sequence[Sequence[Any]]) -> Rows:
        return cls(fields, [rows], len(rows))

    def batches(self, size: int, cancel: Callable[[], bool]) -> Iterator[Sequence[Sequence[Any]]]:
        for batch in self.source:
            for start in range(0, len(batch), size):
                yield batch[start:start + size]


@dataclass(frozen=True)
class Target:
    """Where to write: ``format`` (a key of :data:`TARGETS`), the file, and for SQLite the table
    and whether rows are appended to an existing table (else the table is created)."""

    format: str
    path: str
    table: str = ""
    append: bool = False


# -- kinds -----------------------------------------------------------------------------------------
def field_for_type(name: str, declared: str) -> Field:
    """The :class:`Field` for a column declared ``declared`` (DuckDB, SQLite or server type names)."""
    t = (declared or "").upper().strip()
    if not t:
        return Field(name, "text")
    if "[]" in t or t.startswith(("STRUCT", "MAP", "UNION", "LIST")) or t in ("JSON", "JSONB"):
        return Field(name, "json")
    if t.startswith("INTERVAL") or t == "UUID":
        return Field(name, "text")
    if t.startswith("BOOL"):
        return Field(name, "boolean")
    if t.startswith(("DECIMAL", "NUMERIC")) and "(" in t:
        inside = t[t.index("(") + 1:t.rindex(")")] if ")" in t else ""
        parts = [p.strip() for p in inside.split(",")]
        try:
            precision = int(parts[0])
            scale = int(parts[1]) if len(parts) > 1 else 0
        except ValueError:
            return Field(name, "real")
        return Field(name, "decimal", precision=precision, scale=scale)
    if "INT" in t:
        return Field(name, "integer")
    if any(word in t for word in ("DOUBLE", "FLOAT", "REAL", "NUMERIC", "DECIMAL")):
        return Field(name, "real")
    if "TIMESTAMP" in t or "DATETIME" in t:
        return Field(name, "timestamp", tz="TIME ZONE" in t or "TZ" in t.replace("TIMESTAMP", ""))
    if t.startswith("DATE"):
        return Field(name, "date")
    if t.startswith("TIME"):
        return Field(name, "time")
    if any(word in t for word in ("BLOB", "BYTEA", "BINARY")):
        return Field(name, "blob")
    return Field(name, "text")


def _value_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "real"
    if isinstance(value, decimal.Decimal):
        return "decimal"
    if isinstance(value, str):
        return "text"
    if isinstance(value, bytes | bytearray | memoryview):
        return "blob"
    if isinstance(value, dt.datetime):
        return "timestamp"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, dt.time):
        return "time"
    if isinstance(value, dt.timedelta):
        return "duration"
    if isinstance(value, dict | list | tuple):
        return "json"
    return "text"


def infer_field(name: str, values: Iterable[Any]) -> Field:
    """The kind that holds every value of ``values`` (ints and floats together are reals, dates
    and timestamps timestamps; anything else mixed is text)."""
    kinds: set[str] = set()
    tz = False
    scale = 0
    for value in values:
        if value is None:
            continue
        kind = _value_kind(value)
        kinds.add(kind)
        if kind == "timestamp" and value.tzinfo is not None:
            tz = True
        elif kind == "decimal":
            exponent = value.as_tuple().exponent
            if isinstance(exponent, int):
                scale = max(scale, min(-exponent, 18))
    if not kinds:
        return Field(name, "text")
    if len(kinds) == 1:
        kind = kinds.pop()
    elif kinds <= {"integer", "real"}:
        kind = "real"
    elif kinds <= {"integer", "decimal"}:
        kind = "decimal"
    elif kinds <= {"date", "timestamp"}:
        kind = "timestamp"
    elif "json" in kinds:
        kind = "json"
    else:
        kind = "text"
    return Field(name, kind, tz=tz, scale=scale)


def infer_fields(names: Sequence[str], rows: Sequence[Sequence[Any]],
                 declared: Sequence[str] | None = None) -> list[Field]:
    """Fields for ``names`` from a sample of ``rows`` and, where given, the declared types.

    A declared type wins when every sampled value fits it (an SQLite ``DATE`` column of ISO text
    is a date); else the values' own kind (SQLite lets a column hold anything)."""
    fields = []
    for i, name in enumerate(names):
        values = [row[i] for row in rows if i < len(row)]
        seen = infer_field(name, values)
        decl = declared[i] if declared is not None and i < len(declared) else ""
        if decl:
            wanted = field_for_type(name, decl)
            if wanted.kind != seen.kind and _all_fit(values, wanted):
                seen = wanted
        fields.append(seen)
    return fields


def _all_fit(values: Sequence[Any], field: Field) -> bool:
    try:
        for value in values:
            if value is not None:
                coerce(value, field)
    except (ValueError, TypeError, ArithmeticError):
        return False
    return True


def coerce(value: Any, field: Field) -> Any:
    """``value`` as the Python type of ``field``'s kind; ValueError/TypeError when it is not one."""
    if value is None:
        return None
    kind = field.kind
    if kind == "integer":
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float | decimal.Decimal) and value == int(value):
            return int(value)
        if isinstance(value, str):
            return int(value.strip())
        raise ValueError(value)
    if kind == "real":
        if isinstance(value, bool | dt.date | dt.time):
            raise TypeError(value)
        return float(value)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
            return value.strip().lower() in ("true", "1")
        raise ValueError(value)
    if kind == "date":
        if isinstance(value, dt.datetime):
            if value.time() != dt.time():
                raise ValueError(value)
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            return dt.date.fromisoformat(value.strip())
        raise TypeError(value)
    if kind == "timestamp":
        if isinstance(value, dt.datetime):
            return value
        if isinstance(value, dt.date):
            return dt.datetime.combine(value, dt.time())
        if isinstance(value, str):
            return dt.datetime.fromisoformat(value.strip())
        raise TypeError(value)
    if kind == "time":
        if isinstance(value, dt.time):
            return value
        if isinstance(value, str):
            return dt.time.fromisoformat(value.strip())
        raise TypeError(value)
    if kind == "duration":
        if isinstance(value, dt.timedelta):
            return value
        raise TypeError(value)
    if kind == "decimal":
        if isinstance(value, bool | dt.date | dt.time | bytes):
            raise TypeError(value)
        return decimal.Decimal(str(value))
    if kind == "blob":
        if isinstance(value, bytes | bytearray | memoryview):
            return bytes(value)
        if isinstance(value, str):
            return value.encode("utf-8")
        raise TypeError(value)
    if kind == "json":
        return value
    return text_of(value)


def text_of(value: Any) -> str:
    """A value as text in CSV: ISO dates, ``true``/``false``, JSON for nested values, hex bytes."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("" if math.isnan(value) else repr(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return duration_text(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=_json_default)
    return str(value)


def duration_text(value: dt.timedelta) -> str:
    """A duration as pandas writes it (``to_csv``) and reads it back (``to_timedelta``):
    ``1 days 02:00:00``, ``0 days 00:00:00.500000``, ``-1 days +23:59:59``."""
    days, seconds, micro = value.days, value.seconds, value.microseconds
    h, m, s = seconds // 3600, seconds // 60 % 60, seconds % 60
    tail = f".{micro:06d}" if micro else ""
    return f"{days} days {'+' if days < 0 else ''}{h:02d}:{m:02d}:{s:02d}{tail}"


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return duration_text(value)
    if isinstance(value, decimal.Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$base64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def _json_cell(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or infinity
    return value


# -- the conversion ----------------------------------------------------------------------------------
def convert(source: RowSource, target: Target, cancel: Callable[[], bool] = lambda: False,
            progress: Callable[[float], None] = lambda _f: None, batch: int = BATCH) -> int:
    """Write every row of ``source`` to ``target``; return the number of rows written.

    ``cancel`` is checked between batches: a cancelled conversion raises :class:`Cancelled` and
    leaves no new file (an existing SQLite file is rolled back)."""
    if target.format not in TARGETS:
        raise KnownError(f"Cannot convert to {target.format!r}: choose CSV, Parquet, JSON Lines or SQLite.")
    fields = list(source.fields)
    if not fields:
        raise KnownError("The table has no columns: there is nothing to convert.")
    counter = _Counter(source.total, cancel, progress)
    if isinstance(source, CopiesItself) and target.format in source.copy_formats:
        counter.check()
        try:
            with atomic_path(target.path) as tmp:
                written = source.copy_to(target.format, str(tmp), cancel, progress)
                counter.check()
            return written
        except KnownError:
            counter.check()
            raise
    batches = counter.wrap(source.batches(batch, cancel))
    try:
        if target.format == "sqlite":
            return _write_sqlite(fields, batches, target, counter)
        writer = {"csv": _write_csv, "jsonl": _write_jsonl, "parquet": _write_parquet}[target.format]
        writer(fields, batches, target.path)
    except KnownError:
        counter.check()  # a source stopped by the cancel says so in its own words: say it once
        raise
    return counter.written


class _Counter:
    """Counts rows through, reports progress, and stops at a cancel."""

    def __init__(self, total: int | None, cancel: Callable[[], bool], progress: Callable[[float], None]):
        self.total = total
        self.cancel = cancel
        self.progress = progress
        self.written = 0

    def check(self) -> None:
        if self.cancel():
            raise Cancelled("Conversion cancelled; nothing was written.")

    def wrap(self, batches: Iterable[Sequence[Sequence[Any]]]) -> Iterator[Sequence[Sequence[Any]]]:
        self.check()
        for rows in batches:
            self.check()
            yield rows
            self.written += len(rows)
            if self.total:
                self.progress(min(1.0, self.written / self.total))
        self.check()


def _write_csv(fields: list[Field], batches: Iterable[Sequence[Sequence[Any]]], path: str) -> None:
    with atomic_writer(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([f.name for f in fields])
        for rows in batches:
            writer.writerows([["" if v is None else text_of(v) for v in row] for row in rows])


def _write_jsonl(fields: list[Field], batches: Iterable[Sequence[Sequence[Any]]], path: str) -> None:
    names = [f.name for f in fields]
    with atomic_writer(path, "w", encoding="utf-8", newline="\n") as handle:
        for rows in batches:
            handle.write("".join(
                json.dumps({n: _json_cell(v) for n, v in zip(names, row, strict=False)},
                           ensure_ascii=False, default=_json_default) + "\n"
                for row in rows))


def arrow_type(field: Field) -> Any:
    import pyarrow as pa

    kind = field.kind
    if kind == "integer":
        return pa.int64()
    if kind == "real":
        return pa.float64()
    if kind == "boolean":
        return pa.bool_()
    if kind == "blob":
        return pa.binary()
    if kind == "date":
        return pa.date32()
    if kind == "timestamp":
        return pa.timestamp("us", tz=(field.zone or "UTC") if field.tz else None)
    if kind == "time":
        return pa.time64("us")
    if kind == "duration":
        return pa.duration("us")
    if kind == "decimal" and 0 < field.precision <= 38 and 0 <= field.scale <= field.precision:
        return pa.decimal128(field.precision, field.scale)
    return pa.string()


def _arrow_cell(value: Any, field: Field, arrow_kind: str) -> Any:
    if value is None:
        return None
    if field.kind == "real" and isinstance(value, float):
        return value
    if arrow_kind == "string":
        return json.dumps(value, ensure_ascii=False, default=_json_default) if field.kind == "json" \
            else text_of(value)
    value = coerce(value, field)
    if field.kind == "decimal":
        return value.quantize(decimal.Decimal(1).scaleb(-field.scale))
    return value


def _write_parquet(fields: list[Field], batches: Iterable[Sequence[Sequence[Any]]], path: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = [arrow_type(f) for f in fields]
    schema = pa.schema([pa.field(f.name, t) for f, t in zip(fields, types, strict=True)])
    strings = ["string" if t == pa.string() else "" for t in types]
    row_number = 0
    with atomic_writer(path, "wb") as handle:
        writer = pq.ParquetWriter(handle, schema)
        try:
            for rows in batches:
                columns = []
                for i, (field, arrow) in enumerate(zip(fields, types, strict=True)):
                    values = []
                    for r, row in enumerate(rows):
                        try:
                            values.append(_arrow_cell(row[i] if i < len(row) else None, field, strings[i]))
                        except (ValueError, TypeError, ArithmeticError):
                            raise KnownError(
                                f"Row {row_number + r + 1:,}, column {field.name!r} holds {row[i]!r}, which "
                                f"is not a {field.kind} like the rows before it. Parquet keeps one type per "
                                "column: export to CSV, JSON Lines or SQLite instead.") from None
                    columns.append(pa.array(values, type=arrow))
                writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=schema))
                row_number += len(rows)
        finally:
            writer.close()


# -- SQLite --------------------------------------------------------------------------------------
_SQLITE_TYPES = {"integer": "INTEGER", "real": "REAL", "boolean": "BOOLEAN", "text": "TEXT", "blob": "BLOB",
                 "date": "DATE", "timestamp": "TIMESTAMP", "time": "TIME", "json": "TEXT"}


def sqlite_type(field: Field) -> str:
    """The declared type of ``field`` in an SQLite table (dates are ISO text in DATE columns)."""
    if field.kind == "decimal":
        return f"DECIMAL({field.precision},{field.scale})"
    return _SQLITE_TYPES.get(field.kind, "TEXT")


def _sqlite_cell(value: Any) -> Any:
    if value is None or (isinstance(value, str | int | float | bytes) and not isinstance(value, bool)):
        return None if isinstance(value, float) and math.isnan(value) else value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    return text_of(value)


def quote_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def is_sqlite_file(path: str) -> bool:
    """An existing, non-empty file that starts with SQLite's header."""
    try:
        with open(path, "rb") as handle:
            return handle.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def sqlite_tables(path: str) -> list[str]:
    """The tables of an existing SQLite file (empty when it is new or not SQLite)."""
    if not is_sqlite_file(path):
        return []
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return []
    try:
        return [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    except sqlite3.Error:
        return []
    finally:
        conn.close()


def _write_sqlite(fields: list[Field], batches: Iterable[Sequence[Sequence[Any]]], target: Target,
                  counter: _Counter) -> int:
    table = target.table.strip()
    if not table:
        raise KnownError("Name the table the rows go to.")
    exists = os.path.exists(target.path) and os.path.getsize(target.path) > 0
    if exists and not is_sqlite_file(target.path):
        raise KnownError(f"{os.path.basename(target.path)} is not an SQLite database: choose another file.")
    if not exists:
        if target.append:
            raise KnownError(f"{os.path.basename(target.path)} does not exist yet: there is no table "
                             f"{table!r} to append to.")
        # A new file: built beside the destination and moved into place whole.
        with atomic_path(target.path) as tmp:
            conn = sqlite3.connect(tmp, isolation_level=None)
            try:
                _fill(conn, fields, batches, replace(target, table=table))
            finally:
                conn.close()
        return counter.written
    conn = sqlite3.connect(target.path, timeout=5, isolation_level=None)
    try:
        _fill(conn, fields, batches, replace(target, table=table))
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise KnownError(f"{os.path.basename(target.path)} is locked by another program (or an open "
                             "transaction): nothing was written.") from None
        raise KnownError(f"Could not write to {os.path.basename(target.path)}: {exc}") from None
    finally:
        conn.close()
    return counter.written


def _sqlite_rows(rows: Sequence[Sequence[Any]], kinds: list[tuple[type, ...]], width: int) -> Iterator[list]:
    for row in rows:
        if len(row) != width:
            row = (list(row) + [None] * width)[:width]
        yield [v if v is None or (type(v) in k and not (type(v) is float and v != v)) else _sqlite_cell(v)
               for v, k in zip(row, kinds, strict=True)]


def _fill(conn: sqlite3.Connection, fields: list[Field], batches: Iterable[Sequence[Sequence[Any]]],
          target: Target) -> None:
    """Create (or check) the table and insert every batch in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        existing = [r[1] for r in conn.execute(f"PRAGMA table_info({quote_name(target.table)})")]
        if target.append:
            if not existing:
                raise KnownError(f"There is no table {target.table!r} to append to: choose Create.")
            lower = {name.lower(): name for name in existing}
            missing = [f.name for f in fields if f.name.lower() not in lower]
            if missing:
                raise KnownError(f"The table {target.table!r} has no column " + ", ".join(
                    repr(m) for m in missing[:5]) + ": append to a table with the same columns, or create "
                    "a new one.")
            names = [lower[f.name.lower()] for f in fields]
        else:
            if existing:
                raise KnownError(f"The file already has a table {target.table!r}: choose Append, or "
                                 "another table name.")
            seen: set[str] = set()
            for f in fields:
                if f.name.lower() in seen:
                    raise KnownError(f"Two columns are named {f.name!r} (SQLite ignores case): rename one "
                                     "first.")
                seen.add(f.name.lower())
            columns = ", ".join(f"{quote_name(f.name)} {sqlite_type(f)}" for f in fields)
            conn.execute(f"CREATE TABLE {quote_name(target.table)} ({columns})")
            names = [f.name for f in fields]
        sql = (f"INSERT INTO {quote_name(target.table)} ({', '.join(quote_name(n) for n in names)}) "
               f"VALUES ({', '.join('?' for _ in names)})")
        width = len(names)
        # Numbers and text go to SQLite as they are; only the other values need a conversion.
        plain = {"integer": (int, float), "real": (float, int), "text": (str,), "blob": (bytes,)}
        kinds = [plain.get(f.kind, ()) for f in fields]
        for rows in batches:
            conn.executemany(sql, _sqlite_rows(rows, kinds, width))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


# -- columns handed out by range: NumPy arrays, a pickled DataFrame ----------------------------------
Take = Callable[[int, int], Sequence[Any]]
_INFER_SAMPLE = 1000


def field_for_dtype(name: str, dtype: str, sample: Sequence[Any] = ()) -> Field:
    """The :class:`Field` for a NumPy or pandas dtype label (``int64``, ``Int64``, ``float32``,
    ``bool``, ``boolean``, ``datetime64[ns]``, ``datetime64[ns, UTC]``…); ``object``, ``string``,
    ``category`` and other labels take the kind of their ``sample`` values."""
    label = dtype.strip()
    lower = label.lower()
    if lower.startswith(("int", "uint")) and "interval" not in lower:
        return Field(name, "integer")
    if lower.startswith("float"):
        return Field(name, "real")
    if lower in ("bool", "boolean"):
        return Field(name, "boolean")
    if lower.startswith("datetime64"):
        return Field(name, "timestamp", tz="," in label)
    if lower.startswith("timedelta64"):
        return Field(name, "duration")
    if lower.startswith(("period", "interval")):
        return Field(name, "text")
    return infer_field(name, [plain_value(v) for v in sample])


def plain_value(value: Any) -> Any:
    """A NumPy scalar as the Python value it stands for (``datetime64`` as a datetime,
    ``timedelta64`` as a timedelta, to the microsecond; ``NaT`` as None); anything else as it is."""
    module = type(value).__module__
    if module != "numpy":
        return value
    import numpy as np

    if isinstance(value, np.datetime64):
        if np.isnat(value):
            return None
        return value.astype("datetime64[us]").item()
    if isinstance(value, np.timedelta64):
        return None if np.isnat(value) else value.astype("timedelta64[us]").item()
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.str_ | np.bytes_):
        return value.item()
    return value


class ColumnarRows:
    """Rows of columns that hand out their values by range, ``take(start, stop)``: NumPy arrays, or
    a pickled DataFrame's columns (``FrameColumn.values`` of
    :class:`storage.formats.objects.pickle.frame.FrameTable`, index levels first). Kinds come
    from the dtype labels, else from the first values."""

    def __init__(self, names: Sequence[str], dtypes: Sequence[str], takes: Sequence[Take], rows: int) -> None:
        self.takes = list(takes)
        self.total: int | None = rows
        self.fields = [
            field_for_dtype(str(n), d, take(0, min(rows, _INFER_SAMPLE)) if _needs_sample(d) else ())
            for n, d, take in zip(names, dtypes, self.takes, strict=True)]

    def batches(self, size: int, cancel: Callable[[], bool]) -> Iterator[Sequence[Sequence[Any]]]:
        rows = self.total or 0
        for start in range(0, rows, size):
            if cancel():
                return
            stop = min(rows, start + size)
            columns = [[plain_value(v) for v in take(start, stop)] for take in self.takes]
            yield list(zip(*columns, strict=True))


def _needs_sample(dtype: str) -> bool:
    lower = dtype.lower()
    return not (lower.startswith(("int", "uint", "float", "datetime64", "timedelta64", "period"))
                or lower in ("bool", "boolean"))


# -- sources that are plain Python -------------------------------------------------------------
def records_source(records: Any) -> Rows:
    """A JSON array of objects (records) as rows: the columns are every key, in first-seen order."""
    if not isinstance(records, list) or not records or not all(isinstance(r, dict) for r in records):
        raise KnownError("Only a non-empty array of objects (records) can be converted to a table.")
    names: dict[str, None] = {}
    for record in records:
        for key in record:
            names.setdefault(str(key), None)
    order = list(names)
    rows = [tuple(record.get(name) for name in order) for record in records]
    return Rows.of(infer_fields(order, rows), rows)


def suggested_name(source_path: str | None, fallback: str = "table") -> str:
    """A table name from a file's name: ``sales 2024.csv`` gives ``sales_2024``."""
    stem = os.path.splitext(os.path.basename(source_path or ""))[0]
    cleaned = "".join(c if c.isalnum() or c == "_" else "_" for c in stem).strip("_")
    if not cleaned:
        return fallback
    return cleaned if not cleaned[0].isdigit() else f"t_{cleaned}"
