"""The serialized text of a JSON document for a read-only viewer, and where each node's text is.

Big documents (hundreds of megabytes) cannot go into a text widget: the viewer shows only the
visible lines of one UTF-8 buffer, found through an array of line starts. msgspec writes and
indents the buffer in C (about 10 times faster than ``json.dumps`` with an indent), a bounded
piece at a time so the GUI thread is never held up for long. A node's
text is found on demand from its path: in indented JSON every line is structural (strings never
hold a raw newline), so the children of a container at depth ``d`` are exactly the lines indented
``d + 1`` times that start with a non-blank; counting them needs one regex pass over the
container, not a re-serialisation. JSON Lines records are one compact line each; inside a line
the children are found with a small tokenizer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from storage.formats.json.io import JsonFormat, dumps, dumps_jsonl
from storage.formats.json.search import count_nodes

if TYPE_CHECKING:
    import numpy as np  # imported where a text image is made or searched: not at launch

Span = tuple[int, int]


@dataclass
class TextImage:
    """UTF-8 text, the byte offset where each line starts, and how it was indented."""

    data: bytes
    line_starts: np.ndarray  # int64, one per line, ascending; line_starts[0] == 0
    unit: bytes = b"  "  # one level of indentation
    jsonl: bool = False

    @property
    def line_count(self) -> int:
        return len(self.line_starts)

    def line(self, number: int, limit: int | None = None) -> str:
        """Line ``number`` (0-based) without its newline; at most ``limit`` bytes of it."""
        start = int(self.line_starts[number])
        end = int(self.line_starts[number + 1]) - 1 if number + 1 < self.line_count else len(self.data)
        if limit is not None:
            end = min(end, start + limit)
        return self.data[start:end].decode("utf-8", "ignore" if limit is not None else "replace")

    def line_of(self, offset: int) -> int:
        """The line holding byte ``offset``."""
        import numpy as np

        return int(np.searchsorted(self.line_starts, offset, side="right")) - 1

    def column_of(self, offset: int) -> int:
        """The character column of byte ``offset`` in its line."""
        start = int(self.line_starts[self.line_of(offset)])
        return len(self.data[start:offset].decode("utf-8", "replace"))

    def longest_line(self) -> int:
        """Length in bytes of the longest line (for the horizontal scroll range)."""
        import numpy as np

        ends = np.append(self.line_starts[1:], len(self.data) + 1)
        return int((ends - self.line_starts).max()) - 1 if self.line_count else 0


def line_starts_of(data: bytes) -> np.ndarray:
    import numpy as np

    newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    return np.concatenate(([0], newlines + 1)).astype(np.int64)


def serialize_for_view(value: Any, fmt: JsonFormat | None = None, lines: bool = False,
                       cancel: Callable[[], bool] | None = None) -> TextImage | None:
    """The document's text as the text view shows it (indented; JSON Lines one record a line).

    Returns None when ``cancel`` says the request is no longer wanted.
    """
    if lines:
        data = dumps_jsonl(value).encode("utf-8", "surrogatepass")
        return TextImage(data, line_starts_of(data), jsonl=True)
    indent = fmt.indent if fmt is not None and fmt.indent is not None else 2
    unit = b"\t" if indent == "\t" else b" " * int(indent)
    try:
        pieces: list[bytes] = []
        _emit(value, 0, unit, pieces, cancel)
        data = b"".join(pieces)
    except _Cancelled:
        return None
    except (UnicodeEncodeError, TypeError, OverflowError, msgspec.EncodeError):
        # lone surrogates or other values msgspec will not write: the standard library does
        data = dumps(value, JsonFormat(indent=indent, trailing_newline=False)).encode(
            "utf-8", "surrogatepass")
    if cancel is not None and cancel():
        return None
    return TextImage(data, line_starts_of(data), unit)


CHUNK = 2000  # children written per msgspec call in a big container
ONE_SHOT = 100_000  # values written in one msgspec call at most (when the size is known)


class _Cancelled(Exception):
    pass


def _one(value: Any, depth: int, unit: bytes) -> bytes:
    """``value`` indented, its first line at the caller's position, the rest ``depth`` deeper."""
    text = msgspec.json.format(msgspec.json.encode(value), indent=len(unit))
    if unit == b"\t":
        text = _tabs(text)
    return text.replace(b"\n", b"\n" + unit * depth) if depth else text


def _emit(value: Any, depth: int, unit: bytes, out: list[bytes],
          cancel: Callable[[], bool] | None) -> None:
    """Write ``value`` in pieces of bounded size: msgspec holds the GIL while it writes, so
    one call for a 100 MB document would stop the GUI thread for most of a second."""
    if (not isinstance(value, dict | list) or not value
            or (len(value) <= CHUNK and count_nodes(value, ONE_SHOT) < ONE_SHOT)):
        out.append(_one(value, depth, unit))
        return
    if cancel is not None and cancel():
        raise _Cancelled
    is_dict = isinstance(value, dict)
    items: list[Any] = list(value.items()) if isinstance(value, dict) else value
    out.append(b"{" if is_dict else b"[")
    if len(items) <= CHUNK:  # few children, some of them big: each on its own
        inner = b"\n" + unit * (depth + 1)
        for index, item in enumerate(items):
            out.append(inner if index == 0 else b"," + inner)
            if is_dict:
                out.append(msgspec.json.encode(item[0]) + b": ")
                item = item[1]
            _emit(item, depth + 1, unit, out, cancel)
    else:
        for start in range(0, len(items), CHUNK):
            batch = items[start:start + CHUNK]
            text = _one(dict(batch) if is_dict else batch, depth, unit)
            out.append((b",\n" if start else b"\n") + text[text.index(b"\n") + 1:text.rindex(b"\n")])
            if cancel is not None and cancel():
                raise _Cancelled
    out.append(b"\n" + unit * depth + (b"}" if is_dict else b"]"))


