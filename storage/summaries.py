"""Per-format summaries for ``inspect``: a registry the format modules plug into.

A summarizer gets the sniff result and a :class:`Collector`; it fills ``summary``, adds
findings, and raises :class:`KnownError` (or sets ``collector.error``) when the file cannot be
read. Findings added before an error are kept: a broken pickle's dangerous globals still count.
Text, JSON, JSON Lines and binary live here; the other formats in ``summaries_objects`` and
``summaries_db``, which register themselves when this module is imported.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import KnownError, Location, ParseError, UnreadableError
from .sniff import SniffResult
from .sniff_text import detect_bom

JSON_FULL_PARSE_LIMIT = 200 * 1024 * 1024
JSONL_SCAN_LIMIT = 200 * 1024 * 1024
CHUNK = 1024 * 1024
MAX_LINE_FINDINGS = 20
_CONSTANT = re.compile(r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)')


@dataclass
class Collector:
    """What a summarizer found: the summary dict, findings, and a fatal error if any."""

    summary: dict[str, Any]
    findings: list[dict[str, Any]] = field(default_factory=list)
    error: KnownError | None = None
    incomplete: list[str] = field(default_factory=list)  # parts not checked: never "nothing dangerous"

    def add(self, severity: str, message: str, global_name: str | None = None) -> None:
        finding: dict[str, Any] = {"severity": severity, "message": message}
        if global_name:
            finding["global"] = global_name
        self.findings.append(finding)


Summarizer = Callable[[SniffResult, Collector], None]
SUMMARIZERS: dict[str, Summarizer] = {}


def register(*formats: str) -> Callable[[Summarizer], Summarizer]:
    """Decorator: make ``fn`` the summarizer of ``formats``."""
    def wrap(fn: Summarizer) -> Summarizer:
        for fmt in formats:
            SUMMARIZERS[fmt] = fn
        return fn
    return wrap


def chunks(path: str, start: int = 0, limit: int | None = None) -> Iterator[bytes]:
    """The bytes of ``path`` from ``start`` in 1 MiB pieces (at most ``limit`` bytes)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(start)
            left = limit
            while left is None or left > 0:
                block = handle.read(CHUNK if left is None else min(CHUNK, left))
                if not block:
                    return
                if left is not None:
                    left -= len(block)
                yield block
    except OSError as exc:
        raise UnreadableError(f"Cannot read {path}: {exc.strerror or exc}") from exc


# -- text ---------------------------------------------------------------------------------------

def _count_breaks(pieces: Iterator[str] | Iterator[bytes]) -> tuple[dict[str, int], bool]:
    """Counts of LF, CRLF and CR breaks over the pieces, and whether the last piece ended one."""
    lf = crlf = cr = 0
    carry_cr, ends_break, seen = False, True, False
    for piece in pieces:
        if not piece:
            continue
        seen = True
        nl, r = ("\n", "\r") if isinstance(piece, str) else (b"\n", b"\r")
        if carry_cr and piece[:1] == nl:
            crlf, cr, lf = crlf + 1, cr - 1, lf - 1
        pair = piece.count(r + nl)
        crlf += pair
        lf += piece.count(nl) - pair
        cr += piece.count(r) - pair
        carry_cr = piece[-1:] == r
        ends_break = piece[-1:] in (nl, r)
    return {"LF": lf, "CRLF": crlf, "CR": cr}, ends_break or not seen


def _decoded(path: str, encoding: str, skip: int) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    for block in chunks(path, skip):
        yield decoder.decode(block)
    yield decoder.decode(b"", final=True)


