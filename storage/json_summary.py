"""The facts the JSON document's summary panel shows, the same ones ``inspect`` prints."""

from __future__ import annotations

from typing import Any

from .json_io import (
    JsonlLoad,
    JsonLoad,
    JsonParseError,
    decode_bytes,
    find_duplicate_keys,
    read_json,
    read_jsonl,
)
from .json_parse import json_shape


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
