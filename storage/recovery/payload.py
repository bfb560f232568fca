"""The payloads of journal entries: one JSON header line, then the body bytes.

The header names the kind, so a payload can be turned back into a file without the document
that wrote it (restoring as a copy when the original changed or is gone):

- ``text``: the editor's text as UTF-8, with the encoding, BOM and line-ending choices;
- ``hex``: the overwritten bytes of the hex view, as (offset, byte) pairs;
- ``json``: the document as its save would write it (JSON or JSON Lines bytes);
- ``json-text``: text typed in the JSON text view that does not parse yet, as UTF-8;
- ``pickle``: the value tree as pickle bytes (plus the kept tail), with the joblib compression;
- ``shelf``: a shelf's key order and changed values (:mod:`storage.formats.objects.shelf.journal`).
"""

from __future__ import annotations

import codecs
import json
import struct
from typing import Any

from storage.core.atomic import atomic_write
from storage.core.errors import ParseError, UnsupportedError
from storage.formats import registry as format_registry

_PAIR = struct.Struct("<QB")


def pack(kind: str, meta: dict[str, Any], body: bytes) -> bytes:
    header = json.dumps({"kind": kind, **meta}, ensure_ascii=True, separators=(",", ":"))
    return header.encode("ascii") + b"\n" + body


def unpack(payload: bytes) -> tuple[str, dict[str, Any], bytes]:
    """(kind, header, body); ParseError when the header is not ours."""
    line, sep, body = payload.partition(b"\n")
    try:
        header = json.loads(line.decode("ascii")) if sep else None
    except (UnicodeDecodeError, ValueError):
        header = None
    if not isinstance(header, dict) or not isinstance(header.get("kind"), str):
        raise ParseError("The recovery data has no valid header.")
    return header.pop("kind"), header, body


def kind_of(payload: bytes) -> str:
    return unpack(payload[:4096] + b"\n")[0] if payload else ""


# -- text and hex ------------------------------------------------------------------------------

def pack_text(text: str, encoding: str, bom: bool, newline: str | None, dominant: str) -> bytes:
    """The editor's text (lines joined by "\\n") and how a save would encode it."""
    meta = {"encoding": encoding, "bom": bom, "newline": newline, "dominant": dominant}
    return pack("text", meta, text.encode("utf-8", "surrogatepass"))


def text_of(header: dict[str, Any], body: bytes) -> str:
    return body.decode("utf-8", "surrogatepass")


def pack_hex(overlay: dict[int, int]) -> bytes:
    return pack("hex", {}, b"".join(_PAIR.pack(o, v) for o, v in sorted(overlay.items())))


def overlay_of(body: bytes) -> dict[int, int]:
    if len(body) % _PAIR.size:
        raise ParseError("The recovered byte edits are incomplete.")
    return {o: v for o, v in _PAIR.iter_unpack(body)}


# -- writing a payload out as a file -------------------------------------------------------------

def text_bytes(header: dict[str, Any], body: bytes) -> bytes:
    """A ``text`` payload encoded as its save would: encoding, BOM and line endings."""
    text = text_of(header, body)
    ending = header.get("newline") or header.get("dominant") or "\n"
    encoding = str(header.get("encoding") or "utf-8")
    try:
        data = codecs.encode(text.replace("\n", ending), encoding)
        bom = codecs.encode("\ufeff", encoding) if header.get("bom") else b""
    except (LookupError, UnicodeEncodeError):
        data, bom = text.encode("utf-8", "surrogatepass"), b""
    return bom + data


def body_bytes(_header: dict[str, Any], body: bytes) -> bytes:
    """A payload whose body is the file's bytes already (JSON, pickle)."""
    return body


def file_bytes(payload: bytes) -> tuple[bytes, dict[str, Any]]:
    """The bytes a file restored from ``payload`` holds, and the header (UnsupportedError when its
    kind cannot be one file: its format's entry in ``storage.formats.registry`` says why)."""
    kind, header, body = unpack(payload)
    entry = format_registry.payload(kind)
    if entry is not None and entry.file_bytes:
        return format_registry.resolve(entry.file_bytes)(header, body), header
    raise UnsupportedError(entry.no_copy if entry is not None and entry.no_copy
                           else f"Unknown kind of recovery data: {kind!r}.")


def write_copy(path: str, payload: bytes) -> None:
    """Write what ``payload`` holds to ``path`` through the atomic writer."""
    data, header = file_bytes(payload)
    if header.get("member"):  # pandas' .pkl.zip
        from storage.formats.objects.joblib_io import save_zip_member

        save_zip_member(path, data, header["member"])
    elif header.get("container") == "joblib" or header.get("compression"):
        from storage.formats.objects.joblib_io import save_joblib_stream

        save_joblib_stream(path, data, header.get("compression"))
    else:
        atomic_write(path, data)


# -- edits of a database server not written yet --------------------------------------------------

def _encode_value(value: Any) -> Any:
    if isinstance(value, bytes):
        import base64

        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, float) and value != value:
        return {"$float": "nan"}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and "$bytes" in value:
        import base64

        return base64.b64decode(value["$bytes"])
    if isinstance(value, dict) and "$float" in value:
        return float(value["$float"])
    return value


def pack_sql_edits(edits: list[dict[str, Any]]) -> bytes:
    """``sql-edits``: cell edits a server has not taken yet (it was down), each a dict of table,
    schema, key, row, column, name, old, new, decl_type; values are JSON, bytes in base64."""
    plain = [{**e, "key": {k: _encode_value(v) for k, v in e["key"].items()},
              "old": _encode_value(e["old"]), "new": _encode_value(e["new"])} for e in edits]
    return pack("sql-edits", {}, json.dumps(plain, ensure_ascii=False).encode("utf-8"))


def sql_edits_of(body: bytes) -> list[dict[str, Any]]:
    try:
        edits = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ParseError("The recovered database edits are damaged.") from None
    if not isinstance(edits, list) or not all(isinstance(e, dict) and isinstance(e.get("key"), dict)
                                              for e in edits):
        raise ParseError("The recovered database edits are damaged.")
    return [{**e, "key": {k: _decode_value(v) for k, v in e["key"].items()},
             "old": _decode_value(e.get("old")), "new": _decode_value(e.get("new"))} for e in edits]
