"""How a delimited text file is written: delimiter, quote, header, encoding (detected, overridable).

:func:`detect_dialect` reads a bounded sample (never the whole file): the delimiter from the
``csv`` module's parse of it (:mod:`storage.formats.table.sniff`), the encoding from a byte-order
mark, a strict UTF-8 decode, or charset-normalizer, and the header from DuckDB's ``sniff_csv``.
The GUI edits a :class:`CsvDialect` and opens the file again with it.
"""

from __future__ import annotations

import codecs
import os
from dataclasses import dataclass, replace

from storage.formats.table.sniff import DELIMITERS, decode_head, guess_delimiter
from storage.sniff.text import detect_bom

SAMPLE_BYTES = 256 * 1024
# The encodings DuckDB's CSV reader decodes itself; the others are transcoded to UTF-8 first.
DUCKDB_ENCODINGS = {"utf-8": "utf-8", "utf_8": "utf-8", "ascii": "utf-8", "utf-16": "utf-16",
                    "utf_16": "utf-16", "utf-16-le": "utf-16", "utf-16-be": "utf-16",
                    "latin-1": "latin-1", "latin_1": "latin-1", "iso-8859-1": "latin-1",
                    "iso8859-1": "latin-1"}
ENCODINGS = ("utf-8", "utf-16", "latin-1", "cp1252", "cp1250", "cp1251", "iso-8859-15", "shift_jis",
             "gb18030", "big5", "euc-kr", "mac-roman")


@dataclass(frozen=True)
class CsvDialect:
    """What the reader is told about a delimited file. ``quote`` "" means no quoting."""

    delimiter: str = ","
    quote: str = '"'
    header: bool = True
    encoding: str = "utf-8"
    bom: bool = False

    def with_changes(self, **changes: object) -> CsvDialect:
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def native_encoding(self) -> str | None:
        """DuckDB's name for the encoding, or None when the file must be transcoded first."""
        return DUCKDB_ENCODINGS.get(codecs.lookup(self.encoding).name.replace("_", "-"),
                                    DUCKDB_ENCODINGS.get(self.encoding.lower()))

    def describe(self) -> str:
        names = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}
        quote = f"quote {self.quote}" if self.quote else "no quoting"
        return (f"{names.get(self.delimiter, repr(self.delimiter))}-separated, {quote}, "
                f"{'a header row' if self.header else 'no header row'}, {self.encoding}"
                + (" with BOM" if self.bom else ""))


def read_sample(path: str, size: int = SAMPLE_BYTES) -> tuple[bytes, bool]:
    """The first ``size`` bytes and whether that is the whole file."""
    with open(path, "rb") as handle:
        head = handle.read(size)
        return head, len(head) < size or os.fstat(handle.fileno()).st_size <= size


def detect_encoding(head: bytes, complete: bool) -> tuple[str, bool]:
    """(a Python codec name, whether a BOM announced it) for the sample ``head``."""
    encoding, _ = detect_bom(head)
    if encoding:
        return ("utf-16" if encoding.startswith("utf-16") else encoding), True
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=complete)
        return "utf-8", False
    except UnicodeDecodeError:
        pass
    return guess_legacy(head[:65536]), False


WESTERN = ("cp1252", "latin_1", "iso8859_15")


def guess_legacy(sample: bytes) -> str:
    """A legacy 8-bit or CJK encoding for ``sample``: charset-normalizer's answer when it is sure of a
    language, else Windows-1252 (what spreadsheets write) when that decodes, else Latin-1."""
    from charset_normalizer import from_bytes

    matches = from_bytes(sample)
    names = [m.encoding for m in matches]
    for name in WESTERN:
        if name in names:
            return codecs.lookup(name).name
    best = matches.best()
    if best is not None and best.language not in ("Unknown", "") and len(sample) >= 512:
        return codecs.lookup(best.encoding).name
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return codecs.lookup(best.encoding).name if best is not None else "latin-1"


def detect_dialect(path: str) -> CsvDialect:
    """The dialect of the delimited file ``path`` from a bounded sample (a default when unsure)."""
    head, complete = read_sample(path)
    encoding, bom = detect_encoding(head, complete)
    if encoding.startswith("utf-16"):
        text = head.decode("utf-16", errors="replace")
    else:
        decoded = decode_head(head, complete)
        text = decoded[0] if decoded else ""
        if encoding != "utf-8" and not bom:
            text = head.decode(encoding, errors="replace")
    best = guess_delimiter(text, complete)
    delimiter = best[0] if best else max(DELIMITERS, key=lambda d: text[:4096].count(d))
    quote = '"' if '"' in text or "'" not in text else "'"
    return CsvDialect(delimiter, quote, has_header(text, delimiter, complete), encoding, bom)


def has_header(text: str, delimiter: str, complete: bool) -> bool:
    """True when the first record reads as names: no field of it is a number while the same
    field below is, or all its fields are distinct non-empty words (the csv module's idea)."""
    from storage.formats.table.sniff import records

    rows = records(text, delimiter, complete, 20)
    if len(rows) < 2:
        return True
    first, rest = rows[0], rows[1:]

    def numeric(value: str) -> bool:
        try:
            float(value.replace(",", "."))
            return True
        except ValueError:
            return False

    if any(numeric(v) for v in first if v.strip()):
        return False
    numeric_below = [i for i in range(len(first)) if any(i < len(r) and numeric(r[i]) for r in rest)]
    if numeric_below:
        return True
    return len(set(first)) == len(first) and all(v.strip() for v in first)
