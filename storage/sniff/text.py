"""Content checks for files without a binary signature: text, JSON, JSON Lines, protocol 0/1 pickles.

Protocol 0/1 pickles look like text; they are told apart by decoding their opcodes with
``pickletools.genops`` (which only decodes, never runs) and requiring the stream to end in a
STOP at the end of the file, so ordinary prose, CSV or JSON never passes for a pickle.
"""

from __future__ import annotations

import codecs
import io
import json
import re
import struct

BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)
JSON_EXTS = (".json", ".geojson")
JSONL_EXTS = (".jsonl", ".ndjson")
PICKLE_EXTS = (".pkl", ".pickle", ".pck", ".joblib", ".jbl")
_IDENT_PAIR = re.compile(r"^[A-Za-z_][\w.]* [A-Za-z_][\w.]*$")
_WHITESPACE = b" \t\r\n\f\v"
# Opcodes that need nothing on the stack: the only ones a pickle can start with (those of
# ``pickletools.opcodes`` with an empty ``stack_before``, written out so that sniffing text or JSON
# does not import pickletools and pickle; tests/storage/sniff checks the two agree).
_STARTERS = frozenset(b"()BCFGIJKLMNPSTUVX]cghjpqr}"
                      b"\x80\x82\x83\x84\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f\x95\x96\x97")
_CONTROL = bytes(b for b in range(32) if b not in b"\t\n\r\f\b\x1b") + b"\x7f"
_PRINTABLE_ASCII = bytes(range(32, 127)) + b"\t\n\r\f"
_TOKEN = re.compile(r"""[ \t\r\n]*(?:("(?:[^"\\\x00-\x1f]|\\["\\/bfnrtu])*")"""
                    r"|(-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)|(true|false|null)|([{}\[\]:,]))")


def detect_bom(data: bytes) -> tuple[str | None, int]:
    """The encoding a byte-order mark announces and the mark's length, or (None, 0)."""
    for bom, name in BOMS:
        if data.startswith(bom):
            return name, len(bom)
    return None, 0


PICKLE_WINDOW = 8192


def pickle_protocol01(head: bytes, size: int, tail: bytes, ext: str = "") -> tuple[int, str] | None:
    """(protocol, reason) when ``head`` decodes as a text-like (protocol 0/1) pickle, else None.

    A stream that breaks after a well-formed GLOBAL counts too when the extension says pickle:
    that is a damaged pickle (whose globals still matter), not prose.
    """
    if not head or head[0] not in _STARTERS or head[0] == 0x80:
        return None
    import pickletools  # only for a head that may be a pickle

    head = head[:PICKLE_WINDOW]  # opcodes are decoded in Python: judge by the first few KiB
    complete = len(head) >= size
    stream = io.BytesIO(head)
    protocol, stop_at, globals_seen = 0, None, 0
    try:
        for op, arg, pos in pickletools.genops(stream):
            protocol = max(protocol, op.proto)
            if op.name in ("GLOBAL", "INST") and _IDENT_PAIR.match(str(arg)):
                globals_seen += 1
            if op.name == "STOP":
                stop_at = pos
    except (ValueError, struct.error, OverflowError):
        if ext in PICKLE_EXTS and globals_seen:
            return protocol, (f"starts with pickle opcodes including a GLOBAL, then breaks at byte "
                              f"{stream.tell()}; the {ext} extension says pickle (a damaged one)")
        if complete or stream.tell() < len(head) or tail.rstrip(_WHITESPACE)[-1:] != b".":
            return None
        return protocol, (f"its first {len(head) // 1024} KiB decode as pickle opcodes (no PROTO "
                          "header) and the file ends with a STOP '.'")
    if stop_at is None:
        return None
    rest = head[stop_at + 1:]
    if rest.strip(_WHITESPACE) and not (len(rest) > 1 and rest[0] == 0x80 and 2 <= rest[1] <= 5):
        return None  # STOP in the middle of other data: text that happens to decode
    if not complete and rest[:1] != b"\x80":
        return None
    return protocol, (f"its bytes decode as pickle opcodes (protocol {protocol} opcodes, no PROTO "
                      f"header) ending with a STOP '.' at byte {stop_at}")


