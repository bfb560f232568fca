"""Python 2 byte strings in a pickle: which text values the file wrote as ``str`` (not ``unicode``).

Python 2 pickles its byte strings with STRING, BINSTRING and SHORT_BINSTRING; Python 3 reads them
as text (ASCII, or latin-1 as pandas, NumPy and joblib read Python 2 files). Save writes those
values back with the same opcodes (``pickle_write``), so Python 2 gets byte strings again and
``pickle.load(f, encoding="latin1")`` the same text. The opcodes are walked, nothing is loaded.
"""

from __future__ import annotations

import codecs
import io
import pickletools

BYTE_STRING_OPS = frozenset({"STRING", "BINSTRING", "SHORT_BINSTRING"})
TEXT_OPS = frozenset({"UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8"})
MAX_SCAN = 64 * 1024**2  # bytes of pickle walked for them; beyond, strings are written as text
_CODES = {op.code.encode("latin-1")[0]: op for op in pickletools.opcodes}


def _stringnl(stream: io.BytesIO) -> str | None:
    """A protocol-0 STRING argument as Python 3 reads it: quoted, escapes as Python 2 wrote them."""
    line = stream.readline()
    if not line.endswith(b"\n"):
        return None
    body = line[:-1]
    if len(body) < 2 or body[0] != body[-1] or body[:1] not in (b"'", b'"'):
        return None
    return codecs.escape_decode(body[1:-1])[0].decode("latin-1")


def byte_strings(data: bytes | memoryview, start: int = 0, end: int | None = None) -> frozenset[str]:
    """The text values of the Python 2 byte strings of the pickle in ``data[start:end]``, except
    those also written as unicode there (one value cannot be told apart by where it came from);
    empty when there are none or the pickle is longer than MAX_SCAN."""
    end = len(data) if end is None else end
    if end - start > MAX_SCAN:
        return frozenset()
    stream = io.BytesIO(bytes(data[start:end]))
    found: set[str] = set()
    text: set[str] = set()
    try:
        while (byte := stream.read(1)):
            op = _CODES.get(byte[0])
            if op is None or op.name == "STOP":
                break
            if op.name == "STRING":
                value = _stringnl(stream)
                if value is None:
                    break
                found.add(value)
            elif op.arg is not None:
                arg = op.arg.reader(stream)
                if op.name in BYTE_STRING_OPS:
                    found.add(arg)
                elif op.name in TEXT_OPS:
                    text.add(arg)
    except (ValueError, UnicodeDecodeError):
        pass  # what was read so far stands; the safe load already said where the pickle breaks
    return frozenset(found - text)
