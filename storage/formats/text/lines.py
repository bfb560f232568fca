"""A text held as lines in plain Python, for editing files too big for QTextDocument.

Filling a QTextDocument costs microseconds per line, and even splitting a 100 MB text into a
list of a million ``str`` costs more than decoding it; so the text is cut into chunks of lines
that are split only when one of their lines is shown or edited. Lines are split on "\\n" only
(never ``str.splitlines``, which also splits on form feeds and other separators and could not be
joined back); the file's own endings, encoding and BOM stay in the
:class:`~storage.formats.text.file.TextContent` saved with them. Each edit returns what its inverse
needs, so undo commands stay small.
"""

from __future__ import annotations

import codecs
import re
from bisect import bisect_right
from collections.abc import Callable

from storage.core.disk_stamp import read_regular
from storage.formats.text.file import TextContent, decode_text, save_text

Position = tuple[int, int]  # (line, column), both from 0
Match = tuple[int, int, int, re.Match[str]]  # (line, start column, end column, match)
CHUNK = 1 << 20  # characters of text per chunk of lines


def end_of(line: int, col: int, text: str) -> Position:
    """Where the caret ends after inserting ``text`` at (line, col)."""
    newlines = text.count("\n")
    if not newlines:
        return line, col + len(text)
    return line + newlines, len(text) - text.rfind("\n") - 1


class _Raw:
    """Lines not split yet: ``text[start:stop]`` holds ``count`` lines joined by "\\n"."""

    __slots__ = ("count", "start", "stop", "text")

    def __init__(self, text: str, start: int, stop: int) -> None:
        self.text, self.start, self.stop = text, start, stop
        self.count = text.count("\n", start, stop) + 1

    def joined(self) -> str:
        return self.text[self.start:self.stop]