def json_prefix_ok(text: str, window: int = 1024) -> bool:
    """True when the start of ``text`` follows JSON grammar (four tokens or more, or all of it)."""
    text = text[:window]
    stack: list[str] = []
    expect = "value"
    tokens, pos = 0, 0
    while True:
        match = _TOKEN.match(text, pos)
        if not match:
            rest = text[pos:].lstrip(" \t\r\n")
            if not rest or (len(text) == window and rest[:1] == '"' and "\n" not in rest):
                return True  # the end, or a string cut by the window
            if len(rest) < 5 and any(word.startswith(rest) for word in ("true", "false", "null")):
                return True
            return tokens >= 4
        pos = match.end()
        string, _number, _literal, punct = match.groups()
        if expect in ("value", "value_or_close"):
            if punct in ("{", "["):
                stack.append(punct)
                expect = "key_or_close" if punct == "{" else "value_or_close"
            elif punct == "]" and expect == "value_or_close":
                stack.pop()
                expect = "after" if stack else "value"
            elif punct:
                return tokens >= 4
            else:
                expect = "after" if stack else "value"
        elif expect in ("key", "key_or_close"):
            if string:
                expect = "colon"
            elif punct == "}" and expect == "key_or_close":
                stack.pop()
                expect = "after" if stack else "value"
            else:
                return tokens >= 4
        elif expect == "colon":
            if punct != ":":
                return tokens >= 4
            expect = "value"
        else:  # after a value inside a container
            if punct == ",":
                expect = "key" if stack[-1] == "{" else "value"
            elif punct in ("}", "]") and {"}": "{", "]": "["}[punct] == stack[-1]:
                stack.pop()
                expect = "after" if stack else "value"
            else:
                return tokens >= 4
        tokens += 1


def jsonl_lines(text: str, complete: bool) -> bool:
    """True for JSON Lines: two or more non-empty lines, the first an object or array on its own."""
    lines = text.splitlines(keepends=True)
    if not complete and lines and not lines[-1].endswith(("\n", "\r")):
        lines.pop()
    records = [line for line in lines if line.strip()]
    if len(records) < 2 and complete:
        return False
    if not records:
        return False
    try:
        first = json.loads(records[0])
    except (ValueError, RecursionError):
        return False
    if not isinstance(first, dict | list):
        return False
    for line in records[1:6]:
        try:
            json.loads(line)
            return True
        except (ValueError, RecursionError):
            continue
    return len(records) == 1  # one complete record, more beyond the head


def _mostly_text(body: bytes, ext: str) -> bool:
    """Not UTF-8: text in a legacy encoding, or binary? Few control bytes and mostly ASCII or
    a charset guess say text; a JSON extension breaks the tie for a few stray bytes."""
    if not body:
        return True
    control = len(body) - len(body.translate(None, _CONTROL))
    if control * 20 > len(body):
        return False
    if ext in JSON_EXTS + JSONL_EXTS:
        return True
    ascii_part = len(body) - len(body.translate(None, _PRINTABLE_ASCII))
    if ascii_part * 10 >= len(body) * 7:
        return True
    from charset_normalizer import from_bytes  # only for legacy 8-bit or CJK text: rare

    return len(body) >= 8 and from_bytes(body[:8192]).best() is not None


UNSURE_COHERENCE = 0.2  # below this charset-normalizer recognised no language in the text
FALLBACK_ENCODING = "cp1252"  # the usual legacy encoding of Western text when a guess is unsure


def locale_encoding() -> str:
    """The user's locale encoding (``LANG``/``LC_ALL``), canonical: what their own files are in."""
    import locale

    name = locale.getpreferredencoding(False) or "utf-8"
    try:
        return codecs.lookup(name).name
    except LookupError:
        return "utf-8"


