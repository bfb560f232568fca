"""Reading and writing JSON documents for the JSON tab, without Qt.

Parsing uses msgspec: it is strict (no NaN/Infinity, no trailing commas), keeps integers of any
size exact, keeps key order and is two to three times faster than the standard library's scanner
with an ``object_pairs_hook``. It cannot report duplicate keys, so that check is a second pass
(:func:`find_duplicate_keys`, the standard scanner with a pairs hook) that the GUI runs after the
tree is shown. When msgspec rejects a document, the standard scanner parses it again to give the
error a line, a column and a message people know; a few documents only the standard library
accepts (lone surrogates in strings) open through it. The garbage collector is paused during a
parse: a parse allocates millions of containers and cannot make cycles.

Writing goes through :mod:`storage.core.atomic`; NaN and Infinity are refused with a message.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass, field
from typing import Any

import msgspec

from storage.core.atomic import atomic_write
from storage.core.errors import KnownError, Location, ParseError, WriteError
from storage.core.gc_pause import gc_paused
from storage.formats.json.parse import decode_error, parse_json
from storage.sniff.text import detect_bom

MAX_DEPTH = 900  # msgspec and the standard scanner both stop near Python's recursion limit
_DECODER = msgspec.json.Decoder()


@dataclass
class JsonFormat:
    """How a file was written, so a save writes it the same way."""

    indent: int | str | None = 2  # spaces, "\t", or None for one line
    compact: bool = False  # one line without spaces after ',' and ':'
    trailing_newline: bool = True
    encoding: str = "utf-8"
    bom: bool = False


@dataclass
class JsonLoad:
    value: Any
    fmt: JsonFormat
    size: int


@dataclass
class JsonlLoad:
    """JSON Lines: the records, and the malformed lines kept verbatim to write back."""

    records: list[Any]
    fmt: JsonFormat
    size: int
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line number, message)
    raw_bad: dict[int, list[str]] = field(default_factory=dict)  # records before them -> lines


class JsonParseError(ParseError):
    """A located parse error with a snippet, and the text so the editor can show it."""

    def __init__(self, message: str, location: Location, snippet: str = "", text: str = "") -> None:
        super().__init__(message, location)
        self.snippet = snippet
        self.text = text


FREEZE_ABOVE = 8 * 1024 * 1024




def decode_bytes(data: bytes) -> tuple[str, str, int]:
    """(text, encoding, BOM length): UTF-8 with or without BOM, UTF-16/32 with BOM."""
    encoding, bom_len = detect_bom(data)
    encoding = encoding or "utf-8"
    try:
        return data[bom_len:].decode(encoding), encoding, bom_len
    except UnicodeDecodeError as exc:
        error = decode_error(data, bom_len, encoding, exc)
        text = data[bom_len:].decode(encoding, errors="replace")
        line, column = error.location.line or 1, error.location.column
        lines = text.split("\n")
        snippet = _snippet(lines[line - 1] if 0 < line <= len(lines) else "", column)
        raise JsonParseError(error.message, error.location, snippet, text) from None


def _snippet(line_text: str, column: int | None) -> str:
    """The line around ``column`` with a caret under it."""
    if column is None:
        return line_text[:120]
    start = max(0, column - 40)
    piece = line_text[start:start + 80]
    return piece + "\n" + " " * (column - 1 - start) + "^"


def _depth_error_position(text: str) -> int:
    """Where nesting first exceeds MAX_DEPTH, ignoring brackets inside strings."""
    depth = 0
    for match in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[{]|[\]}]', text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return match.start()
        elif token in "]}":
            depth -= 1
    return 0


def _located(text: str, exc: KnownError) -> JsonParseError:
    loc = exc.location
    line_text = ""
    if loc.line is not None:
        start = 0
        for _ in range(loc.line - 1):
            start = text.find("\n", start) + 1
        end = text.find("\n", start)
        line_text = text[start:end if end >= 0 else len(text)]
    return JsonParseError(exc.message, loc, _snippet(line_text, loc.column), text)


def parse_text(text: str, encoding: str = "utf-8", bom_len: int = 0) -> Any:
    """Parse a whole document strictly; errors are :class:`JsonParseError` with a location."""
    if not text.strip():
        raise JsonParseError("the file is empty: a JSON document needs one value",
                             Location(line=1, column=1), "", text)
    try:
        with gc_paused():
            return _DECODER.decode(text)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        reason = str(exc)
    if "recursion" in reason or "depth" in reason:
        return _raise_depth(text, encoding, bom_len)
    try:
        with gc_paused():
            value, _dups = parse_json(text, encoding, bom_len)
    except ParseError as exc:
        if "nesting too deep" in exc.message:
            return _raise_depth(text, encoding, bom_len)
        raise _located(text, exc) from None
    return value  # accepted by the standard library only: lone surrogates in strings


def _raise_depth(text: str, _encoding: str, bom_len: int) -> Any:
    pos = _depth_error_position(text)
    raise _located(text, ParseError(f"nesting too deep: more than {MAX_DEPTH} levels of arrays and "
                                    "objects", _pos_location(text, pos, bom_len))) from None


def _pos_location(text: str, pos: int, bom_len: int) -> Location:
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return Location(line=line, column=column, offset=bom_len + pos)


def detect_format(text: str, encoding: str, bom_len: int) -> JsonFormat:
    """Indent, compactness and trailing newline, from the first 64 KiB of the text."""
    head = text[:65536]
    fmt = JsonFormat(encoding=encoding, bom=bom_len > 0, trailing_newline=text.endswith("\n"))
    match = re.search(r"[\[{]\r?\n([ \t]+)\S", head)
    if match:
        ws = match.group(1)
        fmt.indent = "\t" if ws.startswith("\t") else len(ws)
    elif "\n" not in text.strip():
        fmt.indent = None
        fmt.compact = bool(re.search(r'":\S|,\S', head)) or not re.search(r'": |, ', head)
    return fmt


def read_json(path: str, data: bytes | None = None) -> JsonLoad:
    """Read and parse a JSON file (``data`` when the bytes were already read)."""
    if data is None:
        data = _read(path)
    encoding, bom_len = detect_bom(data)
    if encoding in (None, "utf-8", "utf-8-sig") and data[bom_len:].strip():
        try:  # the fast path: msgspec reads UTF-8 bytes directly, no decoded copy
            with gc_paused(freeze=len(data) > FREEZE_ABOVE):
                value = _DECODER.decode(memoryview(data)[bom_len:])
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError, UnicodeDecodeError):
            pass
        else:
            head = data[bom_len:bom_len + 65536].decode("utf-8", "ignore")
            fmt = detect_format(head, "utf-8", bom_len)
            fmt.trailing_newline = data.endswith(b"\n")
            if fmt.indent is None and b"\n" in data.strip():
                fmt.indent = 2
            return JsonLoad(value, fmt, len(data))
    text, encoding, bom_len = decode_bytes(data)
    value = parse_text(text, encoding, bom_len)
    return JsonLoad(value, detect_format(text, encoding, bom_len), len(data))


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise KnownError(f"Cannot read {path}: {exc.strerror or exc}") from exc


def find_duplicate_keys(path: str, limit: int = 20) -> list[str]:
    """Second pass: the duplicate keys of a document (the last one wins), or [] on any error.

    Objects are dropped as soon as their keys are checked, so this pass keeps little memory.
    """
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> None:
        if len(duplicates) < limit and len({k for k, _ in items}) != len(items):
            seen: set[str] = set()
            for k, _ in items:
                if k in seen:
                    duplicates.append(k)
                seen.add(k)

    try:
        text = decode_bytes(_read(path))[0]
        with gc_paused():
            json.loads(text, object_pairs_hook=pairs)
    except (KnownError, ValueError, RecursionError):
        return []
    return duplicates[:limit]


def read_jsonl(path: str, data: bytes | None = None) -> JsonlLoad:
    """Each line a record; malformed lines are reported by number and kept for the save."""
    if data is None:
        data = _read(path)
    text, encoding, bom_len = decode_bytes(data)
    fmt = JsonFormat(indent=None, compact=True, encoding=encoding, bom=bom_len > 0,
                     trailing_newline=text.endswith("\n"))
    load = JsonlLoad([], fmt, len(data))
    with gc_paused(freeze=len(data) > FREEZE_ABOVE):
        for number, line in enumerate(text.split("\n"), 1):
            stripped = line.rstrip("\r")
            if not stripped.strip():
                continue
            try:
                load.records.append(_DECODER.decode(stripped))
            except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
                try:
                    load.records.append(parse_text(stripped))
                except JsonParseError as exc:
                    column = exc.location.column
                    load.bad.append((number, exc.message + (f" at column {column}" if column else "")))
                    load.raw_bad.setdefault(len(load.records), []).append(stripped)
    if load.bad and not load.records:
        number, message = load.bad[0]
        raise JsonParseError(f"no line is valid JSON; line {number}: {message}",
                             Location(line=number, column=1), "", text)
    return load


def parse_jsonl_text(text: str) -> list[Any]:
    """JSON Lines typed in the editor: every non-blank line must parse (errors are located)."""
    records = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            records.append(parse_text(line))
        except JsonParseError as exc:
            loc = Location(line=number, column=exc.location.column)
            raise JsonParseError(exc.message, loc, exc.snippet, text) from None
    return records


def dumps_jsonl(records: list[Any]) -> str:
    one_line = JsonFormat(indent=None, compact=True, trailing_newline=False)
    return "\n".join(dumps(record, one_line) for record in records) + ("\n" if records else "")


# -- writing ----------------------------------------------------------------------------------

def _escape_surrogates(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: a lone surrogate (only possible inside a string) as a \\u escape."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    bad = exc.object[exc.start:exc.end]
    return "".join(f"\\u{ord(ch):04x}" for ch in bad), exc.end


codecs.register_error("datashelf-json-surrogates", _escape_surrogates)


def dumps(value: Any, fmt: JsonFormat) -> str:
    """The document's text as it will be saved; NaN/Infinity raise :class:`WriteError`."""
    try:
        if fmt.indent is None:
            separators = (",", ":") if fmt.compact else (", ", ": ")
            text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=separators)
        else:
            text = json.dumps(value, ensure_ascii=False, allow_nan=False, indent=fmt.indent)
    except ValueError as exc:
        if "compliant" in str(exc) or "nan" in str(exc).lower():
            raise WriteError("Cannot save: the document contains NaN or Infinity, which JSON "
                             "cannot represent. Replace those numbers (or make them strings) "
                             "and save again.") from None
        raise WriteError(f"Cannot save: {exc}") from None
    except RecursionError:
        raise WriteError("Cannot save: the document is nested too deeply to write.") from None
    return text + "\n" if fmt.trailing_newline else text


