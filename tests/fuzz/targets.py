"""What the fuzzer opens each mutated file with: ``inspect`` and every tab's storage loader.

Each target does what its tab's worker does (open, read the structure, read a first page)
without Qt. The oracle: a target may return or raise ``KnownError``; any other exception is
a finding. Run as ``python -m tests.fuzz.targets`` it is the fuzzer's child process: one JSON
job a line on stdin, a ``start`` line before each target and a ``done`` line per job on stdout.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from storage.core.errors import KnownError
from storage.formats import registry as format_registry
from storage.formats.registry import Format

WALK_LIMIT = 2000  # nodes of a value tree visited, as a user expanding the tree would


def t_inspect(path: str) -> None:
    """``python main.py inspect --json``: one well-formed report, whatever the file."""
    from storage.inspect.report import REPORT_KEYS, _clean, exit_code, inspect_path, render_text

    report = inspect_path(path)
    if tuple(report) != REPORT_KEYS:
        raise AssertionError(f"report keys {tuple(report)}")
    json.dumps(_clean(report), ensure_ascii=False)
    render_text(_clean(report))
    if exit_code(report) not in (0, 1, 2):
        raise AssertionError("exit code")


def t_text(path: str) -> None:
    from storage.formats.text.file import load_text

    content = load_text(path)
    _ = content.line_count, content.encoding_label


def t_hex(path: str) -> None:
    from storage.formats.text.hex import HexBuffer

    buffer = HexBuffer(path)
    try:
        buffer.read(0, 4096)
        buffer.read(max(buffer.size - 100, 0), 200)
        buffer.find(b"\x00\x01", 0)
    finally:
        buffer.close()


def _walk_json(load: Any) -> None:
    from storage.formats.json.doc import JsonDoc
    from storage.formats.json.text_index import serialize_for_view

    doc = JsonDoc.from_load(load)
    serialize_for_view(doc.root, load.fmt, lines=doc.lines)


def _json(path: str, fmt: str) -> None:
    from storage.formats.json.io import JsonParseError
    from storage.formats.json.summary import first_summary, load_for_editor, second_pass
    from storage.formats.json.text_index import image_of_text

    result = load_for_editor(path, fmt)
    if isinstance(result, JsonParseError):
        image_of_text(result.text, jsonl=fmt == "jsonl")
        str(result)
        return
    first_summary(result)
    root = result.records if fmt == "jsonl" else result.value
    second_pass(path, fmt, root)
    _walk_json(result)


def t_json(path: str) -> None:
    _json(path, "json")


def t_jsonl(path: str) -> None:
    _json(path, "jsonl")


def _walk_value(root: Any) -> None:
    """Visit a value tree as the Objects tree would: children, type labels, editor texts."""
    from storage.formats.objects.doc import children_of, edit_text, kind_of, type_label

    todo, seen = [root], 0
    while todo and seen < WALK_LIMIT:
        value = todo.pop()
        seen += 1
        type_label(value)
        if kind_of(value) is not None:
            edit_text(value)
        kids = children_of(value)
        if kids:
            todo.extend(v for _k, v in kids[:200])


def _objects(path: str, kind: str) -> None:
    from storage.formats.objects.file import load_shelf_value, open_objects

    result = open_objects(path, kind)
    try:
        if result.doc is not None:
            _walk_value(result.doc.root)
        _ = result.worst, result.dangerous
        if result.shelf is not None:
            for key in list(result.shelf.keys())[:20]:
                try:
                    doc, _raw = load_shelf_value(result.shelf, key)
                except KnownError:
                    continue
                _walk_value(doc.root)
    finally:
        if result.shelf is not None:
            result.shelf.close()


def _objects_target(kind: str) -> Callable[[str], None]:
    def target(path: str) -> None:
        _objects(path, kind)

    target.__name__ = f"t_{kind}"
    return target


t_pickle, t_joblib, t_npy, t_npz, t_shelve = (_objects_target(kind)
                                             for kind in ("pickle", "joblib", "npy", "npz", "shelve"))


def t_sqlite(path: str) -> None:
    """The SQLite tab's open (read-only), then the first page and a count of a few tables."""
    from storage.formats.sql.pager import Pager
    from storage.formats.sql.query import QuerySpec
    from storage.formats.sql.sqlite_db import MAX_GRID_COLUMNS, Reader, check_header, load_schema

    wal = check_header(path)
    reader = Reader(path, immutable=wal)
    try:
        schema = reader.run(lambda conn: load_schema(conn, path))
        for table in schema.tables[:6]:  # type: ignore[attr-defined]
            names = tuple(c.name for c in table.columns[:MAX_GRID_COLUMNS])
            pager = Pager(QuerySpec(table.name, names, tuple(table.key_columns)))
            try:
                reader.run(lambda conn, p=pager: p.fetch(conn, 0))
                reader.run(lambda conn, p=pager: p.count(conn, 10_000))
            except KnownError:
                continue
    finally:
        reader.close()


