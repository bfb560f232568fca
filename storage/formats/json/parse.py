"""Strict JSON parsing shared by the JSON tab and ``inspect``: no NaN/Infinity, no number that
would turn into Infinity, duplicate keys reported, every error located (line, column, byte offset).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from storage.core.errors import Location, ParseError
from storage.sniff.text import detect_bom

_CONSTANT = re.compile(r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)')


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


def decode_error(data: bytes, bom_len: int, encoding: str, exc: UnicodeDecodeError) -> ParseError:
    """The located error for bytes that are not valid ``encoding``: line, column and byte offset.

    Everything before ``exc.start`` decoded, so the line and column are counted in characters
    of that prefix (right for UTF-16 and for multi-byte characters earlier on the line).
    """
    offset = bom_len + exc.start
    before = data[bom_len:offset].decode(encoding, "replace")
    line = before.count("\n") + 1
    column = len(before) - (before.rfind("\n") + 1) + 1
    return ParseError(f"not valid {encoding.upper()} at byte {offset:,}: {exc.reason}",
                      Location(line=line, column=column, offset=offset))


def json_text(data: bytes) -> tuple[str, str, int]:
    """(text, encoding, BOM length); invalid UTF-8 is a ParseError with its line, column and offset."""
    encoding, bom_len = detect_bom(data)
    try:
        return data[bom_len:].decode(encoding or "utf-8"), encoding or "utf-8", bom_len
    except UnicodeDecodeError as exc:
        raise decode_error(data, bom_len, encoding or "utf-8", exc) from None


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
            for k, _ in items:
                if k in seen:
                    duplicates.append(k)
                seen.add(k)
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