def encode(text: str, fmt: JsonFormat) -> bytes:
    payload = text.encode(fmt.encoding, "datashelf-json-surrogates")
    if fmt.bom:
        payload = codecs.lookup(fmt.encoding).encode("\ufeff")[0] + payload
    return payload


def write_json(path: str, value: Any, fmt: JsonFormat, *, backup: bool = False) -> None:
    atomic_write(path, encode(dumps(value, fmt), fmt), backup=backup)


def write_jsonl(path: str, records: list[Any], fmt: JsonFormat,
                raw_bad: dict[int, list[str]] | None = None, *, backup: bool = False) -> None:
    """One record per line; malformed lines kept from the source go back where they were."""
    atomic_write(path, encode(jsonl_text(records, fmt, raw_bad), fmt), backup=backup)


def jsonl_text(records: list[Any], fmt: JsonFormat,
               raw_bad: dict[int, list[str]] | None = None) -> str:
    """The text :func:`write_jsonl` writes."""
    raw_bad = raw_bad or {}
    one_line = JsonFormat(indent=None, compact=True, trailing_newline=False, encoding=fmt.encoding)
    lines: list[str] = []
    for index, record in enumerate(records):
        lines.extend(raw_bad.get(index, ()))
        lines.append(dumps(record, one_line))
    for index in sorted(k for k in raw_bad if k >= len(records)):
        lines.extend(raw_bad[index])
    return "\n".join(lines) + ("\n" if fmt.trailing_newline and lines else "")
