"""Python 2 byte strings in a pickle: which text values the file wrote as ``str`` (not ``unicode``).

Python 2 pickles its byte strings with STRING, BINSTRING and SHORT_BINSTRING; Python 3 reads them
as text (ASCII, or latin-1 as pandas, NumPy and joblib read Python 2 files). Save writes those
values back with the same opcodes (``pickle_write``), so Python 2 gets byte strings again and
``pickle.load(f, encoding="latin1")`` the same text. The opcodes are walked, nothing is loaded.
"""

from __future__ import annotations

import codecs
import pickletools

BYTE_STRING_OPS = frozenset({"STRING", "BINSTRING", "SHORT_BINSTRING"})
TEXT_OPS = frozenset({"UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8"})
MAX_SCAN = 64 * 1024**2  # bytes of pickle walked for them; beyond, strings are written as text
ASCII_SCAN = 8 * 1024**2  # the same for an ASCII-only pickle (Python 3 reads str and unicode alike)
_OTHER, _BYTES, _TEXT, _STOP, _PAIR = range(5)


def _table() -> dict[int, tuple[int, int]]:
    """Opcode byte -> (argument size as pickletools codes it, what the opcode is to us)."""
    table = {}
    for op in pickletools.opcodes:
        size = op.arg.n if op.arg is not None else 0
        kind = (_BYTES if op.name in BYTE_STRING_OPS else _TEXT if op.name in TEXT_OPS
                else _STOP if op.name == "STOP" else _PAIR if op.arg is not None and op.arg.name ==
                "stringnl_noescape_pair" else _OTHER)
        table[op.code.encode("latin-1")[0]] = (size, kind)
    return table


_OPS = _table()
_LENGTHS = {-2: (1, False), -3: (4, True), -4: (4, False), -5: (8, False)}  # counted arguments


def _quoted(body: bytes) -> str | None:
    """A protocol-0 STRING argument as Python 3 reads it: quoted, escapes as Python 2 wrote them."""
    if len(body) < 2 or body[0] != body[-1] or body[:1] not in (b"'", b'"'):
        return None
    return codecs.escape_decode(body[1:-1])[0].decode("latin-1")


def byte_strings(data: bytes | memoryview, start: int = 0, end: int | None = None,
                 limit: int = MAX_SCAN) -> frozenset[str]:
    """The text values of the Python 2 byte strings of the pickle in ``data[start:end]``, except
    those also written as unicode there (one value cannot be told apart by where it came from);
    empty when there are none or the pickle is longer than ``limit``. One pass over the opcodes,
    skipping arguments by their sizes (a hot loop: no reader objects)."""
    end = len(data) if end is None else end
    if end - start > limit:
        return frozenset()
    buf = bytes(data[start:end])
    found: set[str] = set()
    text: set[str] = set()
    pos, size, ops, find = 0, len(buf), _OPS, buf.find
    try:
        while pos < size:
            entry = ops.get(buf[pos])
            if entry is None:
                break
            n, kind = entry
            pos += 1
            if n >= 0:
                pos += n
            elif n == -1:  # up to a newline
                line_end = find(b"\n", pos)
                if line_end < 0:
                    break
                if kind == _BYTES:
                    value = _quoted(buf[pos:line_end])
                    if value is None:
                        break
                    found.add(value)
                elif kind == _TEXT:
                    text.add(buf[pos:line_end].decode("raw-unicode-escape"))
                pos = line_end + 1
                if kind == _PAIR:
                    line_end = find(b"\n", pos)
                    if line_end < 0:
                        break
                    pos = line_end + 1
            else:
                width, signed = _LENGTHS[n]
                length = int.from_bytes(buf[pos:pos + width], "little", signed=signed)
                pos += width
                if length < 0 or pos + length > size:
                    break
                if kind == _BYTES:
                    found.add(buf[pos:pos + length].decode("latin-1"))
                elif kind == _TEXT:
                    text.add(buf[pos:pos + length].decode("utf-8", "surrogatepass"))
                pos += length
            if kind == _STOP:
                break
    except (ValueError, UnicodeDecodeError):
        pass  # what was read so far stands; the safe load already said where the pickle breaks
    return frozenset(found - text)
