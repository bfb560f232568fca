"""A read-only, paged window over a huge text file: only the lines on screen are decoded.

Positions are byte offsets of line starts, so no line index is needed and a 1 GB file shows
its first screen at once. Lines longer than :data:`MAX_LINE` bytes are shown in pieces.
"""

from __future__ import annotations

import codecs

from storage.formats.text.hex import ByteSource

MAX_LINE = 64 * 1024
DISPLAY_CHARS = 2000  # a screen never shows more of one line


class TextPager:
    """Lines of a text file by byte offset, decoded on demand with bad bytes shown as \\xNN."""

    def __init__(self, path: str, encoding: str = "utf-8", bom_len: int = 0) -> None:
        self.source = ByteSource(path)
        self.encoding = codecs.lookup(encoding).name
        self.start = bom_len
        self.newline = "\n".encode(self.encoding)
        self.unit = len(self.newline)

    @property
    def size(self) -> int:
        return self.source.size

    def close(self) -> None:
        self.source.close()

    def _aligned(self, pos: int) -> bool:
        return (pos - self.start) % self.unit == 0

    def _find_break(self, data: bytes, begin: int, base: int) -> int:
        """Index in ``data`` of the next newline at or after ``begin`` on a code-unit boundary."""
        pos = data.find(self.newline, begin)
        while pos >= 0 and not self._aligned(base + pos):
            pos = data.find(self.newline, pos + 1)
        return pos

    def line_start(self, offset: int) -> int:
        """The start of the line holding ``offset`` (looking back at most MAX_LINE bytes)."""
        offset = max(self.start, min(offset, self.size))
        offset -= (offset - self.start) % self.unit
        lo = max(self.start, offset - MAX_LINE)
        data = self.source.read(lo, offset - lo)
        pos = data.rfind(self.newline)
        while pos >= 0 and not self._aligned(lo + pos):
            pos = data.rfind(self.newline, 0, pos)
        return lo + pos + self.unit if pos >= 0 else lo

    def lines(self, offset: int, count: int) -> tuple[list[tuple[int, str]], int]:
        """Up to ``count`` lines from the line start ``offset``: [(offset, text)], next offset."""
        out: list[tuple[int, str]] = []
        pos = max(offset, self.start)
        while len(out) < count and pos < self.size:
            data = self.source.read(pos, MAX_LINE)
            if not data:
                break
            begin = 0
            while len(out) < count:
                end = self._find_break(data, begin, pos)
                if end < 0:
                    if begin == 0:  # a line longer than MAX_LINE, or the last line
                        cut = len(data) - (len(data) % self.unit)
                        out.append((pos, self._decode(data[:cut])))
                        begin = cut or len(data)
                    break
                out.append((pos + begin, self._decode(data[begin:end])))
                begin = end + self.unit
            pos += begin
        return out, pos

    def previous_start(self, offset: int, count: int = 1) -> int:
        """The start of the line ``count`` lines above the line start ``offset``."""
        for _ in range(count):
            if offset <= self.start:
                return self.start
            offset = self.line_start(offset - self.unit)
        return offset

    def _decode(self, raw: bytes) -> str:
        text = raw.decode(self.encoding, errors="backslashreplace")
        if text.endswith("\r"):
            text = text[:-1]
        if len(text) > DISPLAY_CHARS:
            text = text[:DISPLAY_CHARS] + " …"
        return text.replace("\r", "␍").replace("\t", "    ")