class LineBuffer:
    """The lines of a text (without their endings) and the edits an editor makes on them.

    The lines live in chunks of about a million characters. A chunk read from a file stays one
    string until a line of it is needed (splitting a whole 100 MB file into lines costs more than
    decoding it); from then on it is a plain list of ``str``.
    """

    def __init__(self, lines: list[str] | None = None) -> None:
        self._chunks: list[list[str] | _Raw] = [lines if lines else [""]]
        self.longest = 0  # the longest line seen so far: a high-water mark for horizontal scroll
        self._reindex()

    @classmethod
    def from_text(cls, text: str, chunk: int = CHUNK) -> LineBuffer:
        """The lines of ``text`` ("\\n" between lines), cut into chunks at line ends."""
        buffer = cls()
        chunks: list[list[str] | _Raw] = []
        start, size = 0, len(text)
        while True:
            cut = text.find("\n", start + chunk) if start + chunk < size else -1
            chunks.append(_Raw(text, start, size if cut < 0 else cut))
            if cut < 0:
                break
            start = cut + 1
        buffer._chunks = chunks
        buffer._reindex()
        return buffer

    def _reindex(self) -> None:
        starts, total = [], 0
        for chunk in self._chunks:
            starts.append(total)
            total += chunk.count if isinstance(chunk, _Raw) else len(chunk)
        self._starts, self._count = starts, total

    def _locate(self, line: int) -> tuple[int, int]:
        """(chunk, line within it) of a line number."""
        k = bisect_right(self._starts, line) - 1
        return k, line - self._starts[k]

    def _lines_of(self, k: int) -> list[str]:
        """Chunk ``k`` as a list, split on first use."""
        chunk = self._chunks[k]
        if isinstance(chunk, _Raw):
            chunk = self._chunks[k] = chunk.joined().split("\n")
            self.longest = max(self.longest, max(map(len, chunk)))
        return chunk

    def _joined(self, k: int) -> str:
        chunk = self._chunks[k]
        return chunk.joined() if isinstance(chunk, _Raw) else "\n".join(chunk)

    def __len__(self) -> int:
        return self._count

    def line(self, index: int) -> str:
        k, j = self._locate(index)
        return self._lines_of(k)[j]

    @property
    def lines(self) -> list[str]:
        """Every line, as one new list (splits every chunk: for tests and small texts)."""
        return [line for k in range(len(self._chunks)) for line in self._lines_of(k)]

    def text(self) -> str:
        """The whole text with "\\n" between lines (what :func:`save_text` expects)."""
        return "\n".join(self._joined(k) for k in range(len(self._chunks)))

    def snapshot(self) -> LineBuffer:
        """A copy that later edits of this buffer do not change (for saving on a worker)."""
        copy = LineBuffer()
        copy._chunks = [c if isinstance(c, _Raw) else list(c) for c in self._chunks]
        copy._reindex()
        return copy

    def clamp(self, line: int, col: int) -> Position:
        line = min(max(0, line), self._count - 1)
        return line, min(max(0, col), len(self.line(line)))

    def end(self) -> Position:
        return self._count - 1, len(self.line(self._count - 1))

    def _range_lines(self, first: int, last: int) -> list[str]:
        """Lines ``first`` to ``last`` included."""
        k0, j0 = self._locate(first)
        k1, j1 = self._locate(last)
        if k0 == k1:
            return self._lines_of(k0)[j0:j1 + 1]
        out = self._lines_of(k0)[j0:]
        for k in range(k0 + 1, k1):
            out.extend(self._lines_of(k))
        out.extend(self._lines_of(k1)[:j1 + 1])
        return out

    def text_range(self, l0: int, c0: int, l1: int, c1: int) -> str:
        if l0 == l1:
            return self.line(l0)[c0:c1]
        lines = self._range_lines(l0, l1)
        lines[0], lines[-1] = lines[0][c0:], lines[-1][:c1]
        return "\n".join(lines)

    # -- edits -----------------------------------------------------------------------------------
    def insert_text(self, line: int, col: int, text: str) -> Position:
        """Insert ``text`` (may hold "\\n") at (line, col); return the end of the insertion."""
        k, j = self._locate(line)
        lines = self._lines_of(k)
        current = lines[j]
        head, tail = current[:col], current[col:]
        parts = text.split("\n")
        if len(parts) == 1:
            lines[j] = head + text + tail
        else:
            parts[0] = head + parts[0]
            parts[-1] = parts[-1] + tail
            lines[j:j + 1] = parts
            self._reindex()
        self.longest = max(self.longest, *(len(p) for p in parts[:1000]))
        return end_of(line, col, text)

    def delete_range(self, l0: int, c0: int, l1: int, c1: int) -> str:
        """Remove the text between two positions (start first); return it for undo."""
        removed = self.text_range(l0, c0, l1, c1)
        k0, j0 = self._locate(l0)
        k1, j1 = self._locate(l1)
        if k0 != k1:  # join the chunks the range spans into one list
            merged: list[str] = []
            for k in range(k0, k1 + 1):
                merged.extend(self._lines_of(k))
            self._chunks[k0:k1 + 1] = [merged]
            j1 += self._starts[k1] - self._starts[k0]
        lines = self._lines_of(k0)
        if j0 == j1:
            lines[j0] = lines[j0][:c0] + lines[j0][c1:]
        else:
            lines[j0:j1 + 1] = [lines[j0][:c0] + lines[j1][c1:]]
        if l0 != l1 or k0 != k1:
            self._reindex()
        return removed

    def set_lines(self, changes: dict[int, str]) -> dict[int, str]:
        """Replace whole lines (no "\\n" in the new text); return the old ones for undo."""
        old = {}
        lines: list[str] = []
        low = high = 0  # the rows of the chunk in ``lines``: most changes fall in the last one
        for i, text in changes.items():
            if not low <= i < high:
                k, _j = self._locate(i)
                lines, low = self._lines_of(k), self._starts[k]
                high = low + len(lines)
            old[i] = lines[i - low]
            lines[i - low] = text
        if changes:
            self.longest = max(self.longest, max(map(len, changes.values())))
        return old

    # -- search ----------------------------------------------------------------------------------
    def _order(self, start: int, backward: bool) -> list[int]:
        """Chunks to scan from the one holding line ``start``, wrapping around to it again."""
        k, n = self._locate(start)[0], len(self._chunks)
        order = [*range(k, -1, -1), *range(n - 1, k, -1)] if backward else [*range(k, n), *range(k)]
        return [*order, k]  # the start chunk again: its matches on the far side of the start

    def find(self, pattern: re.Pattern[str], line: int, col: int, backward: bool = False,
             skip_empty: bool = True) -> Match | None:
        """The next match after (line, col), or the last one before it, wrapping around.

        Matches never span lines (as in QTextDocument.find). A chunk is first searched as one
        string, so a miss over a million lines costs one regex pass, not a loop over lines.
        """
        scan = _prescan(pattern)
        for passes, k in enumerate(self._order(line, backward)):
            if scan is not None and scan.search(self._joined(k)) is None:
                continue
            first, lines = self._starts[k], self._lines_of(k)
            rows = range(len(lines) - 1, -1, -1) if backward else range(len(lines))
            for j in rows:
                found = self._find_in_line(pattern, lines[j], first + j, line, col, backward,
                                           passes > 0, skip_empty)
                if found is not None:
                    return found
        return None

    @staticmethod
    def _find_in_line(pattern: re.Pattern[str], text: str, row: int, line: int, col: int,
                      backward: bool, wrapped: bool, skip_empty: bool) -> Match | None:
        """A match in ``row``, on the right side of (line, col) unless the search has wrapped."""
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
                    replacement: str | Callable[[re.Match[str]], str]) -> tuple[dict[int, str], int]:
        """New text of every line with a (non-empty) match, and how many matches were replaced.

        ``replacement`` is literal text or a function of the match. Each chunk is replaced as
        one string when no match crosses a line end, else line by line. The caller applies the
        changes with :meth:`set_lines`, so they can be one undo step.
        """
        changes: dict[int, str] = {}
        total = 0
        crossed = False

        def swap(match: re.Match[str]) -> str:
            nonlocal total, crossed
            found = match.group()
            if not found:
                return ""
            crossed = crossed or "\n" in found
            total += 1
            return replacement if isinstance(replacement, str) else replacement(match)

        scan = _prescan(pattern)
        for k in range(len(self._chunks)):
            joined = self._joined(k)
            if scan is not None and scan.search(joined) is None:
                continue
            first, lines = self._starts[k], self._lines_of(k)
            before, crossed = total, False
            new_lines = scan.sub(swap, joined).split("\n") if scan is not None else None
            if new_lines is None or crossed or len(new_lines) != len(lines):
                total = before
                new_lines = [pattern.sub(swap, text) for text in lines]
            for j, (old, new) in enumerate(zip(lines, new_lines, strict=True)):
                if old is not new and old != new:
                    changes[first + j] = new
        return changes, total