def _hdf5_dataset(h5: Any, path: str) -> None:
    info = h5.dataset_info(path)
    ndim = len(info.shape)
    axes = (0, None) if ndim <= 1 or info.fields else (ndim - 2, ndim - 1)
    rows = info.shape[axes[0]] if info.shape else 1
    cols = info.shape[axes[1]] if axes[1] is not None else (len(info.fields) or 1)
    index = (0,) * ndim
    h5.read_window(path, axes, index, (0, min(rows, 50)), (0, min(cols, 20)))
    if info.numeric and ndim:
        h5.read_numeric(path, axes, index, (0, min(rows, 200)))


def t_hdf5(path: str) -> None:
    """The HDF5 tab: open, the tree (breadth first), attributes, info and a window of each dataset."""
    from storage.formats.hdf5.io import H5File

    h5 = H5File(path)
    try:
        todo, seen = [h5.root()], 0
        while todo and seen < 60:
            node = todo.pop(0)
            seen += 1
            for step in ("attributes", "dataset", "children"):
                try:
                    if step == "attributes":
                        h5.attributes(node.path)
                    elif step == "dataset" and node.kind == "dataset":
                        _hdf5_dataset(h5, node.path)
                    elif step == "children" and node.kind == "group":
                        todo.extend(h5.children(node.path))
                except KnownError:
                    pass
    finally:
        h5.close()


def target_name(fmt: Format) -> str:
    """The name of a format's fuzz target: its function's, without ``t_`` ("hex" for binary)."""
    hook = fmt.fuzz_target
    name = hook.rpartition(":")[2] if isinstance(hook, str) else getattr(hook, "__name__", fmt.name)
    return name.removeprefix("t_")


def targets() -> dict[str, Callable[[str], None]]:
    """``inspect``, then every registered format's target by name (formats may share one)."""
    found: dict[str, Callable[[str], None]] = {"inspect": t_inspect}
    for fmt in format_registry.with_hook("fuzz_target"):
        found.setdefault(target_name(fmt), format_registry.resolve(fmt.fuzz_target))
    return found


def targets_for(*formats: str) -> list[str]:
    """inspect, text and hex always; then the loader of each format named (seed's and sniffed)."""
    names = ["inspect", "text", "hex"]
    for fmt in formats:
        entry = format_registry.get(fmt)
        name = target_name(entry) if entry is not None and entry.fuzz_target else None
        if name and name not in names:
            names.append(name)
    return names


def sniffed_format(path: str) -> str:
    """The format the main window would route the file by ('unreadable' when sniff refuses it)."""
    from storage.sniff.detect import sniff

    try:
        return sniff(path).format
    except Exception:  # a KnownError, or a bug the inspect target reports
        return "unreadable"


def sniffed_target_path(path: str) -> str:
    """The path the Objects tab opens: a shelf's base name for a shelf's file, else the path."""
    from storage.sniff.detect import sniff

    try:
        result = sniff(path)
    except Exception:
        return path
    return result.path or path if result.format == "shelve" else path


def run_target(name: str, path: str) -> tuple[str, str]:
    """('ok' | 'known' | 'bug', detail): the oracle of one target on one path."""
    try:
        targets()[name](path)
    except KnownError as exc:
        return "known", f"{type(exc).__name__}: {exc}"[:300]
    except Exception:
        return "bug", traceback.format_exc(limit=30)
    return "ok", ""


_CHANNEL = sys.stdout


def _emit(message: dict[str, Any]) -> None:
    _CHANNEL.write(json.dumps(message) + "\n")
    _CHANNEL.flush()


def child_main() -> None:
    """Serve jobs from stdin until it closes: {"id", "path", "formats"} → per-target outcomes."""
    global _CHANNEL
    # The protocol gets its own copy of stdout; whatever a library prints goes to stderr.
    _CHANNEL = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    for line in sys.stdin:
        job = json.loads(line)
        path = job["path"]
        fmt = sniffed_format(path)
        results = []
        for name in targets_for(*job["formats"], fmt):
            target_path = sniffed_target_path(path) if name == "shelve" else path
            _emit({"id": job["id"], "start": name})
            began = time.monotonic()
            status, detail = run_target(name, target_path)
            results.append([name, status, detail, round(time.monotonic() - began, 3)])
        _emit({"id": job["id"], "sniffed": fmt, "results": results})


if __name__ == "__main__":
    child_main()
