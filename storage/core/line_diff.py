"""A unified diff of two lists of lines, capped for big inputs (no Qt; runs in a worker).

The JSON and text documents' "Compare with disk" both end here. The common head and tail are
skipped first (cheap), at most :data:`MAX_COMPARED_LINES` of each side are compared, and at most
:data:`MAX_OUTPUT_LINES` lines of diff are returned.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

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
