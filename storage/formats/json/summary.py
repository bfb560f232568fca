"""The facts the JSON document's summary panel shows, and ``inspect``'s summaries of JSON and JSON
Lines files (the format registry names them): the same facts.
"""

from __future__ import annotations

import codecs
from typing import TYPE_CHECKING, Any

from storage.core.disk_stamp import chunks
from storage.core.errors import KnownError, Location, ParseError
from storage.formats.json.io import (
    JsonlLoad,
    JsonLoad,
    JsonParseError,
    decode_bytes,
    find_duplicate_keys,
    read_json,
    read_jsonl,
)
from storage.formats.json.parse import json_shape, json_text, json_type, parse_json
from storage.sniff.text import detect_bom

if TYPE_CHECKING:
    from storage.formats.json.doc import JsonDoc
    from storage.inspect.summaries import Collector
    from storage.sniff.detect import SniffResult

JSON_FULL_PARSE_LIMIT = 200 * 1024 * 1024
JSONL_SCAN_LIMIT = 200 * 1024 * 1024
MAX_LINE_FINDINGS = 20


def first_summary(load: JsonLoad | JsonlLoad) -> dict[str, Any]:
    """What is known as soon as the parse ends (cheap: no walk of the document)."""
    summary: dict[str, Any] = {"size": load.size, "encoding": load.fmt.encoding + (" with BOM" if load.fmt.bom
                                                                                   else "")}
    if isinstance(load, JsonlLoad):
        summary.update(records=len(load.records), malformed_lines=len(load.bad))
        return summary
    value = load.value
    summary["top_level"] = ("object" if isinstance(value, dict) else "array" if isinstance(value, list)
                            else type(value).__name__)
    if isinstance(value, dict | list):
        summary["top_level_length"] = len(value)
    summary["indent"] = "tab" if load.fmt.indent == "\t" else load.fmt.indent
    return summary


def edited_summary(doc: JsonDoc) -> dict[str, Any]:
    """Worker body after an edit, undo or redo: the facts an edit changes, for the document as
    it is now (``size`` is what a save would write). A WriteError (NaN) leaves ``size`` out."""
    found: dict[str, Any] = dict(json_shape(doc.root))
    if doc.lines:
        found["records"] = len(doc.root)
    elif isinstance(doc.root, dict | list):
        found["top_level_length"] = len(doc.root)
    try:
        found["size"] = len(doc.to_bytes())
    except KnownError:
        pass
    return found


def second_pass(path: str, fmt: str, root: Any) -> dict[str, Any]:
    """Worker body after the tree is shown: counts by type, depth and duplicate keys."""
    found: dict[str, Any] = dict(json_shape(root))
    if fmt == "json":
        found["duplicate_keys"] = find_duplicate_keys(path)
    return found


def load_for_editor(path: str, fmt: str) -> Any:
    """Worker body: a JsonLoad/JsonlLoad, or the JsonParseError carrying the decoded text."""
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        return read_jsonl(path, data) if fmt == "jsonl" else read_json(path, data)
    except JsonParseError as exc:
        if not exc.text:
            try:
                exc.text = decode_bytes(data)[0]
            except JsonParseError as inner:
                exc.text = inner.text
        return exc


# -- JSON ---------------------------------------------------------------------------------------

def summarize_json(result: SniffResult, c: Collector) -> None:
    """Parse strictly; top-level type, value counts, depth and duplicate keys."""
    if result.size > JSON_FULL_PARSE_LIMIT:
        c.summary["parsed"] = False
        c.add("info", f"larger than {JSON_FULL_PARSE_LIMIT // 2**20} MB: not parsed in full")
        return
    text, encoding, bom_len = json_text(b"".join(chunks(result.path)))
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
