"""The editable JSON document: a tree of plain values and the edits the undo commands call.

Nodes are addressed by paths (keys from the root; list indexes for arrays). Containers are
changed in place, so every reference to them (the tree model's nodes) stays valid. Objects keep
their key order; inserting, renaming or moving a key rebuilds the object in place (O(keys)).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import islice
from typing import Any

from storage.formats.json.io import (
    JsonFormat,
    JsonlLoad,
    JsonLoad,
    dumps,
    encode,
    jsonl_text,
    write_json,
    write_jsonl,
)
from storage.formats.json.parse import json_type

Path = Sequence[Any]


class JsonEditError(ValueError):
    """An edit that cannot be made (a key that already exists, a path that is gone)."""


def convert(value: Any, kind: str) -> Any:
    """``value`` changed to the JSON type ``kind``, keeping what can be kept."""
    if kind == json_type(value):
        return value
    if kind == "string":
        return "" if value is None else ("true" if value is True else "false" if value is False
                                         else str(value) if not isinstance(value, dict | list)
                                         else "")
    if kind == "number":
        if isinstance(value, str):
            number = parse_number(value.strip())
            return 0 if number is None else number
        return int(value) if isinstance(value, bool) else 0
    if kind == "boolean":
        return bool(value)
    if kind == "object":
        return {str(i): v for i, v in enumerate(value)} if isinstance(value, list) else {}
    if kind == "array":
        return list(value.values()) if isinstance(value, dict) else []
    return None


_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")


def parse_number(text: str) -> int | float | None:
    """A JSON number's value (ints exact at any size), or None when ``text`` is not one."""
    if not _NUMBER.fullmatch(text):
        return None
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    value = float(text)
    return None if value in (float("inf"), float("-inf")) else value


def key_at(container: dict | list, row: int) -> Any:
    if isinstance(container, list):
        return row
    return next(islice(iter(container), row, None))


def row_of(container: dict | list, key: Any) -> int:
    """The row of ``key`` (O(keys) for objects; used only for rare, user-driven lookups)."""
    if isinstance(container, list):
        return int(key)
    for row, k in enumerate(container):
        if k == key:
            return row
    raise JsonEditError(f"no key {key!r}")


class JsonDoc:
    """A JSON value (or JSON Lines records) with edits by path; no Qt, no undo: the GUI's commands
    call these methods and their inverses."""

    def __init__(self, value: Any, fmt: JsonFormat | None = None, *, lines: bool = False,
                 raw_bad: dict[int, list[str]] | None = None) -> None:
        self.root = value
        self.fmt = fmt or JsonFormat()
        self.lines = lines
        self.raw_bad = raw_bad or {}

    @classmethod
    def from_load(cls, load: JsonLoad | JsonlLoad) -> JsonDoc:
        if isinstance(load, JsonlLoad):
            return cls(load.records, load.fmt, lines=True, raw_bad=load.raw_bad)
        return cls(load.value, load.fmt)

    # -- reading ---------------------------------------------------------------------------
    def get(self, path: Path) -> Any:
        value = self.root
        for key in path:
            try:
                value = value[key]
            except (KeyError, IndexError, TypeError):
                raise JsonEditError(f"no node at {to_pointer(path)}") from None
        return value

    # -- edits: each returns what its inverse needs -------------------------------------------
    def set_value(self, path: Path, value: Any) -> Any:
        if not path:
            old, self.root = self.root, value
            return old
        parent = self.get(path[:-1])
        old = parent[path[-1]]
        parent[path[-1]] = value
        return old

    def insert(self, parent_path: Path, row: int, key: Any, value: Any) -> None:
        parent = self.get(parent_path)
        if isinstance(parent, list):
            parent.insert(row, value)
            return
        if key in parent:
            raise JsonEditError(f"the key {key!r} already exists")
        if row >= len(parent):
            parent[key] = value
            return
        items = list(parent.items())
        items.insert(row, (key, value))
        parent.clear()
        parent.update(items)

    def remove(self, parent_path: Path, row: int) -> tuple[Any, Any]:
        parent = self.get(parent_path)
        if isinstance(parent, list):
            return row, parent.pop(row)
        key = key_at(parent, row)
        if row == len(parent) - 1:
            return key, parent.pop(key)
        items = list(parent.items())
        del items[row]
        value = parent[key]
        parent.clear()
        parent.update(items)
        return key, value

    def move(self, parent_path: Path, row: int, new_row: int) -> None:
        key, value = self.remove(parent_path, row)
        self.insert(parent_path, new_row, key, value)

    def rename(self, parent_path: Path, row: int, new_key: str) -> str:
        parent = self.get(parent_path)
        if not isinstance(parent, dict):
            raise JsonEditError("only object members have names")
        items = list(parent.items())
        old = items[row][0]
        if new_key != old and new_key in parent:
            raise JsonEditError(f"the key {new_key!r} already exists")
        items[row] = (new_key, items[row][1])
        parent.clear()
        parent.update(items)
        return old

    def reorder(self, path: Path, keys: list[str]) -> list[str]:
        """Put an object's keys in ``keys`` order; return the previous order."""
        obj = self.get(path)
        old = list(obj)
        items = [(k, obj[k]) for k in keys]
        obj.clear()
        obj.update(items)
        return old

    # -- saving ------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """What :meth:`save` would write (for the crash-recovery journal)."""
        if self.lines:
            return encode(jsonl_text(self.root, self.fmt, self.raw_bad), self.fmt)
        return encode(dumps(self.root, self.fmt), self.fmt)

    def save(self, path: str, *, backup: bool = False) -> None:
        if self.lines:
            write_jsonl(path, self.root, self.fmt, self.raw_bad, backup=backup)
        else:
            write_json(path, self.root, self.fmt, backup=backup)


