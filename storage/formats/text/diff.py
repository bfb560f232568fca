"""A unified diff between the text in the editor and its file on disk (no Qt; runs in a worker).

The file is decoded as the editor decoded it (same encoding), line endings normalised to "\\n"
as the editor shows them, so the diff shows changed lines, not changed endings. The size caps
of :func:`storage.core.line_diff.unified_diff` apply.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from storage.core.errors import KnownError
from storage.core.line_diff import DiffResult, unified_diff
from storage.formats.text.file import load_text


def diff_text_with_disk(mine: Any, path: str, encoding: str | None = None,
                        cancel: Callable[[], bool] | None = None) -> DiffResult | None:
    """Diff of ``mine`` (a str, or anything with ``text()``: a line buffer's snapshot) against
    the file at ``path``."""
    text = mine if isinstance(mine, str) else mine.text()
    try:
        disk = load_text(path, encoding).text
    except KnownError as exc:
        return DiffResult("", 0, 0, False, f"Cannot read the file on disk: {exc}")
    if cancel is not None and cancel():
        return None
    return unified_diff(text.split("\n"), disk.split("\n"))
