"""A unified diff between the open document and its file on disk (no Qt; runs in a worker).

Both sides are written out the same way (indented, or one record a line for JSON Lines), so the
diff shows changed values, not changed formatting. A file that no longer parses is compared as
its raw text. The size caps of :func:`storage.core.line_diff.unified_diff` apply.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from storage.core.errors import KnownError
from storage.core.line_diff import DiffResult, unified_diff
from storage.formats.json.io import JsonFormat, JsonlLoad, decode_bytes, read_json, read_jsonl
from storage.formats.json.text_index import serialize_for_view


def _lines_of(value: Any, fmt: JsonFormat, lines: bool) -> list[str]:
    image = serialize_for_view(value, fmt, lines)
    assert image is not None
    return image.data.decode("utf-8", "replace").split("\n")


def diff_with_disk(mine: Any, path: str, fmt: JsonFormat, lines: bool,
                   cancel: Callable[[], bool] | None = None) -> DiffResult | None:
    """Diff of ``mine`` (the document in the editor) against the file at ``path``."""
    old = _lines_of(mine, fmt, lines)
    note = ""
    try:
        load = read_jsonl(path) if lines else read_json(path)
        value = load.records if isinstance(load, JsonlLoad) else load.value
        new = _lines_of(value, fmt, lines)
    except KnownError as exc:
        note = f"The file on disk does not open as it is: {exc}"
        try:
            with open(path, "rb") as handle:
                new = decode_bytes(handle.read())[0].split("\n")
        except (OSError, KnownError) as read_exc:
            return DiffResult("", 0, 0, False, f"Cannot read the file on disk: {read_exc}")
    if cancel is not None and cancel():
        return None
    return unified_diff(old, new, note)