# -- paths -----------------------------------------------------------------------------------

def to_pointer(path: Path) -> str:
    """RFC 6901 JSON Pointer of a path."""
    return "".join("/" + str(k).replace("~", "~0").replace("/", "~1") for k in path)


_IDENT = re.compile(r"[A-Za-z_$][\w$]*")


def to_dotted(path: Path) -> str:
    """A JavaScript-style path: ``$.store.books[0]["a key"]``."""
    out = "$"
    for key in path:
        if isinstance(key, int):
            out += f"[{key}]"
        elif _IDENT.fullmatch(key):
            out += "." + key
        else:
            out += "[" + _quote(key) + "]"
    return out


def _quote(key: str) -> str:
    import json

    return json.dumps(key, ensure_ascii=False)


def resolve_query(root: Any, query: str) -> list[Any]:
    """A path from a JSON Pointer (``/a/0``) or a dotted path (``$.a[0]``, ``a.b``)."""
    query = query.strip()
    if query.startswith("#"):
        query = query[1:]
    if query == "" or query.startswith("/"):
        keys: list[str] = [] if query == "" else [
            k.replace("~1", "/").replace("~0", "~") for k in query[1:].split("/")]
    else:
        keys = _dotted_keys(query)
    path: list[Any] = []
    value = root
    for key in keys:
        if isinstance(value, list):
            if not re.fullmatch(r"0|[1-9]\d*", str(key)) or int(key) >= len(value):
                raise JsonEditError(f"no element {key} in the array at {to_pointer(path) or '/'}")
            path.append(int(key))
            value = value[int(key)]
        elif isinstance(value, dict):
            if key not in value:
                raise JsonEditError(f"no key {key!r} at {to_pointer(path) or '/'}")
            path.append(key)
            value = value[key]
        else:
            raise JsonEditError(f"{to_pointer(path)} is a {json_type(value)}: it has no {key!r}")
    return path


def _dotted_keys(query: str) -> list[str]:
    import json

    if query.startswith("$"):
        query = query[1:]
    keys: list[str] = []
    for match in re.finditer(r'\.([^.\[]+)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]|^([^.\[]+)', query):
        name, index, quoted, first = match.groups()
        keys.append(index if index is not None else json.loads(quoted) if quoted else name or first)
    return keys
