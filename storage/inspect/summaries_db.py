"""Summaries of databases: SQLite, shelves (every dbm backend) and HDF5. Nothing is ever written.

SQLite is opened ``mode=ro&immutable=1`` so it is neither changed nor locked. Shelves are never
opened with ``shelve``: ``shelf_io`` reads keys and values as bytes (the dbm.dumb index parsed as
text) and their pickles are scanned.
"""

from __future__ import annotations

import importlib.util
import os
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

from storage.core.errors import KnownError, ParseError, UnreadableError
from storage.core.sqlite_recover import find_hot_journal
from storage.formats.objects.pickle.scan import scan_bytes
from storage.formats.objects.shelf import native as shelf_native
from storage.formats.objects.shelf.io import open_shelf, pickle_protocol
from storage.formats.sql.bounds import bound_connection
from storage.inspect.summaries import Collector
from storage.sniff import shelf as sniff_shelf
from storage.sniff.detect import SniffResult

COUNT_CAP = 1_000_000
MAX_TABLES = 500
MAX_SHELF_KEYS = 100_000
MAX_SHELF_BYTES = 256 * 1024 * 1024
MAX_KEYS_LISTED = 1000
OBJECT_TIME_LIMIT = 5.0  # one table's or view's row count
TIME_LIMIT = 30.0
_ENCODINGS = {1: "UTF-8", 2: "UTF-16le", 3: "UTF-16be"}


def quote_ident(name: str) -> str:
    """An SQL identifier in double quotes, inner quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


def connect_readonly(path: str) -> sqlite3.Connection:
    """A read-only, immutable connection: no journal, no lock, no write, ever."""
    try:
        return bound_connection(sqlite3.connect(sniff_shelf.sqlite_uri(path), uri=True))
    except sqlite3.Error as exc:
        raise UnreadableError(f"Cannot open {path} as SQLite: {exc}") from None


def _header(path: str) -> dict[str, Any]:
    with open(path, "rb") as handle:
        head = handle.read(100)
    page = int.from_bytes(head[16:18], "big")
    return {"page_size": 65536 if page == 1 else page, "wal": head[18:19] == b"\x02",
            "text_encoding": _ENCODINGS.get(int.from_bytes(head[56:60], "big"), "unknown"),
            "user_version": int.from_bytes(head[60:64], "big", signed=True)}


def _describe(conn: sqlite3.Connection, kind: str, name: str, c: Collector) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "type": kind}
    try:
        columns = conn.execute(f"PRAGMA table_info({quote_ident(name)})").fetchall()
        entry["columns"] = [{"name": col[1], "type": col[2], "pk": col[5] > 0} for col in columns]
        (rows,) = conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM {quote_ident(name)} "
                               f"LIMIT {COUNT_CAP + 1})").fetchone()
        entry["rows"] = f"{COUNT_CAP:,}+" if rows > COUNT_CAP else rows
    except sqlite3.OperationalError as exc:
        if "interrupt" in str(exc):  # its own time budget (``summarize_sqlite``)
            entry["rows"] = f"not counted: stopped after {OBJECT_TIME_LIMIT:g} s"
            c.add("info", f"{kind} {name!r}: counting its rows stopped after {OBJECT_TIME_LIMIT:g} s "
                  "(a view that never ends?)")
        else:
            entry["error"] = str(exc)
            c.add("suspicious", f"{kind} {name!r} cannot be read: {exc}")
    except (sqlite3.Error, UnicodeDecodeError) as exc:  # a damaged schema's message is not UTF-8
        entry["error"] = str(exc)
        c.add("suspicious", f"{kind} {name!r} cannot be read: {exc}")
    return entry


def summarize_sqlite(result: SniffResult, c: Collector) -> None:
    """Tables and views with columns and capped row counts, page size, journal mode, quick_check."""
    header = _header(result.path)
    c.summary["header"] = header
    conn = connect_readonly(result.path)
    deadlines = [time.monotonic() + TIME_LIMIT, float("inf")]  # the whole summary, the current object
    conn.set_progress_handler(lambda: int(time.monotonic() > min(deadlines)), 1_000)
    try:
        try:
            objects = conn.execute("SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') "
                                   "ORDER BY type, name").fetchall()
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            raise ParseError(f"the database cannot be read: {exc}") from None
        described = []
        for kind, name in objects[:MAX_TABLES]:  # a view that never ends stops alone, not the summary
            deadlines[1] = time.monotonic() + OBJECT_TIME_LIMIT
            described.append(_describe(conn, kind, name, c))
        deadlines[1] = float("inf")
        if time.monotonic() > deadlines[0]:
            raise sqlite3.OperationalError("interrupted")
        c.summary["tables"] = [d for d in described if d["type"] == "table"]
        c.summary["views"] = [d for d in described if d["type"] == "view"]
        if len(objects) > MAX_TABLES:
            c.add("info", f"{len(objects):,} tables and views; the first {MAX_TABLES} are described")
        for pragma in ("page_size", "page_count", "journal_mode", "encoding", "freelist_count"):
            c.summary[pragma] = conn.execute(f"PRAGMA {pragma}").fetchone()[0]
        check = [row[0] for row in conn.execute("PRAGMA quick_check(20)")]
        c.summary["quick_check"] = check
        if check != ["ok"]:
            c.error = ParseError("the database is damaged: " + "; ".join(check[:3]))
    except sqlite3.OperationalError as exc:
        if "interrupt" not in str(exc):
            raise ParseError(f"the database cannot be read: {exc}") from None
        c.add("info", f"stopped after {TIME_LIMIT:.0f} s: the rest of the summary was skipped")
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
        raise ParseError(f"the database is damaged: {exc}") from None
    finally:
        conn.close()
    if header["wal"] or os.path.exists(result.path + "-wal"):
        c.add("info", "write-ahead-log database: changes still in the -wal file are not shown "
              "(the file is read immutable, so nothing is checkpointed or written)")
    _note_hot_journal(result.path, c)


def _note_hot_journal(path: str, c: Collector) -> None:
    """An unfinished transaction is said, never rolled back: the summary is of the file as on disk."""
    hot = find_hot_journal(path)
    if hot is None:
        return
    c.summary["unfinished_transaction"] = {"journal": hot.journal, "journal_size": hot.size,
                                           "super_journal": hot.super_journal or None}
    c.add("info", hot.describe() + " The summary shows the file as it is on disk (the change may be "
          "half-written); the SQLite tab offers to roll it back.")
    if hot.refusal:
        c.add("suspicious", f"the journal is not one SQLite made: {hot.refusal}")


# -- shelves ------------------------------------------------------------------------------------

def _show_key(key: bytes | str) -> str:
    raw = key.encode("latin-1") if isinstance(key, str) else bytes(key)
    return raw.decode("utf-8", "backslashreplace")


def _items(result: SniffResult, c: Collector) -> Iterator[tuple[str, bytes]]:
    backend = result.detail.get("shelf_backend", "unknown")
    if backend in shelf_native.MODULES:
        c.summary["available"] = shelf_native.available(backend)
        if not c.summary["available"]:
            c.summary["needed"] = shelf_native.needed(backend)
    shelf = open_shelf(result.path)
    for key, value in shelf.raw_items():
        if isinstance(value, ParseError):
            c.add("suspicious", f"key {_show_key(key)!r}: {value.message}")
            continue
        yield _show_key(key), value


def summarize_shelve(result: SniffResult, c: Collector) -> None:
    """Backend, keys with their pickle protocols, and each value's pickle scanned (findings name the key)."""
    backend = result.detail.get("shelf_backend", "unknown")
    c.summary.update(backend=backend, files=result.detail.get("files", []))
    items = _items(result, c)
    keys: list[str] = []
    protocols: dict[str, int | None] = {}
    found: dict[tuple[str, str, str], list[str]] = {}
    count = total = broken = 0
    for key, value in items:
        count += 1
        total += len(value)
        if count > MAX_SHELF_KEYS or total > MAX_SHELF_BYTES:
            why = f"stopped after {count - 1:,} values; the rest were not checked"
            c.incomplete.append(why)  # never "nothing dangerous" on a partial check
            c.add("suspicious", f"not fully checked: {why}")
            count -= 1
            break
        report = scan_bytes(value)
        for why in report.incomplete:
            c.incomplete.append(f"key {key!r}: {why}")
        if len(keys) < MAX_KEYS_LISTED:
            keys.append(key)
            protocols[key] = pickle_protocol(value, report)
        for ref in report.globals.values():
            found.setdefault((ref.severity, ref.qualname, ref.why), []).append(key)
        if report.computed_globals:
            found.setdefault(("dangerous", "", "STACK_GLOBAL imports a name computed while loading"),
                             []).append(key)
        if report.error:
            broken += 1
            if broken <= 20:
                c.add("suspicious", f"key {key!r}: its value is not a valid pickle ({report.error})")
    c.summary.update(key_count=count, keys=keys, protocols=protocols, broken_values=broken)
    if backend == "dbm.sqlite3":
        _note_hot_journal(result.path, c)
    order = {"dangerous": 0, "suspicious": 1, "info": 2}
    for (severity, qualname, why), where in sorted(found.items(), key=lambda kv: order[kv[0][0]]):
        shown = ", ".join(repr(key) for key in where[:5])
        more = f" and {len(where) - 5:,} more" if len(where) > 5 else ""
        which = f"key{'s' if len(where) > 1 else ''} {shown}{more}"
        verb = "uses" if severity == "info" else "imports"
        text = f"{which}: {verb} {qualname}: {why}" if qualname else f"{which}: {why}"
        c.add(severity, text, qualname or None)


