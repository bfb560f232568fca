"""A bounded look at the start of a file: decoded text, or a hex dump for binary data.

Used by the overview of a file whose format tab is not open yet, and by the file info panel.
Reads at most ``limit`` bytes and never opens anything that is not a regular file.
"""

from __future__ import annotations

import codecs
import os
import stat

from storage.core.errors import UnreadableError
from storage.formats import registry as format_registry

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def read_head(path: str | os.PathLike[str], limit: int = 64 * 1024) -> bytes:
    """The first ``limit`` bytes of a regular file (never blocks on a FIFO or device)."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise UnreadableError(f"Cannot read {os.fspath(path)}: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise UnreadableError(f"{os.fspath(path)} is not a regular file")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            return handle.read(limit)
    except OSError as exc:
        raise UnreadableError(f"Cannot read {os.fspath(path)}: {exc.strerror or exc}") from exc


def hex_dump(data: bytes, start: int = 0, width: int = 16) -> str:
    """Offset, hex and ASCII columns, like ``hexdump -C``."""
    lines = []
    for offset in range(0, len(data), width):
        chunk = data[offset:offset + width]
        hex_part = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{start + offset:08x}  {hex_part:<{width * 3 - 1}}  {text}")
    return "\n".join(lines)


def decode_head(data: bytes, encoding: str | None = None) -> str:
    """Decode the start of a text file; an incomplete last character is dropped, bad bytes shown."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            encoding = name
            break
    decoder = codecs.getincrementaldecoder(encoding or "utf-8")(errors="replace")
    return decoder.decode(data, final=False)


def preview_text(path: str | os.PathLike[str], fmt: str, *, encoding: str | None = None,
                 limit: int = 64 * 1024) -> tuple[str, bool]:
    """Return ``(text, truncated)``: decoded text for text-like formats, else a hex dump."""
    size = os.stat(path).st_size
    entry = format_registry.get(fmt)
    if entry is not None and entry.textual:
        data = read_head(path, limit)
        return decode_head(data, encoding), size > len(data)
    data = read_head(path, min(limit, 4096))
    return hex_dump(data), size > len(data)


FIRST_LINES_BYTES = 32 * 1024  # more than a screen of lines


def first_lines(path: str, fmt: str) -> str | None:
    """The whole lines in the first bytes of a text file (shown while its document is made), or
    None when its start does not read as text (compressed, binary)."""
    text, truncated = preview_text(path, fmt, limit=FIRST_LINES_BYTES)
    if "\x00" in text or text.count("\ufffd") > len(text) // 100:
        return None
    if truncated and "\n" in text:
        text = text[:text.rindex("\n")]
    return text
