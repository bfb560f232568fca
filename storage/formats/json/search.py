"""Search a JSON value's keys and values, plain or regex, in document order (no Qt).

Runs in a worker on big documents: it checks ``cancel`` every few thousand nodes and stops
after ``limit`` hits. A document edited while a search runs may end it early; the GUI then
drops the answer by its generation number.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

MAX_HITS = 10_000


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, dict | list):
        return None
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def search(root: Any, query: str, *, regex: bool = False, case: bool = False,
           keys: bool = True, values: bool = True, limit: int = MAX_HITS,
           cancel: Callable[[], bool] | None = None) -> list[list[Any]]:
    """Paths (keys from the root) of the nodes whose key or scalar value matches ``query``."""
    if not query:
        return []
    flags = 0 if case else re.IGNORECASE
    pattern = re.compile(query if regex else re.escape(query), flags)
    hits: list[list[Any]] = []
    # (value, path) pairs, children pushed in reverse so they pop in document order
    stack: list[tuple[Any, list[Any]]] = [(root, [])]
    seen = 0
    try:
        while stack:
            value, path = stack.pop()
            seen += 1
            if cancel is not None and seen % 4096 == 0 and cancel():
                break
            if path:
                key = path[-1]
                text = _scalar_text(value)
                if ((keys and isinstance(key, str) and pattern.search(key))
                        or (values and text is not None and pattern.search(text))):
                    hits.append(path)
                    if len(hits) >= limit:
                        break
            if isinstance(value, dict):
                stack.extend((v, [*path, k]) for k, v in reversed(list(value.items())))
            elif isinstance(value, list):
                stack.extend((value[i], [*path, i]) for i in range(len(value) - 1, -1, -1))
    except RuntimeError:  # the document changed while we walked it
        pass
    return hits


def count_nodes(value: Any, limit: int) -> int:
    """How many values ``value`` holds, counting at most up to ``limit`` (cheap size test)."""
    count = 0
    stack = [value]
    while stack and count < limit:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            count += len(item)
            if count < limit:
                stack.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            count += len(item)
            if count < limit:
                stack.extend(v for v in item if isinstance(v, dict | list))
    return count