# -- HDF5 ---------------------------------------------------------------------------------------

def summarize_hdf5(result: SniffResult, c: Collector) -> None:
    """Signature offset and, with h5py, the tree (capped): shapes, dtypes, filters, attributes."""
    c.summary["signature_offset"] = result.detail.get("signature_offset", 0)
    if importlib.util.find_spec("h5py") is None:
        c.add("info", "h5py is not installed: only the signature was checked")
        return
    from storage.formats.hdf5.io import H5File
    from storage.formats.hdf5.summary import MAX_NODES, hdf5_tree

    with H5File(result.path) as h5:  # read-only; a KnownError explains a damaged file
        if h5.lock_note:
            c.add("info", h5.lock_note)
        try:
            entries, notes, capped = hdf5_tree(h5)
        except KnownError:
            raise
        except Exception as exc:  # h5py raises OSError, KeyError, RuntimeError, ... for damaged files
            raise ParseError(f"the HDF5 library cannot read this file: {exc}") from None
    root = entries[0]
    c.summary["attributes"] = len(root.get("attributes", {}))
    c.summary["tree"] = entries
    for entry in entries:  # data kept in other files: named, and never read outside the folder
        for ref in entry.get("external_data", ()):
            where = ("outside this file's folder: not read" if ref["outside_folder"]
                     else "in this file's folder")
            c.add("suspicious" if ref["outside_folder"] else "info",
                  f"{entry['path']}: {ref['kind']} {ref['path']} ({where})")
    for note in notes[:50]:
        c.add("info", note)
    if capped:
        c.add("info", f"the file has more than {MAX_NODES:,} objects; the first {MAX_NODES:,} are listed")