def _utf8_error(path: str, skip: int) -> int | None:
    """Byte offset of the first invalid UTF-8 sequence, or None when the whole file is UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = skip
    for block in chunks(path, skip):
        try:
            decoder.decode(block)
        except UnicodeDecodeError as exc:
            return offset + exc.start
        offset += len(block)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return offset
    return None


@register("text")
def summarize_text(result: SniffResult, c: Collector) -> None:
    """Encoding, line endings and line count (counted over the whole file in chunks)."""
    head = next(chunks(result.path, 0, 64 * 1024), b"")
    encoding, bom_len = detect_bom(head)
    c.summary["bom"] = bool(encoding)
    if encoding is None:
        bad = _utf8_error(result.path, 0)
        if bad is None:
            encoding = "utf-8"
        else:
            from charset_normalizer import from_bytes

            best = from_bytes(head).best()
            encoding = best.encoding if best is not None else None
            c.summary["invalid_utf8_at"] = bad
            c.add("info", f"not UTF-8 (first invalid byte at {bad}); "
                  f"{'guessed ' + encoding if encoding else 'encoding unknown'}")
    c.summary["encoding"] = encoding  # a Python codec name (the preview decodes with it), or None
    ascii_compatible = encoding is None or not encoding.replace("_", "-").startswith(("utf-16", "utf-32"))
    pieces = chunks(result.path, bom_len) if ascii_compatible else _decoded(result.path, encoding, bom_len)
    counts, ends_break = _count_breaks(pieces)
    kinds = [kind for kind, n in counts.items() if n]
    c.summary["line_endings"] = {"kind": kinds[0] if len(kinds) == 1 else ("mixed" if kinds else "none"),
                                 **counts}
    breaks = sum(counts.values())
    c.summary["lines"] = breaks + (0 if ends_break or result.size <= bom_len else 1)
    if len(kinds) > 1:
        c.add("info", "mixed line endings: " + ", ".join(f"{counts[k]:,} {k}" for k in kinds))


# -- JSON ---------------------------------------------------------------------------------------

class _Constant(ValueError):
    """NaN or Infinity: Python accepts them, JSON does not."""


def _reject_constant(name: str) -> Any:
    raise _Constant(name)


class _TooLarge(ValueError):
    """A number like 1e99999: valid syntax, but Python would read it as Infinity."""


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _TooLarge(text)
    return value


def _json_text(data: bytes) -> tuple[str, str, int]:
    """(text, encoding, BOM length); invalid UTF-8 is a ParseError with its byte offset."""
    encoding, bom_len = detect_bom(data)
    try:
        return data[bom_len:].decode(encoding or "utf-8"), encoding or "utf-8", bom_len
    except UnicodeDecodeError as exc:
        raise ParseError(f"not valid {(encoding or 'utf-8').upper()}: {exc.reason}",
                         Location(offset=bom_len + exc.start)) from None


def _location(text: str, pos: int, encoding: str, bom_len: int) -> Location:
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    offset = bom_len + len(text[:pos].encode(encoding, "surrogatepass"))
    return Location(line=line, column=column, offset=offset)


def parse_json(text: str, encoding: str = "utf-8", bom_len: int = 0) -> tuple[Any, list[str]]:
    """Strict JSON (no NaN/Infinity) and the duplicate keys found; errors carry a location."""
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict:
        out = dict(items)
        if len(out) != len(items) and len(duplicates) < 20:
            seen: set[str] = set()
            duplicates.extend(k for k, _ in items if k in seen or seen.add(k))
        return out

    try:
        return json.loads(text, object_pairs_hook=pairs, parse_constant=_reject_constant,
                          parse_float=_finite_float), duplicates
    except json.JSONDecodeError as exc:
        message = exc.msg
        if message == "Extra data" and exc.lineno > 1:
            message += " (one JSON value per line? that is JSON Lines, .jsonl)"
        raise ParseError(message, _location(text, exc.pos, encoding, bom_len)) from None
    except _Constant as exc:
        match = next((m for m in _CONSTANT.finditer(text) if m.group(1)), None)
        where = _location(text, match.start(1), encoding, bom_len) if match else Location()
        raise ParseError(f"{exc} is not allowed in JSON", where) from None
    except _TooLarge as exc:
        match = re.search(r"(?<![\w.+-])" + re.escape(str(exc)) + r"(?![\w.])", text)
        where = _location(text, match.start(), encoding, bom_len) if match else Location()
        raise ParseError(f"the number {str(exc)[:40]} is too large for a 64-bit float (it would "
                         "become Infinity)", where) from None
    except RecursionError:
        raise ParseError("nesting too deep: more levels of arrays/objects than can be followed") from None
    except ValueError as exc:  # e.g. an integer longer than Python's int_max_str_digits
        raise ParseError(f"a value cannot be read: {exc}") from None


def json_type(value: Any) -> str:
    """The JSON name of a parsed value's type (shared with the JSON tab)."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    return "null" if value is None else "number"


