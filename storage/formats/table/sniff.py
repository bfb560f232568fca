"""Sniff tests for tables (named in ``storage.formats.registry``): Parquet, Arrow IPC / Feather, CSV.

Parquet and Arrow have magic bytes. Delimited text has none: :func:`sniff_delimited` parses the
head with the ``csv`` module for each candidate delimiter and claims the file only when two or
more records have the same number (two or more) of fields, quotes and all, so prose, code, JSON
and JSON Lines stay with the text and JSON tests that run after it.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections import Counter
from typing import TYPE_CHECKING

from storage.sniff.text import detect_bom

if TYPE_CHECKING:
    from storage.sniff.detect import Probe, SniffResult

PARQUET_MAGIC = b"PAR1"
ARROW_MAGIC = b"ARROW1"
FEATHER_V1_MAGIC = b"FEA1"
DELIMITERS = (",", "\t", ";", "|")
DELIMITER_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}
TABLE_EXTS = (".csv", ".tsv", ".tab", ".psv")
# Text formats of their own: a comma in every line of them is not a table.
NOT_TABLE_EXTS = (".py", ".md", ".rst", ".ini", ".cfg", ".toml", ".yaml", ".yml", ".xml", ".html", ".log",
                  ".json", ".geojson", ".jsonl", ".ndjson", ".js", ".c", ".h", ".sql", ".sh", ".pkl",
                  ".pickle", ".joblib")
SAMPLE_RECORDS = 50
_CONTROL = bytes(b for b in range(32) if b not in b"\t\n\r\f") + b"\x7f"


def sniff_parquet(probe: Probe) -> SniffResult | None:
    if not probe.head.startswith(PARQUET_MAGIC):
        return None
    if probe.size >= 12 and probe.tail.endswith(PARQUET_MAGIC):
        return probe.result("parquet", "starts and ends with the Parquet magic 'PAR1'", PARQUET_MAGIC)
    return probe.result("parquet", "starts with the Parquet magic 'PAR1' but does not end with it "
                        "(its footer is missing: a truncated file)", PARQUET_MAGIC, damaged=True)


def sniff_arrow(probe: Probe) -> SniffResult | None:
    if probe.head.startswith(ARROW_MAGIC):
        whole = probe.tail.endswith(ARROW_MAGIC)
        why = "starts with the Arrow IPC file magic 'ARROW1'"
        return probe.result("arrow", why + ("" if whole else " but does not end with it (truncated)"),
                            ARROW_MAGIC, flavour="arrow-ipc", damaged=not whole)
    if probe.head.startswith(FEATHER_V1_MAGIC):
        return probe.result("arrow", "starts with the Feather v1 magic 'FEA1'", FEATHER_V1_MAGIC,
                            flavour="feather-v1")
    return None


def decode_head(head: bytes, complete: bool) -> tuple[str, str] | None:
    """(text, encoding) of a head of text, or None when it does not look like text at all."""
    encoding, bom_len = detect_bom(head)
    body = head[bom_len:]
    if encoding is None:
        if b"\x00" in body:
            return None
        try:
            return codecs.getincrementaldecoder("utf-8")().decode(body, final=complete), "utf-8"
        except UnicodeDecodeError:
            control = len(body) - len(body.translate(None, _CONTROL))
            if control * 50 > len(body):
                return None
            return body.decode("latin-1"), "8-bit"
    return codecs.getincrementaldecoder(encoding)(errors="replace").decode(body, final=complete), encoding


def records(text: str, delimiter: str, complete: bool, limit: int = SAMPLE_RECORDS) -> list[list[str]]:
    """The first ``limit`` records of ``text`` split by ``delimiter`` (quoted newlines kept); an
    incomplete last record (the head cut the file) is dropped."""
    if not complete:
        cut = max(text.rfind("\n"), text.rfind("\r"))
        text = text[:cut + 1] if cut >= 0 else ""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', strict=False)
    found: list[list[str]] = []
    try:
        for row in reader:
            if row:
                found.append(row)
            if len(found) >= limit:
                break
    except csv.Error:  # a field beyond the csv module's limit: not a table we can judge
        return []
    return found


def score(rows: list[list[str]], share: float = 0.8) -> tuple[int, int]:
    """(records with the most common field count, that count): (0, 0) unless at least ``share``
    of the records agree."""
    if len(rows) < 2:
        return 0, 0
    counts = Counter(len(row) for row in rows)
    width, agree = counts.most_common(1)[0]
    if width < 2 or agree < len(rows) * share:
        return 0, 0
    if all(not row[0].strip() for row in rows if len(row) == width):
        return 0, 0  # every record starts with the delimiter: indentation, not a table
    return agree, width


def guess_delimiter(text: str, complete: bool, share: float = 0.8) -> tuple[str, int, int] | None:
    """(delimiter, records agreeing, fields) of the best candidate, or None."""
    best: tuple[str, int, int] | None = None
    for delimiter in DELIMITERS:
        if delimiter not in text:
            continue
        agree, width = score(records(text, delimiter, complete), share)
        if agree and (best is None or (agree, width) > (best[1], best[2])):
            best = (delimiter, agree, width)
    return best


def looks_like_prose(text: str, delimiter: str, complete: bool) -> bool:
    """Commas in sentences ("one, two") rather than fields: most fields after the first start with
    a space, or the fields are long."""
    rows = records(text, delimiter, complete, 20)
    later = [field for row in rows for field in row[1:]]
    if not later:
        return True
    spaced = sum(1 for field in later if field[:1] == " ")
    mean = sum(len(field) for row in rows for field in row) / max(1, sum(len(row) for row in rows))
    return spaced * 2 > len(later) or mean > 60


def sniff_delimited(probe: Probe) -> SniffResult | None:
    if probe.ext in NOT_TABLE_EXTS:
        return None
    complete = len(probe.head) >= probe.size
    decoded = decode_head(probe.head, complete)
    if decoded is None:
        return None
    text, encoding = decoded
    lead = text.lstrip(" \t\r\n\ufeff")[:1]
    if lead in ("{", "[", ""):
        return None  # JSON or JSON Lines (one object per line is JSONL, whatever its commas)
    # A .csv may be ragged (rows short of fields): half the records agreeing is enough there.
    best = guess_delimiter(text, complete, 0.5 if probe.ext in TABLE_EXTS else 0.8)
    if best is None:
        return None
    delimiter, agree, width = best
    if probe.ext not in TABLE_EXTS and (agree < 3 or looks_like_prose(text, delimiter, complete)):
        return None
    name = DELIMITER_NAMES[delimiter]
    return probe.result("csv", f"text whose first {agree} records each have {width} {name}-separated "
                        "fields", delimiter=delimiter, fields=width, encoding=encoding)
