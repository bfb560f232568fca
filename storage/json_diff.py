"""A unified diff between the open document and its file on disk (no Qt; runs in a worker).

Both sides are written out the same way (indented, or one record a line for JSON Lines), so the
diff shows changed values, not changed formatting. A file that no longer parses is compared as
its raw text. Big documents are capped: the common head and tail are skipped first (cheap), at
most :data:`MAX_COMPARED_LINES` of each side are compared, and at most :data:`MAX_OUTPUT_LINES`
lines of diff are returned.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import KnownError
from .json_io import JsonFormat, decode_bytes, read_json, read_jsonl
from .json_text_index import serialize_for_view

MAX_COMPARED_LINES = 20_000
MAX_OUTPUT_LINES = 5_000
CONTEXT = 3


@dataclass
class DiffResult:
    text: str  # the unified diff, possibly cut short
    added: int
    removed: int
    truncated: bool
    note: str = ""  # e.g. "the file on disk is not valid JSON any more"

    @property
    def identical(self) -> bool:
        return not self.added and not self.removed


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
        value = load.records if lines else load.value
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


def unified_diff(old: list[str], new: list[str], note: str = "") -> DiffResult:
    """``difflib`` unified diff with the common head and tail skipped and the size capped."""
    head = 0
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    tail = 0
    while (tail < min(len(old), len(new)) - head
           and old[len(old) - 1 - tail] == new[len(new) - 1 - tail]):
        tail += 1
    start = max(0, head - CONTEXT)
    old_mid = old[start:len(old) - max(0, tail - CONTEXT)]
    new_mid = new[start:len(new) - max(0, tail - CONTEXT)]
    truncated = len(old_mid) > MAX_COMPARED_LINES or len(new_mid) > MAX_COMPARED_LINES
    old_mid, new_mid = old_mid[:MAX_COMPARED_LINES], new_mid[:MAX_COMPARED_LINES]
    out: list[str] = []
    added = removed = 0
    for line in difflib.unified_diff(old_mid, new_mid, "yours (in the editor)", "on disk",
                                     n=CONTEXT, lineterm=""):
        if line.startswith("@@"):
            line = _shift_hunk(line, start)
        elif line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
        if len(out) < MAX_OUTPUT_LINES:
            out.append(line)
        else:
            truncated = True
    if truncated:
        out.append("… (the difference is too big to show in full)")
    return DiffResult("\n".join(out), added, removed, truncated, note)


_HUNK = re.compile(r"@@ -(\d+)((?:,\d+)?) \+(\d+)((?:,\d+)?) @@")


def _shift_hunk(line: str, offset: int) -> str:
    """difflib numbers lines from the slice it was given: number them from the file's start."""
    return _HUNK.sub(lambda m: f"@@ -{int(m.group(1)) + offset}{m.group(2)} "
                               f"+{int(m.group(3)) + offset}{m.group(4)} @@", line)