def _tabs(data: bytes) -> bytes:
    return re.sub(rb"(?m)^( +)", lambda m: b"\t" * len(m.group(1)), data)


def image_of_text(text: str, jsonl: bool = False, unit: bytes = b"  ") -> TextImage:
    """A :class:`TextImage` of text already made (the small, editable text view's)."""
    data = text.encode("utf-8", "surrogatepass")
    return TextImage(data, line_starts_of(data), unit, jsonl)


# -- finding a node's text --------------------------------------------------------------------

def find_span(image: TextImage, root: Any, path: Sequence[Any],
              cancel: Callable[[], bool] | None = None) -> Span | None:
    """Byte span of the node at ``path`` (an object member's span starts at its key)."""
    data = image.data
    if image.jsonl:
        if not path:
            return 0, len(data)
        row = path[0]
        if not isinstance(row, int) or row >= image.line_count:
            return None
        start = int(image.line_starts[row])
        end = data.find(b"\n", start)
        return _compact_span(data, start, len(data) if end < 0 else end, root[row], path[1:])
    start, end = 0, len(data)
    value = root
    for depth, key in enumerate(path):
        row = _row(value, key)
        if row is None:
            return None
        span = _child_span(data, image.unit * (depth + 1), start, end, row, cancel)
        if span is None:
            return None
        start, end = span
        value = value[key]
    return start, end


def _row(container: Any, key: Any) -> int | None:
    if isinstance(container, list):
        return key if isinstance(key, int) and 0 <= key < len(container) else None
    if isinstance(container, dict):
        for row, k in enumerate(container):
            if k == key:
                return row
    return None


_CHILD_PATTERNS: dict[bytes, re.Pattern[bytes]] = {}
_CLOSE_PATTERNS: dict[bytes, re.Pattern[bytes]] = {}


def _child_span(data: bytes, prefix: bytes, start: int, end: int, row: int,
                cancel: Callable[[], bool] | None) -> Span | None:
    pattern = _CHILD_PATTERNS.get(prefix)
    if pattern is None:
        pattern = _CHILD_PATTERNS[prefix] = re.compile(
            rb"\n" + re.escape(prefix) + rb"(?=[^ \t\]}])")
    found = None
    for count, match in enumerate(pattern.finditer(data, start, end)):
        if count == row:
            found = match.end()
            break
        if cancel is not None and count % 65536 == 65535 and cancel():
            return None
    if found is None:
        return None
    line_end = data.find(b"\n", found, end)
    line_end = end if line_end < 0 else line_end
    line = data[found:line_end].rstrip(b",")
    if line.endswith((b"[", b"{")):
        close = _CLOSE_PATTERNS.get(prefix)
        if close is None:
            close = _CLOSE_PATTERNS[prefix] = re.compile(rb"\n" + re.escape(prefix) + rb"[\]}]")
        closing = close.search(data, line_end, end)
        return (found, closing.end()) if closing else None
    return found, found + len(line)


_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{},]')


def _compact_span(data: bytes, start: int, end: int, value: Any, path: Sequence[Any]) -> Span | None:
    """Span inside one compact line (JSON Lines records)."""
    for key in path:
        row = _row(value, key)
        if row is None:
            return None
        span = _compact_child(data, start, end, row)
        if span is None:
            return None
        start, end = span
        value = value[key]
    return start, end


def _compact_child(data: bytes, start: int, end: int, row: int) -> Span | None:
    depth, count, child_start = 0, 0, None
    for match in _TOKEN.finditer(data, start, end):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth == 1:
                child_start = match.end()
                continue
        elif token in (b"]", b"}"):
            depth -= 1
            if depth == 0:
                return (_skip_blank(data, child_start), match.start()) if count == row else None
        elif token == b"," and depth == 1:
            if count == row:
                return _skip_blank(data, child_start), match.start()
            count += 1
            child_start = match.end()
    return None


def _skip_blank(data: bytes, pos: int | None) -> int:
    pos = pos or 0
    while pos < len(data) and data[pos:pos + 1] in (b" ", b"\t"):
        pos += 1
    return pos


def path_at(image: TextImage, root: Any, offset: int,
            cancel: Callable[[], bool] | None = None) -> list[Any]:
    """The path of the innermost node whose text holds byte ``offset`` (a click in the text)."""
    if image.jsonl:
        line = image.line_of(offset)
        return [line] if isinstance(root, list) and 0 <= line < len(root) else []
    data = image.data
    offset = min(max(0, offset), len(data) - 1)
    while offset > 0 and data[offset:offset + 1] in (b",", b"\n"):
        offset -= 1  # past the end of a line: the value the line ends
    path: list[Any] = []
    start, end, value = 0, len(data), root
    while isinstance(value, dict | list) and value:
        prefix = image.unit * (len(path) + 1)
        pattern = _CHILD_PATTERNS.get(prefix)
        if pattern is None:
            pattern = _CHILD_PATTERNS[prefix] = re.compile(
                rb"\n" + re.escape(prefix) + rb"(?=[^ \t\]}])")
        row = -1
        for row_seen, match in enumerate(pattern.finditer(data, start, end)):
            if match.start() + 1 > offset:
                break
            row = row_seen
            if cancel is not None and row_seen % 65536 == 65535 and cancel():
                return path
        if row < 0:
            break
        span = _child_span(data, prefix, start, end, row, cancel)
        if span is None or offset > span[1]:
            break  # on a closing bracket: the container itself
        key = row if isinstance(value, list) else next(
            k for i, k in enumerate(value) if i == row)
        path.append(key)
        start, end, value = span[0], span[1], value[key]
    return path
