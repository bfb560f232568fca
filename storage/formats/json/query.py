"""JSONPath queries over a JSON value, answered as paths (no Qt).

We use ``jsonpath-ng`` (its ``ext`` parser, for filters like ``$.a[?(@.x > 2)]``): it is
maintained, pure Python, and, unlike ``jmespath``, reports *where* each match is (every match
carries its context chain), so results can be listed and selected in the tree. JMESPath answers
with projected values only, which cannot be edited in place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from storage.formats.json.doc import JsonEditError

MAX_RESULTS = 10_000


def is_jsonpath(query: str) -> bool:
    """Whether ``query`` is meant as JSONPath (it starts with ``$``) rather than a JSON Pointer."""
    return query.strip().startswith("$")


def jsonpath_query(root: Any, query: str, limit: int = MAX_RESULTS,
                   cancel: Callable[[], bool] | None = None) -> list[list[Any]]:
    """Paths (keys from the root) of the nodes ``query`` matches, in the library's order.

    Raises :class:`JsonEditError` with the parser's message when the query is not JSONPath.
    """
    from jsonpath_ng.ext import parse

    try:
        expression = parse(query.strip())
    except Exception as exc:  # the lexer and parser raise several types, all for bad syntax
        raise JsonEditError(f"not a JSONPath query: {exc}") from None
    try:
        matches = expression.find(root)
    except RecursionError:
        raise JsonEditError("the document is nested too deeply for JSONPath") from None
    paths: list[list[Any]] = []
    for count, datum in enumerate(matches):
        if cancel is not None and count % 1024 == 0 and cancel():
            break
        path = _path_of(datum, root)
        if path is not None:
            paths.append(path)
            if len(paths) >= limit:
                break
    return paths


def _path_of(datum: Any, root: Any) -> list[Any] | None:
    from jsonpath_ng import Fields, Index

    steps = []
    while datum is not None and datum.context is not None:
        steps.append(datum.path)
        datum = datum.context
    path: list[Any] = []
    value = root
    key: str | int
    for step in reversed(steps):
        if isinstance(step, Fields) and len(step.fields) == 1 and isinstance(value, dict):
            key = step.fields[0]
        elif isinstance(step, Index) and len(step.indices) == 1 and isinstance(value, list):
            key = step.indices[0] + (len(value) if step.indices[0] < 0 else 0)
        else:
            continue  # `$`, `@` and the like do not move
        try:
            value = value[key]
        except (KeyError, IndexError):
            return None
        path.append(key)
    return path