def _prescan(pattern: re.Pattern[str]) -> re.Pattern[str] | None:
    """A pattern that finds, in lines joined by "\\n", every chunk where ``pattern`` matches a
    line (maybe more), or None when no such pattern is sure (anchors to the whole string,
    look-arounds, explicit newlines): then every line is searched.
    """
    source = pattern.pattern
    if any(part in source for part in ("\\A", "\\Z", "(?<", "(?!", "(?=", "\\n")):
        return None
    return re.compile(source, pattern.flags | re.MULTILINE)


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
        lf = len(buffer) - 1  # counted while cutting into chunks
        content.counts = {"LF": lf, "CRLF": 0, "CR": 0}
        content.endings = "LF" if lf else "none"
    content.text = ""
    content.mtime_ns = info.st_mtime_ns
    return content, buffer


def _fast_utf8(data: bytes) -> TextContent | None:
    """The content of valid UTF-8 without "\\r" or a BOM, or None to take the general path."""
    from storage.sniff.text import BOMS

    if any(data.startswith(bom) for bom, _name in BOMS):
        return None
    try:
        text = codecs.decode(data, "utf-8")
    except UnicodeDecodeError:
        return None
    if "\u2029" in text:
        return None
    return TextContent(text, "utf-8", b"", how="valid UTF-8", size=len(data))


def save_lines(path: str, buffer: LineBuffer, content: TextContent, *, backup: bool = False,
               **options: object) -> TextContent:
    """Worker body: save a buffer (a :meth:`~LineBuffer.snapshot`) through :func:`save_text`.

    Endings, encoding and BOM are kept as in any save; the returned content drops its text, as
    :func:`load_lines` does.
    """
    fresh = save_text(path, buffer.text(), content, backup=backup, **options)
    fresh.text = ""
    return fresh
