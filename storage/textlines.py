"""A text held as a plain list of lines, for editing files too big for QTextDocument.

Filling a QTextDocument costs microseconds per line; a Python list of ``str`` lines costs about
as much as decoding the file. Lines are split on "\\n" only (never ``str.splitlines``, which also
splits on form feeds and other separators and could not be joined back), and the file's own
endings, encoding and BOM stay in the :class:`~storage.textfile.TextContent` saved with them.
Each edit returns what its inverse needs, so undo commands stay tiny.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterator

from .textfile import TextContent, decode_text, read_regular, save_text

Position = tuple[int, int]  # (line, column), both from 0
Match = tuple[int, int, int, re.Match[str]]  # (line, start column, end column, match)
_BLOCK = 4096  # lines joined for one regex pre-scan while searching


def end_of(line: int, col: int, text: str) -> Position:
    """Where the caret ends after inserting ``text`` at (line, col)."""
    newlines = text.count("\n")
    if not newlines:
        return line, col + len(text)
    return line + newlines, len(text) - text.rfind("\n") - 1


class LineBuffer:
    """The lines of a text (without their endings) and the edits an editor makes on them."""

    def __init__(self, lines: list[str] | None = None) -> None:
        self.lines: list[str] = lines if lines else [""]
        self.longest = max(map(len, self.lines))  # a high-water mark for the horizontal scroll

    @classmethod
    def from_text(cls, text: str) -> LineBuffer:
        return cls(text.split("\n"))

    def __len__(self) -> int:
        return len(self.lines)

    def line(self, index: int) -> str:
        return self.lines[index]

    def text(self) -> str:
        """The whole text with "\\n" between lines (what :func:`save_text` expects)."""
        return "\n".join(self.lines)

    def clamp(self, line: int, col: int) -> Position:
        line = min(max(0, line), len(self.lines) - 1)
        return line, min(max(0, col), len(self.lines[line]))

    def end(self) -> Position:
        return len(self.lines) - 1, len(self.lines[-1])

    def text_range(self, l0: int, c0: int, l1: int, c1: int) -> str:
        if l0 == l1:
            return self.lines[l0][c0:c1]
        return "\n".join([self.lines[l0][c0:], *self.lines[l0 + 1:l1], self.lines[l1][:c1]])

    # -- edits -----------------------------------------------------------------------------------
    def insert_text(self, line: int, col: int, text: str) -> Position:
        """Insert ``text`` (may hold "\\n") at (line, col); return the end of the insertion."""
        current = self.lines[line]
        head, tail = current[:col], current[col:]
        parts = text.split("\n")
        if len(parts) == 1:
            self.lines[line] = head + text + tail
        else:
            parts[0] = head + parts[0]
            parts[-1] = parts[-1] + tail
            self.lines[line:line + 1] = parts
        self.longest = max(self.longest, *(len(p) for p in parts[:1000]))
        return end_of(line, col, text)

    def delete_range(self, l0: int, c0: int, l1: int, c1: int) -> str:
        """Remove the text between two positions (start first); return it for undo."""
        removed = self.text_range(l0, c0, l1, c1)
        if l0 == l1:
            current = self.lines[l0]
            self.lines[l0] = current[:c0] + current[c1:]
        else:
            self.lines[l0:l1 + 1] = [self.lines[l0][:c0] + self.lines[l1][c1:]]
        return removed

    def set_lines(self, changes: dict[int, str]) -> dict[int, str]:
        """Replace whole lines (no "\\n" in the new text); return the old ones for undo."""
        old = {i: self.lines[i] for i in changes}
        for i, text in changes.items():
            self.lines[i] = text
        if changes:
            self.longest = max(self.longest, max(map(len, changes.values())))
        return old

    # -- search ----------------------------------------------------------------------------------
    def _blocks(self, start: int, backward: bool) -> Iterator[int]:
        """Indexes of the first lines of the blocks to scan from ``start``, wrapping around."""
        count = len(self.lines)
        first = start - start % _BLOCK
        blocks = list(range(0, count, _BLOCK))
        k = first // _BLOCK
        order = (blocks[k::-1] + blocks[:k:-1]) if backward else (blocks[k:] + blocks[:k])
        yield from order
        yield first  # the start block again: matches before (or after) the start when wrapping

    def find(self, pattern: re.Pattern[str], line: int, col: int, backward: bool = False,
             skip_empty: bool = True) -> Match | None:
        """The next match after (line, col), or the last one before it, wrapping around.

        Matches never span lines (as in QTextDocument.find). Blocks of lines are pre-scanned
        joined together, so a miss over a million lines costs one regex pass, not a loop.
        """
        lines = self.lines
        passes = 0
        for block in self._blocks(line, backward):
            passes += 1
            stop = min(block + _BLOCK, len(lines))
            if pattern.search("\n".join(lines[block:stop])) is None:
                continue
            rows = range(stop - 1, block - 1, -1) if backward else range(block, stop)
            wrapped = passes > 1
            for row in rows:
                found = self._find_in_line(pattern, row, line, col, backward, wrapped, skip_empty)
                if found is not None:
                    return found
        return None

    def _find_in_line(self, pattern: re.Pattern[str], row: int, line: int, col: int,
                      backward: bool, wrapped: bool, skip_empty: bool) -> Match | None:
        """A match in ``row``, on the right side of (line, col) unless the search has wrapped."""
        text = self.lines[row]
        if not backward:
            if not wrapped and row < line:
                return None
            start = col if (row == line and not wrapped) else 0
            for m in pattern.finditer(text, start):
                if not (skip_empty and m.start() == m.end()):
                    return row, m.start(), m.end(), m
            return None
        if not wrapped and row > line:
            return None
        limit = col if (row == line and not wrapped) else len(text)
        last = None
        for m in pattern.finditer(text):
            if m.end() > limit:
                break
            if not (skip_empty and m.start() == m.end()):
                last = m
        return (row, last.start(), last.end(), last) if last is not None else None

    def replace_all(self, pattern: re.Pattern[str],
                    replacement: Callable[[re.Match[str]], str]) -> tuple[dict[int, str], int]:
        """New text of every line with a (non-empty) match, and how many matches were replaced.

        The caller applies the changes with :meth:`set_lines`, so they can be one undo step.
        """
        changes: dict[int, str] = {}
        total = 0
        lines = self.lines

        def swap(match: re.Match[str]) -> str:
            nonlocal total
            if match.start() == match.end():
                return ""
            total += 1
            return replacement(match)

        for block in range(0, len(lines), _BLOCK):
            stop = min(block + _BLOCK, len(lines))
            if pattern.search("\n".join(lines[block:stop])) is None:
                continue
            for row in range(block, stop):
                text = lines[row]
                new = pattern.sub(swap, text)
                if new != text:
                    changes[row] = new
        return changes, total

def load_lines(path: str, encoding: str | None = None) -> tuple[TextContent, LineBuffer]:
    """Worker body: read and decode a file into lines, as :func:`load_text` would, but faster.

    The common case (UTF-8 without BOM, LF endings) skips the whole-text scans for "\\r" that
    :func:`decode_text` makes and counts lines by splitting; everything else goes through
    :func:`decode_text`. ``content.text`` is left empty: the lines are the text.
    """
    data, info = read_regular(path)
    content: TextContent | None = None
    if encoding is None and b"\r" not in data and not data.startswith(codecs.BOM_UTF8):
        content = _fast_utf8(data)
    if content is None:
        content = decode_text(data, encoding)
        if content.lines is not None:  # mixed endings: the lines are already split
            buffer = LineBuffer(list(content.lines))
        else:
            buffer = LineBuffer.from_text(content.text)
    else:
        buffer = LineBuffer.from_text(content.text)
        lf = len(buffer) - 1
        content.counts = {"LF": lf, "CRLF": 0, "CR": 0}
        content.endings = "LF" if lf else "none"
    content.text = ""
    content.mtime_ns = info.st_mtime_ns
    return content, buffer


def _fast_utf8(data: bytes) -> TextContent | None:
    """The content of valid UTF-8 without "\\r" or a BOM, or None to take the general path."""
    from .sniff_text import BOMS

    if any(data.startswith(bom) for bom, _name in BOMS):
        return None
    try:
        text = codecs.decode(data, "utf-8")
    except UnicodeDecodeError:
        return None
    if "\u2029" in text:
        return None
    return TextContent(text, "utf-8", b"", how="valid UTF-8", size=len(data))


def save_lines(path: str, lines: list[str], content: TextContent, **options: object) -> TextContent:
    """Worker body: save lines through :func:`save_text` (same endings, encoding and BOM).

    The returned content drops its text, as :func:`load_lines` does.
    """
    fresh = save_text(path, "\n".join(lines), content, **options)
    fresh.text = ""
    return fresh
