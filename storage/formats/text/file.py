"""Plain text files read for editing and written back byte for byte.

Reading finds the encoding (a byte-order mark first, then strict UTF-8, then charset-normalizer's
guess), decodes strictly and notes the line endings. The editor sees ``\\n`` only; saving puts
back the BOM, the encoding and each line's own ending, so a file saved without edits is
identical to what was read, and after an edit only the edited lines differ. Bytes that do not
decode make the text read-only: they are shown escaped (``\\xff``) with their offsets and can
never be written back in a lossy form.
"""

from __future__ import annotations

import codecs
import os
import threading
from dataclasses import dataclass, field

from storage.core.atomic import atomic_write
from storage.core.disk_stamp import read_regular
from storage.core.errors import UnreadableError, WriteError
from storage.sniff.text import BOMS, guess_legacy_encoding

LARGE_TEXT = 50 * 1024 * 1024  # from this size the GUI opens a paged, read-only view first
GUESS_WINDOW = 256 * 1024  # bytes charset-normalizer looks at
MAX_BAD_OFFSETS = 100
ENDINGS = {"LF": "\n", "CRLF": "\r\n", "CR": "\r"}
# Codecs whose strict decoding is exactly undone by encoding: no round-trip check needed.
_BIJECTIVE = ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "latin-1", "ascii")

_bad = threading.local()


def _record_bad(exc: UnicodeError) -> tuple[str, int]:
    """Error handler: remember where undecodable bytes are and show them as ``\\xNN``."""
    assert isinstance(exc, UnicodeDecodeError)
    found: list[int] = _bad.offsets
    if len(found) < MAX_BAD_OFFSETS:
        found.append(exc.start)
    _bad.count += exc.end - exc.start
    return "".join(f"\\x{b:02x}" for b in exc.object[exc.start:exc.end]), exc.end


codecs.register_error("datashelf-show-bad", _record_bad)


def codec_name(encoding: str) -> str:
    """Python's canonical name for an encoding ('UTF8' -> 'utf-8'); KeyError-free."""
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        return encoding


@dataclass
class TextContent:
    """A decoded text file and everything needed to write it back as it was."""

    text: str  # lines joined by "\n", as the editor shows them
    encoding: str  # codec without the BOM (utf-8, utf-16-le, cp1252, ...)
    bom: bytes = b""
    endings: str = "none"  # LF, CRLF, CR, mixed or none
    counts: dict[str, int] = field(default_factory=dict)
    newline: str = "\n"  # the dominant ending: what new lines get
    lines: list[str] | None = None  # original lines, kept only for mixed endings
    terminators: list[str] | None = None  # each original line's ending ("" for the last)
    bad_offsets: list[int] = field(default_factory=list)  # undecodable bytes (first 100)
    bad_count: int = 0
    how: str = ""  # how the encoding was found, for the user
    guessed: bool = False  # the encoding is a guess (no BOM, not UTF-8, not chosen by the user)
    read_only: str = ""  # why the text cannot be saved ("" when it can)
    size: int = 0
    mtime_ns: int = 0

    @property
    def line_count(self) -> int:
        return self.text.count("\n") + 1 if self.text else 0

    def encoding_label(self) -> str:
        return self.encoding.upper() + (" with BOM" if self.bom else "")


def _bom(data: bytes) -> tuple[str | None, bytes]:
    for bom, name in BOMS:
        if data.startswith(bom):
            return codec_name(name), bom
    return None, b""


def _guess(data: bytes, bad: int) -> tuple[str, str]:
    """(codec, how it was found) for bytes that are not UTF-8 (:func:`guess_legacy_encoding`)."""
    where = f"not UTF-8 (byte {bad:,})"
    encoding, why = guess_legacy_encoding(data[:GUESS_WINDOW])
    if encoding is None:
        return "utf-8", f"{where} and no other encoding fits"
    return codec_name(encoding), f"{where}; {why}"