def json_shape(value: Any) -> dict[str, Any]:
    """Counts of values by type and the maximum depth, walked without recursion."""
    counts: dict[str, int] = {}
    max_depth = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        kind = json_type(item)
        counts[kind] = counts.get(kind, 0) + 1
        max_depth = max(max_depth, depth)
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return {"counts": counts, "max_depth": max_depth}


@register("json")
def summarize_json(result: SniffResult, c: Collector) -> None:
    """Parse strictly; top-level type, value counts, depth and duplicate keys."""
    if result.size > JSON_FULL_PARSE_LIMIT:
        c.summary["parsed"] = False
        c.add("info", f"larger than {JSON_FULL_PARSE_LIMIT // 2**20} MB: not parsed in full")
        return
    text, encoding, bom_len = _json_text(b"".join(chunks(result.path)))
    c.summary["encoding"] = encoding
    value, duplicates = parse_json(text, encoding, bom_len)
    c.summary["parsed"] = True
    c.summary["top_level"] = json_type(value)
    if isinstance(value, dict | list):
        c.summary["top_level_length"] = len(value)
    c.summary.update(json_shape(value))
    c.summary["duplicate_keys"] = duplicates
    if duplicates:
        keys = ", ".join(map(repr, duplicates))
        c.add("suspicious", f"duplicate keys (the last one wins when loaded): {keys}")


class _Lines:
    """Parses JSON Lines one line at a time, remembering the bad ones."""

    def __init__(self) -> None:
        self.records = self.number = 0
        self.bad: list[tuple[int, str]] = []
        self.first_error: ParseError | None = None

    def feed(self, text: str) -> None:
        self.number += 1
        text = text.rstrip("\r")
        if not text.strip():
            return
        try:
            parse_json(text)
            self.records += 1
        except ParseError as exc:
            column = exc.location.column
            self.bad.append((self.number, exc.message + (f" at column {column}" if column else "")))
            if self.first_error is None:
                self.first_error = ParseError(f"no line is valid JSON; line {self.number}: {exc.message}",
                                              Location(line=self.number, column=column))


@register("jsonl")
def summarize_jsonl(result: SniffResult, c: Collector) -> None:
    """Parse each line on its own; count records and report malformed lines."""
    lines, decoder, encoding, pending, scanned = _Lines(), None, "utf-8", "", 0
    for block in chunks(result.path, 0, JSONL_SCAN_LIMIT):
        if decoder is None:
            found, bom_len = detect_bom(block)
            encoding, block = found or "utf-8", block[bom_len:]
            decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        scanned += len(block)
        parts = (pending + decoder.decode(block)).split("\n")
        pending = parts.pop()
        for text in parts:
            lines.feed(text)
    if decoder is not None:
        pending += decoder.decode(b"", final=True)
    if pending:
        lines.feed(pending)
    c.summary.update(encoding=encoding, records=lines.records, lines=lines.number,
                     malformed_lines=[n for n, _ in lines.bad[:MAX_LINE_FINDINGS]],
                     malformed_count=len(lines.bad))
    if scanned >= JSONL_SCAN_LIMIT:
        c.summary["capped"] = f"only the first {JSONL_SCAN_LIMIT // 2**20} MB were read"
    for number, message in lines.bad[:MAX_LINE_FINDINGS]:
        c.add("suspicious", f"line {number}: {message}")
    if lines.bad and not lines.records:
        c.error = lines.first_error


# -- binary -------------------------------------------------------------------------------------

@register("binary", "unknown")
def summarize_binary(result: SniffResult, c: Collector) -> None:
    """The first bytes as hex; containers (zip, 7z) have their pickles scanned."""
    head = next(chunks(result.path, 0, 16), b"")
    c.summary["magic"] = head.hex(" ")
    if result.detail.get("compression"):
        c.summary["compression"] = result.detail["compression"]
    container = result.detail.get("container")
    if container:
        from .summaries_objects import scan_container

        scan_container(result, c, container)


from . import summaries_db, summaries_objects  # noqa: E402, F401  (they register their formats)
