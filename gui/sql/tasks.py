"""Worker bodies of the SQL tab: open a database, count rows.

They run on pool threads and touch no widget; the document starts them through
:func:`gui.common.workers.run_in_worker` and drops answers for an older request.
"""

from __future__ import annotations

import os
import time
from typing import Any

from gui.common.workers import Worker as Task
from storage.core.errors import KnownError
from storage.formats.sql.bounds import PAGE_SECONDS
from storage.formats.sql.sqlite_db import Interrupted, Reader, check_header, load_schema, quote_ident

ROW_HEIGHT = 22
REFRESH_MS = 1500
SIZES_UP_TO = 900  # wider tables skip the full-length column (SQLite's result column limit)
PRELOAD_AFTER_MS = 500  # after an SQLite file's first page: SQLAlchemy is imported in idle time
_preload: list[bool] = []  # started once per process


def preload_sqlalchemy() -> None:
    """Worker body: import SQLAlchemy and what edits, the record form and schema changes build
    statements with. An SQLite file's first page shows without it (issue 16); imported on first
    use instead, the first edit or record shown waited 0.4 s (1.6 s on a busy machine)."""
    from storage.formats.sql import query  # noqa: F401  # SQLAlchemy Core and its SQLite dialect
    from storage.formats.sql.db import sqlite_dialect

    sqlite_dialect()


def preload_once(start_task: Any) -> None:
    """Start :func:`preload_sqlalchemy` on a worker, the first time only."""
    if not _preload:
        _preload.append(True)
        start_task(preload_sqlalchemy, on_error=lambda _e: None)



def writable(path: str) -> bool:
    folder = os.path.dirname(path) or "."
    return os.access(path, os.W_OK) and os.access(folder, os.W_OK)


def open_database(path: str, read_only: bool, on_disk: bool = False) -> dict[str, Any]:
    """Worker body: check the header, open the readers, read the schema.

    ``on_disk`` reads the file as it is, ignoring a hot journal (immutable, so never rolled back).
    """
    wal = check_header(path)
    # a read-only WAL reader would create the -shm file (or delete an empty file's -wal)
    immutable = on_disk or (read_only and wal)
    reader = Reader(path, immutable=immutable)
    try:
        schema = reader.run(lambda conn: load_schema(conn, path))
        counter = Reader(path, immutable=immutable)
    except BaseException:
        reader.close()
        raise
    return {"reader": reader, "counter": counter, "schema": schema, "immutable": immutable, "wal": wal}


def count_tables(path: str, immutable: bool, names: list[str], cap: int | None,
                 cancel) -> dict[str, int | str]:
    """Worker body: row counts of tables (capped, or exact) on a connection of its own.

    Its own connection: interrupting the grid's counts never cuts these short, and a cancel
    stops a long count through the progress handler.
    """
    counts: dict[str, int | str] = {}
    reader = Reader(path, immutable=immutable)
    deadline = [float("inf")]  # a capped count has a time budget: a view may never end
    reader.conn.set_progress_handler(lambda: 1 if cancel() or time.monotonic() > deadline[0] else 0, 1_000)
    try:
        for name in names:
            if cancel():
                break
            inner = f"SELECT 1 FROM {quote_ident(name)}" + (f" LIMIT {cap + 1}" if cap is not None else "")
            if cap is not None:
                deadline[0] = time.monotonic() + PAGE_SECONDS
            try:
                counts[name] = int(reader.run(  # type: ignore[arg-type]
                    lambda conn, sql=inner: conn.execute(f"SELECT count(*) FROM ({sql})").fetchone()[0]))
            except Interrupted:
                if cancel():
                    break
                counts[name] = f"error: counting stopped after {PAGE_SECONDS:g} s (a view that never ends?)"
            except KnownError as exc:
                counts[name] = f"error: {exc}"
    finally:
        reader.close()
    return counts


def count_query(counter: Reader, pager: Any, cap: int | None) -> int:
    return int(counter.run(lambda conn: pager.count(conn, cap)))  # type: ignore[arg-type]


def live_tasks() -> set[Task]:
    from gui.common.workers import _running

    return _running


def is_empty_database(path: str) -> bool:
    """A new database: an empty file, or one whose only used page is the (empty) schema table.

    Read from the header: the page count (bytes 28-31) less the free pages (bytes 36-39). A file
    with a ``-wal`` or ``-journal`` beside it is not new: it opens read-only, so that nothing is
    rolled back, checkpointed or removed before the user chose.
    """
    if os.path.lexists(path + "-wal") or os.path.lexists(path + "-journal"):
        return False
    try:
        with open(path, "rb") as handle:
            head = handle.read(100)
    except OSError:
        return False
    if not head:
        return True
    if len(head) < 100 or not head.startswith(b"SQLite format 3\x00") or head[18:19] == b"\x02":
        return False
    return int.from_bytes(head[28:32], "big") - int.from_bytes(head[36:40], "big") == 1


def esc(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
