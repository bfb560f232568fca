"""Sniff tests for tables (named in ``storage.formats.registry``): Parquet, Arrow IPC / Feather, CSV.

Parquet and Arrow's file format have magic bytes. An Arrow IPC *stream* has none: it starts with its
schema message, which :func:`stream_schema_message` recognises by walking the message's flatbuffer
(root table, vtable, header type Schema, offsets in bounds), so random bytes do not pass for one.

Delimited text has no magic at all: :func:`sniff_delimited` parses the head with the ``csv``
module for each candidate delimiter and claims the file only when two or more records have the
same number (two or more) of fields, quotes and all, so prose, code, JSON and JSON Lines stay
with the text and JSON tests that run after it.
"""

from __future__ import annotations

import codecs
import csv
import io
import struct
from collections import Counter
from typing import TYPE_CHECKING

from storage.sniff.text import detect_bom

if TYPE_CHECKING:
    from storage.sniff.detect import Probe, SniffResult

PARQUET_MAGIC = b"PAR1"
ARROW_MAGIC = b"ARROW1"
FEATHER_V1_MAGIC = b"FEA1"
STREAM_CONTINUATION = b"\xff\xff\xff\xff"
_MESSAGE_SCHEMA = 1  # org.apache.arrow.flatbuf.MessageHeader.Schema
_METADATA_VERSIONS = range(0, 5)  # MetadataVersion V1 .. V5
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
    found = stream_schema_message(probe.head, probe.size)
    if found is None:
        return None
    prefix, length, cut = found
    legacy = prefix == 4
    why = ("starts with an Arrow IPC stream's schema message"
           + (" (the pre-0.15 layout, without the 0xFFFFFFFF continuation marker)" if legacy
              else " (continuation marker 0xFFFFFFFF, then its length)"))
    if cut:
        why += f", but the file ends inside that {length:,}-byte message (truncated)"
    return probe.result("arrow", why, probe.head[:prefix], flavour="arrow-stream", legacy=legacy, damaged=cut)


def stream_schema_message(head: bytes, size: int) -> tuple[int, int, bool] | None:
    """(prefix bytes, metadata length, cut short) when ``head`` starts an Arrow IPC stream, else None.

    A stream's first message is its Schema: ``0xFFFFFFFF``, an int32 length, then that many bytes
    of a flatbuffer ``Message`` padded to 8 bytes (before Arrow 0.15 the marker was absent). The
    flatbuffer's root table, its vtable, the header type (Schema), the metadata version and the
    header's offset are checked; a file that ends inside the message is "cut short" when at least
    the root table and its vtable are there, and not a stream when even those are missing.
    """
    if head.startswith(STREAM_CONTINUATION):
        prefix = 8
    elif len(head) >= 4 and head[3] == 0:  # a legacy stream: a small positive int32 length first
        prefix = 4
    else:
        return None
    if len(head) < prefix:
        return None
    (length,) = struct.unpack_from("<i", head, prefix - 4)
    if length < 16 or (prefix + length) % 8:  # the writer pads the message to 8 bytes
        return None
    if prefix + length > size and prefix == 4:
        return None  # a legacy stream is told by its message alone: a cut one is too weak a sign
    message = head[prefix:prefix + length]
    if not _schema_message(message, length):
        return None
    return prefix, length, prefix + length > size


def _schema_message(buf: bytes, length: int) -> bool:
    """Whether ``buf`` (the first bytes of a ``length``-byte flatbuffer) is a Schema ``Message``."""
    table = _table(buf, length, _u32(buf, 0))
    if table is None:
        return False
    at, fields = table
    if not fields:  # the message table is not within the head: too little to tell
        return False
    fields = [*fields, 0, 0, 0, 0][:4]
    version_at, type_at, header_at, body_at = fields
    if not type_at or not header_at:  # header type NONE or no header: not a schema message
        return False
    if not _fits(buf, at, ((version_at, 2), (type_at, 1), (header_at, 4), (body_at, 8))):
        return False
    version = struct.unpack_from("<h", buf, at + version_at)[0] if version_at else 0
    if version not in _METADATA_VERSIONS or buf[at + type_at] != _MESSAGE_SCHEMA:
        return False
    if body_at and struct.unpack_from("<q", buf, at + body_at)[0] != 0:
        return False  # a schema message has no body
    schema_at = at + header_at + _u32(buf, at + header_at)
    if schema_at + 4 > length:
        return False
    if schema_at + 4 > len(buf):
        return True  # a wide schema beyond the sniffed head: the message table itself was sound
    schema = _table(buf, length, schema_at)
    if schema is None:
        return False
    at, fields = schema
    endianness_at, fields_at = [*fields, 0, 0][:2]
    if not _fits(buf, at, ((endianness_at, 2), (fields_at, 4))):
        return False
    if endianness_at and struct.unpack_from("<h", buf, at + endianness_at)[0] not in (0, 1):
        return False  # Schema.endianness: Little or Big
    return not fields_at or at + fields_at + _u32(buf, at + fields_at) + 4 <= length  # the fields vector


def _fits(buf: bytes, at: int, fields: tuple[tuple[int, int], ...]) -> bool:
    """Whether each present (offset, size) field of the table at ``at`` lies within ``buf``."""
    return all(not offset or at + offset + size <= len(buf) for offset, size in fields)


def _u32(buf: bytes, at: int) -> int:
    return struct.unpack_from("<I", buf, at)[0] if 0 <= at <= len(buf) - 4 else -1


def _table(buf: bytes, length: int, at: int) -> tuple[int, list[int]] | None:
    """(table offset, field offsets) of the flatbuffer table at ``at`` in the ``length`` bytes of
    the message, of which ``buf`` holds the first; None when it is not a sound table, and
    (``at``, ``[]``) when its vtable lies beyond ``buf`` (sound as far as can be seen)."""
    if at < 4 or at % 4 or at + 4 > min(len(buf), length):
        return None
    vtable = at - struct.unpack_from("<i", buf, at)[0]
    if vtable < 0 or vtable % 2 or vtable + 4 > length:
        return None
    if vtable + 4 > len(buf):
        return at, []
    vtable_size, table_size = struct.unpack_from("<HH", buf, vtable)
    if vtable_size < 4 or vtable_size % 2 or vtable + vtable_size > length or table_size < 4 \
            or at + table_size > length:
        return None
    if vtable + vtable_size > len(buf) or at + table_size > len(buf):
        return at, []
    fields = list(struct.unpack_from(f"<{(vtable_size - 4) // 2}H", buf, vtable + 4))
    if any(offset and not 4 <= offset < table_size for offset in fields):
        return None
    return at, fields


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