def _decodes(sample: bytes, encoding: str) -> bool:
    try:
        codecs.decode(sample, encoding)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def guess_legacy_encoding(sample: bytes) -> tuple[str | None, str]:
    """(codec, how it was chosen) for bytes that are not UTF-8; (None, "") when nothing fits.

    The one rule for the text editor, ``inspect`` and CSV import. charset-normalizer first; on
    short samples it has no language to go by: it returns many code pages that decode the bytes
    equally well and picks a rare one first (cp1006, Urdu, for a Latin-1 "café crème"). Such a
    guess is *unsure* (its coherence, the language fit, is near zero), and the user's locale
    encoding, then Windows-1252 (a superset of Latin-1's letters), is the better bet, as in VS
    Code. A sure guess (a language recognised) is kept, except that Windows-1252 wins among
    equally good top matches.
    """
    from charset_normalizer import from_bytes  # imported on first use: it is slow to import

    matches = list(from_bytes(sample))
    if not matches:
        return None, ""
    best = matches[0]
    choice = codecs.lookup(best.encoding).name
    if best.coherence < UNSURE_COHERENCE:
        for fallback, why in ((locale_encoding(), "your locale's encoding"),
                              (FALLBACK_ENCODING, "the usual Western one")):
            if fallback != "utf-8" and _decodes(sample, fallback):
                return fallback, (f"too little text to tell the language, so {fallback.upper()}, "
                                  f"{why} (guessed)")
        return choice, f"charset-normalizer guessed {choice.upper()} (unsure)"
    western = any("cp1252" in (m.encoding, *m.could_be_from_charset) for m in matches[:3])
    if western and _decodes(sample, "cp1252"):
        choice = "cp1252"
    return choice, f"charset-normalizer guessed {choice.upper()}"


def sniff_textual(head: bytes, size: int, ext: str) -> tuple[str, str, dict]:
    """Classify bytes with no binary signature as json, jsonl, text or binary."""
    complete = len(head) >= size
    encoding, bom_len = detect_bom(head)
    body = head[bom_len:]
    detail: dict = {}
    if encoding:
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        text = decoder.decode(body, final=complete)
        detail = {"encoding": encoding, "bom": True}
        how = f"starts with a {encoding.upper()} byte-order mark"
    elif b"\x00" in body:
        lead = body.lstrip(_WHITESPACE)[:1]
        if ext in JSON_EXTS + JSONL_EXTS and lead and lead in b'{["-0123456789tfnNI':
            fmt = "jsonl" if ext in JSONL_EXTS else "json"
            return fmt, (f"contains NUL bytes but starts like JSON ({lead.decode()!r}); "
                         f"the {ext} extension breaks the tie"), {"nul_bytes": True}
        return "binary", "contains NUL bytes and matches no known signature", {}
    else:
        try:
            text = codecs.getincrementaldecoder("utf-8")().decode(body, final=complete)
            detail = {"encoding": "utf-8"}
            how = "valid UTF-8 without NUL bytes"
        except UnicodeDecodeError:
            if not _mostly_text(body, ext):
                return "binary", "neither UTF-8 nor recognisable text, and no known signature", {}
            text = body.decode("latin-1")
            how = "mostly printable bytes (not UTF-8: a legacy encoding)"
    stripped = text.lstrip(" \t\r\n\ufeff")
    first = stripped[:1]
    if first in ("{", "["):
        if ext in JSONL_EXTS:
            return "jsonl", f"{how}; starts with {first!r} and the {ext} extension says JSON Lines", detail
        if ext not in JSON_EXTS and jsonl_lines(text, complete):
            return "jsonl", f"{how}; two or more lines, each a JSON object or array on its own", detail
        if ext in JSON_EXTS or json_prefix_ok(stripped):
            return "json", (f"{how}; the first non-blank character is {first!r} and what follows "
                            "reads as JSON"), detail
    elif ext in JSON_EXTS:
        return "json", f"{how}; not an object or array, but the {ext} extension breaks the tie", detail
    elif ext in JSONL_EXTS and jsonl_lines(text, complete):
        return "jsonl", f"{how}; JSON values on separate lines and a {ext} extension", detail
    return "text", how, detail
