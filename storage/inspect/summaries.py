"""Per-format summaries for ``inspect``: the :class:`Collector` and the text, JSON and binary ones.

A summarizer gets the sniff result and a :class:`Collector`; it fills ``summary``, adds
findings, and raises :class:`KnownError` (or sets ``collector.error``) when the file cannot be
read. Findings added before an error are kept: a broken pickle's dangerous globals still count.
Each format names its summarizer in ``storage.formats.registry`` (the other formats' live in
``summaries_objects`` and ``summaries_db``, imported only when a file of theirs is inspected).
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, AnyStr

from storage.core.disk_stamp import chunks
from storage.core.errors import KnownError
from storage.sniff.detect import SniffResult
from storage.sniff.text import detect_bom

CHUNK = 1024 * 1024


@dataclass
class Collector:
    """What a summarizer found: the summary dict, findings, and a fatal error if any."""

    summary: dict[str, Any]
    findings: list[dict[str, Any]] = field(default_factory=list)
    error: KnownError | None = None
    incomplete: list[str] = field(default_factory=list)  # parts not checked: never "nothing dangerous"

    def add(self, severity: str, message: str, global_name: str | None = None) -> None:
        finding: dict[str, Any] = {"severity": severity, "message": message}
        if global_name:
            finding["global"] = global_name
        self.findings.append(finding)


Summarizer = Callable[[SniffResult, Collector], None]


# -- text ---------------------------------------------------------------------------------------

def _count_breaks(pieces: Iterator[AnyStr]) -> tuple[dict[str, int], bool]:
    """Counts of LF, CRLF and CR breaks over the pieces, and whether the last piece ended one."""
    lf = crlf = cr = 0
    carry_cr, ends_break, seen = False, True, False
    for piece in pieces:
        if not piece:
            continue
        seen = True
        nl, r = ("\n", "\r") if isinstance(piece, str) else (b"\n", b"\r")
        if carry_cr and piece[:1] == nl:
            crlf, cr, lf = crlf + 1, cr - 1, lf - 1
        pair = piece.count(r + nl)
        crlf += pair
        lf += piece.count(nl) - pair
        cr += piece.count(r) - pair
        carry_cr = piece[-1:] == r
        ends_break = piece[-1:] in (nl, r)
    return {"LF": lf, "CRLF": crlf, "CR": cr}, ends_break or not seen


def _decoded(path: str, encoding: str, skip: int) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    for block in chunks(path, skip):
        yield decoder.decode(block)
    yield decoder.decode(b"", final=True)


def _utf8_error(path: str, skip: int) -> int | None:
    """Byte offset of the first invalid UTF-8 sequence, or None when the whole file is UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = skip
    for block in chunks(path, skip):
        try:
            decoder.decode(block)
        except UnicodeDecodeError as exc:
            return offset + exc.start
        offset += len(block)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return offset
    return None


def summarize_text(result: SniffResult, c: Collector) -> None:
    """Encoding, line endings and line count (counted over the whole file in chunks)."""
    head = next(chunks(result.path, 0, 64 * 1024), b"")
    encoding, bom_len = detect_bom(head)
    c.summary["bom"] = bool(encoding)
    if encoding is None:
        bad = _utf8_error(result.path, 0)
        if bad is None:
            encoding = "utf-8"
        else:
            from storage.sniff.text import guess_legacy_encoding

            encoding, why = guess_legacy_encoding(head)  # the editor's rule
            c.summary["invalid_utf8_at"] = bad
            c.add("info", f"not UTF-8 (first invalid byte at {bad}); {why or 'encoding unknown'}")
    c.summary["encoding"] = encoding  # a Python codec name (the preview decodes with it), or None
    ascii_compatible = encoding is None or not encoding.replace("_", "-").startswith(("utf-16", "utf-32"))
    if encoding is None or ascii_compatible:
        counts, ends_break = _count_breaks(chunks(result.path, bom_len))
    else:
        counts, ends_break = _count_breaks(_decoded(result.path, encoding, bom_len))
    kinds = [kind for kind, n in counts.items() if n]
    c.summary["line_endings"] = {"kind": kinds[0] if len(kinds) == 1 else ("mixed" if kinds else "none"),
                                 **counts}
    breaks = sum(counts.values())
    c.summary["lines"] = breaks + (0 if ends_break or result.size <= bom_len else 1)
    if len(kinds) > 1:
        c.add("info", "mixed line endings: " + ", ".join(f"{counts[k]:,} {k}" for k in kinds))


# -- binary -------------------------------------------------------------------------------------

def summarize_binary(result: SniffResult, c: Collector) -> None:
    """The first bytes as hex; containers (zip, 7z) have their pickles scanned."""
    head = next(chunks(result.path, 0, 16), b"")
    c.summary["magic"] = head.hex(" ")
    if result.detail.get("compression"):
        c.summary["compression"] = result.detail["compression"]
    container = result.detail.get("container")
    if container:
        from storage.inspect.summaries_objects import scan_container

        scan_container(result, c, container)