def detect_encoding(data: bytes) -> tuple[str, bytes, str]:
    """(codec, BOM, how) for ``data``: a BOM wins, then strict UTF-8, then a guess."""
    found, bom = _bom(data)
    if found:
        return found, bom, f"byte-order mark {bom.hex(' ')}"
    try:
        codecs.decode(data, "utf-8")
        return "utf-8", b"", "valid UTF-8"
    except UnicodeDecodeError as exc:
        encoding, how = _guess(data, exc.start)
        return encoding, b"", how


def decode_text(data: bytes, encoding: str | None = None) -> TextContent:
    """Decode ``data``; ``encoding`` overrides detection (a matching BOM is still kept)."""
    found, bom = _bom(data)
    text: str | None = None
    guessed = False
    if encoding is not None:
        encoding = codec_name(encoding)
        how = "chosen by the user"
        if encoding != found:
            bom = b""
    elif found:
        encoding, how = found, f"byte-order mark {bom.hex(' ')}"
    else:
        try:
            text, encoding, how = codecs.decode(data, "utf-8"), "utf-8", "valid UTF-8"
        except UnicodeDecodeError as exc:
            encoding, how = _guess(data, exc.start)
            guessed = True
    body = memoryview(data)[len(bom):]
    read_only = ""
    offsets: list[int] = []
    count = 0
    try:
        if text is None:
            text = codecs.decode(body, encoding)
    except UnicodeDecodeError:
        _bad.offsets, _bad.count = [], 0
        text = codecs.decode(body, encoding, "datashelf-show-bad")
        offsets = [o + len(bom) for o in _bad.offsets]
        count = _bad.count
        read_only = (f"{count:,} byte(s) are not valid {encoding.upper()} (first at byte "
                     f"{offsets[0]:,}); they are shown as \\xNN. Read-only, so saving can never "
                     "lose them.")
    except LookupError:
        raise UnreadableError(f"unknown encoding {encoding!r}") from None
    if not read_only and encoding not in _BIJECTIVE:
        try:
            same = codecs.encode(text, encoding) == body
        except UnicodeEncodeError:
            same = False
        if not same:
            read_only = (f"{encoding.upper()} does not give back the same bytes when saved; "
                         "read-only. Choose another encoding.")
    if "\u2029" in text and not read_only:
        read_only = "contains U+2029 paragraph separators, which the editor cannot keep; read-only."
    content = TextContent("", encoding, bom, bad_offsets=offsets, bad_count=count, how=how,
                          guessed=guessed, read_only=read_only, size=len(data))
    content.text = _split_endings(text, content)
    return content


def _split_endings(text: str, content: TextContent) -> str:
    crlf = text.count("\r\n")
    cr = text.count("\r") - crlf
    lf = text.count("\n") - crlf
    content.counts = {"LF": lf, "CRLF": crlf, "CR": cr}
    kinds = [k for k, n in content.counts.items() if n]
    if not kinds:
        content.endings = "none"
        return text
    content.newline = ENDINGS[max(kinds, key=lambda k: content.counts[k])]
    if len(kinds) == 1:
        content.endings = kinds[0]
        return text if kinds[0] == "LF" else text.replace(ENDINGS[kinds[0]], "\n")
    content.endings = "mixed"
    lines: list[str] = []
    terminators: list[str] = []
    start, n = 0, len(text)
    r = nl = -2  # the next "\r" and "\n" at or after start; -1 none left, -2 not searched yet
    while True:
        # Search again only when passed: searching both each line was quadratic (a 2 MB LF file
        # with one CRLF took 5 s: every line scanned to the end for the next "\r").
        if r != -1 and r < start:
            r = text.find("\r", start)
        if nl != -1 and nl < start:
            nl = text.find("\n", start)
        ends = [p for p in (r, nl) if p >= 0]
        if not ends:
            lines.append(text[start:])
            terminators.append("")
            break
        pos = min(ends)
        term = "\r\n" if text.startswith("\r\n", pos) else text[pos]
        lines.append(text[start:pos])
        terminators.append(term)
        start = pos + len(term)
        if start > n:
            break
    content.lines, content.terminators = lines, terminators
    return "\n".join(lines)


