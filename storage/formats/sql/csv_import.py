"""Reading CSV files for import: a preview of the first rows, and the rows streamed for the import.

The preview reads only the first :data:`SAMPLE_BYTES`: the encoding (BOM, UTF-8, else
charset-normalizer's guess), the dialect (``csv.Sniffer``) and whether the first row is a header
are detected there, and each can be overridden through :class:`CsvOptions`. The import then reads
the whole file as a stream with the same settings, so a large file is never held in memory.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

from storage.core.errors import KnownError, Location, ParseError

SAMPLE_BYTES = 64 * 1024
GUESS_ROWS = 1000
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1")
DELIMITERS = {",": "Comma", ";": "Semicolon", "\t": "Tab", "|": "Pipe", " ": "Space"}


@dataclass(frozen=True)
class CsvOptions:
    """Choices for reading a CSV file; None means detect it."""

    encoding: str | None = None
    delimiter: str | None = None
    header: bool | None = None


@dataclass
class CsvPreview:
    """The first rows of a CSV file, the settings they were read with and guessed column types."""

    options: CsvOptions  # every choice resolved: nothing None
    header: list[str]
    rows: list[list[str]]
    types: list[str]
    header_detected: bool = False
    notes: list[str] = field(default_factory=list)


def _read_sample(path: str) -> tuple[bytes, int]:
    try:
        with open(path, "rb") as handle:
            return handle.read(SAMPLE_BYTES), os.fstat(handle.fileno()).st_size
    except OSError as exc:
        raise KnownError(f"Cannot read {path}: {exc.strerror or exc}") from None


def detect_encoding(sample: bytes) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from storage.sniff.text import guess_legacy_encoding

    return guess_legacy_encoding(sample)[0] or "cp1252"  # the text editor's rule


def _decode(sample: bytes, encoding: str, whole: bool, path: str) -> str:
    try:
        text = codecs.getincrementaldecoder(encoding)().decode(sample, final=whole)
    except UnicodeDecodeError as exc:
        raise ParseError(f"{os.path.basename(path)} is not {encoding} text (byte {exc.start:,}); "
                         "choose another encoding", Location(offset=exc.start)) from None
    except LookupError:
        raise KnownError(f"Unknown encoding {encoding!r}") from None
    if not whole and "\n" in text:
        text = text[:text.rfind("\n") + 1]  # the sample may end inside a row
    return text


def dialect_for(text: str, delimiter: str | None) -> type[csv.Dialect]:
    """The sniffed dialect, or Excel's with ``delimiter`` when one was chosen."""
    if delimiter is None:
        try:
            return csv.Sniffer().sniff(text[:SAMPLE_BYTES], delimiters=",;\t| ")  # type: ignore[return-value]
        except csv.Error:
            delimiter = ","

    class Chosen(csv.excel):
        pass

    Chosen.delimiter = delimiter
    return Chosen


def guess_type(values: list[str]) -> str:
    filled = [v.strip() for v in values if v.strip() != ""]
    if filled and all(re.fullmatch(r"[+-]?\d{1,18}", v) for v in filled):
        return "INTEGER"
    if filled and all(re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", v) for v in filled):
        return "REAL"
    return "TEXT"


def column_names(first: list[str] | None, width: int) -> list[str]:
    """Header names (blank ones become c1, c2, …; repeats get a suffix), or c1..cn without one."""
    names = [h.strip() or f"c{i + 1}" for i, h in enumerate(first)] if first else []
    names += [f"c{i + 1}" for i in range(len(names), width)]
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            names[i] = f"{name}_{seen[name]}"
    return names


def preview_csv(path: str, options: CsvOptions = CsvOptions(), limit: int = 100) -> CsvPreview:
    """Parse the start of ``path`` with ``options`` (detecting what is None)."""
    sample, size = _read_sample(path)
    encoding = options.encoding or detect_encoding(sample)
    text = _decode(sample, encoding, len(sample) >= size, path)
    if not text.strip():
        raise ParseError(f"{os.path.basename(path)} holds no rows")
    dialect = dialect_for(text, options.delimiter)
    try:
        detected = csv.Sniffer().has_header(text[:SAMPLE_BYTES])
    except csv.Error:
        detected = True
    has_header = detected if options.header is None else options.header
    try:
        rows = [r for r in csv.reader(io.StringIO(text, newline=""), dialect) if r]
    except csv.Error as exc:
        raise ParseError(f"{os.path.basename(path)}: {exc}") from None
    first = rows[0] if has_header and rows else None
    data = rows[1:] if has_header else rows
    width = max((len(r) for r in rows), default=0)
    types = [guess_type([r[i] if i < len(r) else "" for r in data[:GUESS_ROWS]]) for i in range(width)]
    resolved = replace(options, encoding=encoding, delimiter=dialect.delimiter, header=has_header)
    notes = [] if len(sample) >= size else [f"types guessed from the first {len(data):,} rows"]
    return CsvPreview(resolved, column_names(first, width), data[:limit], types, detected, notes)


def stream_rows(path: str, options: CsvOptions) -> tuple[Iterator[list[str]], Callable[[], int], int,
                                                        Callable[[], None]]:
    """The file's rows (header skipped) read lazily, the bytes read so far, the size, and close."""
    assert options.encoding is not None and options.delimiter is not None
    try:
        raw = open(path, "rb")  # noqa: SIM115 - the caller closes it through the returned close
    except OSError as exc:
        raise KnownError(f"Cannot read {path}: {exc.strerror or exc}") from None
    size = os.fstat(raw.fileno()).st_size
    text = io.TextIOWrapper(raw, encoding=options.encoding, newline="")
    reader = csv.reader(text, dialect_for("", options.delimiter))

    def rows() -> Iterator[list[str]]:
        try:
            first = True
            for row in reader:
                if first and options.header:
                    first = False
                    continue
                first = False
                if row:
                    yield row
        except UnicodeDecodeError as exc:
            raise ParseError(f"{os.path.basename(path)} is not {options.encoding} text near line "
                             f"{reader.line_num:,}: {exc.reason}", Location(line=reader.line_num)) from None
        except csv.Error as exc:
            raise ParseError(f"{os.path.basename(path)}, line {reader.line_num:,}: {exc}",
                             Location(line=reader.line_num)) from None

    return rows(), raw.tell, size, text.close