def load_text(path: str, encoding: str | None = None) -> TextContent:
    """Read and decode a whole text file (worker body)."""
    data, info = read_regular(path)
    content = decode_text(data, encoding)
    content.mtime_ns = info.st_mtime_ns
    return content


def encode_text(text: str, content: TextContent, *, encoding: str | None = None,
                newline: str | None = None, bom: bool | None = None) -> bytes:
    """The bytes to save: ``text`` (lines joined by "\\n") in the file's encoding and endings.

    ``newline`` ("\\n", "\\r\\n", "\\r") rewrites every ending; None keeps each line's own.
    Raises WriteError when a character cannot be written in the encoding.
    """
    if content.read_only:
        raise WriteError(f"Not saved: {content.read_only}")
    encoding = codec_name(encoding or content.encoding)
    if newline is None and content.endings == "mixed" and content.lines is not None:
        joined = _join_mixed(text, content)
    else:
        joined = text.replace("\n", newline or content.newline)
    keep_bom = bool(content.bom) if bom is None else bom
    prefix = b""
    if keep_bom:
        prefix = (content.bom if encoding == content.encoding and content.bom
                  else codecs.encode("\ufeff", encoding))
    try:
        return prefix + codecs.encode(joined, encoding)
    except UnicodeEncodeError as exc:
        line = joined.count("\n", 0, exc.start) + 1
        raise WriteError(f"Not saved: {joined[exc.start]!r} on line {line} cannot be written in "
                         f"{encoding.upper()}. Choose another encoding.") from None


def _join_mixed(text: str, content: TextContent) -> str:
    """Join edited lines keeping every unedited line's own ending (mixed-ending files)."""
    old, ends = content.lines or [], content.terminators or []
    new = text.split("\n")
    n, m = len(old), len(new)
    p = 0
    while p < min(n, m) and old[p] == new[p]:
        p += 1
    s = 0
    while s < min(n, m) - p and old[n - 1 - s] == new[m - 1 - s]:
        s += 1
    mapped = _match_middle(old[p:n - s], new[p:m - s], p)
    parts: list[str] = []
    for i, line in enumerate(new):
        if i < p:
            term = ends[i]
        elif i >= m - s:
            term = ends[i - m + n]
        else:
            j = mapped.get(i)
            term = ends[j] if j is not None else content.newline
        parts.append(line)
        parts.append("" if i == m - 1 else (term or content.newline))
    return "".join(parts)


def _match_middle(old: list[str], new: list[str], base: int) -> dict[int, int]:
    """New line index -> old line index for the changed middle of an edited file.

    Same length: line by line. Otherwise a line diff (for up to 20,000 lines) finds the
    untouched lines between two edits; beyond that, new lines take the common ending.
    """
    if len(old) == len(new):
        return {base + k: base + k for k in range(len(new))}
    if len(old) + len(new) > 20_000:
        return {}
    import difflib

    mapped: dict[int, int] = {}
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            for k in range(j2 - j1):
                mapped[base + j1 + k] = base + i1 + k
    return mapped


def save_text(path: str, text: str, content: TextContent, *, backup: bool = False,
              **options: object) -> TextContent:
    """Encode and write atomically (keeping the old file as NAME.bak when ``backup``); return the
    content as it now is on disk."""
    data = encode_text(text, content, **options)  # type: ignore[arg-type]
    atomic_write(path, data, backup=backup)
    fresh = decode_text(data, options.get("encoding") or content.encoding)  # type: ignore[arg-type]
    try:
        fresh.mtime_ns = os.stat(path).st_mtime_ns
    except OSError:
        pass
    return fresh
